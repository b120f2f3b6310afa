// attempt_log.hpp - the one log line per delivery attempt and recipient (DESIGN §4).
//
// Postfix operators grep for "to=<", "relay=", "status=" and "dsn="; the line keeps those
// names and adds what SecMX needs: the policy and the reason it was chosen, how the
// receiver was found, and the TLS that protected (or did not protect) the transfer:
//
//   0193A...: to=<a@example.org>, relay=mx.example.org[127.0.0.5]:25, policy=SOS,
//     reason=rule=3(classification=RESTRICTED), method=srv,
//     tls=TLSv1.3/TLS_AES_256_GCM_SHA384/verified, delay=0.42, attempts=1, dsn=2.0.0,
//     status=sent (250 2.0.0 Ok: queued as 4Xy)
//
// Pure formatting; the caller logs it.
#pragma once

#include <cstdint>
#include <string>

namespace secmx::delivery {

struct AttemptLine {
  std::string queue_id;
  std::string recipient;
  std::string relay;        // "host[ip]:port", or "none" when no host was reached
  std::string policy;       // "BES" / "SOS"
  std::string reason;       // policy reason as stored
  std::string method;       // discovery method, "" when discovery failed
  std::string tls;          // "TLSv1.3/cipher/verified", "TLSv1.2/cipher/unverified", "none"
  double delay_s = 0;       // since arrival
  std::uint32_t attempts = 0;
  std::string dsn;          // enhanced status
  std::string status;       // "sent" / "deferred" / "bounced"
  std::string detail;       // remote reply or our reason
};

std::string format_attempt(const AttemptLine& line);

// "TLSv1.3/TLS_AES_256_GCM_SHA384/verified", or "none" when protocol is empty.
std::string format_tls(const std::string& protocol, const std::string& cipher, bool verified);

}  // namespace secmx::delivery
