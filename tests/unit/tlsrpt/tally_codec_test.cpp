// TLS-RPT counts as counter entries: keys as tally_codec.hpp lays them out, equal sessions
// under equal keys, payloads that read back to the session, and a decoder that takes no
// row it cannot vouch for.
#include "relay/tlsrpt/tally_codec.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace secmx::tlsrpt {
namespace {

// 2026-12-03 12:00:00 UTC.
constexpr std::int64_t kNoonUs = 1'796'299'200'000'000;

SessionResult sts_success() {
  SessionResult s;
  s.time_us = kNoonUs;
  s.policy.type = PolicyType::Sts;
  s.policy.domain = "example.org";
  s.policy.strings = {"version: STSv1", "mode: enforce", "mx: *.example.org", "max_age: 86400"};
  s.policy.mx_host = {"*.example.org"};
  return s;
}

SessionResult tlsa_failure() {
  SessionResult s;
  s.time_us = kNoonUs;
  s.policy.type = PolicyType::Tlsa;
  s.policy.domain = "example.net";
  s.policy.strings = {"3 1 1 ABCD"};
  s.policy.mx_host = {"mx.example.net"};
  FailureDetail& f = s.failure.emplace();
  f.result = ResultType::TlsaInvalid;
  f.sending_mta_ip = "192.0.2.1";
  f.receiving_mx_hostname = "mx.example.net";
  f.receiving_mx_helo = "mx1";
  f.receiving_ip = "198.51.100.7";
  f.additional_information = "certificate matches no TLSA record";
  f.failure_reason_code = "X509_V_ERR_DANE_NO_MATCH";
  return s;
}

queue::CounterEntry entry_of(const queue::CounterAdd& add, std::uint64_t count = 1) {
  return queue::CounterEntry{add.key, count, add.payload};
}

TEST(TallyCodec, KeysAreLaidOutByDayDomainPolicyAndResult) {
  auto ok = tally_add(sts_success());
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->n, 1u);
  EXPECT_TRUE(std::regex_match(ok->key, std::regex("r2026-12-03/example\\.org/[0-9a-f]{16}/ok")))
      << ok->key;
  auto bad = tally_add(tlsa_failure());
  ASSERT_TRUE(bad);
  EXPECT_TRUE(
      std::regex_match(bad->key, std::regex("r2026-12-03/example\\.net/[0-9a-f]{16}/[0-9a-f]{16}")))
      << bad->key;
  EXPECT_EQ(day_prefix("2026-12-03"), "r2026-12-03/");
  EXPECT_EQ(domain_prefix("2026-12-03", "example.org"), "r2026-12-03/example.org/");
  EXPECT_EQ(ok->key.rfind(domain_prefix("2026-12-03", "example.org"), 0), 0u);
  EXPECT_EQ(sent_key("2026-12-03", "example.org"), "s2026-12-03/example.org");
  EXPECT_EQ(sent_prefix("2026-12-03"), "s2026-12-03/");
}

TEST(TallyCodec, TheDayIsTheUtcDayOfTheSession) {
  SessionResult s = sts_success();
  s.time_us = kNoonUs - 12LL * 3600 * 1'000'000;  // midnight: still the 3rd
  EXPECT_EQ(tally_add(s)->key.substr(0, 12), "r2026-12-03/");
  s.time_us -= 1;  // a microsecond before: the 2nd
  EXPECT_EQ(tally_add(s)->key.substr(0, 12), "r2026-12-02/");
}

TEST(TallyCodec, EqualSessionsShareAKeyAndEveryDifferenceSplitsIt) {
  SessionResult a = tlsa_failure();
  SessionResult later = a;
  later.time_us += 3600LL * 1'000'000;  // the same day
  EXPECT_EQ(tally_add(a)->key, tally_add(later)->key);

  std::set<std::string> seen{tally_add(a)->key};
  auto differs = [&](SessionResult s, const char* what) {
    auto add = tally_add(s);
    ASSERT_TRUE(add) << what;
    EXPECT_TRUE(seen.insert(add->key).second) << what << " did not change the key";
  };
  SessionResult s = a;
  s.failure->result = ResultType::CertificateExpired;
  differs(s, "result");
  s = a;
  s.failure->receiving_ip = "198.51.100.8";
  differs(s, "receiving-ip");
  s = a;
  s.failure->receiving_mx_helo = "";
  differs(s, "helo");
  s = a;
  s.failure->failure_reason_code = "";
  differs(s, "reason code");
  s = a;
  s.policy.strings = {"3 1 1 ABCE"};
  differs(s, "policy-string");
  s = a;
  s.policy.strings = {"3 1 1 AB", "CD"};
  differs(s, "policy-string split otherwise");
  s = a;
  s.policy.mx_host = {"mx2.example.net"};
  differs(s, "mx-host");
  s = a;
  s.policy.type = PolicyType::Sts;
  differs(s, "policy type");
  s = a;
  s.failure.reset();
  differs(s, "success");
}

TEST(TallyCodec, RowsDecodeToTheSessionTheirDayAndDomain) {
  for (const SessionResult& s : {sts_success(), tlsa_failure()}) {
    auto add = tally_add(s);
    ASSERT_TRUE(add);
    auto d = decode_tally(entry_of(*add, 42));
    ASSERT_TRUE(d.ok()) << d.error();
    EXPECT_EQ(d->day, "2026-12-03");
    EXPECT_EQ(d->domain, s.policy.domain);
    EXPECT_EQ(d->tally.count, 42u);
    EXPECT_EQ(d->tally.session.policy, s.policy);
    EXPECT_EQ(d->tally.session.failure, s.failure);
    EXPECT_EQ(d->tally.session.time_us, *day_start_us("2026-12-03"));
  }
}

