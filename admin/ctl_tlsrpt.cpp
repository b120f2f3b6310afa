// ctl_tlsrpt.cpp - the TLS reporting lines of secmxctl; see ctl_tlsrpt.hpp.
#include "admin/ctl_tlsrpt.hpp"

#include <sstream>

namespace secmx::admin {
namespace {

using nlohmann::json;

std::string str(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::uint64_t num(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

}  // namespace

std::string format_tlsrpt_list(const json& list) {
  std::ostringstream out;
  const json domains = list.value("domains", json::array());
  if (!domains.is_array() || domains.empty()) {
    return "no sessions counted on " + str(list, "day") + "\n";
  }
  for (const auto& d : domains) {
    out << str(d, "domain") << " success=" << num(d, "success") << " failure=" << num(d, "failure");
    if (auto r = d.find("results"); r != d.end() && r->is_object()) {
      for (const auto& [type, n] : r->items()) out << " " << type << "=" << n.dump();
    }
    out << "\n";
  }
  return out.str();
}

std::string format_tlsrpt_send(const json& sent, const std::string& domain) {
  const json list = sent.value("sent", json::array());
  if (!list.is_array() || list.empty()) {
    return "no sessions counted " + (domain.empty() ? std::string() : "for " + domain + " ") +
           "on " + str(sent, "day") + "\n";
  }
  std::ostringstream out;
  for (const auto& o : list) {
    const std::string d = str(o, "domain");
    if (o.value("rua", json()).is_null()) {
      out << d << " no TLSRPT record: " << str(o, "detail") << "\n";
    } else if (o.value("ok", false)) {
      out << d << " " << str(o, "rua") << " sent";
      if (o.contains("queue_id")) out << " queue_id=" << str(o, "queue_id");
      if (o.contains("status")) out << " status=" << str(o, "status");
      out << "\n";
    } else {
      out << d << " " << str(o, "rua") << " failed: " << str(o, "detail") << "\n";
    }
  }
  return out.str();
}

bool tlsrpt_send_failed(const json& sent) {
  for (const auto& o : sent.value("sent", json::array())) {
    if (!o.value("ok", false)) return true;
  }
  return false;
}

}  // namespace secmx::admin
