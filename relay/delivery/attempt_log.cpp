#include "relay/delivery/attempt_log.hpp"

#include <fmt/format.h>

#include "relay/common/log.hpp"

namespace secmx::delivery {

std::string format_tls(const std::string& protocol, const std::string& cipher, bool verified) {
  if (protocol.empty()) return "none";
  return protocol + "/" + cipher + "/" + (verified ? "verified" : "unverified");
}

std::string format_attempt(const AttemptLine& l) {
  // Remote text can carry anything the peer chose to send: escape it for the log.
  return fmt::format(
      "{}: to=<{}>, relay={}, policy={}, reason={}, method={}, tls={}, delay={:.2f}, "
      "attempts={}, dsn={}, status={} ({})",
      l.queue_id, log::escape(l.recipient), l.relay.empty() ? "none" : log::escape(l.relay),
      l.policy, log::escape(l.reason), l.method.empty() ? "none" : l.method,
      l.tls.empty() ? "none" : l.tls, l.delay_s, l.attempts, l.dsn, l.status,
      log::escape(l.detail));
}

}  // namespace secmx::delivery
