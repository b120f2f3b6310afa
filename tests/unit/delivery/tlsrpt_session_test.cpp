// What an attempt saw, as TLS reporting counts it: the policy each session was held to
// (tlsa, sts, none) and every result type delivery produces, from the host's terms and
// how its session ended; MTA-STS lookup failures; what is not counted; and the counts a
// message's outcome carries.
#include "relay/delivery/tlsrpt_session.hpp"

#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>

#include <set>

#include "relay/tlsrpt/tally_codec.hpp"

namespace secmx::delivery {
namespace {

using tlsrpt::PolicyType;
using tlsrpt::ResultType;

constexpr std::int64_t kNow = 1'796'299'200'000'000;  // 2026-12-03 12:00 UTC
constexpr const char* kPolicyText =
    "version: STSv1\r\nmode: enforce\r\nmx: *.dest.test\r\nmax_age: 86400\r\n";

dns::Candidate host(const std::string& name, dns::HostTlsa tlsa = {},
                    dns::Method method = dns::Method::Mx) {
  dns::Candidate c;
  c.host = name;
  c.method = method;
  c.addresses.push_back(*dns::IpAddress::parse("192.0.2.1"));
  c.tlsa = std::move(tlsa);
  return c;
}

dns::HostTlsa tlsa(dns::TlsaStatus status, std::string detail = "") {
  dns::HostTlsa t;
  t.status = status;
  if (status == dns::TlsaStatus::Usable) {
    t.records.push_back(dns::TlsaRecord{3, 1, 1, {0xAB, 0xcd, 0x01}});
  }
  t.detail = std::move(detail);
  return t;
}

sts::StsState sts_of(sts::Mode mode) {
  sts::StsState s;
  s.policy = sts::StsPolicy{mode, std::chrono::seconds(86400), {"*.dest.test"}, kPolicyText};
  s.id = "20260101";
  return s;
}

// The session's end as the client reports the common cases.
SessionEnd tls_up(TlsAuth auth, long code = 0, const char* error = "") {
  SessionEnd e;
  e.starttls_offered = e.tls_attempted = e.tls_active = true;
  e.auth = auth;
  e.verify_code = code;
  e.error = error;
  e.local_ip = "203.0.113.5";
  e.peer_helo = "mx1.dest.test";
  return e;
}
SessionEnd no_starttls() {
  SessionEnd e;
  e.local_ip = "203.0.113.5";
  e.peer_helo = "mx1.dest.test";
  return e;
}

struct Seen {
  dns::Candidate candidate;
  sts::StsState sts;
  SessionEnd end;
};

std::optional<tlsrpt::SessionResult> result_of(const Seen& s) {
  HostTerms terms = host_terms(s.candidate, s.sts);
  SessionEnd end = s.end;
  if (end.admission == Admission::Open) end.admission = terms.admission;
  return session_result("dest.test", s.candidate, "192.0.2.1", terms, s.sts, end, kNow);
}

std::optional<ResultType> type_of(const Seen& s) {
  auto r = result_of(s);
  EXPECT_TRUE(r) << "expected a session";
  if (!r || !r->failure) return std::nullopt;
  return r->failure->result;
}

// ---- policies

TEST(TlsrptSession, NoPolicyIsNoPolicyFound) {
  auto r = result_of({host("mx1.dest.test"), {}, tls_up(TlsAuth::None)});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->time_us, kNow);
  EXPECT_EQ(r->policy.type, PolicyType::NoPolicyFound);
  EXPECT_EQ(r->policy.domain, "dest.test");
  EXPECT_TRUE(r->policy.strings.empty());
  EXPECT_TRUE(r->policy.mx_host.empty());
  EXPECT_FALSE(r->failure) << "any TLS is a success without a policy";
}

TEST(TlsrptSession, TlsaRecordsAndTheHostMakeTheTlsaPolicy) {
  auto r = result_of({host("mx1.dest.test", tlsa(dns::TlsaStatus::Usable)), {},
                      tls_up(TlsAuth::Dane)});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy.type, PolicyType::Tlsa);
  EXPECT_EQ(r->policy.strings, std::vector<std::string>{"3 1 1 ABCD01"});
  EXPECT_EQ(r->policy.mx_host, std::vector<std::string>{"mx1.dest.test"});
  EXPECT_FALSE(r->failure);
}

