#include "relay/delivery/attempt_log.hpp"

#include <fmt/format.h>

#include "relay/common/log.hpp"

namespace secmx::delivery {

std::string format_tls(const std::string& protocol, const std::string& cipher, TlsAuth auth) {
  if (protocol.empty()) return "none";
  return protocol + "/" + cipher + "/" + to_string(auth);
}

const char* dnssec_status(bool dnssec, bool name_secure, bool addresses_secure) {
  if (!dnssec) return "off";
  return name_secure && addresses_secure ? "secure" : "insecure";
}

std::string format_attempt(const AttemptLine& l) {
  // The evidence fields come only when there is something to show: a certificate over TLS,
  // a DNSSEC status once discovery has named a host.
  std::string evidence;
  if (!l.cert_sha256.empty()) evidence += ", cert=sha256:" + log::escape(l.cert_sha256);
  if (!l.dnssec.empty()) evidence += ", dnssec=" + l.dnssec;
  // Remote text can carry anything the peer chose to send: escape it for the log.
  return fmt::format(
      "{}: to=<{}>, relay={}, policy={}, reason={}, method={}, tls={}{}, delay={:.2f}, "
      "attempts={}, dsn={}, status={} ({})",
      l.queue_id, log::escape(l.recipient), l.relay.empty() ? "none" : log::escape(l.relay),
      l.policy, log::escape(l.reason), l.method.empty() ? "none" : l.method,
      l.tls.empty() ? "none" : l.tls, evidence, l.delay_s, l.attempts, l.dsn, l.status,
      log::escape(l.detail));
}

}  // namespace secmx::delivery
