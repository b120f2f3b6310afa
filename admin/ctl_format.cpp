// ctl_format.cpp - tables and key/value blocks for secmxctl.
#include "admin/ctl_format.hpp"

#include <algorithm>
#include <sstream>

namespace secmx::admin {

namespace {

using nlohmann::json;

// A JSON value as a table cell: strings as is, null as "-", the rest dumped.
std::string cell(const json& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) {
    auto s = j.get<std::string>();
    return s.empty() ? "-" : s;
  }
  if (j.is_boolean()) return j.get<bool>() ? "yes" : "no";
  return j.dump();
}

std::string field(const json& obj, const char* key) {
  if (!obj.is_object()) return "-";
  auto it = obj.find(key);
  return it == obj.end() ? "-" : cell(*it);
}

std::string cut(std::string s, std::size_t max) {
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

void kv(std::ostringstream& out, const std::string& key, const std::string& value) {
  out << key << ":" << std::string(key.size() < 16 ? 16 - key.size() : 1, ' ') << value << "\n";
}

// A host's DANE status: "usable (2 records)", "none", "unusable", "failed: why".
std::string tlsa_cell(const json& t) {
  std::string status = field(t, "status");
  if (status == "usable") {
    std::size_t n = t.value("records", json::array()).size();
    return status + " (" + std::to_string(n) + (n == 1 ? " record)" : " records)");
  }
  if (status == "failed") return status + ": " + cut(field(t, "detail"), 50);
  return status;
}

// A recipient's attempts, oldest first, one line each, under its address; nothing when it
// was never tried.
void format_history(std::ostringstream& out, const json& r) {
  const json history = r.value("history", json::array());
  const auto dropped = r.value("history_dropped", std::uint64_t{0});
  if (history.empty() && dropped == 0) return;
  out << "\nattempts of <" << r.value("address", std::string()) << ">:\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : history) {
    std::string host = field(a, "host");
    if (field(a, "address") != "-") host += "[" + field(a, "address") + "]";
    rows.push_back({field(a, "time"), host, field(a, "method"), field(a, "tls"),
                    field(a, "dnssec"), field(a, "status"), field(a, "reply")});
  }
  out << format_table({"TIME", "HOST", "METHOD", "TLS", "DNSSEC", "STATUS", "REPLY"}, rows);
  if (dropped > 0) {
    out << "(" << dropped << (dropped == 1 ? " older attempt" : " older attempts")
        << " not kept)\n";
  }
}

}  // namespace

std::string format_age(std::int64_t s) {
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 2 * 3600) return std::to_string(s / 60) + "m";
  if (s < 2 * 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size(), 0);
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& r) {
    std::string s;
    for (std::size_t i = 0; i < header.size(); ++i) {
      const std::string v = i < r.size() ? r[i] : "";
      s += v;
      if (i + 1 < header.size()) s += std::string(width[i] - v.size() + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
  return out.str();
}

std::string format_queue_list(const json& messages) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : messages) {
    std::string rcpts = std::to_string(m.value("pending", 0)) + "/" + std::to_string(m.value("recipients", 0));
    std::string domains;
    for (const auto& d : m.value("domains", json::array())) {
      if (!domains.empty()) domains += ",";
      domains += cell(d);
    }
    // Nothing is cut: like Postfix's mailq, whole ids and addresses, for grep and awk.
    std::string last = field(m, "last_status");
    if (last != "-") last += " " + field(m, "last_reply");
    rows.push_back({field(m, "id"), format_age(m.value("age_seconds", std::int64_t{0})),
                    field(m, "state"), field(m, "policy"), std::to_string(m.value("size", 0)),
                    field(m, "sender"), rcpts, domains.empty() ? "-" : domains, last});
  }
  std::string out = format_table(
      {"ID", "AGE", "STATE", "POLICY", "SIZE", "SENDER", "RCPTS", "DOMAINS", "LAST"}, rows);
  out += std::to_string(messages.size()) + (messages.size() == 1 ? " message\n" : " messages\n");
  return out;
}

