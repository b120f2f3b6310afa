// route_probe.hpp - "where would mail for D go, and can those hosts do TLS?": the admin
// API's GET /api/v1/route/{domain}, behind `secmxctl route DOMAIN`.
//
// Runs discovery exactly as delivery does (same Resolver options, methods and [[route]]s
// from the config), then opens an SMTP session to every address of every candidate at
// once - greeting, EHLO, STARTTLS when offered, TLS handshake and certificate check -
// and QUITs without sending mail. Certificates are checked against delivery.ca_file (the
// system store when empty), as delivery checks them.
//
// Thread affinity: probe_route() blocks the calling thread (an admin request thread)
// while it runs its own libuv loop on that thread; nothing is shared with the relay's
// loops. It is bounded by options.deadline and ends early when `cancel` becomes true
// (admin server stopping); hosts not finished then are reported as "not probed".
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "relay/common/result.hpp"
#include "relay/config/config.hpp"

namespace secmx::sts {
class StsCache;
}

namespace secmx::admin {

struct RouteProbeOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds command_timeout{10000};  // greeting, EHLO, STARTTLS, QUIT
  std::chrono::milliseconds deadline{30000};          // the whole probe
  std::size_t max_addresses = 16;                     // sessions opened at most
};

// Answer: the discovery result (discovery_json.hpp shape) plus
//   "hosts": [{"host", "port", "method", "secmx", "address", "answered", "reply",
//              "starttls", "tls": {"completed", "protocol", "cipher", "verified",
//              "verify_error"}, "status", "stage", "error",
//              with [dns] dnssec also "dnssec": "secure"|"insecure" (name and addresses)
//              and "tlsa" (discovery_json.hpp's candidate "tlsa"); "binding" (none,
//              dane-encrypt, dane, mta-sts), "mta_sts_listed" when a policy covers the host,
//              "tls" also "auth" (dane, mta-sts, pkix, none) and "cert_sha256", and
//              "verdict": {"BES", "SOS encrypt", "SOS verify"} - what delivery would do;
//              a host its terms rule out (TLSA lookup failed, not in the MTA-STS policy)
//              is not connected to: "status": "not tried", with its verdict},
//   "mta_sts": {"enabled", "cached", "id", "mode", "mx", "max_age", "age_seconds",
//               "expired"} - the cached policy the hosts' terms were taken from
//   "summary": {"hosts", "answering", "starttls", "tls", "verified"}
//   "verdicts": [{"policy": "BES"|"SOS encrypt"|"SOS verify", "action": "deliver"|
//                 "bounce"|"defer"|"unknown", "host", "status", "detail"}] - what an
//                 attempt would end in now, by delivery::decide() (route_verdict.hpp)
// Error: only when the probe cannot run at all (resolver or TLS context failed).
// sts_cache: the relay's MTA-STS cache (null: MTA-STS off); read, never fetched into.
Result<nlohmann::json, std::string> probe_route(const config::Config& cfg,
                                                const std::string& domain,
                                                const std::atomic<bool>& cancel,
                                                RouteProbeOptions options = {},
                                                const sts::StsCache* sts_cache = nullptr);

}  // namespace secmx::admin
