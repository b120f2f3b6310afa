// attempt_log.hpp - the one log line per delivery attempt and recipient (DESIGN §4, §10).
//
// Postfix operators grep for "to=<", "relay=", "status=" and "dsn="; the line keeps those
// names and adds what SecMX needs: the policy and the reason it was chosen, how the
// receiver was found, and the evidence of the transfer's protection - the TLS and how the
// receiver was authenticated (AUTH: dane, mta-sts, pkix, or none for TLS without
// authentication), the receiver's certificate, and whether the DNS answers that named the
// host and its address were DNSSEC-secure:
//
//   0193A...: to=<a@example.org>, relay=mx.example.org[127.0.0.5]:25, policy=SOS,
//     reason=rule=3(classification=RESTRICTED), method=srv,
//     tls=TLSv1.3/TLS_AES_256_GCM_SHA384/dane, cert=sha256:9f86d0..., dnssec=secure,
//     delay=0.42, attempts=1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4Xy)
//
// The SecMX fields stand between relay= and delay=, and the evidence (tls=, cert=,
// dnssec=) together: before the peer's reply text, which always ends the line, so that no
// reply can put a field of its own where a reader looks for ours.
//
// With [log] format = "postfix" (log::Format::Postfix) the line is Postfix's smtp line, the
// fields pflogsumm parses first and in Postfix's order, SecMX's after the reply:
//
//   0193A...: to=<a@example.org>, relay=mx.example.org[127.0.0.5]:25, delay=0.42,
//     delays=0/0.01/0.3/0.11, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4Xy),
//     policy=SOS, reason=..., method=srv, tls=..., cert=sha256:..., dnssec=secure, attempts=1
//
// There the peer's reply cannot end the line, so a comma in it is written \x2c: no reply
// can add a ", name=value" field of its own, and escape() keeps \xNN meaning byte NN.
//
// Pure formatting; the caller logs it.
#pragma once

#include <cstdint>
#include <string>

#include "relay/common/log.hpp"
#include "relay/delivery/tls_decision.hpp"

namespace secmx::delivery {

struct AttemptLine {
  std::string queue_id;
  std::string recipient;
  std::string relay;        // "host[ip]:port", or "none" when no host was reached
  std::string policy;       // "BES" / "SOS"
  std::string reason;       // policy reason as stored
  std::string method;       // discovery method, "" when discovery failed
  std::string tls;          // format_tls(): "TLSv1.3/cipher/dane", ".../none", or "none"
  std::string cert_sha256;  // the peer's certificate, lower-case hex; "" without TLS
  std::string dnssec;       // dnssec_status() of the relay= host; "" (not written): no host
  double delay_s = 0;       // since arrival
  // Postfix's delays=a/b/c/d: a, before the queue (0: the queue starts at arrival); b, in
  // the queue until this attempt began; c, connection set-up (DNS, connect, EHLO, TLS); d,
  // the transaction. Only the postfix shape writes them.
  double queue_wait_s = 0;
  double setup_s = 0;
  double transfer_s = 0;
  std::uint32_t attempts = 0;
  std::string dsn;          // enhanced status
  std::string status;       // "sent" / "deferred" / "bounced"
  std::string detail;       // remote reply or our reason
};

std::string format_attempt(const AttemptLine& line, log::Format format = log::format());

// "TLSv1.3/TLS_AES_256_GCM_SHA384/dane" (AUTH: dane, mta-sts, pkix, none), or "none" when
// protocol is empty (no TLS).
std::string format_tls(const std::string& protocol, const std::string& cipher, TlsAuth auth);

// The DNSSEC status of the answers an attempt used for its host: "off" when discovery did
// not ask for DNSSEC; "secure" when the host's name and every address came from secure
// answers; "insecure" otherwise.
const char* dnssec_status(bool dnssec, bool name_secure, bool addresses_secure);

}  // namespace secmx::delivery
