// decide.hpp - the one delivery decision (after Postfix's smtp_trouble.c): every rule that
// turns what an attempt saw into what happens next lives in decide.cpp.
//
// Attempt only gathers Facts at each step (discovery done, a session opened or not, a
// transaction ended, a callback threw) and does what decide() answers: go on, retry the
// same host once in plaintext (BES), try the next host, or give the recipient(s) their
// outcome. Which verdict, which status, which HostRecord kind, what a TLS verdict means
// for the host, when the hosts are exhausted and when a lifetime turns a deferral final:
// all of it is here, and nowhere else in delivery.
//
// A receiver's published policy binds every message to it, BES included (DESIGN §10 "Who
// it binds"): the attempt says what binds each host (Facts::binding: DANE, MTA-STS enforce,
// DANE with unusable records only) and whether the host may be tried at all
// (Facts::admission), and decide() holds the host to it: TLS always, authenticated as the
// binding says, never a plaintext retry. A host that answered but not as its policy
// requires is an AuthFailed record; when no host took the mail and one of them was such a
// host, the recipients are deferred with 4.7.5 (it may be an attack on DNS or the path),
// and fail with 5.7.5 once the lifetime (SOS: the SOS lifetime) has passed.
//
// The SOS guarantee is a property of this one function, checked over every combination of
// its finite inputs in tests/unit/delivery/decide_test.cpp:
//   - never plaintext: Continue on a session, and Delivered, only where decide_tls() lets
//     the required level proceed;
//   - never a false 5.7.10: our own 5.7.10 only when every host answered without adequate
//     TLS and discovery was complete, or when the SOS lifetime has passed; never when a
//     host failed its receiver's binding;
//   - a binding holds for every policy: Continue on a session, and Delivered, only over
//     TLS authenticated as the binding says (Dane: by DANE; MtaSts: PKIX for the MX name;
//     Encrypt: any TLS), and never a plaintext retry;
//   - BES never fails for lack of TLS; a receiver's 5xx fails, its 4xx defers; a lost or
//     timed-out connection is an unreachable host, never a host without TLS; past the
//     maximum lifetime a deferral becomes 5.4.7.
//
// Pure: no I/O and no clock (the caller says whether the lifetimes have passed). The
// string views in Facts are borrowed for the call only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "relay/delivery/outcome.hpp"
#include "relay/delivery/tls_decision.hpp"
#include "relay/model/policy.hpp"

