// tlsrpt_view.cpp - JSON shapes of the TLS reporting admin endpoints; see tlsrpt_view.hpp.
#include "admin/tlsrpt_view.hpp"

#include <map>

namespace secmx::admin {

using nlohmann::json;

std::optional<std::string> tlsrpt_day(const std::string& arg) {
  if (arg.size() != 10 || !tlsrpt::day_start_us(arg)) return std::nullopt;
  // day_start_us() is the grammar; its own output must give the text back (no "2026-2-3").
  if (tlsrpt::utc_day(*tlsrpt::day_start_us(arg)) != arg) return std::nullopt;
  return arg;
}

json tlsrpt_list_json(const std::string& day, const std::vector<tlsrpt::DecodedTally>& rows) {
  struct Sums {
    std::uint64_t success = 0, failure = 0;
    std::map<std::string, std::uint64_t> results;
  };
  std::map<std::string, Sums> by_domain;
  for (const auto& r : rows) {
    Sums& s = by_domain[r.domain];
    const auto& failure = r.tally.session.failure;
    if (!failure) {
      s.success += r.tally.count;
    } else {
      s.failure += r.tally.count;
      s.results[tlsrpt::to_string(failure->result)] += r.tally.count;
    }
  }
  json domains = json::array();
  for (const auto& [domain, s] : by_domain) {
    json results = json::object();
    for (const auto& [type, n] : s.results) results[type] = n;
    domains.push_back(
        {{"domain", domain}, {"success", s.success}, {"failure", s.failure}, {"results", results}});
  }
  return json{{"day", day}, {"domains", std::move(domains)}};
}

json tlsrpt_send_json(const std::string& day, const std::vector<tlsrpt::SendOutcome>& outcomes) {
  json sent = json::array();
  for (const auto& o : outcomes) {
    json j{{"domain", o.domain},
           {"rua", o.result == tlsrpt::SendResult::NoRecord ? json(nullptr) : json(o.rua)},
           {"ok", o.result == tlsrpt::SendResult::Sent},
           {"result", tlsrpt::to_string(o.result)},
           {"detail", o.detail}};
    if (!o.queue_id.empty()) j["queue_id"] = o.queue_id;
    if (o.http_status != 0) j["status"] = o.http_status;
    sent.push_back(std::move(j));
  }
  return json{{"day", day}, {"sent", std::move(sent)}};
}

}  // namespace secmx::admin
