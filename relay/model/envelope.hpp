// envelope.hpp - the message model: one message's envelope and recipients, apart from
// its body.
//
// Plain value types, copied freely, and the names of their enums. The SMTP parsers fill
// them, the policy engine marks them, the queue stores them (queue/record_codec.hpp holds
// the durable encoding; the stored numeric values of these enums never change), delivery
// and DSNs read them. No I/O and nothing of the layers above.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "relay/model/policy.hpp"
#include "relay/model/queue_id.hpp"

namespace secmx::model {

enum class BodyType : std::uint8_t { SevenBit = 0, EightBitMime = 1, BinaryMime = 2 };
enum class Ret : std::uint8_t { Unset = 0, Full = 1, Hdrs = 2 };

// RFC 3461 NOTIFY: bit set; Never excludes the others.
enum NotifyBits : std::uint8_t {
  kNotifyUnset = 0,
  kNotifySuccess = 1,
  kNotifyFailure = 2,
  kNotifyDelay = 4,
  kNotifyNever = 8,
};

enum class RcptState : std::uint8_t { Pending = 0, Held = 1, Delivered = 2, Failed = 3 };

// One delivery attempt of one recipient, as its log line gave it (DESIGN §10): the
// evidence an auditor reads. Kept per recipient, newest last, bounded (oldest dropped).
struct Attempt {
  std::int64_t time_us = 0;     // when the attempt ended (Unix epoch, microseconds)
  std::string host;             // the receiver's name, "" when none was reached
  std::string address;          // "192.0.2.7:25" or "[2001:db8::7]:25", "" when none
  std::string method;           // how the host was found: "srv", "mx", "secmx", "a", ...
  std::string tls;              // "TLSv1.3/TLS_AES_256_GCM_SHA384/dane", "none"
  std::string cert_sha256;      // the peer's certificate, lower-case hex; "" without TLS
  std::string dnssec;           // "secure", "insecure", "off"; "" when no host was named
  std::string status;           // enhanced status "2.0.0", "4.4.1", "5.7.10"
  std::string reply;            // the reply or our own words
};

struct Recipient {
  std::string address;          // forward-path without <>, as received
  std::string orcpt;            // RFC 3461 ORCPT "addr-type;xtext-decoded" or empty
  std::uint8_t notify = kNotifyUnset;
  RcptState state = RcptState::Pending;
  Policy policy = Policy::BES;  // as decided at the end of DATA (REJECT is never stored)
  TlsLevel tls = TlsLevel::None;
  std::string policy_reason;    // Reason::to_string() (reason.hpp): "default", "rule=3(...)"
  std::uint32_t attempts = 0;
  std::string last_status;      // enhanced status "4.4.1", "2.0.0", ...
  std::string last_reply;       // diagnostic / remote reply text
  std::string remote_mta;       // host that gave last_reply
  // The evidence of the last attempt (DESIGN §10), as its log line gave it:
  std::string last_tls;         // "TLSv1.3/TLS_AES_256_GCM_SHA384/dane" (AUTH: dane, mta-sts,
                                // pkix, none), "none" without TLS
  std::string last_cert_sha256;  // the peer's certificate, lower-case hex; "" without TLS
  std::string last_dnssec;      // "secure", "insecure", "off"; "" when no host was named
  std::int64_t last_attempt_us = 0;  // when that attempt ended (0: never tried)
  std::vector<Attempt> history;      // every attempt, oldest first, bounded
  std::uint32_t history_dropped = 0;  // attempts dropped from the front of `history`
};

// Names as logs, --queue-dump and the admin API show them.
// (Policy and TlsLevel: policy.hpp.)
const char* to_string(RcptState s);   // "pending", "held", "delivered", "failed"
std::vector<const char*> notify_names(std::uint8_t notify);  // {"SUCCESS", "DELAY"}, ...

// next_attempt_us of a message with nothing left to try: never due again.
inline constexpr std::int64_t kNeverDue = std::numeric_limits<std::int64_t>::max();

// Not final yet: pending, or held until released.
inline bool is_open(const Recipient& r) {
  return r.state == RcptState::Pending || r.state == RcptState::Held;
}

struct Envelope {
  QueueId id{};
  std::int64_t arrival_us = 0;        // unix time, microseconds
  std::string sender;                 // reverse-path without <>; empty for <>
  BodyType body_type = BodyType::SevenBit;
  bool smtputf8 = false;
  bool requiretls = false;            // RFC 8689 MAIL parameter
  Ret ret = Ret::Unset;
  std::string envid;                  // RFC 3461 ENVID, xtext-decoded
  std::string client_address;         // "192.0.2.1" of the submitting client
  std::string client_helo;
  std::string auth_user;              // empty: not authenticated
  std::string tls_protocol;           // inbound TLS, empty when plaintext
  std::string tls_cipher;
  std::string message_id;             // the Message-ID header's id without <>, "" if none
  std::string classification;         // the marking's level as read at acceptance ("PROTECTED"),
                                      // "none" without one, "unknown" when one was unreadable
  bool held = false;                  // operator hold or HOLD policy: scheduler skips it
  bool delay_notified = false;        // the delay DSN has been queued (one per message)
  bool tls_report = false;            // our own TLS report (RFC 8460): its delivery is never
                                      // counted or reported on (no report loops)
  std::uint32_t attempts = 0;
  std::int64_t next_attempt_us = 0;   // 0: due now
  std::uint64_t body_size = 0;
  std::vector<Recipient> recipients;
};

}  // namespace secmx::model