std::string format_message(const json& d) {
  std::ostringstream out;
  kv(out, "id", field(d, "id"));
  kv(out, "state", field(d, "state"));
  kv(out, "arrival", field(d, "arrival") + " (" + format_age(d.value("age_seconds", std::int64_t{0})) + " ago)");
  kv(out, "sender", d.value("sender", std::string()).empty() ? "<>" : "<" + d.value("sender", std::string()) + ">");
  kv(out, "size", std::to_string(d.value("size", 0)) + " bytes, " + field(d, "body_type") +
                      (d.value("smtputf8", false) ? ", SMTPUTF8" : ""));
  kv(out, "policy", field(d, "policy"));
  kv(out, "requiretls", field(d, "requiretls"));
  kv(out, "attempts", field(d, "attempts"));
  kv(out, "next attempt", field(d, "next_attempt"));
  if (d.contains("client")) {
    const auto& c = d["client"];
    std::string from = field(c, "address") + " helo=" + field(c, "helo");
    if (field(c, "tls_protocol") != "-") from += " tls=" + field(c, "tls_protocol") + " " + field(c, "tls_cipher");
    if (field(c, "auth_user") != "-") from += " user=" + field(c, "auth_user");
    kv(out, "client", from);
  }
  if (field(d, "message_id") != "-") kv(out, "message-id", "<" + field(d, "message_id") + ">");
  if (field(d, "classification") != "-") kv(out, "classification", field(d, "classification"));
  if (field(d, "envid") != "-" || field(d, "ret") != "-") {
    kv(out, "dsn", "envid=" + field(d, "envid") + " ret=" + field(d, "ret"));
  }
  out << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : d.value("recipients", json::array())) {
    std::string last = field(r, "last_status");
    if (last != "-") last += " " + field(r, "last_reply");
    if (field(r, "remote_mta") != "-") last += " (" + field(r, "remote_mta") + ")";
    if (field(r, "last_tls") != "-") last += " tls=" + field(r, "last_tls");
    if (field(r, "last_cert_sha256") != "-") last += " cert=sha256:" + field(r, "last_cert_sha256");
    if (field(r, "last_dnssec") != "-") last += " dnssec=" + field(r, "last_dnssec");
    rows.push_back({field(r, "address"), field(r, "state"), field(r, "policy"), field(r, "tls"),
                    field(r, "rule"), field(r, "attempts"), last});
  }
  out << format_table({"RECIPIENT", "STATE", "POLICY", "TLS", "RULE", "TRIES", "LAST"}, rows);
  for (const auto& r : d.value("recipients", json::array())) format_history(out, r);
  return out.str();
}

std::string format_stats(const json& s) {
  std::ostringstream out;
  const json q = s.value("queue", json::object());
  kv(out, "queue", field(q, "messages") + " messages, " + field(q, "held") + " held");
  kv(out, "oldest", field(q, "oldest_arrival") == "-"
                        ? std::string("-")
                        : field(q, "oldest_arrival") + " (" + format_age(q.value("oldest_age_seconds", std::int64_t{0})) + ")");
  kv(out, "received", field(s, "messages_received") + " messages");
  const json c = s.value("connections", json::object());
  kv(out, "connections", "inbound " + field(c, "inbound") + ", outbound " + field(c, "outbound"));
  kv(out, "uptime", format_age(s.value("uptime_seconds", std::int64_t{0})));
  out << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const char* p : {"BES", "SOS", "HOLD"}) {
    auto get = [&](const char* k) { return field(s.value(k, json::object()), p); };
    rows.push_back({p, get("received"), get("delivered"), get("deferred"), get("bounced")});
  }
  out << format_table({"POLICY", "RECEIVED", "DELIVERED", "DEFERRED", "BOUNCED"}, rows);
  const json t = s.value("deliveries_by_tls", json::object());
  out << "\n";
  kv(out, "delivered over", "verified TLS " + field(t, "verified") + ", TLS " + field(t, "encrypt") +
                                ", plaintext " + field(t, "none"));
  kv(out, "SOS bounces", field(s, "sos_bounces"));
  return out.str();
}

