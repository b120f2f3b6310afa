// decide_test.cpp - the delivery decision over every combination of its finite inputs
// (stage x event and reply class x TLS seen x plaintext retry x policy x level x the
// receiver's binding x admission x last candidate x DNS complete x SOS lifetime x maximum
// lifetime x every history of earlier hosts), each checked against the invariants that
// make the SOS guarantee and keep a receiver's DANE or MTA-STS policy; then tables of
// expected outcomes for representative rows.
//
// Three dimensions are enumerated only where the attempt can produce them, to keep the run
// short (a few seconds): TLS seen from the Session stage on (before it the attempt has seen
// no TLS; the handshake stage builds its own from the event), admission at the Admission
// stage (Open elsewhere), and earlier hosts: every unordered pair of kinds after the last
// host, where decide() reads them, at most one before it.
#include "relay/delivery/decide.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace secmx::delivery {
namespace {

using Kind = Decision::Kind;
using HK = HostRecord::Kind;
using model::Policy;
using model::TlsLevel;

// ---------------------------------------------------------------- the dimensions

// What the peer (or the network, or our code) did: an event with a reply class.
enum class Happened { Reply2xx, Reply4xx, Reply5xx, NoReply, Timeout, Lost, Internal };
constexpr Happened kHappened[] = {Happened::Reply2xx, Happened::Reply4xx, Happened::Reply5xx,
                                  Happened::NoReply,  Happened::Timeout,  Happened::Lost,
                                  Happened::Internal};

// How the session's TLS went, as far as the attempt can tell.
// Verified by PKIX, by DANE, or by PKIX for an MX name under an MTA-STS policy.
enum class TlsSeen { NotOffered, NotAttempted, Refused, Encrypted, Verified, Dane, MtaSts };
constexpr TlsSeen kTlsSeen[] = {TlsSeen::NotOffered, TlsSeen::NotAttempted, TlsSeen::Refused,
                                TlsSeen::Encrypted,  TlsSeen::Verified,     TlsSeen::Dane,
                                TlsSeen::MtaSts};

constexpr HK kKinds[] = {HK::Unreachable, HK::TempRefused, HK::PermRefused, HK::NoTls,
                         HK::AuthFailed};
constexpr Binding kBindings[] = {Binding::None, Binding::Encrypt, Binding::Dane, Binding::MtaSts};
constexpr Admission kAdmissions[] = {Admission::Open, Admission::TlsaFailed, Admission::NotInPolicy};

const char* name(Happened h) {
  switch (h) {
    case Happened::Reply2xx: return "2xx";
    case Happened::Reply4xx: return "4xx";
    case Happened::Reply5xx: return "5xx";
    case Happened::NoReply: return "no-reply";
    case Happened::Timeout: return "timeout";
    case Happened::Lost: return "lost";
    case Happened::Internal: return "internal";
  }
  return "?";
}

const char* name(TlsSeen t) {
  switch (t) {
    case TlsSeen::NotOffered: return "not-offered";
    case TlsSeen::NotAttempted: return "not-attempted";
    case TlsSeen::Refused: return "refused";
    case TlsSeen::Encrypted: return "encrypted";
    case TlsSeen::Verified: return "verified";
    case TlsSeen::Dane: return "dane";
    case TlsSeen::MtaSts: return "mta-sts";
  }
  return "?";
}

TlsObservation observation(TlsSeen t, bool plaintext_retry) {
  TlsObservation o;
  o.plaintext_retry = plaintext_retry;
  o.starttls_offered = t != TlsSeen::NotOffered;
  o.handshake_ok = t != TlsSeen::NotOffered && t != TlsSeen::NotAttempted && t != TlsSeen::Refused;
  o.handshake_attempted = o.handshake_ok || t == TlsSeen::Refused;
  o.auth = t == TlsSeen::Verified ? TlsAuth::Pkix
           : t == TlsSeen::Dane   ? TlsAuth::Dane
           : t == TlsSeen::MtaSts ? TlsAuth::MtaSts
                                  : TlsAuth::None;
  o.verified = o.auth != TlsAuth::None;
  if (t == TlsSeen::Encrypted) o.verify_error = "self-signed certificate";
  return o;
}

void set_event(Facts& f, Happened h) {
  switch (h) {
    case Happened::Reply2xx: f.event = Event::Reply; f.code = 250; f.enhanced = "2.0.0"; f.text = "ok"; break;
    case Happened::Reply4xx: f.event = Event::Reply; f.code = 451; f.enhanced = "4.3.0"; f.text = "later"; break;
    case Happened::Reply5xx: f.event = Event::Reply; f.code = 550; f.enhanced = "5.1.1"; f.text = "no"; break;
    case Happened::NoReply: f.event = Event::Reply; f.code = 0; f.enhanced = ""; f.text = ""; break;
    case Happened::Timeout: f.event = Event::Timeout; f.error = "timeout after MAIL FROM"; break;
    case Happened::Lost: f.event = Event::Lost; f.error = "connection reset by peer"; break;
    case Happened::Internal: f.event = Event::Internal; f.error = "injected"; break;
  }
}

// No earlier host, each kind alone, then (with `pairs`) every unordered pair of kinds:
// exhausted() reads a history as a set of kinds, its order only makes the text.
std::vector<std::vector<HostRecord>> histories(bool pairs) {
  std::vector<std::vector<HostRecord>> out{{}};
  for (HK a : kKinds) out.push_back({HostRecord{a, "mx1[192.0.2.1]:25", "earlier"}});
  if (!pairs) return out;
  for (std::size_t i = 0; i < std::size(kKinds); ++i) {
    for (std::size_t j = i; j < std::size(kKinds); ++j) {
      out.push_back({HostRecord{kKinds[i], "mx1[192.0.2.1]:25", "earlier"},
                     HostRecord{kKinds[j], "mx2[192.0.2.2]:25", "earlier"}});
    }
  }
  return out;
}

// ---------------------------------------------------------------- the invariants

bool sos_tls_adequate(TlsLevel level, const TlsObservation& t) {
  return t.handshake_ok && (!model::must_verify(level) || t.auth != TlsAuth::None);
}

// The receiver's terms, spelled out here apart from decide_tls(): DANE wants a DANE match,
// MTA-STS PKIX for the MX name, unusable-only TLSA any TLS.
bool binding_kept(Binding b, const TlsObservation& t) {
  switch (b) {
    case Binding::None: return true;
    case Binding::Encrypt: return t.handshake_ok;
    case Binding::Dane: return t.handshake_ok && t.auth == TlsAuth::Dane;
    case Binding::MtaSts:
      return t.handshake_ok && (t.auth == TlsAuth::MtaSts || t.auth == TlsAuth::Pkix);
  }
  return false;
}

bool is_reply_stage(Stage s) { return s == Stage::Rcpt || s == Stage::Data; }

// Returns what is wrong with `d` for `f`, or "" when every invariant holds.
std::string check(const Facts& f, const Decision& d) {
  // The level the recipient really needs: SOS is at least "encrypt" whatever was passed.
  TlsLevel level = model::is_sensitive(f.policy) ? model::stronger(f.level, TlsLevel::Encrypt) : f.level;
  bool must = model::must_encrypt(level);
  bool tls_fine = decide_tls(level, f.binding, f.tls).verdict == TlsVerdict::Proceed;
  const RcptOutcome& o = d.outcome;
  bool final_ = d.kind == Kind::Final;
  bool ours = o.diagnostic.rfind("smtp; ", 0) != 0;  // not a receiver's own reply
  bool host_recorded = d.kind == Kind::NextHost || (final_ && !d.host.host.empty());
  // The kinds of every host this decision knows of, the one it records included (kept
  // without copying the records: this runs millions of times).
  HK all[4];
  std::size_t hosts = 0;
  for (const auto& h : f.tried) all[hosts++] = h.kind;
  if (host_recorded) all[hosts++] = d.host.kind;
  auto any_of_kind = [&](HK k) { return std::find(all, all + hosts, k) != all + hosts; };
  auto every_of_kind = [&](HK k) {
    return hosts > 0 && std::all_of(all, all + hosts, [k](HK h) { return h == k; });
  };
  bool any_auth_failed = any_of_kind(HK::AuthFailed);
  // The decision ends the hosts: no host took the mail, and this is what they said.
  bool exhaustion = final_ && o.verdict != RcptVerdict::Delivered && f.last_candidate &&
                    f.event != Event::Internal &&
                    (host_recorded || (f.stage == Stage::Discovery && f.event == Event::Reply &&
                                       f.code >= 200 && f.code < 300));

  // Never plaintext: a session goes on only with TLS at the level; never delivered
  // without it.
  if (d.kind == Kind::Continue) {
    if (f.stage != Stage::Discovery && f.stage != Stage::Admission && f.stage != Stage::Session) {
      return "continue outside discovery/admission/session";
    }
    if (f.stage == Stage::Admission && f.admission != Admission::Open) return "continue to a host its policy rules out";
    if (f.stage == Stage::Session && must && !sos_tls_adequate(level, f.tls)) return "SOS session without TLS at its level";
    if (f.stage == Stage::Session && !binding_kept(f.binding, f.tls)) return "session goes on without the TLS its receiver's policy requires";
    if (f.stage == Stage::Session && !tls_fine) return "continue against decide_tls";
  }
  if (final_ && o.verdict == RcptVerdict::Delivered) {
    if (!is_reply_stage(f.stage) || f.event != Event::Reply || f.code < 200 || f.code >= 300) {
      return "delivered without a 2xx from the receiver";
    }
    if (must && !sos_tls_adequate(level, f.tls)) return "SOS delivered without TLS at its level";
    if (!binding_kept(f.binding, f.tls)) return "delivered without the TLS its receiver's policy requires";
    if (!tls_fine) return "delivered against decide_tls";
  }
  // Plaintext retry: BES only, after a handshake, once; never to a host a policy binds.
  if (d.kind == Kind::RetryPlaintext) {
    if (must) return "plaintext retry for a recipient that must have TLS";
    if (f.binding != Binding::None) return "plaintext retry to a host its receiver's policy binds";
    // After a failed handshake, or on a session whose STARTTLS the peer refused.
    bool refused_on_session = f.stage == Stage::Session && f.tls.starttls_offered && !f.tls.handshake_ok;
    if ((f.stage != Stage::TlsHandshake && !refused_on_session) || f.tls.plaintext_retry) {
      return "plaintext retry out of place";
    }
  }
  // Never a false 5.7.10: ours only for a recipient that must have TLS, when every host
  // answered without it and discovery was complete, or the SOS lifetime has passed.
  if (final_ && o.status == "5.7.10" && ours) {
    if (!must) return "5.7.10 for a recipient that needs no TLS";
    if (any_auth_failed) return "5.7.10 although a host failed its receiver's policy";
    if (!f.sos_expired) {
      if (f.dns_incomplete) return "5.7.10 while DNS was incomplete";
      if (hosts == 0) return "5.7.10 without a host";
      if (!every_of_kind(HK::NoTls)) return "5.7.10 although a host answered otherwise than without TLS";
    }
  }
  if (final_ && o.verdict == RcptVerdict::Failed && !must && o.status.rfind("5.7.", 0) == 0 && ours &&
      !(o.status == "5.7.5" && f.lifetime_passed && any_auth_failed)) {
    return "BES failed for lack of TLS";
  }
  // A host failed its receiver's policy, and none took the mail: 4.7.5 (may be an attack)
  // until the lifetime (SOS: the SOS lifetime) is over, then 5.7.5.
  if (exhaustion && any_auth_failed) {
    bool over = f.lifetime_passed || (must && f.sos_expired);
    const char* want = over ? "5.7.5" : "4.7.5";
    if (o.status != want) return std::string("a host failed its policy, yet not ") + want;
    if (o.verdict != (over ? RcptVerdict::Failed : RcptVerdict::Deferred)) return "4.7.5/5.7.5 with the wrong verdict";
  }
  if (final_ && ours && (o.status == "4.7.5" || o.status == "5.7.5") && !any_auth_failed) {
    return "4.7.5/5.7.5 without a host that failed its policy";
  }
  // AuthFailed: only against a binding, or an MX host an enforce policy does not list.
  if (host_recorded && d.host.kind == HK::AuthFailed && f.binding == Binding::None &&
      !(f.stage == Stage::Admission && f.admission == Admission::NotInPolicy)) {
    return "AuthFailed without a policy that binds the host";
  }
  // A host that answered without the TLS its policy requires is AuthFailed, never NoTls
  // (which could end in a 5.7.10).
  if (host_recorded && d.host.kind == HK::NoTls && f.binding != Binding::None &&
      !binding_kept(f.binding, f.tls) && f.stage >= Stage::Session) {
    return "a host that failed its policy recorded as without TLS";
  }
  if (f.stage == Stage::Admission && f.event != Event::Internal) {
    if (f.admission == Admission::TlsaFailed &&
        !(host_recorded && d.host.kind == HK::Unreachable && d.host.detail.rfind("TLSA lookup failed: ", 0) == 0)) {
      return "a failed TLSA lookup is not a temporarily failed host";
    }
    if (f.admission == Admission::NotInPolicy && !(host_recorded && d.host.kind == HK::AuthFailed)) {
      return "an MX host outside the enforce policy is not AuthFailed";
    }
  }
  // BES fails only on a permanent answer or past the lifetime.
  if (final_ && o.verdict == RcptVerdict::Failed && !must && !f.lifetime_passed) {
    bool five = f.event == Event::Reply && f.code >= 500;
    bool all_perm = every_of_kind(HK::PermRefused);
    if (!five && !all_perm) return "BES failed without a permanent answer";
  }
  // The receiver's own word on an adequate session: 5xx fails, 4xx defers.
  if (is_reply_stage(f.stage) && f.event == Event::Reply && tls_fine) {
    if (!final_) return "a recipient's reply without an outcome";
    if (f.code >= 500 && (o.verdict != RcptVerdict::Failed || o.status[0] != '5')) return "5xx did not fail";
    if (f.code >= 400 && f.code < 500 && !f.lifetime_passed && o.verdict != RcptVerdict::Deferred) return "4xx did not defer";
    if (f.code == 0 && !f.lifetime_passed && (o.verdict != RcptVerdict::Deferred || o.status != "4.3.0")) return "a missing reply did not defer";
  }
  if (f.stage == Stage::Mail && f.event == Event::Reply && tls_fine) {
    if (f.code >= 500 && !(final_ && o.verdict == RcptVerdict::Failed)) return "5xx to MAIL did not fail";
    if (f.code < 500 && !host_recorded) return "non-5xx to MAIL did not move on";
    if (f.code < 500 && d.host.kind != HK::TempRefused) return "non-5xx to MAIL is not a temporary refusal";
  }
  // Past the maximum lifetime nothing is deferred again.
  if (final_ && f.lifetime_passed && o.verdict == RcptVerdict::Deferred) return "deferred past the lifetime";
  if (final_ && f.lifetime_passed && o.verdict == RcptVerdict::Failed && o.status == "5.4.7" &&
      o.diagnostic.rfind("delivery time expired", 0) != 0) {
    return "5.4.7 without its words";
  }
  // A connection that failed or broke is an unreachable host, never one without TLS
  // (which could end in a 5.7.10).
  if ((f.event == Event::Timeout || f.event == Event::Lost) && f.stage != Stage::Discovery &&
      f.stage != Stage::Admission) {
    if (d.kind != Kind::RetryPlaintext && !(host_recorded && d.host.kind == HK::Unreachable)) {
      return "a lost or timed-out connection is not an unreachable host";
    }
  }
  // Our own failure defers (4.3.0) and blames no host.
  if (f.event == Event::Internal) {
    if (!final_ || host_recorded) return "internal error did not end the attempt";
    if (!f.lifetime_passed && (o.verdict != RcptVerdict::Deferred || o.status[0] != '4')) return "internal error did not defer";
  }
  // The hosts run out only after the last one; a record names the host it is about.
  if (d.kind == Kind::NextHost && f.last_candidate) return "next host after the last one";
  if (host_recorded && d.host.host != f.host) return "record of another host";
  if (final_ && o.status.empty()) return "final outcome without a status";
  if (final_ && o.verdict != RcptVerdict::Delivered && o.diagnostic.empty()) return "failure without a diagnostic";
  return "";
}

std::string describe(const Facts& f, Happened h, TlsSeen t, std::size_t history) {
  std::ostringstream s;
  s << "stage=" << to_string(f.stage) << " happened=" << name(h) << " tls=" << name(t)
    << " retry=" << f.tls.plaintext_retry << " policy=" << model::to_string(f.policy)
    << " level=" << model::to_string(f.level) << " binding=" << to_string(f.binding)
    << " admission=" << to_string(f.admission) << " last=" << f.last_candidate
    << " dns_incomplete=" << f.dns_incomplete << " sos_expired=" << f.sos_expired
    << " lifetime_passed=" << f.lifetime_passed << " history=" << history;
  return s.str();
}

TEST(Decide, EveryCombinationKeepsTheInvariants) {
  const auto before_last = histories(false);
  const auto after_last = histories(true);
  const std::vector<TlsSeen> none_yet = {TlsSeen::NotOffered};
  const std::vector<TlsSeen> every_tls(std::begin(kTlsSeen), std::end(kTlsSeen));
  const std::vector<Admission> open = {Admission::Open};
  const std::vector<Admission> every_admission(std::begin(kAdmissions), std::end(kAdmissions));
  std::size_t combinations = 0;
  std::vector<std::string> failures;
  Facts f;
  f.host = "mx3[192.0.2.3]:25";
  f.remote = "mx3";
  f.domain = "dest.example";
  for (int st = 0; st < kStageCount; ++st) {
    f.stage = static_cast<Stage>(st);
    f.step = to_string(f.stage);
    const auto& tls_values = f.stage >= Stage::Session ? every_tls : none_yet;
    const auto& admissions = f.stage == Stage::Admission ? every_admission : open;
    for (Admission adm : admissions) {
      f.admission = adm;
      for (Happened h : kHappened) {
        f.code = 0;
        f.enhanced = f.text = f.error = {};
        set_event(f, h);
        for (TlsSeen t : tls_values) {
          for (bool retry : {false, true}) {
            f.tls = observation(t, retry);
            for (Policy p : model::kPolicies) {
              f.policy = p;
              for (TlsLevel lvl : model::kTlsLevels) {
                f.level = lvl;
                for (Binding b : kBindings) {
                  f.binding = b;
                  for (int flags = 0; flags < 16; ++flags) {
                    f.last_candidate = flags & 1;
                    f.dns_incomplete = flags & 2;
                    f.sos_expired = flags & 4;
                    f.lifetime_passed = flags & 8;
                    const auto& hist = f.last_candidate ? after_last : before_last;
                    for (std::size_t hi = 0; hi < hist.size(); ++hi) {
                      f.tried = hist[hi];
                      Decision d = decide(f);
                      ++combinations;
                      std::string wrong = check(f, d);
                      if (!wrong.empty() && failures.size() < 20) {
                        failures.push_back(wrong + " | " + describe(f, h, t, hi) + " -> " +
                                           to_string(d.kind) + " " + to_string(d.outcome.verdict) +
                                           " " + d.outcome.status + " " + d.outcome.diagnostic +
                                           " [" + to_string(d.host.kind) + ": " + d.host.detail + "]");
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  // Stages before the session see no TLS yet; the Admission stage takes every admission.
  const std::size_t stage_rows = (kStageCount - 7) * std::size(kTlsSeen) + 6 + kAdmissionCount;
  const std::size_t histories_per_flags = 8 * before_last.size() + 8 * after_last.size();
  EXPECT_EQ(combinations, stage_rows * 7 * 2 * 4 * 3 * 4 * histories_per_flags);
  for (const auto& x : failures) ADD_FAILURE() << x;
}

// ---------------------------------------------------------------- representative rows

struct Row {
  const char* what;
  Stage stage;
  Happened happened;
  TlsSeen tls;
  Policy policy;
  TlsLevel level;
  bool last;
  std::vector<HK> tried;
  Kind kind;
  RcptVerdict verdict;  // when Final
  const char* status;   // when Final
  HK host;              // when a host is recorded
};

TEST(Decide, RepresentativeRows) {
  const auto D = RcptVerdict::Delivered, F = RcptVerdict::Failed, Q = RcptVerdict::Deferred;
  const Policy B = Policy::BES, S = Policy::SOS;
  const TlsLevel N = TlsLevel::None, E = TlsLevel::Encrypt, V = TlsLevel::Verify;
  const std::vector<Row> rows = {
      {"discovery found hosts", Stage::Discovery, Happened::Reply2xx, TlsSeen::NotOffered, B, N, false, {}, Kind::Continue, Q, "", HK::Unreachable},
      {"discovery found none", Stage::Discovery, Happened::Reply2xx, TlsSeen::NotOffered, B, N, true, {}, Kind::Final, Q, "4.4.1", HK::Unreachable},
      {"discovery: SOS, none found", Stage::Discovery, Happened::Reply2xx, TlsSeen::NotOffered, S, E, true, {}, Kind::Final, Q, "4.7.10", HK::Unreachable},
      {"discovery permanent", Stage::Discovery, Happened::Reply5xx, TlsSeen::NotOffered, S, E, false, {}, Kind::Final, F, "5.1.1", HK::Unreachable},
      {"discovery temporary", Stage::Discovery, Happened::Reply4xx, TlsSeen::NotOffered, S, E, false, {}, Kind::Final, Q, "4.3.0", HK::Unreachable},
      {"connect refused", Stage::Connect, Happened::Lost, TlsSeen::NotOffered, B, N, false, {}, Kind::NextHost, Q, "", HK::Unreachable},
      {"connect refused, last, BES", Stage::Connect, Happened::Lost, TlsSeen::NotOffered, B, N, true, {}, Kind::Final, Q, "4.4.1", HK::Unreachable},
      {"greeting 554", Stage::Greeting, Happened::Reply5xx, TlsSeen::NotOffered, B, N, false, {}, Kind::NextHost, Q, "", HK::PermRefused},
      {"greeting 554, every host", Stage::Greeting, Happened::Reply5xx, TlsSeen::NotOffered, B, N, true, {HK::PermRefused}, Kind::Final, F, "5.0.0", HK::PermRefused},
      {"greeting 554 and an unreachable one", Stage::Greeting, Happened::Reply5xx, TlsSeen::NotOffered, B, N, true, {HK::Unreachable}, Kind::Final, Q, "4.0.0", HK::PermRefused},
      {"ehlo 421", Stage::Hello, Happened::Reply4xx, TlsSeen::NotOffered, S, E, false, {}, Kind::NextHost, Q, "", HK::TempRefused},
      {"BES handshake refused", Stage::TlsHandshake, Happened::Reply5xx, TlsSeen::Refused, B, N, false, {}, Kind::RetryPlaintext, Q, "", HK::Unreachable},
      {"BES handshake cut", Stage::TlsHandshake, Happened::Lost, TlsSeen::Refused, B, N, false, {}, Kind::RetryPlaintext, Q, "", HK::Unreachable},
      {"SOS handshake refused", Stage::TlsHandshake, Happened::Reply5xx, TlsSeen::Refused, S, E, false, {}, Kind::NextHost, Q, "", HK::NoTls},
      {"SOS handshake refused, only host", Stage::TlsHandshake, Happened::Reply5xx, TlsSeen::Refused, S, E, true, {}, Kind::Final, F, "5.7.10", HK::NoTls},
      {"SOS handshake cut, only host", Stage::TlsHandshake, Happened::Lost, TlsSeen::Refused, S, E, true, {}, Kind::Final, Q, "4.7.10", HK::Unreachable},
      {"SOS handshake timeout", Stage::TlsHandshake, Happened::Timeout, TlsSeen::Refused, S, V, false, {}, Kind::NextHost, Q, "", HK::Unreachable},
      {"BES plaintext session", Stage::Session, Happened::Reply2xx, TlsSeen::NotOffered, B, N, false, {}, Kind::Continue, Q, "", HK::Unreachable},
      {"BES STARTTLS refused: same host in plaintext", Stage::Session, Happened::Reply2xx, TlsSeen::Refused, B, N, false, {}, Kind::RetryPlaintext, Q, "", HK::Unreachable},
      {"SOS STARTTLS refused: host skipped", Stage::Session, Happened::Reply2xx, TlsSeen::Refused, S, E, false, {}, Kind::NextHost, Q, "", HK::NoTls},
      {"BES plaintext retry session", Stage::Session, Happened::Reply2xx, TlsSeen::NotAttempted, B, N, false, {}, Kind::Continue, Q, "", HK::Unreachable},
      {"SOS never on a plaintext retry", Stage::Session, Happened::Reply2xx, TlsSeen::NotAttempted, S, E, false, {}, Kind::NextHost, Q, "", HK::NoTls},
      {"SOS plaintext session skipped", Stage::Session, Happened::Reply2xx, TlsSeen::NotOffered, S, E, false, {}, Kind::NextHost, Q, "", HK::NoTls},
      {"SOS every host plaintext", Stage::Session, Happened::Reply2xx, TlsSeen::NotOffered, S, E, true, {HK::NoTls}, Kind::Final, F, "5.7.10", HK::NoTls},
      {"SOS plaintext, one unreachable", Stage::Session, Happened::Reply2xx, TlsSeen::NotOffered, S, E, true, {HK::Unreachable}, Kind::Final, Q, "4.7.10", HK::NoTls},
      {"SOS encrypted session", Stage::Session, Happened::Reply2xx, TlsSeen::Encrypted, S, E, false, {}, Kind::Continue, Q, "", HK::Unreachable},
      {"SOS verify, unverified", Stage::Session, Happened::Reply2xx, TlsSeen::Encrypted, S, V, false, {}, Kind::NextHost, Q, "", HK::NoTls},
      {"SOS verify, verified", Stage::Session, Happened::Reply2xx, TlsSeen::Verified, S, V, false, {}, Kind::Continue, Q, "", HK::Unreachable},
      {"SOS under a None level is still encrypt", Stage::Session, Happened::Reply2xx, TlsSeen::NotOffered, S, N, false, {}, Kind::NextHost, Q, "", HK::NoTls},
      {"route raises BES to encrypt", Stage::Session, Happened::Reply2xx, TlsSeen::NotOffered, B, E, true, {}, Kind::Final, F, "5.7.10", HK::NoTls},
      {"MAIL 550", Stage::Mail, Happened::Reply5xx, TlsSeen::Verified, S, E, false, {}, Kind::Final, F, "5.1.1", HK::Unreachable},
      {"MAIL 451", Stage::Mail, Happened::Reply4xx, TlsSeen::Verified, S, E, false, {}, Kind::NextHost, Q, "", HK::TempRefused},
      {"MAIL 451, last, SOS", Stage::Mail, Happened::Reply4xx, TlsSeen::Verified, S, E, true, {HK::NoTls}, Kind::Final, Q, "4.7.10", HK::TempRefused},
      {"lost after MAIL", Stage::Mail, Happened::Lost, TlsSeen::Verified, S, E, false, {}, Kind::NextHost, Q, "", HK::Unreachable},
      {"RCPT 250 then dot 250", Stage::Data, Happened::Reply2xx, TlsSeen::Verified, S, V, false, {}, Kind::Final, D, "2.0.0", HK::Unreachable},
      {"BES plaintext delivery", Stage::Data, Happened::Reply2xx, TlsSeen::NotOffered, B, N, false, {}, Kind::Final, D, "2.0.0", HK::Unreachable},
      {"RCPT 550", Stage::Rcpt, Happened::Reply5xx, TlsSeen::Encrypted, S, E, false, {}, Kind::Final, F, "5.1.1", HK::Unreachable},
      {"RCPT 451", Stage::Rcpt, Happened::Reply4xx, TlsSeen::NotOffered, B, N, false, {}, Kind::Final, Q, "4.3.0", HK::Unreachable},
      {"no reply for a recipient", Stage::Data, Happened::NoReply, TlsSeen::Verified, S, E, false, {}, Kind::Final, Q, "4.3.0", HK::Unreachable},
      {"SOS data on a plaintext session (cannot happen)", Stage::Data, Happened::Reply2xx, TlsSeen::NotOffered, S, E, false, {}, Kind::NextHost, Q, "", HK::NoTls},
      {"local 552", Stage::Local, Happened::Reply5xx, TlsSeen::Verified, S, E, false, {}, Kind::Final, F, "5.1.1", HK::Unreachable},
      {"local with a 2xx never delivers", Stage::Local, Happened::Reply2xx, TlsSeen::NotOffered, B, N, false, {}, Kind::Final, Q, "4.0.0", HK::Unreachable},
      {"internal error", Stage::Session, Happened::Internal, TlsSeen::Verified, S, E, false, {}, Kind::Final, Q, "4.3.0", HK::Unreachable},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.what);
    std::vector<HostRecord> tried;
    for (HK k : r.tried) tried.push_back(HostRecord{k, "mx1[192.0.2.1]:25", "earlier"});
    Facts f;
    f.stage = r.stage;
    f.step = to_string(r.stage);
    set_event(f, r.happened);
    f.tls = observation(r.tls, r.tls == TlsSeen::NotAttempted);
    f.policy = r.policy;
    f.level = r.level;
    f.host = "mx3[192.0.2.3]:25";
    f.remote = "mx3";
    f.tried = tried;
    f.last_candidate = r.last;
    Decision d = decide(f);
    ASSERT_EQ(d.kind, r.kind) << to_string(d.kind) << " " << d.outcome.diagnostic;
    if (r.kind == Kind::Final) {
      EXPECT_EQ(d.outcome.verdict, r.verdict) << to_string(d.outcome.verdict);
      EXPECT_EQ(d.outcome.status, r.status);
    }
    if (d.kind == Kind::NextHost || (d.kind == Kind::Final && !d.host.host.empty())) {
      EXPECT_EQ(d.host.kind, r.host) << to_string(d.host.kind) << ": " << d.host.detail;
    }
  }
}

// What a receiver's DANE or MTA-STS policy does, row by row (DESIGN §10 "Who it binds").
struct BindingRow {
  const char* what;
  Stage stage;
  Happened happened;
  TlsSeen tls;
  Policy policy;
  TlsLevel level;
  Binding binding;
  Admission admission;
  bool last;
  bool sos_expired;
  bool lifetime_passed;
  std::vector<HK> tried;
  Kind kind;
  RcptVerdict verdict;  // when Final
  const char* status;   // when Final
  HK host;              // when a host is recorded
};

TEST(Decide, BindingRows) {
  const auto D = RcptVerdict::Delivered, F = RcptVerdict::Failed, Q = RcptVerdict::Deferred;
  const Policy B = Policy::BES, S = Policy::SOS;
  const TlsLevel N = TlsLevel::None, E = TlsLevel::Encrypt, V = TlsLevel::Verify;
  const Binding none = Binding::None, dane = Binding::Dane, sts = Binding::MtaSts,
                encrypt = Binding::Encrypt;
  const Admission open = Admission::Open;
  const Stage SE = Stage::Session;
  const Happened OK = Happened::Reply2xx;
  const std::vector<BindingRow> rows = {
      // DANE binds BES too: a DANE match or nothing, never plaintext.
      {"DANE match, BES", SE, OK, TlsSeen::Dane, B, N, dane, open, false, false, false, {}, Kind::Continue, Q, "", HK::Unreachable},
      {"DANE, PKIX-valid but no match", SE, OK, TlsSeen::Verified, B, N, dane, open, false, false, false, {}, Kind::NextHost, Q, "", HK::AuthFailed},
      {"DANE, no match, only host, BES", SE, OK, TlsSeen::Encrypted, B, N, dane, open, true, false, false, {}, Kind::Final, Q, "4.7.5", HK::AuthFailed},
      {"DANE, no match, past the lifetime", SE, OK, TlsSeen::Encrypted, B, N, dane, open, true, false, true, {}, Kind::Final, F, "5.7.5", HK::AuthFailed},
      {"DANE, plaintext peer, BES", SE, OK, TlsSeen::NotOffered, B, N, dane, open, true, false, false, {}, Kind::Final, Q, "4.7.5", HK::AuthFailed},
      {"DANE, STARTTLS refused, BES: no plaintext retry", SE, OK, TlsSeen::Refused, B, N, dane, open, false, false, false, {}, Kind::NextHost, Q, "", HK::AuthFailed},
      {"DANE, handshake refused, BES: no plaintext retry", Stage::TlsHandshake, Happened::Reply5xx, TlsSeen::NotOffered, B, N, dane, open, false, false, false, {}, Kind::NextHost, Q, "", HK::AuthFailed},
      {"DANE, handshake cut: unreachable", Stage::TlsHandshake, Happened::Lost, TlsSeen::NotOffered, B, N, dane, open, true, false, false, {}, Kind::Final, Q, "4.4.1", HK::Unreachable},
      {"DANE match, delivered, BES", Stage::Data, OK, TlsSeen::Dane, B, N, dane, open, false, false, false, {}, Kind::Final, D, "2.0.0", HK::Unreachable},
      {"DANE, data on an unmatched session (cannot happen)", Stage::Data, OK, TlsSeen::Encrypted, B, N, dane, open, false, false, false, {}, Kind::NextHost, Q, "", HK::AuthFailed},
      {"DANE match meets SOS verify", SE, OK, TlsSeen::Dane, S, V, dane, open, false, false, false, {}, Kind::Continue, Q, "", HK::Unreachable},
      {"DANE, SOS, no match: 4.7.5, not 5.7.10", SE, OK, TlsSeen::Encrypted, S, E, dane, open, true, false, false, {HK::NoTls}, Kind::Final, Q, "4.7.5", HK::AuthFailed},
      {"DANE, SOS lifetime over: 5.7.5", SE, OK, TlsSeen::Encrypted, S, E, dane, open, true, true, false, {HK::NoTls}, Kind::Final, F, "5.7.5", HK::AuthFailed},
      // MTA-STS enforce: PKIX for the MX host name.
      {"MTA-STS, verified for the MX name", SE, OK, TlsSeen::MtaSts, B, N, sts, open, false, false, false, {}, Kind::Continue, Q, "", HK::Unreachable},
      {"MTA-STS, PKIX-verified from the cache", SE, OK, TlsSeen::Verified, B, N, sts, open, false, false, false, {}, Kind::Continue, Q, "", HK::Unreachable},
      {"MTA-STS, certificate not valid, BES", SE, OK, TlsSeen::Encrypted, B, N, sts, open, true, false, false, {}, Kind::Final, Q, "4.7.5", HK::AuthFailed},
      {"MTA-STS, plaintext peer, BES", SE, OK, TlsSeen::NotOffered, B, N, sts, open, false, false, false, {}, Kind::NextHost, Q, "", HK::AuthFailed},
      {"MTA-STS meets SOS verify", SE, OK, TlsSeen::MtaSts, S, V, none, open, false, false, false, {}, Kind::Continue, Q, "", HK::Unreachable},
      // DANE with unusable records only: TLS mandatory, unauthenticated (RFC 7672 §2.2).
      {"unusable TLSA, any TLS will do, BES", SE, OK, TlsSeen::Encrypted, B, N, encrypt, open, false, false, false, {}, Kind::Continue, Q, "", HK::Unreachable},
      {"unusable TLSA, plaintext peer, BES: not sent", SE, OK, TlsSeen::NotOffered, B, N, encrypt, open, true, false, false, {}, Kind::Final, Q, "4.7.5", HK::AuthFailed},
      {"unusable TLSA, SOS verify: unverified TLS is no good", SE, OK, TlsSeen::Encrypted, S, V, encrypt, open, false, false, false, {}, Kind::NextHost, Q, "", HK::NoTls},
      // Before connecting.
      {"admission open", Stage::Admission, OK, TlsSeen::NotOffered, B, N, dane, open, false, false, false, {}, Kind::Continue, Q, "", HK::Unreachable},
      {"TLSA lookup failed", Stage::Admission, OK, TlsSeen::NotOffered, B, N, none, Admission::TlsaFailed, false, false, false, {}, Kind::NextHost, Q, "", HK::Unreachable},
      {"TLSA lookup failed, only host, SOS", Stage::Admission, OK, TlsSeen::NotOffered, S, E, none, Admission::TlsaFailed, true, false, false, {}, Kind::Final, Q, "4.7.10", HK::Unreachable},
      {"MX host not in the enforce policy", Stage::Admission, OK, TlsSeen::NotOffered, B, N, sts, Admission::NotInPolicy, false, false, false, {}, Kind::NextHost, Q, "", HK::AuthFailed},
      {"MX host not in the policy, last, after an unreachable one", Stage::Admission, OK, TlsSeen::NotOffered, B, N, sts, Admission::NotInPolicy, true, false, false, {HK::Unreachable}, Kind::Final, Q, "4.7.5", HK::AuthFailed},
      {"MX host not in the policy, every host, past the lifetime", Stage::Admission, OK, TlsSeen::NotOffered, B, N, sts, Admission::NotInPolicy, true, false, true, {HK::AuthFailed}, Kind::Final, F, "5.7.5", HK::AuthFailed},
      // The 5.7.10 of SOS stays for receivers that answered without TLS and bound nothing.
      {"SOS, every host plaintext, no binding", SE, OK, TlsSeen::NotOffered, S, E, none, open, true, false, false, {HK::NoTls}, Kind::Final, F, "5.7.10", HK::NoTls},
      {"SOS, plaintext after a host that failed its binding", SE, OK, TlsSeen::NotOffered, S, E, none, open, true, false, false, {HK::AuthFailed}, Kind::Final, Q, "4.7.5", HK::NoTls},
      {"a later host takes the mail", Stage::Data, OK, TlsSeen::Encrypted, S, E, none, open, true, false, false, {HK::AuthFailed}, Kind::Final, D, "2.0.0", HK::Unreachable},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.what);
    std::vector<HostRecord> tried;
    for (HK k : r.tried) tried.push_back(HostRecord{k, "mx1[192.0.2.1]:25", "earlier"});
    Facts f;
    f.stage = r.stage;
    f.step = to_string(r.stage);
    set_event(f, r.happened);
    f.tls = observation(r.tls, false);
    f.policy = r.policy;
    f.level = r.level;
    f.binding = r.binding;
    f.admission = r.admission;
    f.domain = "dest.example";
    f.host = "mx3[192.0.2.3]:25";
    f.remote = "mx3";
    f.tried = tried;
    f.last_candidate = r.last;
    f.sos_expired = r.sos_expired;
    f.lifetime_passed = r.lifetime_passed;
    Decision d = decide(f);
    ASSERT_EQ(d.kind, r.kind) << to_string(d.kind) << " " << d.outcome.diagnostic << " " << d.host.detail;
    if (r.kind == Kind::Final) {
      EXPECT_EQ(d.outcome.verdict, r.verdict) << to_string(d.outcome.verdict);
      EXPECT_EQ(d.outcome.status, r.status) << d.outcome.diagnostic;
    }
    if (d.kind == Kind::NextHost || (d.kind == Kind::Final && !d.host.host.empty())) {
      EXPECT_EQ(d.host.kind, r.host) << to_string(d.host.kind) << ": " << d.host.detail;
    }
  }
}

// The words a binding's failures leave in the log and the DSN.
TEST(Decide, TheWordsOfABinding) {
  Facts f;
  f.stage = Stage::Admission;
  f.host = "mx.other[192.0.2.1]:25";
  f.domain = "dest.example";
  f.admission = Admission::NotInPolicy;
  f.last_candidate = true;
  Decision d = decide(f);
  EXPECT_EQ(d.host.detail, "MX host not in the MTA-STS policy of dest.example");
  EXPECT_EQ(d.outcome.diagnostic,
            "no receiver authenticated as its DANE or MTA-STS policy requires (this may be an "
            "attack): mx.other[192.0.2.1]:25: MX host not in the MTA-STS policy of dest.example");
  f.admission = Admission::TlsaFailed;
  f.error = "SERVFAIL";
  EXPECT_EQ(decide(f).host.detail, "TLSA lookup failed: SERVFAIL");

  f = Facts{};
  f.stage = Stage::Session;
  f.host = "mx.dane[192.0.2.2]:25";
  f.binding = Binding::Dane;
  f.tls = observation(TlsSeen::Encrypted, false);
  d = decide(f);
  EXPECT_EQ(d.host.detail, "certificate matches no TLSA record of the host (DANE): self-signed certificate");
  f.tls = observation(TlsSeen::NotOffered, false);
  EXPECT_EQ(decide(f).host.detail, "STARTTLS not offered (required by DANE)");
}

// The words of the rows that logs, DSNs and the e2e tests read stay as they were.
TEST(Decide, TheWordsAreTheOldOnes) {
  Facts f;
  f.host = "mx.example[192.0.2.1]:25";
  f.remote = "mx.example";
  f.stage = Stage::Connect;
  f.step = "connect";
  f.event = Event::Lost;
  EXPECT_EQ(decide(f).host.detail, "connection failed at connect");
  f.error = "connection refused";
  EXPECT_EQ(decide(f).host.detail, "connection refused");

  f = Facts{};
  f.host = "mx.example[192.0.2.1]:25";
  f.stage = Stage::Mail;
  f.step = "dot";
  f.event = Event::Timeout;
  f.error = "timeout after end of data";
  EXPECT_EQ(decide(f).host.detail, "timeout during dot: timeout after end of data");
  f.event = Event::Lost;
  f.error = "";
  EXPECT_EQ(decide(f).host.detail, "connection lost during dot");

  f = Facts{};
  f.stage = Stage::Greeting;
  f.step = "greeting";
  f.code = 421;
  f.enhanced = "4.3.2";
  f.text = "busy";
  EXPECT_EQ(decide(f).host.detail, "refused at greeting: 421 4.3.2 busy");

  f = Facts{};
  f.policy = Policy::SOS;
  f.level = TlsLevel::Encrypt;
  f.stage = Stage::Session;
  f.host = "mx.plain[192.0.2.9]:25";
  f.tls = observation(TlsSeen::NotOffered, false);
  f.last_candidate = true;
  auto d = decide(f);
  EXPECT_EQ(d.host.detail, "STARTTLS not offered");
  EXPECT_EQ(d.outcome.diagnostic, "no secure (TLS) receiver: mx.plain[192.0.2.9]:25: STARTTLS not offered");
  EXPECT_TRUE(is_sos_bounce(d.outcome));

  f = Facts{};
  f.stage = Stage::Local;
  f.step = "local";
  f.host = "mx.example[192.0.2.1]:25";
  f.code = 552;
  f.enhanced = "5.3.4";
  f.text = "message too big";
  d = decide(f);
  EXPECT_EQ(d.outcome.diagnostic, "x-secmx; 552 5.3.4 message too big (at mx.example[192.0.2.1]:25)");
  EXPECT_EQ(d.outcome.remote_mta, "");

  f = Facts{};
  f.stage = Stage::Data;
  f.step = "dot";
  f.remote = "mx.example";
  f.code = 250;
  f.text = "queued";
  f.peer_dsn = false;
  d = decide(f);
  EXPECT_TRUE(d.outcome.relayed);
  EXPECT_EQ(d.outcome.remote_mta, "mx.example");
  f.peer_dsn = true;
  EXPECT_FALSE(decide(f).outcome.relayed);
  f.code = 451;
  f.lifetime_passed = true;
  d = decide(f);
  EXPECT_EQ(d.outcome.status, "5.4.7");
  EXPECT_EQ(d.outcome.diagnostic, "delivery time expired; last error: smtp; 451 queued");
}

TEST(Decide, ClientWordsMapToStages) {
  EXPECT_EQ(stage_of("connect", Stage::Data), Stage::Connect);
  EXPECT_EQ(stage_of("helo", Stage::Data), Stage::Hello);
  EXPECT_EQ(stage_of("ehlo", Stage::Data), Stage::Hello);
  EXPECT_EQ(stage_of("tls", Stage::Data), Stage::TlsHandshake);
  EXPECT_EQ(stage_of("ready", Stage::Data), Stage::Session);
  EXPECT_EQ(stage_of("rset", Stage::Data), Stage::Mail);
  EXPECT_EQ(stage_of("dot", Stage::Connect), Stage::Data);
  EXPECT_EQ(stage_of("", Stage::Connect), Stage::Connect);
  EXPECT_EQ(stage_of("closed", Stage::Data), Stage::Data);
  EXPECT_EQ(stage_of("local", Stage::Data), Stage::Local);
}

TEST(Decide, RequirementOnlyRises) {
  EXPECT_EQ(requirement_for(Policy::BES, TlsLevel::Verify, std::nullopt), TlsLevel::None);
  EXPECT_EQ(requirement_for(Policy::SOS, TlsLevel::None, std::nullopt), TlsLevel::Encrypt);
  EXPECT_EQ(requirement_for(Policy::SOS, TlsLevel::Verify, TlsLevel::Encrypt), TlsLevel::Verify);
  EXPECT_EQ(requirement_for(Policy::BES, TlsLevel::None, TlsLevel::Encrypt), TlsLevel::Encrypt);
}

// Only a report on SOS/REQUIRETLS mail, over a trusted route, goes as BES; nothing else is
// ever lowered by a route.
TEST(Decide, TrustedRouteLowersOnlyReportsOnSosMail) {
  EXPECT_EQ(policy_over_route(Policy::SOS, "dsn(sos)", true), Policy::BES);
  EXPECT_EQ(policy_over_route(Policy::SOS, "dsn(sos)", false), Policy::SOS);
  EXPECT_EQ(policy_over_route(Policy::SOS, "default", true), Policy::SOS);
  EXPECT_EQ(policy_over_route(Policy::SOS, "requiretls", true), Policy::SOS);
  EXPECT_EQ(policy_over_route(Policy::SOS, "rule=1(classification=PROTECTED)", true),
            Policy::SOS);
  EXPECT_EQ(policy_over_route(Policy::SOS, "rule=1(x=dsn(sos))", true), Policy::SOS);
  EXPECT_EQ(policy_over_route(Policy::HOLD, "dsn(sos)", true), Policy::HOLD);
  // A report that returns the content of SOS mail is that content: never lowered.
  EXPECT_EQ(policy_over_route(Policy::SOS, "dsn(sos-full)", true), Policy::SOS);
  EXPECT_EQ(policy_over_route(Policy::BES, "dsn", true), Policy::BES);
  EXPECT_EQ(requirement_for(policy_over_route(Policy::SOS, "dsn(sos)", true), TlsLevel::Verify,
                            std::nullopt),
            TlsLevel::None);
}

// Which jobs of a suspended destination keep a real attempt: every policy x SOS lifetime x
// maximum lifetime, and the maximum lifetime's boundary to the microsecond.
// TLS is required when the mail's level asks for it (SOS at least encrypt, whatever level it
// carries) or the receiver's policy binds the host; only BES at level none over an unbound
// host may do without.
TEST(Decide, TlsIsRequiredByTheLevelOrTheReceiversBinding) {
  for (auto policy : {Policy::BES, Policy::SOS}) {
    for (auto level : {TlsLevel::None, TlsLevel::Encrypt}) {
      for (auto binding : {Binding::None, Binding::Encrypt, Binding::Dane, Binding::MtaSts}) {
        bool want = policy == Policy::SOS || level != TlsLevel::None || binding != Binding::None;
        EXPECT_EQ(tls_required(policy, level, binding), want)
            << model::to_string(policy) << " " << static_cast<int>(level) << " " << to_string(binding);
      }
    }
  }
}

TEST(Decide, OnlyBesMailWithTimeLeftIsAnsweredWhileSuspended) {
  const std::chrono::milliseconds max_lifetime = std::chrono::hours(120);
  const std::int64_t arrival = 1'700'000'000'000'000;
  const std::int64_t lifetime_us = max_lifetime.count() * 1000;
  int answered = 0;
  for (Policy p : model::kPolicies) {
    for (bool sos_expired : {false, true}) {
      for (bool passed : {false, true}) {
        std::int64_t now = arrival + (passed ? lifetime_us + 1 : lifetime_us / 2);
        ASSERT_EQ(lifetime_passed(arrival, now, max_lifetime), passed);
        bool attempt = must_attempt_while_suspended(p, sos_expired, arrival, now, max_lifetime);
        bool expected = p != Policy::BES || sos_expired || passed;
        EXPECT_EQ(attempt, expected) << model::to_string(p) << " sos_expired=" << sos_expired
                                     << " lifetime_passed=" << passed;
        answered += attempt ? 0 : 1;
      }
    }
  }
  EXPECT_EQ(answered, 1) << "BES, within both lifetimes, and nothing else";
  EXPECT_TRUE(must_attempt_while_suspended(Policy::SOS, false, arrival, arrival, max_lifetime));
  EXPECT_TRUE(must_attempt_while_suspended(Policy::HOLD, false, arrival, arrival, max_lifetime));
  EXPECT_TRUE(must_attempt_while_suspended(Policy::REJECT, false, arrival, arrival, max_lifetime));
  EXPECT_TRUE(must_attempt_while_suspended(Policy::BES, true, arrival, arrival, max_lifetime));
  EXPECT_FALSE(must_attempt_while_suspended(Policy::BES, false, arrival, arrival, max_lifetime));
  // The maximum lifetime has passed from the moment it is reached (lifetime_passed()).
  EXPECT_FALSE(must_attempt_while_suspended(Policy::BES, false, arrival,
                                            arrival + lifetime_us - 1, max_lifetime));
  EXPECT_TRUE(must_attempt_while_suspended(Policy::BES, false, arrival, arrival + lifetime_us,
                                           max_lifetime));
  EXPECT_TRUE(must_attempt_while_suspended(Policy::BES, false, arrival, arrival + lifetime_us + 1,
                                           max_lifetime));
  // A message from the future (a clock stepped back) is not past its lifetime.
  EXPECT_FALSE(must_attempt_while_suspended(Policy::BES, false, arrival, arrival - 1, max_lifetime));
}

}  // namespace
}  // namespace secmx::delivery
