// report_schema.hpp - a checker for RFC 8460 §4.4, the JSON schema of a TLS report, for the
// tests: every required member present with its type, RFC 3339 date-times, counts as
// non-negative integers, result and policy types from the RFC's lists, IP addresses that
// parse. On top of the schema it holds our own promises: no member the RFC does not
// define, no empty optional string or array, no policy text for "no-policy-found", the
// failure-details summing to the summary's failure count. Test code only.
#pragma once

#include <arpa/inet.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "relay/tlsrpt/tlsrpt_types.hpp"

namespace secmx::tlsrpt::schema {

using Problems = std::vector<std::string>;

// RFC 3339 §5.6 date-time, the fields in range (leap second allowed, as the RFC does).
inline bool rfc3339(const nlohmann::json& v) {
  if (!v.is_string()) return false;
  static const std::regex re(
      R"(^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$)");
  std::smatch m;
  const std::string s = v.get<std::string>();
  if (!std::regex_match(s, m, re)) return false;
  auto n = [&](int i) { return std::stoi(m[i].str()); };
  using namespace std::chrono;
  year_month_day ymd{year(n(1)), month(static_cast<unsigned>(n(2))), day(static_cast<unsigned>(n(3)))};
  if (!ymd.ok() || n(4) > 23 || n(5) > 59 || n(6) > 60) return false;
  if (m[9].matched && (n(9) > 23 || n(10) > 59)) return false;
  return true;
}

inline bool count(const nlohmann::json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
}

inline bool ip_address(const nlohmann::json& v) {
  if (!v.is_string()) return false;
  unsigned char buf[16];
  const std::string s = v.get<std::string>();
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// Only the members the RFC defines; optional strings and arrays left out when empty
// ("policies" is required, so it may be empty).
inline void members(const nlohmann::json& obj, const std::set<std::string>& known,
                    const std::string& where, Problems& out) {
  for (const auto& [k, v] : obj.items()) {
    if (!known.contains(k)) out.push_back(where + ": unknown member " + k);
    if (v.is_string() && v.get<std::string>().empty()) out.push_back(where + "." + k + ": empty");
    if (v.is_array() && v.empty() && k != "policies") out.push_back(where + "." + k + ": empty array");
  }
}

inline void string_array(const nlohmann::json& obj, const char* name, const std::string& where,
                         Problems& out) {
  if (!obj.contains(name)) return;
  const auto& a = obj[name];
  if (!a.is_array()) {
    out.push_back(where + "." + name + ": not an array");
    return;
  }
  for (const auto& s : a) {
    if (!s.is_string()) out.push_back(where + "." + name + ": holds a non-string");
  }
}

inline void require(const nlohmann::json& obj, const char* name, bool (*ok)(const nlohmann::json&),
                    const std::string& where, Problems& out) {
  if (!obj.contains(name)) {
    out.push_back(where + ": missing " + name);
  } else if (!ok(obj[name])) {
    out.push_back(where + "." + name + ": wrong type or form");
  }
}

inline void optional(const nlohmann::json& obj, const char* name, bool (*ok)(const nlohmann::json&),
                     const std::string& where, Problems& out) {
  if (obj.contains(name) && !ok(obj[name])) out.push_back(where + "." + name + ": wrong type or form");
}

inline bool is_string(const nlohmann::json& v) { return v.is_string(); }
inline bool is_object(const nlohmann::json& v) { return v.is_object(); }
inline bool is_array(const nlohmann::json& v) { return v.is_array(); }
inline bool policy_type(const nlohmann::json& v) {
  return v.is_string() && policy_type_from(v.get<std::string>()).has_value();
}
inline bool result_type(const nlohmann::json& v) {
  return v.is_string() && result_type_from(v.get<std::string>()).has_value();
}

inline Problems check(const nlohmann::json& r) {
  Problems out;
  if (!r.is_object()) return {"report: not an object"};
  members(r, {"organization-name", "date-range", "contact-info", "report-id", "policies"},
          "report", out);
  require(r, "organization-name", is_string, "report", out);
  require(r, "contact-info", is_string, "report", out);
  require(r, "report-id", is_string, "report", out);
  require(r, "date-range", is_object, "report", out);
  if (r.contains("date-range") && r["date-range"].is_object()) {
    const auto& dr = r["date-range"];
    members(dr, {"start-datetime", "end-datetime"}, "date-range", out);
    require(dr, "start-datetime", rfc3339, "date-range", out);
    require(dr, "end-datetime", rfc3339, "date-range", out);
    if (rfc3339(dr.value("start-datetime", nlohmann::json())) &&
        rfc3339(dr.value("end-datetime", nlohmann::json())) &&
        dr["start-datetime"].get<std::string>() >= dr["end-datetime"].get<std::string>()) {
      out.push_back("date-range: does not end after it starts");
    }
  }
  require(r, "policies", is_array, "report", out);
  if (!r.contains("policies") || !r["policies"].is_array()) return out;
  for (std::size_t i = 0; i < r["policies"].size(); ++i) {
    const auto& p = r["policies"][i];
    const std::string at = "policies[" + std::to_string(i) + "]";
    if (!p.is_object()) {
      out.push_back(at + ": not an object");
      continue;
    }
    members(p, {"policy", "summary", "failure-details"}, at, out);
    require(p, "policy", is_object, at, out);
    if (p.contains("policy") && p["policy"].is_object()) {
      const auto& pol = p["policy"];
      const std::string w = at + ".policy";
      members(pol, {"policy-type", "policy-string", "policy-domain", "mx-host"}, w, out);
      require(pol, "policy-type", policy_type, w, out);
      require(pol, "policy-domain", is_string, w, out);
      string_array(pol, "policy-string", w, out);
      string_array(pol, "mx-host", w, out);
      if (pol.value("policy-type", "") == "no-policy-found" &&
          (pol.contains("policy-string") || pol.contains("mx-host"))) {
        out.push_back(w + ": policy text for no-policy-found");
      }
    }
    require(p, "summary", is_object, at, out);
    std::uint64_t failures = 0;
    bool have_failures = false;
    if (p.contains("summary") && p["summary"].is_object()) {
      const auto& s = p["summary"];
      members(s, {"total-successful-session-count", "total-failure-session-count"},
              at + ".summary", out);
      require(s, "total-successful-session-count", count, at + ".summary", out);
      require(s, "total-failure-session-count", count, at + ".summary", out);
      if (count(s.value("total-failure-session-count", nlohmann::json()))) {
        failures = s["total-failure-session-count"].get<std::uint64_t>();
        have_failures = true;
      }
    }
    optional(p, "failure-details", is_array, at, out);
    std::uint64_t sum = 0;
    if (p.contains("failure-details") && p["failure-details"].is_array()) {
      for (std::size_t j = 0; j < p["failure-details"].size(); ++j) {
        const auto& f = p["failure-details"][j];
        const std::string w = at + ".failure-details[" + std::to_string(j) + "]";
        if (!f.is_object()) {
          out.push_back(w + ": not an object");
          continue;
        }
        members(f,
                {"result-type", "sending-mta-ip", "receiving-mx-hostname", "receiving-mx-helo",
                 "receiving-ip", "failed-session-count", "additional-information",
                 "failure-reason-code"},
                w, out);
        require(f, "result-type", result_type, w, out);
        require(f, "failed-session-count", count, w, out);
        optional(f, "sending-mta-ip", ip_address, w, out);
        optional(f, "receiving-ip", ip_address, w, out);
        optional(f, "receiving-mx-hostname", is_string, w, out);
        optional(f, "receiving-mx-helo", is_string, w, out);
        optional(f, "additional-information", is_string, w, out);
        optional(f, "failure-reason-code", is_string, w, out);
        if (count(f.value("failed-session-count", nlohmann::json()))) {
          sum += f["failed-session-count"].get<std::uint64_t>();
        }
      }
    }
    if (have_failures && sum != failures) {
      out.push_back(at + ": failure-details sum to " + std::to_string(sum) + ", summary says " +
                    std::to_string(failures));
    }
  }
  return out;
}

}  // namespace secmx::tlsrpt::schema
