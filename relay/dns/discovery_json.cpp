// discovery_json.cpp - JSON renderings of discovery results and answers.
#include "relay/dns/discovery_json.hpp"

#include "relay/dns/tlsa_select.hpp"

namespace secmx::dns {
namespace {

template <class R, class F>
nlohmann::json answer_json(const Answer<R>& a, bool dnssec, F&& record) {
  nlohmann::json j;
  j["status"] = to_string(a.status);
  j["ttl"] = a.ttl;
  j["error"] = a.error;
  j["cached"] = a.from_cache;
  if (dnssec) j["secure"] = a.secure;
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
  if (r.dnssec) j["dnssec"] = true;
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
    if (r.dnssec) {
      cj["name_secure"] = c.name_secure;
      cj["addresses_secure"] = c.addresses_secure;
      cj["tlsa"] = to_json(c.tlsa);
    }
    j["candidates"].push_back(std::move(cj));
  }
  return j;
}

nlohmann::json to_json(const HostTlsa& t) {
  nlohmann::json j{{"status", to_string(t.status)}, {"base", t.base}, {"detail", t.detail}};
  j["records"] = nlohmann::json::array();
  for (const TlsaRecord& r : t.records) j["records"].push_back(to_string(r));
  return j;
}

nlohmann::json to_json(const SrvAnswer& a, bool dnssec) {
  return answer_json(a, dnssec, [](const SrvRecord& r) {
    return nlohmann::json{{"priority", r.priority}, {"weight", r.weight}, {"port", r.port},
                          {"target", r.target}};
  });
}

nlohmann::json to_json(const MxAnswer& a, bool dnssec) {
  return answer_json(a, dnssec, [](const MxRecord& r) {
    return nlohmann::json{{"preference", r.preference}, {"host", r.host}};
  });
}

nlohmann::json to_json(const AddressAnswer& a, bool dnssec) {
  return answer_json(a, dnssec,
                     [](const IpAddress& r) { return nlohmann::json(r.to_string()); });
}

nlohmann::json to_json(const TlsaAnswer& a, bool dnssec) {
  return answer_json(a, dnssec, [](const TlsaRecord& r) {
    static const char kHex[] = "0123456789abcdef";
    std::string hex;
    for (std::uint8_t b : r.data) {
      hex += kHex[b >> 4];
      hex += kHex[b & 0x0F];
    }
    return nlohmann::json{{"usage", r.usage}, {"selector", r.selector},
                          {"matching_type", r.matching_type}, {"data", hex}};
  });
}

}  // namespace secmx::dns
