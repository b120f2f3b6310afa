// ctl_audit.cpp - the audit lines of secmxctl; see ctl_audit.hpp.
#include "admin/ctl_audit.hpp"

#include <map>
#include <sstream>
#include <vector>

#include "admin/ctl_format.hpp"

namespace secmx::admin {
namespace {

using nlohmann::json;

// A value as text: strings as they are, null and absent as "", the rest dumped.
std::string text(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// For a terminal: no control characters, "-" for nothing.
std::string shown(std::string s) {
  for (auto& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return s.empty() ? "-" : s;
}

// The recipient addresses of a record, space-separated (an outcome has one, the others a
// list of objects or, for a DSN, of addresses).
std::string recipients(const json& r, const char* field) {
  std::string out;
  auto add = [&out](const std::string& s) {
    if (s.empty()) return;
    if (!out.empty()) out += ' ';
    out += s;
  };
  if (auto it = r.find("recipient"); it != r.end() && it->is_object()) add(text(*it, field));
  if (auto it = r.find("recipients"); it != r.end() && it->is_array()) {
    for (const auto& x : *it) {
      if (x.is_string() && std::string(field) == "address") add(x.get<std::string>());
      else if (x.is_object()) add(text(x, field));
    }
  }
  return out;
}

// What happened, in a word or two: the outcome and its auth, the operator's action, ...
std::string result(const json& r) {
  const std::string event = text(r, "event");
  if (event == "outcome") return text(r, "outcome") + " auth=" + text(r, "auth");
  if (event == "operator") return text(r, "action") + " by " + text(r, "operator");
  if (event == "reload") return text(r, "what") + " " + text(r, "result") + " by " + text(r, "operator");
  if (event == "dsn") return text(r, "kind") + " " + text(r, "dsn_id");
  if (event == "reject") return text(r, "reason");
  return "";
}

const json& record_of(const json& item) {
  static const json kNone = json::object();
  auto it = item.find("record");
  return it != item.end() && it->is_object() ? *it : kNone;
}

}  // namespace

std::string format_audit_table(const json& records) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& item : records) {
    const json& r = record_of(item);
    rows.push_back({text(item, "seq"), shown(text(r, "time")), shown(text(r, "event")),
                    shown(text(r, "queue_id")), shown(text(r, "sender")), shown(recipients(r, "address")),
                    shown(text(r, "classification")), shown(recipients(r, "policy")), shown(result(r))});
  }
  return format_table({"SEQ", "TIME", "EVENT", "QUEUE-ID", "SENDER", "RECIPIENTS", "CLASSIFICATION",
                       "POLICY", "RESULT"},
                      rows);
}

std::string audit_table_footer(std::size_t count) {
  return std::to_string(count) + (count == 1 ? " record\n" : " records\n");
}

std::string format_audit_jsonl(const json& records) {
  std::string out;
  for (const auto& item : records) {
    json r = item.contains("record") && item["record"].is_object() ? item["record"] : json::object();
    r["seq"] = item.value("seq", json(nullptr));
    out += r.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  }
  return out;
}

std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string audit_csv_header() {
  return "seq,time,event,queue_id,message_id,sender,recipients,classification,policy,outcome,auth,"
         "action,operator,detail\r\n";
}

std::string format_audit_csv(const json& records) {
  std::string out;
  for (const auto& item : records) {
    const json& r = record_of(item);
    std::string detail = text(r, "reason");
    if (detail.empty()) detail = text(r, "reply");
    if (auto it = r.find("recipient"); detail.empty() && it != r.end() && it->is_object()) {
      const std::string status = text(*it, "status"), reply = text(*it, "reply");
      detail = status.empty() || reply.empty() ? status + reply : status + " " + reply;
    }
    const std::string op = text(r, "event") == "outcome" ? text(r, "by") : text(r, "operator");
    const std::vector<std::string> cells = {
        text(item, "seq"), text(r, "time"), text(r, "event"), text(r, "queue_id"), text(r, "message_id"),
        text(r, "sender"), recipients(r, "address"), text(r, "classification"), recipients(r, "policy"),
        text(r, "outcome"), text(r, "auth"), text(r, "action"), op, detail};
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out += ',';
      out += csv_field(cells[i]);
    }
    out += "\r\n";
  }
  return out;
}

