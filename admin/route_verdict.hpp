// route_verdict.hpp - "what would delivery do now with a message for this domain", per
// policy, from what the route probe saw.
//
// The probe's facts go through delivery::decide() in the order an attempt meets them:
// discovery, then host by host the admission (its receiver's DANE / MTA-STS terms) and
// the opened session. So the verdict is the delivery's own rules, not a second copy: the
// same 5.7.10, 4.7.5, plaintext retry and next-host choices. It stops at the session:
// whether the receiver then accepts the recipient is not probed.
//
// Pure: no I/O.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "relay/client/smtp_client.hpp"
#include "relay/delivery/host_terms.hpp"
#include "relay/dns/candidates.hpp"

namespace secmx::admin {

// One address of one candidate, in the order delivery would try them.
struct ProbedHost {
  std::string name;    // "mx1.example.net[192.0.2.1]:25"
  std::string remote;  // "mx1.example.net"
  std::string tlsa_detail;  // why its TLSA lookup failed, when it did
  delivery::HostTerms terms;
  std::optional<client::SessionInfo> info;  // none: not connected to
};

struct RouteVerdict {
  std::string policy;  // "BES", "SOS encrypt", "SOS verify"
  std::string action;  // "deliver", "bounce", "defer", "unknown"
  std::string host;    // deliver: the host it would go to
  std::string status;  // bounce, defer: the enhanced status
  std::string detail;  // deliver: the TLS it would have; otherwise why
};

// `discovery`: null when discovery did not finish. `all_probed`: every address discovery
// named is in `hosts` (the probe opens at most max_addresses).
std::vector<RouteVerdict> route_verdicts(const dns::DiscoveryResult* discovery,
                                         std::span<const ProbedHost> hosts, bool all_probed);

nlohmann::json to_json(const RouteVerdict& v);

}  // namespace secmx::admin
