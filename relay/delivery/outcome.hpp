// outcome.hpp - the values a delivery attempt ends in, as the scheduler reads them.
//
// RcptOutcome: one recipient's verdict of one attempt, delivered, deferred (try again
// later) or failed (final, with the status for the DSN). HostRecord: how one candidate host
// ended for the recipients it did not take. Which outcome and which record follow from
// what happened is decided in decide.hpp, and only there; this file holds the values,
// their names, the one-line form of a reply and the retry schedule. Pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace secmx::delivery {

enum class RcptVerdict { Delivered, Deferred, Failed };
const char* to_string(RcptVerdict v);

struct RcptOutcome {
  RcptVerdict verdict = RcptVerdict::Deferred;
  std::string status;      // enhanced status code, "2.0.0", "4.4.1", "5.7.10"
  std::string diagnostic;  // "smtp; 550 5.1.1 user unknown" or our own words
  std::string remote_mta;  // host that gave the reply, when one did
  // The host the attempt ended at (model::Attempt), as its log line's relay= and method=
  // name it; all "" when no host was chosen (discovery failed):
  std::string host{};         // "mx.example.org" (or an address literal)
  std::string address{};      // "192.0.2.7:25", "[2001:db8::7]:25"
  std::string method{};       // how the host was found: dns::to_string(Method), "mx", "srv"
  // The evidence of the attempt, as logged (attempt_log.hpp) and kept in the queue record:
  std::string tls = "none";  // "protocol/cipher/AUTH" (dane, mta-sts, pkix, none), or "none"
  std::string cert_sha256{};  // the peer's certificate, lower-case hex; "" without TLS
  std::string dnssec{};       // "secure", "insecure", "off"; "" when no host was named
  bool relayed = false;    // delivered to a peer without DSN: NOTIFY=SUCCESS gets "relayed"
};

// How one candidate host ended, for a recipient group that it did not take.
struct HostRecord {
  enum class Kind {
    Unreachable,   // connect failed, timed out, or the connection broke
    TempRefused,   // 4xx before or during the transaction (incl. 421)
    PermRefused,   // 5xx to the greeting, EHLO/HELO or MAIL
    NoTls,         // answered, but STARTTLS missing / failed / unverified (SOS)
    AuthFailed,    // answered (or was not tried), but not as its receiver's DANE or MTA-STS
                   // policy requires: no or failed TLS, a certificate that does not match,
                   // an MX host the enforce policy does not list. It may be an attack.
  };
  Kind kind = Kind::Unreachable;
  std::string host;    // "mx1.example.org[127.0.0.5]:25"
  std::string detail;  // reply text or reason
};

const char* to_string(HostRecord::Kind k);

// "550 5.1.1 user unknown": a reply as one line, for logs and diagnostics.
std::string reply_line(int code, const std::string& enhanced, const std::string& text);

// When to try again after `attempts` attempts (1 = the first failed one).
std::int64_t next_attempt_us(std::uint32_t attempts, std::int64_t now_us,
                             const std::vector<std::chrono::milliseconds>& retry);

}  // namespace secmx::delivery
