// host_terms.hpp - what a receiving host's own publications ask of a session to it: its
// DANE TLSA records (RFC 7672) and its domain's MTA-STS policy (RFC 8461), with the
// precedence between them (RFC 8461 §2: usable DANE records make MTA-STS moot).
//
// Pure: (candidate, MTA-STS state) -> the binding, what the certificate is checked
// against, whether the host may be tried at all; and (terms, the session's TLS) -> by what
// the peer was authenticated. The delivery attempt follows these terms for every host;
// the admin route probe shows them, so what an operator sees is what delivery does.
// decide() (decide.hpp) says what a failure to meet them means for the message.
#pragma once

#include <string>

#include "relay/client/smtp_client.hpp"
#include "relay/delivery/decide.hpp"
#include "relay/delivery/tls_decision.hpp"
#include "relay/dns/candidates.hpp"
#include "relay/sts/sts_state.hpp"
#include "relay/tls/peer_verify.hpp"

namespace secmx::delivery {

struct HostTerms {
  Binding binding = Binding::None;  // what binds a session to the host
  tls::PeerVerify verify;           // what its certificate is checked against
  Admission admission = Admission::Open;
  bool sts_applies = false;   // the domain's policy (testing or enforce) covers the host
  bool sts_listed = false;    // ... and one of its mx patterns matches the host
  bool sts_testing = false;   // a testing policy applies, and DANE does not take over
};

// MTA-STS covers every candidate that came from DNS (MX, implicit MX, and the SecMX
// SRV / MX 51966 / secmx.D answers: a forged SecMX answer must not get around an enforce
// policy); a [[route]] is the operator's own choice and bypasses it. DANE applies to any
// host whose TLSA discovery found.
HostTerms host_terms(const dns::Candidate& candidate, const sts::StsState& sts);

// How the session's peer was authenticated, under these terms: with TLSA records only
// DANE vouches (RFC 7672 §3.1.3); a PKIX-verified peer under a policy that lists it is
// "mta-sts"; otherwise PKIX for the host name, or nothing.
TlsAuth auth_of(const HostTerms& terms, const client::TlsInfo& tls);

// An opened (or failed) session as the facts decide() reads: the stage it ended in, the
// reply or error, and for an open session its TLS under these terms (auth_of). The one
// mapping, for the attempt and for `secmxctl route`'s verdicts alike.
void open_facts(const client::SessionInfo& info, const HostTerms& terms, Facts& f);

}  // namespace secmx::delivery
