// discovery_json.hpp - discovery results and lookup answers as JSON, for tools and the
// admin API (`secmxctl route DOMAIN`). Pure functions over values; thread-agnostic.
//
// Shape of a DiscoveryResult:
//   {"domain": "d.test", "status": "ok"|"temporary"|"permanent", "dsn": "5.1.10"|null,
//    "reason": "...", "complete": bool, "secmx_incomplete": bool, "mx_incomplete": bool,
//    "route_tls": "verify"|null, "trace": ["..."],
//    "candidates": [{"host": "sor.d.test", "port": 2525, "method": "srv", "secmx": true,
//                    "preference": 10, "addresses": ["127.0.0.10"]}]}
// With [dns] dnssec (DiscoveryResult::dnssec) and only then, so that the shape stays as it
// was without it: "dnssec": true, and each candidate has "name_secure",
// "addresses_secure" (candidates.hpp) and "tlsa" (DANE, tlsa_select.hpp):
//   {"status": "not-asked"|"none"|"usable"|"unusable"|"failed", "base": "mx.d.test",
//    "records": ["3 1 1 0a1b..."] (the usable ones), "detail": "" (why it failed)}
#pragma once

#include <nlohmann/json.hpp>

#include "relay/dns/candidates.hpp"
#include "relay/dns/dns_types.hpp"

namespace secmx::dns {

nlohmann::json to_json(const DiscoveryResult& r);
nlohmann::json to_json(const HostTlsa& t);  // the candidate's "tlsa" above
// {"status": "ok", "ttl": 300, "error": "", "cached": false, "records": [...]}, plus
// "secure" when `dnssec` (the query asked for it); records are
// {"priority","weight","port","target"} / {"preference","host"} / "127.0.0.1" /
// {"usage","selector","matching_type","data" (lower-case hex)}.
nlohmann::json to_json(const SrvAnswer& a, bool dnssec = false);
nlohmann::json to_json(const MxAnswer& a, bool dnssec = false);
nlohmann::json to_json(const AddressAnswer& a, bool dnssec = false);
nlohmann::json to_json(const TlsaAnswer& a, bool dnssec = false);

}  // namespace secmx::dns