std::string format_route_verdicts(const json& r) {
  std::string out;
  for (const auto& v : r.value("verdicts", json::array())) {
    std::string action = field(v, "action");
    out += field(v, "policy") + ": ";
    if (action == "deliver") {
      out += "would deliver to " + field(v, "host") + " (" + field(v, "detail") + ")";
    } else if (action == "bounce" || action == "defer") {
      out += "would " + action + " " + field(v, "status") + ": " + field(v, "detail");
    } else {
      out += "cannot tell: " + field(v, "detail");
    }
    out += "\n";
  }
  return out;
}

int route_exit_code(const json& r) {
  std::string status = field(r, "status");
  if (status == "permanent") return kRouteExitPermanent;
  if (status == "temporary") return kRouteExitTemporary;
  return 0;
}

std::string format_route(const json& r, bool verbose) {
  std::ostringstream out;
  kv(out, "domain", field(r, "domain"));
  std::string status = field(r, "status");
  if (field(r, "dsn") != "-") status += " " + field(r, "dsn");
  if (field(r, "reason") != "-") status += " (" + field(r, "reason") + ")";
  kv(out, "discovery", status);
  bool dnssec = r.value("dnssec", false);
  kv(out, "dnssec", dnssec ? "on" : "off");
  const json sts = r.value("mta_sts", json::object());
  if (sts.value("enabled", false)) {
    if (!sts.value("cached", false)) {
      kv(out, "mta-sts", "no policy cached (secmxctl sts fetch " + field(r, "domain") + ")");
    } else {
      std::string mx;
      for (const auto& m : sts.value("mx", json::array())) mx += (mx.empty() ? "" : " ") + cell(m);
      kv(out, "mta-sts", field(sts, "mode") + " mx=" + (mx.empty() ? "-" : mx) + " max_age=" +
                             field(sts, "max_age") + " id=" + field(sts, "id") + " age=" +
                             format_age(sts.value("age_seconds", std::int64_t{0})) +
                             (sts.value("expired", false) ? " EXPIRED" : ""));
    }
  } else if (r.contains("mta_sts")) {
    kv(out, "mta-sts", "off");
  }
  if (r.value("route_tls", json()).is_string()) kv(out, "route tls", field(r, "route_tls"));
  if (r.value("secmx_incomplete", false)) kv(out, "note", "a SecMX lookup failed: the list may be incomplete");
  if (r.value("mx_incomplete", false)) kv(out, "note", "an MX lookup failed: the list may be incomplete");
  if (r.contains("probe_stopped")) kv(out, "note", "probe stopped early: " + field(r, "probe_stopped"));
  if (verbose) {
    out << "\nDiscovery trace:\n";
    for (const auto& line : r.value("trace", json::array())) out << "  " << cell(line) << "\n";
  }
  out << "\n";
  std::vector<std::vector<std::string>> rows;
  std::string verdicts;
  for (const auto& h : r.value("hosts", json::array())) {
    const json tls = h.value("tls", json::object());
    std::string tls_cell = "-", verified = "-";
    if (tls.is_object() && tls.contains("completed")) {
      tls_cell = tls.value("completed", false) ? field(tls, "protocol") : (h.value("starttls", false) ? "FAILED" : "no");
      verified = tls.value("completed", false)
                     ? (tls.value("verified", false) ? std::string("yes") : "no " + cut(field(tls, "verify_error"), 40))
                     : std::string("-");
      if (tls.value("completed", false) && field(tls, "auth") != "-") {
        verified = field(tls, "auth") == "none" ? verified : field(tls, "auth");
      }
    }
    std::string note = field(h, "status");
    if (field(h, "error") != "-") note += ": " + cut(field(h, "error"), 60);
    std::vector<std::string> row{field(h, "method"), field(h, "host"), field(h, "port"), field(h, "address")};
    if (dnssec) {
      row.push_back(field(h, "dnssec"));
      row.push_back(tlsa_cell(h.value("tlsa", json::object())));
    }
    row.push_back(field(h, "binding"));
    for (std::string v : {field(h, "answered"), field(h, "starttls"), tls_cell, verified, note}) row.push_back(v);
    rows.push_back(std::move(row));
    const json v = h.value("verdict", json::object());
    if (v.is_object() && !v.empty()) {
      verdicts += "  " + field(h, "host") + "[" + field(h, "address") + "]:";
      for (const char* k : {"BES", "SOS encrypt", "SOS verify"}) {
        verdicts += std::string(" ") + k + ": " + cut(field(v, k), 70) + ";";
      }
      verdicts += "\n";
    }
  }
  std::vector<std::string> header{"METHOD", "HOST", "PORT", "ADDRESS"};
  if (dnssec) {
    header.push_back("DNSSEC");
    header.push_back("TLSA");
  }
  header.push_back("BINDING");
  for (const char* h : {"ANSWERS", "STARTTLS", "TLS", "VERIFIED", "STATUS"}) header.push_back(h);
  out << format_table(header, rows);
  if (verbose && !verdicts.empty()) out << "\nEach host on its own:\n" << verdicts;
  std::string records;
  for (const auto& c : r.value("candidates", json::array())) {
    const json t = c.value("tlsa", json::object());
    for (const auto& rec : t.value("records", json::array())) {
      records += "  _" + field(c, "port") + "._tcp." + field(t, "base") + " TLSA " + cell(rec) + "\n";
    }
  }
  if (!records.empty()) out << "\nTLSA records (usable):\n" << records;
  if (std::string v = format_route_verdicts(r); !v.empty()) out << "\nWhat delivery would do now:\n" << v;
  return out.str();
}

