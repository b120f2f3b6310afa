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
    seen.plaintext_retry = c.retry;
    seen.handshake_error = "wrong version number";
    seen.verify_error = "self-signed certificate";
    auto d = decide_tls(c.req, seen);
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
  EXPECT_EQ(decide_tls(R::None, seen).verdict, V::RetryPlaintext);
  for (R req : {R::Encrypt, R::Verify}) {
    auto d = decide_tls(req, seen);
    EXPECT_EQ(d.verdict, V::Unreachable) << to_string(req);
    EXPECT_EQ(d.reason, seen.handshake_error);
  }
  // The same failure refused by the peer (an alert, garbage) is a host without TLS.
  seen.handshake_cut = false;
  EXPECT_EQ(decide_tls(R::Encrypt, seen).verdict, V::SkipHost);
  // Nothing of the cut flag can make an SOS host usable, nor one that never offered TLS
  // merely unreachable.
  seen.handshake_cut = true;
  seen.starttls_offered = false;
  EXPECT_EQ(decide_tls(R::Encrypt, seen).verdict, V::SkipHost);
  seen.starttls_offered = true;
  seen.plaintext_retry = true;
  EXPECT_EQ(decide_tls(R::None, seen).verdict, V::Proceed);
  EXPECT_NE(decide_tls(R::Verify, seen).verdict, V::Proceed);
}

TEST(TlsDecision, OnlyBesPlaintextRetrySkipsStarttls) {
  EXPECT_TRUE(want_starttls(R::None, false));
  EXPECT_FALSE(want_starttls(R::None, true));
  EXPECT_TRUE(want_starttls(R::Encrypt, true));
  EXPECT_TRUE(want_starttls(R::Verify, true));
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
  auto o = exhausted(true, hosts, false, false);
  EXPECT_EQ(o.verdict, RcptVerdict::Failed);
  EXPECT_EQ(o.status, "5.7.10");
  EXPECT_NE(o.diagnostic.find("mx1.plain.test[127.0.0.11]:25: STARTTLS not offered"), std::string::npos);
  EXPECT_NE(o.diagnostic.find("mx2.plain.test"), std::string::npos);
}

TEST(Outcome, SosWithAnUnreachableHostDefersUntilTheSosLifetime) {
  std::vector<HostRecord> hosts = {
      host(HostRecord::Kind::NoTls, "mx1[127.0.0.11]:25", "STARTTLS not offered"),
      host(HostRecord::Kind::Unreachable, "mx2[127.0.0.12]:25", "connection refused")};
  auto o = exhausted(true, hosts, false, false);
  EXPECT_EQ(o.verdict, RcptVerdict::Deferred);
  EXPECT_EQ(o.status, "4.7.10");
  auto expired = exhausted(true, hosts, false, true);
  EXPECT_EQ(expired.verdict, RcptVerdict::Failed);
  EXPECT_EQ(expired.status, "5.7.10");
  EXPECT_NE(expired.diagnostic.find("SOS lifetime"), std::string::npos);
}

TEST(Outcome, SosWithIncompleteSecmxLookupsDefers) {
  std::vector<HostRecord> hosts = {host(HostRecord::Kind::NoTls, "mx1", "STARTTLS not offered")};
  EXPECT_EQ(exhausted(true, hosts, true, false).verdict, RcptVerdict::Deferred);
  EXPECT_EQ(exhausted(true, {}, false, false).verdict, RcptVerdict::Deferred);
}

TEST(Outcome, BesDefersUnlessEveryHostRefusedPermanently) {
  std::vector<HostRecord> unreachable = {host(HostRecord::Kind::Unreachable, "mx1", "refused")};
  auto o = exhausted(false, unreachable, false, false);
  EXPECT_EQ(o.verdict, RcptVerdict::Deferred);
  EXPECT_EQ(o.status, "4.4.1");
  std::vector<HostRecord> perm = {host(HostRecord::Kind::PermRefused, "mx1", "554 go away")};
  EXPECT_EQ(exhausted(false, perm, false, false).verdict, RcptVerdict::Failed);
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