namespace secmx::delivery {

// Where the attempt was when the fact was seen.
enum class Stage {
  Discovery,     // finding the receivers
  Admission,     // one host, before connecting: may it be tried at all (Facts::admission)?
  Connect,
  Greeting,
  Hello,         // EHLO, or HELO after a refused EHLO
  StartTls,      // the STARTTLS command
  TlsHandshake,
  Session,       // the session is open (new or cached): good enough to send on?
  Mail,          // the transaction was refused before any recipient (RSET, MAIL)
  Rcpt,          // one recipient's RCPT reply
  Data,          // one recipient's reply to DATA or to the end of data
  Local,         // our own check of the message against the session (size, SMTPUTF8)
};
inline constexpr int kStageCount = static_cast<int>(Stage::Local) + 1;
const char* to_string(Stage s);

// The client's word for where it was ("ehlo", "rset", "dot", "local", ...) as a Stage;
// `otherwise` for a word it does not know (or none).
Stage stage_of(std::string_view word, Stage otherwise);

enum class Event {
  Reply,     // an answer. Discovery: code class 2/4/5 = found / temporary / permanent.
             // TlsHandshake: the peer refused the handshake (an alert, garbage).
             // Rcpt/Data: code 0 = the peer gave this recipient no reply.
  Timeout,   // no answer in time
  Lost,      // the connection could not be made or broke (TlsHandshake: cut mid-way)
  Internal,  // our own code failed: an exception at a callback boundary
};
inline constexpr int kEventCount = static_cast<int>(Event::Internal) + 1;
const char* to_string(Event e);

// What the receiver's published policies say about a host before it is tried.
enum class Admission {
  Open,         // nothing stands in the way: connect
  TlsaFailed,   // its TLSA lookup failed for a secure name (RFC 7672 §2.1.1): skip it as
                // temporarily failed (Facts::error says why)
  NotInPolicy,  // the domain's MTA-STS enforce policy lists no pattern that matches it
                // (RFC 8461 §4.1): never connect to it
};
inline constexpr int kAdmissionCount = static_cast<int>(Admission::NotInPolicy) + 1;
const char* to_string(Admission a);

struct Facts {
  Stage stage = Stage::Discovery;
  std::string_view step;       // the client's word for the stage, for the texts ("dot")
  Event event = Event::Reply;
  int code = 0;                // the reply
  std::string_view enhanced;
  std::string_view text;       // reply text; Discovery: its reason
  std::string_view error;      // our words for Timeout/Lost/Internal and failed handshakes;
                               // Admission: why the TLSA lookup failed
  TlsObservation tls;          // how the session's TLS went (Session and later)
  model::Policy policy = model::Policy::BES;
  model::TlsLevel level = model::TlsLevel::None;  // required: requirement_for()
  Binding binding = Binding::None;  // what the receiver's policy demands of this host
  Admission admission = Admission::Open;  // Admission: whether the host may be tried
  std::string_view domain;     // the recipient domain, for the texts
  std::string_view host;       // this host, "mx.example[192.0.2.1]:25"
  std::string_view remote;     // its name, the DSN's Remote-MTA
  std::span<const HostRecord> tried;  // how the hosts before this one ended
  bool last_candidate = false;  // no host after this one (Discovery: none found at all)
  bool peer_dsn = false;        // the peer offers DSN (else NOTIFY=SUCCESS is "relayed")
  bool dns_incomplete = false;  // some lookups failed: an unseen receiver may exist
  bool sos_expired = false;     // the SOS lifetime has passed
  bool lifetime_passed = false; // the maximum lifetime has passed
};

struct Decision {
  enum class Kind {
    Continue,        // Discovery: try the hosts. Session: send the mail on it.
    RetryPlaintext,  // BES after a failed handshake: the same host again without STARTTLS
    NextHost,        // this host did not take the mail: `host` says how; try the next
    Final,           // `outcome` for the recipient (Rcpt, Data) or every pending one
  };
  Kind kind = Kind::Final;
  HostRecord host;      // NextHost, and a Final after the last host: how this host ended
  RcptOutcome outcome;  // Final
};
const char* to_string(Decision::Kind k);

Decision decide(const Facts& facts);

// The status decide() gives recipients deferred because no host of theirs could be reached
// (RFC 3463 "no answer from host").
inline constexpr std::string_view kNoHostReached = "4.4.1";

// The hosts as a deferral names them: "mx1[192.0.2.1]:25: connection refused; mx2...".
std::string host_list(std::span<const HostRecord> hosts);

// The TLS level a job requires: none for BES (opportunistic); for SOS its stored level,
// at least encrypt; a [[route]] with `tls` can only raise it.
model::TlsLevel requirement_for(model::Policy policy, model::TlsLevel tls,
                                std::optional<model::TlsLevel> route_tls);

// The policy an attempt is held to once discovery is done: `policy`, except that a report
// the relay wrote on SOS or REQUIRETLS mail that carries the headers only (reason
// "dsn(sos)") over a [[route]] with trusted = true goes as BES: the route is the agency's
// own network, where the mail came from. A report that returns the content
// ("dsn(sos-full)") stays SOS, as the mail it returns. Nothing else is ever lowered; HOLD
// stays HOLD.
model::Policy policy_over_route(model::Policy policy, std::string_view policy_reason,
                                bool route_trusted);

// Whether an outcome is our own SOS bounce (5.7.10), for the metrics.
bool is_sos_bounce(const RcptOutcome& outcome);

// ---- The rules decide() is made of, open to their own tests.

// A reply from the peer to RCPT or to the end of data.
RcptOutcome classify_reply(int code, const std::string& enhanced, const std::string& text,
                           const std::string& remote_mta);

// No host took the recipient. `sos`: the recipient must have TLS. `dns_incomplete`: some
// SecMX lookups failed temporarily, so an unseen secure receiver may exist.
// `sos_expired`: the SOS lifetime has passed; `lifetime_passed`: the maximum lifetime.
//   - some host AuthFailed: deferred 4.7.5; failed 5.7.5 past the lifetime, or for `sos`
//     past the SOS lifetime;
//   - else `sos`: failed 5.7.10 when every host answered without TLS (NoTls) and discovery
//     was complete, or past the SOS lifetime; deferred 4.7.10 otherwise;
//   - else (BES): failed 5.0.0 when every host refused permanently; deferred 4.0.0 when
//     one did, 4.4.1 otherwise (final_outcome() turns those into 5.4.7 past the lifetime).
RcptOutcome exhausted(bool sos, const std::vector<HostRecord>& hosts, bool dns_incomplete,
                      bool sos_expired, bool lifetime_passed);

// Whether the maximum lifetime has passed for a message that arrived at `arrival_us`.
bool lifetime_passed(std::int64_t arrival_us, std::int64_t now_us,
                     std::chrono::milliseconds max_lifetime);

// Whether this mail may not go over a session without TLS, or one whose TLS failed: its
// level (SOS at least encrypt, as decide() raises it) or the receiver's DANE / MTA-STS
// binding demands TLS. The same rule decide() applies; the attempt reads it to tell a host
// left for its TLS from one that did not answer (JobResult::reach).
bool tls_required(model::Policy policy, model::TlsLevel level, Binding binding);

// Whether a job of a suspended destination (dead_destinations.hpp) keeps its real attempt
// (within the probe's one connection) instead of being answered at once without one: mail
// whose last word may be due is decided on what a connection shows, not on the
// suspension's reason. That is every policy but BES (whether SOS mail fails 5.7.10 turns on
// how its hosts answered), an SOS job past its SOS lifetime (`sos_expired`), and mail whose
// maximum lifetime has passed (lifetime_passed(): from `max_lifetime` after `arrival_us`
// on). Only BES mail with time left is answered as suspended.
bool must_attempt_while_suspended(model::Policy policy, bool sos_expired, std::int64_t arrival_us,
                                  std::int64_t now_us, std::chrono::milliseconds max_lifetime);

// A deferral past the maximum lifetime becomes final: 5.4.7 with the last reason.
RcptOutcome apply_lifetime(RcptOutcome outcome, std::int64_t arrival_us, std::int64_t now_us,
                           std::chrono::milliseconds max_lifetime);

}  // namespace secmx::delivery