TEST(TlsrptSession, ThePolicyLinesAndMxPatternsMakeTheStsPolicy) {
  auto r = result_of({host("mx1.dest.test"), sts_of(sts::Mode::Enforce), tls_up(TlsAuth::MtaSts)});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy.type, PolicyType::Sts);
  EXPECT_EQ(r->policy.strings, (std::vector<std::string>{"version: STSv1", "mode: enforce",
                                                          "mx: *.dest.test", "max_age: 86400"}));
  EXPECT_EQ(r->policy.mx_host, std::vector<std::string>{"*.dest.test"});
  EXPECT_FALSE(r->failure);
  // A testing policy is reported on too; a policy of mode none is no policy.
  EXPECT_EQ(result_of({host("mx1.dest.test"), sts_of(sts::Mode::Testing), tls_up(TlsAuth::MtaSts)})
                ->policy.type,
            PolicyType::Sts);
  EXPECT_EQ(result_of({host("mx1.dest.test"), sts_of(sts::Mode::None), tls_up(TlsAuth::Pkix)})
                ->policy.type,
            PolicyType::NoPolicyFound);
}

TEST(TlsrptSession, DaneTakesPrecedenceOverMtaSts) {
  auto r = result_of({host("mx.elsewhere.test", tlsa(dns::TlsaStatus::Usable)),
                      sts_of(sts::Mode::Enforce), tls_up(TlsAuth::Dane)});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy.type, PolicyType::Tlsa);
  EXPECT_FALSE(r->failure) << "the DANE host is not held to the policy's mx list";
}

TEST(TlsrptSession, UnusableTlsaRecordsAreATlsaPolicyThatAnyTlsMeets) {
  auto r = result_of({host("mx1.dest.test", tlsa(dns::TlsaStatus::UnusableOnly)), {},
                      tls_up(TlsAuth::None)});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy.type, PolicyType::Tlsa);
  EXPECT_TRUE(r->policy.strings.empty());
  EXPECT_FALSE(r->failure);
}

// ---- result types

TEST(TlsrptSession, NoStarttlsOfferedOrStarttlsRefused) {
  auto r = result_of({host("mx1.dest.test"), {}, no_starttls()});
  ASSERT_TRUE(r && r->failure);
  const auto& f = *r->failure;
  EXPECT_EQ(f.result, ResultType::StarttlsNotSupported);
  EXPECT_EQ(f.sending_mta_ip, "203.0.113.5");
  EXPECT_EQ(f.receiving_mx_hostname, "mx1.dest.test");
  EXPECT_EQ(f.receiving_mx_helo, "mx1.dest.test");
  EXPECT_EQ(f.receiving_ip, "192.0.2.1");
  EXPECT_EQ(f.additional_information, "");

  SessionEnd refused = no_starttls();
  refused.starttls_offered = refused.tls_attempted = true;
  r = result_of({host("mx1.dest.test"), sts_of(sts::Mode::Enforce), refused});
  ASSERT_TRUE(r && r->failure);
  EXPECT_EQ(r->failure->result, ResultType::StarttlsNotSupported);
  EXPECT_EQ(r->failure->additional_information, "STARTTLS refused");
  EXPECT_EQ(r->policy.type, PolicyType::Sts);
}

