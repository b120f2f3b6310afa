// tlsrpt_session.hpp - what a delivery attempt saw, as TLS reporting (RFC 8460) counts it:
// one tlsrpt::SessionResult per session to a receiving host (or per host its receiver's
// policy ruled out) and per failed MTA-STS policy lookup; and which of them are counted.
//
// The policy a session is held to follows the host's terms (host_terms.hpp): TLSA
// records (usable, unusable-only, or a lookup that failed) make it "tlsa" - the records
// as "U S M HEX" and the host; else an MTA-STS policy (testing or enforce) that covers the
// host makes it "sts" - the policy's lines and its mx patterns; else "no-policy-found".
// The result (RFC 8460 §4.3): success when TLS was established and authenticated as the
// policy asks (no policy, unusable-only TLSA: any TLS); starttls-not-supported when the
// peer offered no STARTTLS or refused it; tlsa-invalid when no TLSA record matched;
// certificate-expired / -not-trusted / -host-mismatch from the X.509 verify code under an
// MTA-STS policy; dnssec-invalid when the TLSA lookup failed; validation-failure for a
// failed handshake or an MX host the policy does not list (additional-information says
// which).
//
// Not counted (nullopt): a [[route]] host (the operator's, not the receiver's), a session
// whose STARTTLS we chose not to try (BES plaintext retry: its handshake failure was
// counted already), and a connection that never reached TLS negotiation (refused, lost,
// timed out: nothing about TLS). The attempt also counts nothing for our own reports
// (Envelope::tls_report).
//
// Pure, any thread; the views in SessionEnd are borrowed for the call only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/store.hpp"
#include "relay/config/config.hpp"
#include "relay/delivery/decide.hpp"
#include "relay/delivery/host_terms.hpp"
#include "relay/dns/candidates.hpp"
#include "relay/sts/sts_state.hpp"
#include "relay/tlsrpt/tlsrpt_types.hpp"

namespace secmx::delivery {

// How a session to one host ended, as far as TLS reporting cares.
struct SessionEnd {
  Admission admission = Admission::Open;  // not Open: ruled out, never connected
  bool starttls_offered = false;
  bool tls_attempted = false;    // we sent STARTTLS
  bool handshake_failed = false; // STARTTLS accepted, no TLS came of it
  bool tls_active = false;
  TlsAuth auth = TlsAuth::None;  // auth_of() under the host's terms
  long verify_code = 0;          // X.509 verify result when not verified (0: none known)
  std::string_view error;        // the handshake's error, or the verify error, in words
  std::string_view local_ip;     // our address of the connection
  std::string_view peer_helo;    // the name the peer gave in its greeting or EHLO reply
};

// The session to `candidate` at `receiving_ip` for the recipient `domain`; nullopt when
// it is not counted (see above).
std::optional<tlsrpt::SessionResult> session_result(std::string_view domain,
                                                    const dns::Candidate& candidate,
                                                    std::string_view receiving_ip,
                                                    const HostTerms& terms,
                                                    const sts::StsState& sts,
                                                    const SessionEnd& end, std::int64_t now_us);

// The failed MTA-STS policy lookup of `sts` (fetch error, invalid policy, invalid
// certificate of the policy host), as one session without a receiving host: policy "sts"
// when a cached policy is still in force, "no-policy-found" otherwise. nullopt when the
// lookup did not fail or `sts` was served from the cache without one.
std::optional<tlsrpt::SessionResult> sts_failure_result(std::string_view domain,
                                                        const sts::StsState& sts,
                                                        std::int64_t now_us);

// The policy a session to `candidate` is held to (see above).
tlsrpt::PolicyKey session_policy(std::string_view domain, const dns::Candidate& candidate,
                                 const HostTerms& terms, const sts::StsState& sts);

// Whether sessions under `domain`'s policy are counted durably: [tlsrpt] enabled, and the
// domain not in its `exclude` list (config::TlsRptConfig).
bool tlsrpt_counting(const config::Config& config, const std::string& domain);

// Adds one count for `session` to `out`: to the entry of the same key if there is one.
// A session without a countable policy domain (tlsrpt::tally_add) adds nothing.
void add_session_count(const tlsrpt::SessionResult& session, std::vector<queue::CounterAdd>& out);

// The counts to commit with a message's outcome: every session in `sessions` whose
// policy domain tlsrpt_counting() accepts, added to `out`.
void add_session_counts(const config::Config& config,
                        const std::vector<tlsrpt::SessionResult>& sessions,
                        std::vector<queue::CounterAdd>& out);

}  // namespace secmx::delivery