std::string format_classification(const json& a) {
  if (!a.contains("classification")) return "";
  std::ostringstream out;
  const json c = a.value("classification", json::object());
  std::string level = field(c, "level");
  if (c.value("unknown", false)) {
    level = "unknown (" + field(c, "unknown_why") + ")" + (level == "-" ? "" : ", highest read: " + level);
  } else if (level == "-") {
    level = "none (not marked)";
  }
  kv(out, "classification", level);
  for (const auto& m : c.value("markings", json::array())) {
    std::string line = field(m, "source") + ": " + field(m, "text");
    if (field(m, "error") != "-") {
      line += " -> invalid: " + field(m, "error");
    } else {
      line += " -> " + field(m, "level");
    }
    kv(out, "marking", line);
  }
  if (field(a, "marking_invalid") != "-") kv(out, "invalid marking", field(a, "marking_invalid"));
  if (field(a, "subject") != "-") kv(out, "subject", field(a, "subject"));
  out << "\n";
  return out.str();
}

std::string format_policy_test(const json& a) {
  std::ostringstream out;
  out << format_classification(a);
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : a.value("decisions", json::array())) {
    std::string rule = field(d, "rule");
    if (field(d, "reject_text") != "-") rule += " (" + field(d, "reject_text") + ")";
    if (field(d, "rule_line") != "-" && field(d, "rule_line") != "0") rule += " line " + field(d, "rule_line");
    rows.push_back({field(d, "recipient"), field(d, "policy"), field(d, "tls"), rule});
  }
  out << format_table({"RECIPIENT", "POLICY", "TLS", "RULE"}, rows);
  return out.str();
}

std::string format_reload(const json& answer) {
  std::ostringstream out;
  // Each warning says "file:line: warning: ..." itself, as --check prints it.
  for (const auto& w : answer.value("warnings", json::array())) out << cell(w) << "\n";
  out << "reloaded " << field(answer, "file") << ": " << field(answer, "summary") << "\n";
  return out.str();
}

std::string format_reload_refused(const json& answer) {
  std::string out;
  for (const auto& e : answer.value("errors", json::array())) out += cell(e) + "\n";
  out += "secmxctl: reload refused: " + field(answer, "error") + "\n";
  return out;
}

}  // namespace secmx::admin