TEST(TlsrptSession, AFailedHandshakeIsAValidationFailure) {
  SessionEnd e = no_starttls();
  e.starttls_offered = e.tls_attempted = e.handshake_failed = true;
  e.error = "TLS handshake failed: wrong version number";
  auto r = result_of({host("mx1.dest.test"), {}, e});
  ASSERT_TRUE(r && r->failure);
  EXPECT_EQ(r->failure->result, ResultType::ValidationFailure);
  EXPECT_EQ(r->failure->additional_information, "TLS handshake failed");
  EXPECT_EQ(r->failure->failure_reason_code, "TLS handshake failed: wrong version number");
}

TEST(TlsrptSession, NoMatchingTlsaRecordIsTlsaInvalid) {
  auto r = result_of({host("mx1.dest.test", tlsa(dns::TlsaStatus::Usable)), {},
                      tls_up(TlsAuth::None, X509_V_ERR_DANE_NO_MATCH,
                             "certificate matches no TLSA record")});
  ASSERT_TRUE(r && r->failure);
  EXPECT_EQ(r->failure->result, ResultType::TlsaInvalid);
  EXPECT_EQ(r->failure->failure_reason_code, "X509_V_ERR_DANE_NO_MATCH");
  EXPECT_EQ(r->failure->additional_information, "certificate matches no TLSA record");
}

TEST(TlsrptSession, AFailedTlsaLookupIsDnssecInvalid) {
  SessionEnd ruled_out;
  ruled_out.admission = Admission::TlsaFailed;
  auto r = result_of({host("mx1.dest.test", tlsa(dns::TlsaStatus::Failed, "SERVFAIL (bogus)")),
                      sts_of(sts::Mode::Enforce), ruled_out});
  ASSERT_TRUE(r && r->failure);
  EXPECT_EQ(r->policy.type, PolicyType::Tlsa);
  EXPECT_EQ(r->policy.mx_host, std::vector<std::string>{"mx1.dest.test"});
  EXPECT_EQ(r->failure->result, ResultType::DnssecInvalid);
  EXPECT_EQ(r->failure->additional_information, "TLSA lookup failed: SERVFAIL (bogus)");
  EXPECT_EQ(r->failure->sending_mta_ip, "") << "never connected";
}

TEST(TlsrptSession, PkixFailuresUnderMtaStsByTheirVerifyCode) {
  struct Case {
    long code;
    ResultType result;
    const char* reason;
  };
  for (const Case& c : {Case{X509_V_ERR_CERT_HAS_EXPIRED, ResultType::CertificateExpired,
                             "X509_V_ERR_CERT_HAS_EXPIRED"},
                        Case{X509_V_ERR_HOSTNAME_MISMATCH, ResultType::CertificateHostMismatch,
                             "X509_V_ERR_HOSTNAME_MISMATCH"},
                        Case{X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
                             ResultType::CertificateNotTrusted,
                             "X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT"},
                        Case{X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                             ResultType::CertificateNotTrusted,
                             "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY"},
                        Case{9999, ResultType::CertificateNotTrusted, "X509 verify error 9999"},
                        Case{0, ResultType::ValidationFailure, ""}}) {
    for (auto mode : {sts::Mode::Enforce, sts::Mode::Testing}) {
      auto r = result_of({host("mx1.dest.test"), sts_of(mode),
                          tls_up(TlsAuth::None, c.code, "some words")});
      ASSERT_TRUE(r && r->failure) << c.code;
      EXPECT_EQ(r->failure->result, c.result) << c.code;
      EXPECT_EQ(r->failure->failure_reason_code, c.reason);
      EXPECT_EQ(r->failure->additional_information, "some words");
    }
  }
  // Without a policy the same certificate is no failure: nothing asked for PKIX.
  auto r = result_of({host("mx1.dest.test"), {},
                      tls_up(TlsAuth::None, X509_V_ERR_CERT_HAS_EXPIRED, "expired")});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->failure);
}

