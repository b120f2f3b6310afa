// Exhaustive tables for the two pure decisions of the delivery engine.
#include <gtest/gtest.h>

#include "relay/delivery/decide.hpp"
#include "relay/delivery/tls_decision.hpp"

namespace secmx::delivery {
namespace {

using R = model::TlsLevel;
using V = TlsVerdict;

struct TlsCase {
  R req;
  bool offered, attempted, ok, verified, retry;
  V expect;
  const char* reason_part;
};

TEST(TlsDecision, ExhaustiveTable) {
  const TlsCase cases[] = {
      // BES: TLS when it works, plaintext when not offered, one plaintext retry after a failure.
      {R::None, false, false, false, false, false, V::Proceed, ""},
      {R::None, true, true, true, false, false, V::Proceed, ""},
      {R::None, true, true, true, true, false, V::Proceed, ""},
      {R::None, true, true, false, false, false, V::RetryPlaintext, "handshake failed"},
      {R::None, true, false, false, false, true, V::Proceed, ""},
      {R::None, false, false, false, false, true, V::Proceed, ""},
      // SOS encrypt: any established TLS will do; nothing else will.
      {R::Encrypt, false, false, false, false, false, V::SkipHost, "STARTTLS not offered"},
      {R::Encrypt, true, true, false, false, false, V::SkipHost, "handshake failed"},
      {R::Encrypt, true, false, false, false, false, V::SkipHost, "handshake failed"},
      {R::Encrypt, true, true, true, false, false, V::Proceed, ""},
      {R::Encrypt, true, true, true, true, false, V::Proceed, ""},
      // A plaintext retry is never a way around SOS.
      {R::Encrypt, true, false, false, false, true, V::SkipHost, "handshake failed"},
      // SOS verify: the certificate must check out too.
      {R::Verify, false, false, false, false, false, V::SkipHost, "STARTTLS not offered"},
      {R::Verify, true, true, false, false, false, V::SkipHost, "handshake failed"},
      {R::Verify, true, true, true, false, false, V::SkipHost, "not verified"},
      {R::Verify, true, true, true, true, false, V::Proceed, ""},
  };
  for (const auto& c : cases) {
    TlsObservation seen;
    seen.starttls_offered = c.offered;
    seen.handshake_attempted = c.attempted;
    seen.handshake_ok = c.ok;
    seen.verified = c.verified;
    seen.auth = c.verified ? TlsAuth::Pkix : TlsAuth::None;
    seen.plaintext_retry = c.retry;
    seen.handshake_error = "wrong version number";
    seen.verify_error = "self-signed certificate";
    auto d = decide_tls(c.req, Binding::None, seen);
    SCOPED_TRACE(std::string(to_string(c.req)) + " offered=" + std::to_string(c.offered) +
                 " ok=" + std::to_string(c.ok) + " verified=" + std::to_string(c.verified) +
                 " retry=" + std::to_string(c.retry));
    EXPECT_EQ(d.verdict, c.expect) << to_string(d.verdict);
    EXPECT_NE(d.reason.find(c.reason_part), std::string::npos) << d.reason;
  }
}

// A handshake that ended because the connection was lost (reset, close after the
// ClientHello) says nothing about the host's TLS: BES still retries in plaintext, SOS counts
// the host as unreachable (a deferral) instead of as one without TLS (5.7.10 at once).
TEST(TlsDecision, HandshakeCutByTheConnectionIsUnreachableForSos) {
  TlsObservation seen;
  seen.starttls_offered = true;
  seen.handshake_attempted = true;
  seen.handshake_ok = false;
  seen.handshake_cut = true;
  seen.handshake_error = "lost connection in the TLS handshake: connection reset by peer";
  EXPECT_EQ(decide_tls(R::None, Binding::None, seen).verdict, V::RetryPlaintext);
  for (R req : {R::Encrypt, R::Verify}) {
    auto d = decide_tls(req, Binding::None, seen);
    EXPECT_EQ(d.verdict, V::Unreachable) << to_string(req);
    EXPECT_EQ(d.reason, seen.handshake_error);
  }
  // The same failure refused by the peer (an alert, garbage) is a host without TLS.
  seen.handshake_cut = false;
  EXPECT_EQ(decide_tls(R::Encrypt, Binding::None, seen).verdict, V::SkipHost);
  // Nothing of the cut flag can make an SOS host usable, nor one that never offered TLS
  // merely unreachable.
  seen.handshake_cut = true;
  seen.starttls_offered = false;
  EXPECT_EQ(decide_tls(R::Encrypt, Binding::None, seen).verdict, V::SkipHost);
  seen.starttls_offered = true;
  seen.plaintext_retry = true;
  EXPECT_EQ(decide_tls(R::None, Binding::None, seen).verdict, V::Proceed);
  EXPECT_NE(decide_tls(R::Verify, Binding::None, seen).verdict, V::Proceed);
}

TEST(TlsDecision, OnlyBesPlaintextRetrySkipsStarttls) {
  EXPECT_TRUE(want_starttls(R::None, Binding::None, false));
  EXPECT_FALSE(want_starttls(R::None, Binding::None, true));
  EXPECT_TRUE(want_starttls(R::Encrypt, Binding::None, true));
  EXPECT_TRUE(want_starttls(R::Verify, Binding::None, true));
  // A receiver's binding asks for TLS on every connection, a BES retry included.
  for (Binding b : {Binding::Encrypt, Binding::Dane, Binding::MtaSts}) {
    EXPECT_TRUE(want_starttls(R::None, b, true)) << to_string(b);
  }
}

// A receiver's binding, for every sender level: TLS always, authenticated as the binding
// says; a failure against it is AuthFailed (never a plaintext retry, never a mere SkipHost).
TEST(TlsDecision, BindingsHoldForEveryLevel) {
  using A = TlsAuth;
  struct Case {
    Binding binding;
    bool offered, ok;
    A auth;
    V expect;  // for R::None and R::Encrypt; R::Verify differs only where noted
    const char* reason_part;
  };
  const Case cases[] = {
      {Binding::Dane, false, false, A::None, V::AuthFailed, "STARTTLS not offered (required by DANE)"},
      {Binding::Dane, true, false, A::None, V::AuthFailed, "handshake failed"},
      {Binding::Dane, true, true, A::None, V::AuthFailed, "matches no TLSA record"},
      {Binding::Dane, true, true, A::Pkix, V::AuthFailed, "matches no TLSA record"},
      {Binding::Dane, true, true, A::MtaSts, V::AuthFailed, "matches no TLSA record"},
      {Binding::Dane, true, true, A::Dane, V::Proceed, ""},
      {Binding::MtaSts, false, false, A::None, V::AuthFailed, "(required by MTA-STS)"},
      {Binding::MtaSts, true, false, A::None, V::AuthFailed, "handshake failed"},
      {Binding::MtaSts, true, true, A::None, V::AuthFailed, "not valid for the MX host name"},
      {Binding::MtaSts, true, true, A::Dane, V::AuthFailed, "not valid for the MX host name"},
      {Binding::MtaSts, true, true, A::MtaSts, V::Proceed, ""},
      {Binding::MtaSts, true, true, A::Pkix, V::Proceed, ""},
      {Binding::Encrypt, false, false, A::None, V::AuthFailed, "(required by DANE)"},
      {Binding::Encrypt, true, false, A::None, V::AuthFailed, "handshake failed"},
      {Binding::Encrypt, true, true, A::None, V::Proceed, ""},
  };
  for (const auto& c : cases) {
    for (R req : {R::None, R::Encrypt, R::Verify}) {
      for (bool retry : {false, true}) {
        TlsObservation seen;
        seen.starttls_offered = c.offered;
        seen.handshake_attempted = c.offered;
        seen.handshake_ok = c.ok;
        seen.auth = c.auth;
        seen.verified = c.auth != A::None;
        seen.plaintext_retry = retry;
        seen.handshake_error = "wrong version number";
        seen.verify_error = "self-signed certificate";
        SCOPED_TRACE(std::string(to_string(c.binding)) + " " + to_string(req) + " offered=" +
                     std::to_string(c.offered) + " ok=" + std::to_string(c.ok) + " auth=" +
                     to_string(c.auth) + " retry=" + std::to_string(retry));
        auto d = decide_tls(req, c.binding, seen);
        V expect = c.expect;
        // The sender's "verify" is not met by an unauthenticated session the binding allows.
        if (req == R::Verify && expect == V::Proceed && c.auth == A::None) expect = V::SkipHost;
        EXPECT_EQ(d.verdict, expect) << to_string(d.verdict) << ": " << d.reason;
        if (expect == c.expect) {
          EXPECT_NE(d.reason.find(c.reason_part), std::string::npos) << d.reason;
        }
      }
    }
  }
  // A handshake cut by the connection is the path failing: unreachable, for a binding too.
  TlsObservation cut;
  cut.starttls_offered = cut.handshake_attempted = cut.handshake_cut = true;
  EXPECT_EQ(decide_tls(R::None, Binding::Dane, cut).verdict, V::Unreachable);
}

TEST(TlsDecision, OnlyAuthCountsForVerify) {
  // `verified` without an `auth` is not trusted: the level is checked on what vouched.
  TlsObservation seen;
  seen.starttls_offered = seen.handshake_attempted = seen.handshake_ok = seen.verified = true;
  EXPECT_EQ(decide_tls(R::Verify, Binding::None, seen).verdict, V::SkipHost);
  for (TlsAuth a : {TlsAuth::Pkix, TlsAuth::Dane, TlsAuth::MtaSts}) {
    seen.auth = a;
    EXPECT_EQ(decide_tls(R::Verify, Binding::None, seen).verdict, V::Proceed) << to_string(a);
  }
}

TEST(Outcome, ClassifyReply) {
  auto ok = classify_reply(250, "2.0.0", "Ok: queued as X", "mx[127.0.0.5]");
  EXPECT_EQ(ok.verdict, RcptVerdict::Delivered);
  EXPECT_EQ(ok.status, "2.0.0");
  auto perm = classify_reply(550, "5.1.1", "user unknown", "mx");
  EXPECT_EQ(perm.verdict, RcptVerdict::Failed);
  EXPECT_EQ(perm.status, "5.1.1");
  EXPECT_EQ(perm.diagnostic, "smtp; 550 5.1.1 user unknown");
  auto temp = classify_reply(451, "", "try later", "mx");
  EXPECT_EQ(temp.verdict, RcptVerdict::Deferred);
  EXPECT_EQ(temp.status, "4.0.0");
  // An enhanced code of the wrong class is not trusted.
  auto odd = classify_reply(550, "2.0.0", "weird", "mx");
  EXPECT_EQ(odd.status, "5.0.0");
  auto garbage = classify_reply(354, "", "", "mx");
  EXPECT_EQ(garbage.verdict, RcptVerdict::Deferred);
}

HostRecord host(HostRecord::Kind k, const char* name, const char* detail) {
  return HostRecord{k, name, detail};
}

TEST(Outcome, SosEveryHostAnsweredWithoutTlsFailsNowWith5710) {
  std::vector<HostRecord> hosts = {
      host(HostRecord::Kind::NoTls, "mx1.plain.test[127.0.0.11]:25", "STARTTLS not offered"),
      host(HostRecord::Kind::NoTls, "mx2.plain.test[127.0.0.12]:25", "TLS handshake failed: x")};
  auto o = exhausted(true, hosts, false, false, false);
  EXPECT_EQ(o.verdict, RcptVerdict::Failed);
  EXPECT_EQ(o.status, "5.7.10");
  EXPECT_NE(o.diagnostic.find("mx1.plain.test[127.0.0.11]:25: STARTTLS not offered"), std::string::npos);
  EXPECT_NE(o.diagnostic.find("mx2.plain.test"), std::string::npos);
}

TEST(Outcome, SosWithAnUnreachableHostDefersUntilTheSosLifetime) {
  std::vector<HostRecord> hosts = {
      host(HostRecord::Kind::NoTls, "mx1[127.0.0.11]:25", "STARTTLS not offered"),
      host(HostRecord::Kind::Unreachable, "mx2[127.0.0.12]:25", "connection refused")};
  auto o = exhausted(true, hosts, false, false, false);
  EXPECT_EQ(o.verdict, RcptVerdict::Deferred);
  EXPECT_EQ(o.status, "4.7.10");
  auto expired = exhausted(true, hosts, false, true, false);
  EXPECT_EQ(expired.verdict, RcptVerdict::Failed);
  EXPECT_EQ(expired.status, "5.7.10");
  EXPECT_NE(expired.diagnostic.find("SOS lifetime"), std::string::npos);
}

TEST(Outcome, SosWithIncompleteSecmxLookupsDefers) {
  std::vector<HostRecord> hosts = {host(HostRecord::Kind::NoTls, "mx1", "STARTTLS not offered")};
  EXPECT_EQ(exhausted(true, hosts, true, false, false).verdict, RcptVerdict::Deferred);
  EXPECT_EQ(exhausted(true, {}, false, false, false).verdict, RcptVerdict::Deferred);
}

TEST(Outcome, BesDefersUnlessEveryHostRefusedPermanently) {
  std::vector<HostRecord> unreachable = {host(HostRecord::Kind::Unreachable, "mx1", "refused")};
  auto o = exhausted(false, unreachable, false, false, false);
  EXPECT_EQ(o.verdict, RcptVerdict::Deferred);
  EXPECT_EQ(o.status, "4.4.1");
  std::vector<HostRecord> perm = {host(HostRecord::Kind::PermRefused, "mx1", "554 go away")};
  EXPECT_EQ(exhausted(false, perm, false, false, false).verdict, RcptVerdict::Failed);
}

TEST(Outcome, AHostThatFailedItsBindingDefers475AndFails575AtTheEnd) {
  std::vector<HostRecord> hosts = {
      host(HostRecord::Kind::NoTls, "mx1[127.0.0.11]:25", "STARTTLS not offered"),
      host(HostRecord::Kind::AuthFailed, "mx2[127.0.0.12]:25", "certificate matches no TLSA record")};
  for (bool sos : {false, true}) {
    auto o = exhausted(sos, hosts, false, false, false);
    EXPECT_EQ(o.verdict, RcptVerdict::Deferred);
    EXPECT_EQ(o.status, "4.7.5") << "never 5.7.10 when a host failed its binding";
    EXPECT_NE(o.diagnostic.find("may be an attack"), std::string::npos) << o.diagnostic;
    EXPECT_NE(o.diagnostic.find("mx2[127.0.0.12]:25: certificate matches no TLSA record"),
              std::string::npos);
    auto old = exhausted(sos, hosts, false, false, true);
    EXPECT_EQ(old.verdict, RcptVerdict::Failed);
    EXPECT_EQ(old.status, "5.7.5");
  }
  // The SOS lifetime ends an SOS message's wait; a BES message waits for its own lifetime.
  EXPECT_EQ(exhausted(true, hosts, false, true, false).status, "5.7.5");
  EXPECT_EQ(exhausted(false, hosts, false, true, false).status, "4.7.5");
}

TEST(Outcome, LifetimeTurnsADeferralFinal) {
  RcptOutcome d{RcptVerdict::Deferred, "4.4.1", "connection refused", ""};
  const std::int64_t day = 86'400'000'000;
  auto young = apply_lifetime(d, 0, day, std::chrono::hours(24 * 5));
  EXPECT_EQ(young.verdict, RcptVerdict::Deferred);
  auto old = apply_lifetime(d, 0, 6 * day, std::chrono::hours(24 * 5));
  EXPECT_EQ(old.verdict, RcptVerdict::Failed);
  EXPECT_EQ(old.status, "5.4.7");
  EXPECT_NE(old.diagnostic.find("connection refused"), std::string::npos);
  RcptOutcome delivered{RcptVerdict::Delivered, "2.0.0", "", ""};
  EXPECT_EQ(apply_lifetime(delivered, 0, 6 * day, std::chrono::hours(1)).verdict,
            RcptVerdict::Delivered);
}

TEST(Outcome, RetryScheduleStepsThenStaysAtTheLast) {
  std::vector<std::chrono::milliseconds> retry = {std::chrono::minutes(1), std::chrono::minutes(5),
                                                  std::chrono::hours(1)};
  const std::int64_t now = 1'000'000'000;
  EXPECT_EQ(next_attempt_us(1, now, retry), now + 60'000'000);
  EXPECT_EQ(next_attempt_us(2, now, retry), now + 300'000'000);
  EXPECT_EQ(next_attempt_us(3, now, retry), now + 3'600'000'000);
  EXPECT_EQ(next_attempt_us(9, now, retry), now + 3'600'000'000);
}

}  // namespace
}  // namespace secmx::delivery
