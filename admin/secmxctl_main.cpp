// secmxctl_main.cpp - secmxctl: the operator's command line over the admin HTTP API.
//
//   secmxctl [--config FILE | --url URL --token-file FILE] [--json] COMMAND
//     queue list [--state S | --held] [--policy P] [--domain D] [--sender A] [--older-than 1h]
//                [--limit N] [--after ID]
//     queue show ID | hold ID | release ID | delete ID | bounce ID [--reason TEXT]
//     queue flush [ID] [--domain D]
//     stats
//     route DOMAIN [-v]
//     reload
//     sts show DOMAIN | fetch DOMAIN | purge DOMAIN
//     tlsrpt list [--day D] | show DOMAIN [--day D] | send [--day D] [--domain D]
//     policy test --from A [--header 'N: V']... --rcpt R [--rcpt R]... [--requiretls]
//     audit search [--from T] [--to T] [--sender A] [--recipient A] [--domain D]
//                  [--classification C] [--policy P] [--auth A] [--outcome O]
//                  [--message-id ID] [--event E] [--limit N] [--csv]   (--json: JSON lines)
//     audit report [--from T] [--to T]
//     audit verify [--from T] [--to T]     (exit 1 when the chain is broken)
//     token add NAME   (offline: a new operator token and its [admin] tokens_file line)
//
// Human-readable tables by default, the API's JSON with --json. Exit codes in
// ctl_client.hpp (0 ok, 2 relay not running, 3 bad token, 4 unknown id, 5 busy, 6 failed
// or reload refused) and ctl_format.hpp (route: 7 discovery failed permanently, 8
// temporarily); all in docs/admin.md.
// Single-threaded; every call is one blocking HTTP request.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "admin/admin_token.hpp"
#include "admin/ctl_audit.hpp"
#include "admin/ctl_client.hpp"
#include "admin/ctl_format.hpp"
#include "admin/ctl_sts.hpp"
#include "admin/ctl_tlsrpt.hpp"

namespace {

using namespace secmx::admin;
using nlohmann::json;

// Percent-encodes a query or path component.
std::string encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '@') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

struct Ctl {
  std::string config_path = "etc/secmx-relay.toml";
  std::string url, token_file;
  bool as_json = false;
  CtlTarget target;
  bool config_explicit = false;

  int error(const CtlError& e) {
    std::cerr << "secmxctl: " << e.message << "\n";
    return e.exit_code;
  }

  int connect() {
    auto t = resolve_target(config_path, config_explicit, url, token_file);
    if (!t) return error(t.error());
    target = std::move(*t);
    return kExitOk;
  }

  // One call; prints the JSON (--json) or what `human` makes of it.
  template <class F>
  int run(const std::string& method, const std::string& path, const json* body, F human,
          int timeout_s = 60) {
    if (int rc = connect(); rc != kExitOk) return rc;
    auto r = call(target, method, path, body, timeout_s);
    if (!r) return error(r.error());
    if (as_json) {
      std::cout << r->body.dump(2) << "\n";
    } else {
      std::cout << human(r->body);
    }
    return kExitOk;
  }
};


struct AuditArgs {
  std::string from, to, sender, recipient, domain, classification, policy, auth, outcome, message_id,
      event;
  std::size_t limit = 0;
  bool csv = false;
};

std::string audit_range_query(const AuditArgs& a) {
  std::string q;
  if (!a.from.empty()) q += "?from=" + encode(a.from);
  if (!a.to.empty()) q += std::string(q.empty() ? "?" : "&") + "to=" + encode(a.to);
  return q;
}