TEST(TlsrptSession, AnMxHostOutsideThePolicyIsAValidationFailure) {
  SessionEnd ruled_out;  // enforce: never connected
  auto r = result_of({host("mx.evil.test"), sts_of(sts::Mode::Enforce), ruled_out});
  ASSERT_TRUE(r && r->failure);
  EXPECT_EQ(r->policy.type, PolicyType::Sts);
  EXPECT_EQ(r->failure->result, ResultType::ValidationFailure);
  EXPECT_EQ(r->failure->additional_information, "MX host not in the MTA-STS policy");
  EXPECT_EQ(r->failure->receiving_mx_hostname, "mx.evil.test");
  // Testing: tried and delivered all the same, but reported.
  r = result_of({host("mx.evil.test"), sts_of(sts::Mode::Testing), tls_up(TlsAuth::Pkix)});
  ASSERT_TRUE(r && r->failure);
  EXPECT_EQ(r->failure->result, ResultType::ValidationFailure);
  EXPECT_EQ(r->failure->additional_information, "MX host not in the MTA-STS policy");
}

TEST(TlsrptSession, EveryResultTypeDeliveryProducesIsReached) {
  SessionEnd refused = no_starttls();
  refused.starttls_offered = refused.tls_attempted = true;
  SessionEnd handshake = refused;
  handshake.handshake_failed = true;
  SessionEnd tlsa_failed;
  tlsa_failed.admission = Admission::TlsaFailed;
  std::vector<Seen> seen = {
      {host("mx1.dest.test"), {}, no_starttls()},
      {host("mx1.dest.test"), {}, handshake},
      {host("mx1.dest.test", tlsa(dns::TlsaStatus::Usable)), {}, tls_up(TlsAuth::None, 65)},
      {host("mx1.dest.test", tlsa(dns::TlsaStatus::Failed)), {}, tlsa_failed},
      {host("mx1.dest.test"), sts_of(sts::Mode::Enforce),
       tls_up(TlsAuth::None, X509_V_ERR_CERT_HAS_EXPIRED)},
      {host("mx1.dest.test"), sts_of(sts::Mode::Enforce),
       tls_up(TlsAuth::None, X509_V_ERR_HOSTNAME_MISMATCH)},
      {host("mx1.dest.test"), sts_of(sts::Mode::Enforce),
       tls_up(TlsAuth::None, X509_V_ERR_CERT_UNTRUSTED)},
  };
  std::set<ResultType> reached;
  for (const auto& s : seen) {
    if (auto t = type_of(s)) reached.insert(*t);
  }
  for (auto failure :
       {sts::StsFailure::FetchError, sts::StsFailure::Invalid, sts::StsFailure::WebPki}) {
    sts::StsState st;
    st.failure = failure;
    reached.insert(sts_failure_result("dest.test", st, kNow)->failure->result);
  }
  // dane-required is the receiver's (RFC 8460 §4.3): a sender that does DANE never sends it.
  for (std::size_t i = 0; i < tlsrpt::kResultTypes; ++i) {
    auto t = static_cast<ResultType>(i);
    if (t == ResultType::DaneRequired) continue;
    EXPECT_TRUE(reached.count(t)) << tlsrpt::to_string(t) << " is never produced";
  }
}

// ---- not counted

TEST(TlsrptSession, RoutesAndUntriedStarttlsAreNotCounted) {
  EXPECT_FALSE(result_of({host("relay.internal", {}, dns::Method::Route), {}, no_starttls()}));
  EXPECT_FALSE(result_of({host("relay.internal", tlsa(dns::TlsaStatus::Usable), dns::Method::Route),
                          {}, tls_up(TlsAuth::None, 65)}));
  SessionEnd not_tried = no_starttls();
  not_tried.starttls_offered = true;  // offered, but we did not ask (a plaintext retry)
  EXPECT_FALSE(result_of({host("mx1.dest.test"), {}, not_tried}));
}

// ---- MTA-STS policy lookups

