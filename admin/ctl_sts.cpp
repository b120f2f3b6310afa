// ctl_sts.cpp - the MTA-STS block of secmxctl; see ctl_sts.hpp.
#include "admin/ctl_sts.hpp"

#include <sstream>

#include "admin/ctl_format.hpp"

namespace secmx::admin {
namespace {

using nlohmann::json;

std::string text(const json& obj, const char* key) {
  if (!obj.is_object()) return "-";
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>().empty() ? "-" : it->get<std::string>();
  return it->dump();
}

void kv(std::ostringstream& out, const std::string& key, const std::string& value) {
  out << key << ":" << std::string(key.size() < 16 ? 16 - key.size() : 1, ' ') << value << "\n";
}

}  // namespace

std::string format_sts(const json& s) {
  std::ostringstream out;
  kv(out, "domain", text(s, "domain"));
  if (!s.value("enabled", true)) kv(out, "mta-sts", "disabled ([mta_sts] enabled = false)");
  if (auto f = s.find("fetch"); f != s.end() && f->is_object()) {
    std::string detail = text(*f, "detail");
    kv(out, "lookup", text(*f, "result") + (detail == "-" ? "" : ": " + detail));
  }
  const json p = s.value("policy", json());
  if (p.is_object()) {
    kv(out, "mode", text(p, "mode"));
    std::string mx;
    for (const auto& m : p.value("mx", json::array())) {
      if (!mx.empty()) mx += ", ";
      mx += m.is_string() ? m.get<std::string>() : m.dump();
    }
    kv(out, "mx", mx.empty() ? "-" : mx);
    kv(out, "max_age", text(p, "max_age") + "s");
    kv(out, "id", text(p, "id"));
    kv(out, "fetched", text(p, "fetched_at") + " (" +
                           format_age(p.value("age_seconds", std::int64_t{0})) + " ago)");
    kv(out, "expires", text(p, "expires_at") + (p.value("expired", false) ? " (expired)" : ""));
  } else {
    kv(out, "policy", "none cached");
  }
  const json f = s.value("last_failure", json());
  if (f.is_object()) {
    kv(out, "last failure", text(f, "result") + " at " + text(f, "at") + ": " + text(f, "detail"));
  }
  return out.str();
}

}  // namespace secmx::admin