// Follows `next` page by page; JSON lines and CSV are written as each page comes (an export
// of millions of records never sits in memory), the table once at the end.
int audit_search_command(Ctl& ctl, const AuditArgs& a) {
  if (ctl.as_json && a.csv) {
    std::cerr << "secmxctl: audit search takes --json or --csv, not both\n";
    return kExitUsage;
  }
  std::string q;
  auto add = [&q](const char* k, const std::string& v) {
    if (!v.empty()) q += std::string("&") + k + "=" + encode(v);
  };
  add("from", a.from);
  add("to", a.to);
  add("sender", a.sender);
  add("recipient", a.recipient);
  add("domain", a.domain);
  add("classification", a.classification);
  add("policy", a.policy);
  add("auth", a.auth);
  add("outcome", a.outcome);
  add("message_id", a.message_id);
  add("event", a.event);
  if (int rc = ctl.connect(); rc != kExitOk) return rc;
  if (a.csv) std::cout << audit_csv_header();
  json table = json::array();
  std::size_t shown = 0;
  std::string after;
  for (;;) {
    std::size_t want = a.limit == 0 ? 1000 : std::min<std::size_t>(1000, a.limit - shown);
    std::string path = "/api/v1/audit?limit=" + std::to_string(want) + q;
    if (!after.empty()) path += "&after=" + after;
    auto r = call(ctl.target, "GET", path, nullptr, 300);
    if (!r) return ctl.error(r.error());
    const json& records = r->body["records"];
    if (a.csv) std::cout << format_audit_csv(records);
    else if (ctl.as_json) std::cout << format_audit_jsonl(records);
    else for (const auto& x : records) table.push_back(x);
    std::cout.flush();
    shown += records.size();
    if (!r->body["next"].is_number_unsigned() || (a.limit != 0 && shown >= a.limit)) break;
    after = std::to_string(r->body["next"].get<std::uint64_t>());
  }
  if (!a.csv && !ctl.as_json) std::cout << format_audit_table(table) << audit_table_footer(shown);
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Ctl ctl;
  CLI::App app{"secmxctl: inspect and operate a running secmx-relay through its admin API"};
  app.require_subcommand(1);
  app.fallthrough();  // inherited by the subcommands: global flags may come last
  auto* cfg_opt = app.add_option("-c,--config", ctl.config_path,
                                 "relay config file: [admin] listen and token_file");
  app.add_option("--url", ctl.url, "admin API address, e.g. http://127.0.0.1:8025");
  app.add_option("--token-file", ctl.token_file, "file holding the bearer token");
  app.add_flag("--json", ctl.as_json, "print the API's JSON instead of tables");
  app.set_version_flag("--version", "secmxctl 0.1.0");

  // queue ...
  auto* queue = app.add_subcommand("queue", "list and operate on queued messages");
  queue->require_subcommand(1);
  struct ListArgs {
    std::string state, policy, domain, sender, older_than, after;
    std::size_t limit = 1000;
  } la;
  auto* list = queue->add_subcommand("list", "list queued messages (oldest first)");
  list->add_option("--state", la.state, "queued, deferred, held or done")
      ->check(CLI::IsMember({"queued", "deferred", "held", "done"}, CLI::ignore_case));
  list->add_flag_callback("--held", [&la] { la.state = "held"; },
                          "only held messages (--state held): held by the operator or "
                          "policy, or reports that could not be delivered");
  list->add_option("--policy", la.policy, "BES, SOS or HOLD")
      ->check(CLI::IsMember({"BES", "SOS", "HOLD"}, CLI::ignore_case));
  list->add_option("--domain", la.domain, "only messages with a recipient in this domain");
  list->add_option("--sender", la.sender, "exact sender address, or @domain");
  list->add_option("--older-than", la.older_than, "only messages older than this (90s, 15m, 2h, 1d)");
  list->add_option("--limit", la.limit, "list at most this many (0: all)");
  list->add_option("--after", la.after,
                   "start after this queue id (the \"next\" of a page before: --json shows it)");

  std::string id, reason, flush_domain;
  auto* show = queue->add_subcommand("show", "show one message: envelope, policy, recipients");
  show->add_option("id", id, "queue id")->required();
  std::vector<std::pair<std::string, CLI::App*>> simple_ops;
  for (const char* op : {"hold", "release", "delete"}) {
    const char* help = std::string(op) == "hold"      ? "keep a message from being delivered"
                       : std::string(op) == "release" ? "undo hold: the message is due now"
                                                      : "delete a message silently (no DSN)";
    auto* sc = queue->add_subcommand(op, help);
    sc->add_option("id", id, "queue id")->required();
    simple_ops.emplace_back(op, sc);
  }
  auto* bounce = queue->add_subcommand("bounce", "fail a message's pending recipients and send a DSN");
  bounce->add_option("id", id, "queue id")->required();
  bounce->add_option("--reason", reason, "diagnostic text for the DSN");
  auto* flush = queue->add_subcommand("flush", "make one message, one domain or everything due now");
  flush->add_option("id", id, "queue id (omit: every message not held)");
  flush->add_option("--domain", flush_domain, "only messages with a recipient in this domain");

  auto* stats = app.add_subcommand("stats", "queue size and message counters");

  std::string route_domain;
  bool route_verbose = false;
  auto* route = app.add_subcommand(
      "route", "what discovery finds for a domain, whether each host does TLS, and what "
               "delivery would do per policy");
  route->add_option("domain", route_domain, "recipient domain")->required();
  route->add_flag("-v,--verbose", route_verbose, "also the discovery trace and each host's verdicts");

  auto* reload = app.add_subcommand(
      "reload", "make the running relay read its config file again (as SIGHUP); refused "
                "with the file:line errors when the file has mistakes");

  auto* sts = app.add_subcommand("sts", "MTA-STS policies (RFC 8461) the relay has cached");
  sts->require_subcommand(1);
  std::string sts_domain;
  auto* sts_show = sts->add_subcommand("show", "a domain's cached policy and its last failure");
  auto* sts_fetch = sts->add_subcommand("fetch", "look a domain's policy up and fetch it now");
  auto* sts_purge = sts->add_subcommand("purge", "drop a domain's cached policy");
  for (auto* sc : {sts_show, sts_fetch, sts_purge}) {
    sc->add_option("domain", sts_domain, "recipient domain")->required();
  }

  auto* tlsrpt = app.add_subcommand("tlsrpt", "TLS reporting (RFC 8460): counts and reports");
  tlsrpt->require_subcommand(1);
  std::string rpt_day, rpt_domain;
  auto* rpt_list = tlsrpt->add_subcommand("list", "sessions counted per policy domain on a day");
  rpt_list->add_option("--day", rpt_day, "UTC day YYYY-MM-DD (default: today)");
  auto* rpt_show = tlsrpt->add_subcommand("show", "the report JSON that would be sent for a domain");
  rpt_show->add_option("domain", rpt_domain, "policy domain")->required();
  rpt_show->add_option("--day", rpt_day, "UTC day YYYY-MM-DD (default: today)");
  auto* rpt_send = tlsrpt->add_subcommand("send", "send a day's reports now (sent or not before)");
  rpt_send->add_option("--day", rpt_day, "UTC day YYYY-MM-DD (default: yesterday)");
  rpt_send->add_option("--domain", rpt_domain, "only this policy domain");

  // token add: made here, never sent anywhere; the relay needs only the line's hash.
  auto* token = app.add_subcommand("token", "bearer tokens of named admin operators");
  token->require_subcommand(1);
  std::string token_name;
  auto* token_add = token->add_subcommand(
      "add", "print a new random token for an operator and the line to add to [admin] "
             "tokens_file (then reload)");
  token_add->add_option("name", token_name, "operator name: 1 to 64 of A-Z a-z 0-9 . _ -")
      ->required();

  auto* policy = app.add_subcommand("policy", "policy engine tools");
  policy->require_subcommand(1);
  std::string from;
  std::vector<std::string> headers, rcpts;
  bool requiretls = false;
  auto* ptest = policy->add_subcommand("test", "which policy and rule a message would get");
  ptest->add_option("--from", from, "envelope sender (empty: <>)");
  ptest->add_option("--header", headers, "a header line 'Name: value' (repeatable)");
  ptest->add_option("--rcpt", rcpts, "recipient (repeatable)")->required();
  ptest->add_flag("--requiretls", requiretls, "as if MAIL FROM carried REQUIRETLS");

  auto* audit = app.add_subcommand("audit", "the audit trail: search, export, report, verify");
  audit->require_subcommand(1);
  AuditArgs aa;
  auto* audit_search = audit->add_subcommand(
      "search", "records matching every filter given, oldest first (a table; --json: JSON lines, "
                "--csv: CSV)");
  auto* audit_report = audit->add_subcommand(
      "report", "for an auditor: outcomes by classification, policy, outcome and TLS "
                "authentication, and what needs attention");
  auto* audit_verify = audit->add_subcommand(
      "verify", "recompute the hash chain and check its checkpoints; exit 1 on a break");
  for (auto* sc : {audit_search, audit_report, audit_verify}) {
    sc->add_option("--from", aa.from, "from this UTC date or time (2026-11-01, 2026-11-01T10:00:00Z)");
    sc->add_option("--to", aa.to, "up to (not including) this UTC date or time");
  }
  audit_search->add_option("--sender", aa.sender, "envelope sender, exact (<> for the null sender)");
  audit_search->add_option("--recipient", aa.recipient, "a recipient address, exact");
  audit_search->add_option("--domain", aa.domain, "a recipient's domain");
  audit_search->add_option("--classification", aa.classification, "e.g. PROTECTED, none, unknown");
  audit_search->add_option("--policy", aa.policy, "a recipient's policy: BES, SOS, HOLD or REJECT");
  audit_search->add_option("--auth", aa.auth, "an outcome's TLS authentication: dane, mta-sts, pkix, none");
  audit_search->add_option("--outcome", aa.outcome, "delivered, failed, bounced or deleted");
  audit_search->add_option("--message-id", aa.message_id, "the Message-ID, exact");
  audit_search->add_option("--event", aa.event, "accept, reject, outcome, dsn, operator or reload");
  audit_search->add_option("--limit", aa.limit, "at most this many records (0: all)");
  audit_search->add_flag("--csv", aa.csv, "CSV (RFC 4180) with a header line, for export");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  ctl.config_explicit = cfg_opt->count() > 0;

  if (token_add->parsed()) {
    auto made = new_operator_token(token_name);
    if (!made) {
      std::cerr << "secmxctl: " << made.error() << "\n";
      return kExitUsage;
    }
    std::cout << "token for " << token_name << " (give it to them; it is not stored anywhere):\n"
              << "  " << made->token << "\n"
              << "line for [admin] tokens_file (then: secmxctl reload):\n"
              << "  " << made->line << "\n";
    return kExitOk;
  }

  if (list->parsed()) {
    std::string q;
    auto add = [&q](const char* k, const std::string& v) {
      if (!v.empty()) q += std::string(q.empty() ? "?" : "&") + k + "=" + encode(v);
    };
    add("state", la.state);
    add("policy", la.policy);
    add("domain", la.domain);
    add("sender", la.sender);
    add("older_than", la.older_than);
    if (int rc = ctl.connect(); rc != kExitOk) return rc;
    // Follow the cursor until the end or --limit.
    json all = json::array();
    std::string after = la.after;
    json next = nullptr;
    for (;;) {
      std::size_t want = la.limit == 0 ? 1000 : std::min<std::size_t>(1000, la.limit - all.size());
      std::string path = "/api/v1/queue" + q + (q.empty() ? "?" : "&") + "limit=" + std::to_string(want);
      if (!after.empty()) path += "&after=" + after;
      auto r = call(ctl.target, "GET", path);
      if (!r) return ctl.error(r.error());
      for (auto& m : r->body["messages"]) all.push_back(std::move(m));
      next = r->body["next"];
      if (!r->body["next"].is_string() || (la.limit != 0 && all.size() >= la.limit)) break;
      after = r->body["next"].get<std::string>();
    }
    if (ctl.as_json) {
      std::cout << json{{"messages", all}, {"next", next}}.dump(2) << "\n";
    } else {
      std::cout << format_queue_list(all);
    }
    return kExitOk;
  }
  if (show->parsed()) {
    return ctl.run("GET", "/api/v1/queue/" + encode(id), nullptr,
                   [](const json& j) { return format_message(j); });
  }
  auto op_done = [&](const std::string& what) {
    return [&id, what](const json&) { return what + " " + id + "\n"; };
  };
  for (const auto& [op, sc] : simple_ops) {
    if (!sc->parsed()) continue;
    if (op == "delete") return ctl.run("DELETE", "/api/v1/queue/" + encode(id), nullptr, op_done("deleted"));
    return ctl.run("POST", "/api/v1/queue/" + encode(id) + "/" + op, nullptr,
                   op_done(op == "hold" ? "held" : "released"));
  }
  if (bounce->parsed()) {
    json body = json::object();
    if (!reason.empty()) body["reason"] = reason;
    return ctl.run("POST", "/api/v1/queue/" + encode(id) + "/bounce", &body, op_done("bounced"));
  }
  if (flush->parsed()) {
    if (!id.empty()) {
      if (!flush_domain.empty()) {
        std::cerr << "secmxctl: queue flush takes an ID or --domain, not both\n";
        return kExitUsage;
      }
      return ctl.run("POST", "/api/v1/queue/" + encode(id) + "/flush", nullptr, op_done("flushed"));
    }
    json body = json::object();
    if (!flush_domain.empty()) body["domain"] = flush_domain;
    return ctl.run("POST", "/api/v1/queue/flush", &body, [&](const json& j) {
      return "flushed " + std::to_string(j.value("messages", 0)) + " messages" +
             (flush_domain.empty() ? std::string() : " for " + flush_domain) + "\n";
    });
  }
  if (stats->parsed()) {
    return ctl.run("GET", "/api/v1/stats", nullptr, [](const json& j) { return format_stats(j); });
  }
  if (route->parsed()) {
    if (int rc = ctl.connect(); rc != kExitOk) return rc;
    auto r = call(ctl.target, "GET", "/api/v1/route/" + encode(route_domain), nullptr, 90);
    if (!r) return ctl.error(r.error());
    std::cout << (ctl.as_json ? r->body.dump(2) + "\n" : format_route(r->body, route_verbose));
    return route_exit_code(r->body);
  }
  if (reload->parsed()) {
    if (int rc = ctl.connect(); rc != kExitOk) return rc;
    auto r = call(ctl.target, "POST", "/api/v1/reload", nullptr, 120);
    if (!r) {
      const json& body = r.error().body;
      if (!body.is_object() || body.value("code", std::string()) != "reload_refused") {
        return ctl.error(r.error());
      }
      // The errors go to stderr: under systemd (ExecReload) that is the journal.
      std::cerr << (ctl.as_json ? body.dump(2) + "\n" : format_reload_refused(body));
      return r.error().exit_code;
    }
    std::cout << (ctl.as_json ? r->body.dump(2) + "\n" : format_reload(r->body));
    return kExitOk;
  }
  if (sts_show->parsed()) {
    return ctl.run("GET", "/api/v1/sts/" + encode(sts_domain), nullptr,
                   [](const json& j) { return format_sts(j); });
  }
  if (sts_fetch->parsed()) {
    return ctl.run("POST", "/api/v1/sts/" + encode(sts_domain) + "/fetch", nullptr,
                   [](const json& j) { return format_sts(j); }, 90);
  }
  if (sts_purge->parsed()) {
    return ctl.run("DELETE", "/api/v1/sts/" + encode(sts_domain), nullptr,
                   [&](const json&) { return "purged " + sts_domain + "\n"; });
  }
  if (rpt_list->parsed()) {
    return ctl.run("GET", "/api/v1/tlsrpt" + (rpt_day.empty() ? "" : "?day=" + encode(rpt_day)),
                   nullptr, [](const json& j) { return format_tlsrpt_list(j); });
  }
  if (rpt_show->parsed()) {
    std::string path = "/api/v1/tlsrpt/report?domain=" + encode(rpt_domain);
    if (!rpt_day.empty()) path += "&day=" + encode(rpt_day);
    if (int rc = ctl.connect(); rc != kExitOk) return rc;
    auto r = call(ctl.target, "GET", path);
    if (!r) {
      // Nothing counted is an answer, not a failure of the tool: said on stdout, exit 1.
      if (r.error().exit_code == kExitNotFound) {
        std::cout << r.error().message << "\n";
        return 1;
      }
      return ctl.error(r.error());
    }
    std::cout << r->body.dump(2) << "\n";
    return kExitOk;
  }
  if (rpt_send->parsed()) {
    json body = json::object();
    if (!rpt_day.empty()) body["day"] = rpt_day;
    if (!rpt_domain.empty()) body["domain"] = rpt_domain;
    if (int rc = ctl.connect(); rc != kExitOk) return rc;
    auto r = call(ctl.target, "POST", "/api/v1/tlsrpt/send", &body, 300);
    if (!r) return ctl.error(r.error());
    std::cout << (ctl.as_json ? r->body.dump(2) + "\n" : format_tlsrpt_send(r->body, rpt_domain));
    bool nothing = r->body.value("sent", json::array()).empty();
    return tlsrpt_send_failed(r->body) || (nothing && !rpt_domain.empty()) ? 1 : kExitOk;
  }
  if (audit_search->parsed()) return audit_search_command(ctl, aa);
  if (audit_report->parsed()) {
    return ctl.run("GET", "/api/v1/audit/report" + audit_range_query(aa), nullptr,
                   [](const json& j) { return format_audit_report(j); }, 600);
  }
  if (audit_verify->parsed()) {
    if (int rc = ctl.connect(); rc != kExitOk) return rc;
    auto r = call(ctl.target, "GET", "/api/v1/audit/verify" + audit_range_query(aa), nullptr, 3600);
    if (!r) return ctl.error(r.error());
    std::cout << (ctl.as_json ? r->body.dump(2) + "\n" : format_audit_verify(r->body));
    return audit_verify_exit(r->body);
  }
  if (ptest->parsed()) {
    json body{{"sender", from}, {"headers", headers}, {"recipients", rcpts}, {"requiretls", requiretls}};
    return ctl.run("POST", "/api/v1/policy/test", &body,
                   [](const json& j) { return format_policy_test(j); });
  }
  return kExitUsage;
}