TEST(TlsrptSession, AFailedPolicyLookupIsOneSessionWithoutAHost) {
  struct Case {
    sts::StsFailure failure;
    ResultType result;
  };
  for (const Case& c : {Case{sts::StsFailure::FetchError, ResultType::StsPolicyFetchError},
                        Case{sts::StsFailure::Invalid, ResultType::StsPolicyInvalid},
                        Case{sts::StsFailure::WebPki, ResultType::StsWebpkiInvalid}}) {
    sts::StsState none;  // no policy in force
    none.failure = c.failure;
    none.detail = "HTTP 404";
    auto r = sts_failure_result("dest.test", none, kNow);
    ASSERT_TRUE(r && r->failure);
    EXPECT_EQ(r->policy.type, PolicyType::NoPolicyFound);
    EXPECT_EQ(r->policy.domain, "dest.test");
    EXPECT_EQ(r->failure->result, c.result);
    EXPECT_EQ(r->failure->additional_information, "HTTP 404");
    EXPECT_EQ(r->failure->receiving_mx_hostname, "");
    EXPECT_EQ(r->failure->receiving_ip, "");

    sts::StsState cached = sts_of(sts::Mode::Enforce);  // the old policy still in force
    cached.failure = c.failure;
    r = sts_failure_result("dest.test", cached, kNow);
    ASSERT_TRUE(r && r->failure);
    EXPECT_EQ(r->policy.type, PolicyType::Sts);
    EXPECT_EQ(r->policy.mx_host, std::vector<std::string>{"*.dest.test"});
    EXPECT_EQ(r->policy.strings.size(), 4u);
  }
  sts::StsState fine = sts_of(sts::Mode::Enforce);
  EXPECT_FALSE(sts_failure_result("dest.test", fine, kNow));
  sts::StsState remembered = sts_of(sts::Mode::Enforce);
  remembered.failure = sts::StsFailure::FetchError;
  remembered.from_cache = true;  // the failure was met by an earlier lookup
  EXPECT_FALSE(sts_failure_result("dest.test", remembered, kNow));
}

TEST(TlsrptSession, PeerTextIsKeptShortAndPrintable) {
  SessionEnd e = no_starttls();
  std::string helo = "mx\x01\xC3\xA9" + std::string(300, 'h');
  e.peer_helo = helo;
  auto r = result_of({host("mx1.dest.test"), {}, e});
  ASSERT_TRUE(r && r->failure);
  const std::string& got = r->failure->receiving_mx_helo;
  EXPECT_EQ(got.size(), 200u);
  EXPECT_EQ(got.substr(0, 6), "mx???h");
}

// ---- counts

TEST(TlsrptSession, EqualSessionsAddUpInOneCount) {
  auto a = result_of({host("mx1.dest.test"), {}, no_starttls()});
  auto b = result_of({host("mx1.dest.test"), {}, tls_up(TlsAuth::None)});
  ASSERT_TRUE(a && b);
  std::vector<queue::CounterAdd> out;
  add_session_count(*a, out);
  add_session_count(*b, out);
  add_session_count(*a, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].key, tlsrpt::tally_add(*a)->key);
  EXPECT_EQ(out[0].n, 2u);
  EXPECT_EQ(out[1].n, 1u);
  tlsrpt::SessionResult nowhere = *a;
  nowhere.policy.domain.clear();
  add_session_count(nowhere, out);
  EXPECT_EQ(out.size(), 2u) << "no policy domain, nothing to count";
}

TEST(TlsrptSession, TheDefaultConfigurationCountsNothing) {
  config::Config config;
  auto a = result_of({host("mx1.dest.test"), {}, no_starttls()});
  ASSERT_TRUE(a);
  EXPECT_FALSE(tlsrpt_counting(config, "dest.test")) << "[tlsrpt] enabled = false by default";
  std::vector<queue::CounterAdd> out;
  add_session_counts(config, {*a, *a}, out);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace secmx::delivery
