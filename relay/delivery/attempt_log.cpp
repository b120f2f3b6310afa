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

namespace {

// escape(), and then also the bytes that would end a Postfix field early.
std::string escape_field(std::string_view text, std::string_view also) {
  std::string out;
  for (char c : log::escape(text)) {
    if (also.find(c) == std::string_view::npos) {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::string postfix_line(const AttemptLine& l, const std::string& evidence) {
  return fmt::format(
      "{}: to=<{}>, relay={}, delay={:.2f}, delays=0/{:.2f}/{:.2f}/{:.2f}, dsn={}, status={} ({}), "
      "policy={}, reason={}, method={}, tls={}{}, attempts={}",
      l.queue_id, escape_field(l.recipient, "<>,"),
      l.relay.empty() ? "none" : escape_field(l.relay, ","), l.delay_s, l.queue_wait_s,
      l.setup_s, l.transfer_s, l.dsn, l.status, escape_field(l.detail, ","), l.policy,
      log::escape(l.reason), l.method.empty() ? "none" : l.method, l.tls.empty() ? "none" : l.tls,
      evidence, l.attempts);
}

}  // namespace

std::string format_attempt(const AttemptLine& l, log::Format format) {
  // The evidence fields come only when there is something to show: a certificate over TLS,
  // a DNSSEC status once discovery has named a host.
  std::string evidence;
  if (!l.cert_sha256.empty()) evidence += ", cert=sha256:" + log::escape(l.cert_sha256);
  if (!l.dnssec.empty()) evidence += ", dnssec=" + l.dnssec;
  if (format == log::Format::Postfix) return postfix_line(l, evidence);
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
