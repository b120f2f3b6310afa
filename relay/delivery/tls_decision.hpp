// tls_decision.hpp - the one place that decides what TLS means for a delivery attempt.
//
// Pure: (required TLS level, what the host offered, how the handshake went) -> what to do
// with the host. Both SecMX policies and both TLS levels go through decide_tls(); it is
// tested as an exhaustive table. Never answers "plaintext" for a level that forbids it.
// What a verdict means for the host and the recipients (which HostRecord, when 5.7.10)
// is decide.hpp's part: decide() is the only caller in an attempt, the connection cache
// asks it whether an idle connection suits a level.
//
// The level is model::TlsLevel: None (BES: TLS when offered, plaintext otherwise),
// Encrypt (SOS: any TLS >= 1.2) or Verify (SOS: PKIX chain and the MX/SRV target name).
#pragma once

#include <string>

#include "relay/model/policy.hpp"

namespace secmx::delivery {

// How the peer was authenticated, when it was: PKIX (chain and MX/SRV target name), DANE
// (a TLSA record matched) or MTA-STS (PKIX for a name the policy allows). decide_tls() reads
// `verified`; this says by what. Its word is the AUTH of the evidence (`tls=V/C/AUTH`).
enum class TlsAuth { None, Pkix, Dane, MtaSts };
const char* to_string(TlsAuth a);

struct TlsObservation {
  bool starttls_offered = false;
  bool handshake_attempted = false;
  bool handshake_ok = false;
  bool verified = false;            // chain and name verified
  TlsAuth auth = TlsAuth::None;     // by what, when verified
  bool plaintext_retry = false;     // this connection is already the BES plaintext retry
  bool handshake_cut = false;       // the handshake failed because the connection was lost
  std::string handshake_error;      // words, when the handshake failed
  std::string verify_error;         // words, when not verified
};

enum class TlsVerdict {
  Proceed,          // send the mail on this session (over TLS when established)
  RetryPlaintext,   // BES after a failed handshake: reconnect once without STARTTLS
  SkipHost,         // SOS: QUIT and try the next host; the host answered but cannot do TLS
  Unreachable,      // SOS: the connection broke during the handshake; try the next host,
                    // counting this one as unreachable (a deferral), not as without TLS
};

struct TlsDecision {
  TlsVerdict verdict = TlsVerdict::Proceed;
  std::string reason;  // for SkipHost: why, as it goes into logs and the DSN
};

const char* to_string(TlsVerdict v);

// Whether the client should attempt STARTTLS on a connection at all.
bool want_starttls(model::TlsLevel required, bool plaintext_retry);

TlsDecision decide_tls(model::TlsLevel required, const TlsObservation& seen);

}  // namespace secmx::delivery
