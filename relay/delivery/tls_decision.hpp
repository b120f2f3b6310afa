// tls_decision.hpp - the one place that decides what TLS means for a delivery attempt.
//
// Pure: (required TLS level, what binds the host, what the host offered, how the handshake
// went) -> what to do with the host. Both SecMX policies, both TLS levels and every binding
// go through decide_tls(); it is tested as an exhaustive table. Never answers "plaintext"
// for a level or a binding that forbids it. What a verdict means for the host and the
// recipients (which HostRecord, when 5.7.10 or 4.7.5) is decide.hpp's part: decide() is the
// only caller in an attempt, the connection cache asks it whether an idle connection suits
// a level and a binding.
//
// The level is model::TlsLevel, the sender's requirement: None (BES: TLS when offered,
// plaintext otherwise), Encrypt (SOS: any TLS >= 1.2) or Verify (SOS, REQUIRETLS:
// authenticated by DANE, MTA-STS or PKIX). The binding is the receiver's (DESIGN §10 "Who
// it binds"): what its DANE TLSA records or its MTA-STS enforce policy demand of this host,
// for every message, BES included. Both must hold.
#pragma once

#include <string>

#include "relay/model/policy.hpp"

namespace secmx::delivery {

// How the peer was authenticated, when it was.
enum class TlsAuth {
  None,    // not authenticated (plaintext, or TLS with a certificate nobody vouched for)
  Pkix,    // chain to the CA store and the expected host name (RFC 6125)
  Dane,    // the certificate matched one of the host's secure TLSA records (RFC 7672)
  MtaSts,  // PKIX for an MX host name that the domain's MTA-STS policy lists (RFC 8461)
};
const char* to_string(TlsAuth a);  // "none", "pkix", "dane", "mta-sts"

// What the receiver's published policy requires of one host. Precedence (RFC 8461 §2):
// usable secure TLSA records make it Dane whatever MTA-STS says; otherwise an MTA-STS
// enforce policy makes it MtaSts; otherwise secure TLSA records that are all unusable make
// it Encrypt (RFC 7672 §2.2: TLS is mandatory, unauthenticated).
enum class Binding { None, Encrypt, Dane, MtaSts };
const char* to_string(Binding b);  // "none", "dane-encrypt", "dane", "mta-sts"

struct TlsObservation {
  bool starttls_offered = false;
  bool handshake_attempted = false;
  bool handshake_ok = false;
  bool verified = false;            // authenticated: auth != None (the metrics read it)
  TlsAuth auth = TlsAuth::None;     // by what; decide_tls() reads this, not `verified`
  bool plaintext_retry = false;     // this connection is already the BES plaintext retry
  bool handshake_cut = false;       // the handshake failed because the connection was lost
  std::string handshake_error;      // words, when the handshake failed
  std::string verify_error;         // words, when not verified
};

enum class TlsVerdict {
  Proceed,          // send the mail on this session (over TLS when established)
  RetryPlaintext,   // BES after a failed handshake: reconnect once without STARTTLS
  SkipHost,         // the level is not met: QUIT and try the next host; the host answered
                    // but cannot do TLS (as the sender requires it)
  Unreachable,      // TLS required: the connection broke during the handshake; try the next
                    // host, counting this one as unreachable (a deferral), not as without TLS
  AuthFailed,       // the binding is not met: QUIT and try the next host; the host answered,
                    // but not as its receiver's policy requires (it may be an attack)
};

struct TlsDecision {
  TlsVerdict verdict = TlsVerdict::Proceed;
  std::string reason;  // for SkipHost, AuthFailed: why, as it goes into logs and the DSN
};

const char* to_string(TlsVerdict v);

// Whether the client should attempt STARTTLS on a connection at all.
bool want_starttls(model::TlsLevel required, Binding binding, bool plaintext_retry);

// Whether a session authenticated by `auth` satisfies the binding (Encrypt: any TLS).
bool meets(Binding binding, TlsAuth auth);

TlsDecision decide_tls(model::TlsLevel required, Binding binding, const TlsObservation& seen);

}  // namespace secmx::delivery
