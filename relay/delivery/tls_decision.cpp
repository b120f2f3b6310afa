// tls_decision.cpp - the TLS decision table; see tls_decision.hpp.
#include "relay/delivery/tls_decision.hpp"

namespace secmx::delivery {
namespace {

// Who asked for what was missing, for the reason.
std::string required_by(Binding b) {
  switch (b) {
    case Binding::None: return "";
    case Binding::Encrypt:
    case Binding::Dane: return " (required by DANE)";
    case Binding::MtaSts: return " (required by MTA-STS)";
  }
  return "";
}

std::string or_unknown(const std::string& s, const char* unknown) {
  return s.empty() ? std::string(unknown) : s;
}

}  // namespace

const char* to_string(TlsVerdict v) {
  switch (v) {
    case TlsVerdict::Proceed: return "proceed";
    case TlsVerdict::RetryPlaintext: return "retry-plaintext";
    case TlsVerdict::SkipHost: return "skip-host";
    case TlsVerdict::Unreachable: return "unreachable";
    case TlsVerdict::AuthFailed: return "auth-failed";
  }
  return "?";
}

const char* to_string(TlsAuth a) {
  switch (a) {
    case TlsAuth::None: return "none";
    case TlsAuth::Pkix: return "pkix";
    case TlsAuth::Dane: return "dane";
    case TlsAuth::MtaSts: return "mta-sts";
  }
  return "?";
}

const char* to_string(Binding b) {
  switch (b) {
    case Binding::None: return "none";
    case Binding::Encrypt: return "dane-encrypt";
    case Binding::Dane: return "dane";
    case Binding::MtaSts: return "mta-sts";
  }
  return "?";
}

bool want_starttls(model::TlsLevel required, Binding binding, bool plaintext_retry) {
  return binding != Binding::None || model::must_encrypt(required) || !plaintext_retry;
}

bool meets(Binding binding, TlsAuth auth) {
  switch (binding) {
    case Binding::None:
    case Binding::Encrypt: return true;
    case Binding::Dane: return auth == TlsAuth::Dane;
    // PKIX for the MX host name is what MTA-STS asks (RFC 8461 §4.2): the attempt asks for
    // exactly that name whenever a policy binds, and calls it MtaSts then; a connection
    // verified that way before the policy was known (the cache) is as good.
    case Binding::MtaSts: return auth == TlsAuth::MtaSts || auth == TlsAuth::Pkix;
  }
  return false;
}

TlsDecision decide_tls(model::TlsLevel required, Binding binding, const TlsObservation& seen) {
  if (binding == Binding::None && !model::must_encrypt(required)) {
    if (seen.plaintext_retry || !seen.starttls_offered || seen.handshake_ok) {
      return {TlsVerdict::Proceed, {}};
    }
    // Offered but failed: SecMX BES retries the same host once in plaintext.
    return {TlsVerdict::RetryPlaintext, "TLS handshake failed: " + seen.handshake_error};
  }
  // TLS is required from here on, by the sender (SOS), the receiver (a binding) or both: a
  // host that cannot do TLS is never sent mail. Against a binding that is AuthFailed (a
  // deferral with 4.7.5), against the sender's level alone SkipHost (perhaps 5.7.10).
  const TlsVerdict refuse = binding != Binding::None ? TlsVerdict::AuthFailed : TlsVerdict::SkipHost;
  if (!seen.starttls_offered) return {refuse, "STARTTLS not offered" + required_by(binding)};
  if (seen.handshake_attempted && !seen.handshake_ok && seen.handshake_cut) {
    // A reset or close in mid-handshake is the path failing, not the host refusing TLS:
    // the host is as good as unreachable, and the message waits for it rather than bouncing.
    return {TlsVerdict::Unreachable,
            or_unknown(seen.handshake_error, "lost connection in the TLS handshake")};
  }
  if (!seen.handshake_attempted || !seen.handshake_ok) {
    return {refuse, "TLS handshake failed: " + or_unknown(seen.handshake_error, "unknown error") +
                        required_by(binding)};
  }
  if (!meets(binding, seen.auth)) {
    std::string why = or_unknown(seen.verify_error, "unknown reason");
    return {TlsVerdict::AuthFailed,
            binding == Binding::Dane
                ? "certificate matches no TLSA record of the host (DANE): " + why
                : "certificate not valid for the MX host name (MTA-STS): " + why};
  }
  if (model::must_verify(required) && seen.auth == TlsAuth::None) {
    return {TlsVerdict::SkipHost,
            "certificate not verified: " + or_unknown(seen.verify_error, "unknown reason")};
  }
  return {TlsVerdict::Proceed, {}};
}

}  // namespace secmx::delivery