TEST(TallyCodec, NoPolicyAndEmptyFieldsRoundTrip) {
  SessionResult s;
  s.time_us = kNoonUs;
  s.policy.domain = "plain.example";
  s.failure.emplace().result = ResultType::StarttlsNotSupported;
  auto add = tally_add(s);
  ASSERT_TRUE(add);
  auto d = decode_tally(entry_of(*add));
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d->tally.session.policy.type, PolicyType::NoPolicyFound);
  EXPECT_EQ(d->tally.session.failure, s.failure);
}

TEST(TallyCodec, ASessionWithoutACountableDomainIsNotCounted) {
  for (std::string domain : {std::string(), std::string("a/b.example"), std::string("a b.example"),
                             std::string("tab\t.example"), std::string(254, 'a')}) {
    SessionResult s = sts_success();
    s.policy.domain = domain;
    EXPECT_FALSE(tally_add(s)) << domain;
  }
  SessionResult s = sts_success();
  s.policy.domain = std::string(253, 'a');
  auto longest = tally_add(s);
  ASSERT_TRUE(longest);
  EXPECT_LE(longest->key.size(), 511u) << "within LMDB's key limit";
}

TEST(TallyCodec, AnOversizedPolicyStillCountsWithoutItsText) {
  SessionResult s = sts_success();
  s.policy.strings.assign(70, std::string(1000, 'x'));  // 70 KB of policy text
  auto add = tally_add(s);
  ASSERT_TRUE(add);
  EXPECT_LE(add->payload.size(), 64u * 1024);
  auto d = decode_tally(entry_of(*add));
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_TRUE(d->tally.session.policy.strings.empty());
  EXPECT_EQ(d->tally.session.policy.mx_host, s.policy.mx_host);
}

// ---- decoding trusts nothing

class TallyDecode : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = tally_add(tlsa_failure());
    ASSERT_TRUE(a);
    good_ = entry_of(*a);
    ASSERT_TRUE(decode_tally(good_).ok());
  }
  void expect_refused(queue::CounterEntry e, const char* what) {
    auto d = decode_tally(e);
    EXPECT_FALSE(d.ok()) << what;
  }
  queue::CounterEntry good_;
};

TEST_F(TallyDecode, MalformedKeysAreRefused) {
  auto with_key = [&](std::string key) {
    auto e = good_;
    e.key = std::move(key);
    return e;
  };
  std::string tail = good_.key.substr(std::string("r2026-12-03/example.net").size());
  expect_refused(with_key(""), "empty");
  expect_refused(with_key("r2026-12-03/"), "day only");
  expect_refused(with_key("s2026-12-03/example.net"), "a sent mark");
  expect_refused(with_key("r2026-13-03/example.net" + tail), "no such month");
  expect_refused(with_key("r2026-12-03x example.net" + tail), "no separator after the day");
  expect_refused(with_key("r2026-12-03/example.com" + tail), "another domain than the payload's");
  expect_refused(with_key("r2026-12-03/" + tail), "no domain");
  expect_refused(with_key(good_.key.substr(0, good_.key.size() - 1)), "short result digest");
  expect_refused(with_key(good_.key.substr(0, good_.key.size() - 16) + "ok"), "ok for a failure");
  std::string upper = good_.key;
  upper.back() = 'A';
  expect_refused(with_key(upper), "upper-case hex");
  std::string other = good_.key;
  other.back() = other.back() == '0' ? '1' : '0';
  expect_refused(with_key(other), "a digest that is not the payload's");
}

TEST_F(TallyDecode, EveryTruncationAndAnyTrailingByteIsRefused) {
  for (std::size_t n = 0; n < good_.payload.size(); ++n) {
    auto e = good_;
    e.payload.resize(n);
    auto d = decode_tally(e);
    EXPECT_FALSE(d.ok()) << "truncated to " << n;
  }
  auto e = good_;
  e.payload += '\0';
  expect_refused(e, "trailing byte");
}

TEST_F(TallyDecode, CorruptBytesAreRefusedOrCaught) {
  // Flip each byte in turn: either the structure breaks or the digests no longer match;
  // never a crash, never a row that differs from what its key names.
  for (std::size_t i = 0; i < good_.payload.size(); ++i) {
    for (unsigned char x : {0x01, 0x80, 0xFF}) {
      auto e = good_;
      e.payload[i] = static_cast<char>(static_cast<unsigned char>(e.payload[i]) ^ x);
      auto d = decode_tally(e);
      EXPECT_FALSE(d.ok()) << "byte " << i << " ^ " << static_cast<int>(x);
    }
  }
}

TEST_F(TallyDecode, HugeLengthsAndCountsAreRefusedWithoutAllocating) {
  auto e = good_;
  // version, type, then a domain length of 2^63: past the end.
  e.payload = std::string("\x01\x01", 2) + std::string(9, '\xFF') + std::string(1, '\x7F');
  expect_refused(e, "huge domain length");
  e.payload = std::string("\x01\x01\x00", 3) + std::string(9, '\xFF') + std::string(1, '\x7F');
  expect_refused(e, "huge list count");
  e.payload = std::string("\x02", 1) + good_.payload.substr(1);
  expect_refused(e, "unknown version");
  e.payload = good_.payload;
  e.payload[1] = 3;
  expect_refused(e, "policy type out of range");
}

}  // namespace
}  // namespace secmx::tlsrpt