std::string format_audit_report(const json& rep) {
  std::ostringstream out;
  const std::string from = text(rep, "from"), to = text(rep, "to");
  out << "Audit report " << (from.empty() ? "from the first record" : "from " + from) << " "
      << (to.empty() ? "to the last" : "to " + to) << "\n";
  out << "records: " << text(rep, "records") << ", final outcomes: " << text(rep, "outcomes");
  if (rep.value("unparsable", 0) > 0) out << ", unreadable records: " << text(rep, "unparsable") << " (run audit verify)";
  out << "\n\n";

  out << "1. Final outcomes by classification, policy, outcome and TLS authentication\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : rep.value("counts", json::array())) {
    rows.push_back({shown(text(c, "classification")), shown(text(c, "policy")), shown(text(c, "outcome")),
                    shown(text(c, "auth")), text(c, "count")});
  }
  if (rows.empty()) out << "   none\n";
  else out << format_table({"CLASSIFICATION", "POLICY", "OUTCOME", "AUTH", "COUNT"}, rows);

  auto more = [&](const char* key) {
    std::uint64_t n = rep.contains("more") ? rep["more"].value(key, std::uint64_t{0}) : 0;
    if (n > 0) out << "   ... and " << n << " more (search the range to see them all)\n";
  };
  out << "\n2. SOS or REQUIRETLS mail delivered without authenticated TLS (auth none)\n";
  rows.clear();
  for (const auto& u : rep.value("unauthenticated", json::array())) {
    rows.push_back({shown(text(u, "time")), shown(text(u, "queue_id")), shown(text(u, "message_id")),
                    shown(text(u, "sender")), shown(text(u, "recipient")), shown(text(u, "policy")),
                    u.value("requiretls", false) ? "yes" : "no", shown(text(u, "classification"))});
  }
  if (rows.empty()) out << "   none\n";
  else out << format_table({"TIME", "QUEUE-ID", "MESSAGE-ID", "SENDER", "RECIPIENT", "POLICY", "REQUIRETLS",
                            "CLASSIFICATION"}, rows);
  more("unauthenticated");

  out << "\n3. Markings that could not be read\n";
  rows.clear();
  for (const auto& u : rep.value("unreadable_markings", json::array())) {
    rows.push_back({shown(text(u, "time")), shown(text(u, "event")), shown(text(u, "queue_id")),
                    shown(text(u, "sender")), shown(text(u, "source")), shown(text(u, "text")),
                    shown(text(u, "error"))});
  }
  if (rows.empty()) out << "   none\n";
  else out << format_table({"TIME", "EVENT", "QUEUE-ID", "SENDER", "SOURCE", "MARKING", "ERROR"}, rows);
  more("unreadable_markings");

  out << "\n4. Operator releases of mail held by policy (HOLD)\n";
  rows.clear();
  for (const auto& u : rep.value("hold_releases", json::array())) {
    std::string rcpts;
    for (const auto& a : u.value("recipients", json::array())) {
      if (!rcpts.empty()) rcpts += ' ';
      rcpts += a.is_string() ? a.get<std::string>() : a.dump();
    }
    rows.push_back({shown(text(u, "time")), shown(text(u, "operator")), shown(text(u, "queue_id")),
                    shown(text(u, "message_id")), shown(text(u, "sender")), shown(rcpts),
                    shown(text(u, "classification"))});
  }
  if (rows.empty()) out << "   none\n";
  else out << format_table({"TIME", "OPERATOR", "QUEUE-ID", "MESSAGE-ID", "SENDER", "RECIPIENTS",
                            "CLASSIFICATION"}, rows);
  more("hold_releases");
  return out.str();
}

std::string format_audit_verify(const json& v) {
  std::ostringstream out;
  const json& brk = v.contains("break") ? v["break"] : json();
  if (brk.is_object()) {
    out << "BROKEN at record " << text(brk, "seq") << ": " << shown(text(brk, "what")) << "\n";
  } else {
    out << "verified: the chain is intact\n";
  }
  out << "records checked: " << text(v, "records");
  if (!text(v, "first_seq").empty()) {
    out << " (seq " << text(v, "first_seq") << " to " << text(v, "last_seq") << ", " << text(v, "first_time")
        << " to " << text(v, "last_time") << ")";
  }
  out << "\n";
  out << "checkpoints " << (v.value("key", false) ? "checked: " : "seen: ") << text(v, "checkpoints") << "\n";
  if (!text(v, "from").empty() || !text(v, "to").empty()) {
    out << "range asked: " << (text(v, "from").empty() ? "start" : text(v, "from")) << " to "
        << (text(v, "to").empty() ? "end" : text(v, "to")) << "\n";
  }
  out << "head: record " << text(v, "head_seq") << ", "
      << (v.value("head_covered", false) ? "covered by the last checkpoint" : "not covered by a checkpoint")
      << (text(v, "last_checkpoint_seq").empty() ? std::string(" (no checkpoint yet)")
                                                  : " (last checkpoint at " + text(v, "last_checkpoint_seq") + ")")
      << "\n";
  if (!text(v, "note").empty()) out << "note: " << text(v, "note") << "\n";
  return out.str();
}

int audit_verify_exit(const json& v) { return v.value("ok", false) ? 0 : 1; }

}  // namespace secmx::admin
