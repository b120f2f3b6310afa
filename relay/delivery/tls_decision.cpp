// tls_decision.cpp - the TLS decision table; see tls_decision.hpp.
#include "relay/delivery/tls_decision.hpp"

namespace secmx::delivery {

const char* to_string(TlsVerdict v) {
  switch (v) {
    case TlsVerdict::Proceed: return "proceed";
    case TlsVerdict::RetryPlaintext: return "retry-plaintext";
    case TlsVerdict::SkipHost: return "skip-host";
    case TlsVerdict::Unreachable: return "unreachable";
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

bool want_starttls(model::TlsLevel required, bool plaintext_retry) {
  return !(!model::must_encrypt(required) && plaintext_retry);
}

TlsDecision decide_tls(model::TlsLevel required, const TlsObservation& seen) {
  if (!model::must_encrypt(required)) {
    if (seen.plaintext_retry || !seen.starttls_offered || seen.handshake_ok) {
      return {TlsVerdict::Proceed, {}};
    }
    // Offered but failed: SecMX BES retries the same host once in plaintext.
    return {TlsVerdict::RetryPlaintext, "TLS handshake failed: " + seen.handshake_error};
  }
  // SOS from here on: a host that cannot do TLS is never sent mail.
  if (!seen.starttls_offered) return {TlsVerdict::SkipHost, "STARTTLS not offered"};
  if (seen.handshake_attempted && !seen.handshake_ok && seen.handshake_cut) {
    // A reset or close in mid-handshake is the path failing, not the host refusing TLS:
    // the host is as good as unreachable, and SOS waits for it rather than bouncing.
    return {TlsVerdict::Unreachable,
            seen.handshake_error.empty() ? std::string("lost connection in the TLS handshake")
                                         : seen.handshake_error};
  }
  if (!seen.handshake_attempted || !seen.handshake_ok) {
    return {TlsVerdict::SkipHost, "TLS handshake failed: " +
                                      (seen.handshake_error.empty() ? std::string("unknown error")
                                                                    : seen.handshake_error)};
  }
  if (model::must_verify(required) && !seen.verified) {
    return {TlsVerdict::SkipHost,
            "certificate not verified: " +
                (seen.verify_error.empty() ? std::string("unknown reason") : seen.verify_error)};
  }
  return {TlsVerdict::Proceed, {}};
}

}  // namespace secmx::delivery
