// discovery_json.cpp - JSON renderings of discovery results and answers.
#include "relay/dns/discovery_json.hpp"

namespace secmx::dns {
namespace {

template <class R, class F>
nlohmann::json answer_json(const Answer<R>& a, F&& record) {
  nlohmann::json j;
  j["status"] = to_string(a.status);
  j["ttl"] = a.ttl;
  j["error"] = a.error;
  j["cached"] = a.from_cache;
  j["records"] = nlohmann::json::array();
  for (const R& r : a.records) j["records"].push_back(record(r));
  return j;
}

}  // namespace

nlohmann::json to_json(const DiscoveryResult& r) {
  nlohmann::json j;
  j["domain"] = r.domain;
  j["status"] = to_string(r.status);
  j["dsn"] = r.enhanced_code.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.enhanced_code);
  j["reason"] = r.reason;
  j["complete"] = r.complete();
  j["secmx_incomplete"] = r.secmx_incomplete;
  j["mx_incomplete"] = r.mx_incomplete;
  j["route_tls"] = r.route_tls ? nlohmann::json(model::to_string(*r.route_tls))
                               : nlohmann::json(nullptr);
  j["trace"] = r.trace;
  j["candidates"] = nlohmann::json::array();
  for (const Candidate& c : r.candidates) {
    nlohmann::json cj;
    cj["host"] = c.host;
    cj["port"] = c.port;
    cj["method"] = to_string(c.method);
    cj["secmx"] = c.secmx();
    cj["preference"] = c.preference;
    cj["addresses"] = nlohmann::json::array();
    for (const IpAddress& a : c.addresses) cj["addresses"].push_back(a.to_string());
    j["candidates"].push_back(std::move(cj));
  }
  return j;
}

nlohmann::json to_json(const SrvAnswer& a) {
  return answer_json(a, [](const SrvRecord& r) {
    return nlohmann::json{{"priority", r.priority}, {"weight", r.weight}, {"port", r.port},
                          {"target", r.target}};
  });
}

nlohmann::json to_json(const MxAnswer& a) {
  return answer_json(a, [](const MxRecord& r) {
    return nlohmann::json{{"preference", r.preference}, {"host", r.host}};
  });
}

nlohmann::json to_json(const AddressAnswer& a) {
  return answer_json(a, [](const IpAddress& r) { return nlohmann::json(r.to_string()); });
}

}  // namespace secmx::dns
