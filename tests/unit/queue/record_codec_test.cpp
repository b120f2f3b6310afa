// Envelope records: lossless round trips, and clean rejection of anything that is not a
// record this code wrote (truncation, corruption, other versions, bad structure).
#include "queue/record_codec.hpp"

#include <gtest/gtest.h>

#include <random>

#include "tests/unit/queue/queue_test_util.hpp"

namespace secmx::queue {
namespace {

using test::expect_same;
using test::make_envelope;

std::string encode(const Envelope& e) {
  std::string out;
  auto s = encode_envelope(e, out);
  EXPECT_TRUE(s.ok());
  return out;
}

// Replaces the CRC trailer so that a deliberately malformed body reaches the parser.
std::string reseal(std::string body_without_crc) {
  std::uint32_t crc = record_checksum(body_without_crc);
  for (int i = 0; i < 4; ++i) body_without_crc.push_back(static_cast<char>(crc >> (8 * i)));
  return body_without_crc;
}

std::string unsealed(const std::string& record) { return record.substr(0, record.size() - 4); }

void expect_corrupt(const std::string& record, const std::string& why) {
  auto r = decode_envelope(record);
  ASSERT_FALSE(r.ok()) << why;
  EXPECT_EQ(r.error().kind, Error::Kind::Corrupt) << why;
  EXPECT_FALSE(r.error().message.empty());
}

void expect_corrupt_with(const std::string& record, const std::string& fragment) {
  auto r = decode_envelope(record);
  ASSERT_FALSE(r.ok()) << fragment;
  EXPECT_EQ(r.error().kind, Error::Kind::Corrupt);
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
}

TEST(RecordCodecTest, ChecksumIsCrc32c) {
  EXPECT_EQ(record_checksum("123456789"), 0xE3069283u);  // the standard check value
  EXPECT_EQ(record_checksum_portable("123456789"), 0xE3069283u);
  EXPECT_EQ(record_checksum(""), 0u);
  std::mt19937 rng(5);
  for (std::size_t len = 0; len < 200; ++len) {
    std::string s(len, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    ASSERT_EQ(record_checksum(s), record_checksum_portable(s)) << len;
  }
}

TEST(RecordCodecTest, FullyPopulatedEnvelopeRoundTrips) {
  Envelope e = make_envelope(QueueId{0x0191A2B3C4D00007ull}, 5);
  e.held = true;
  e.next_attempt_us = 1'700'000'123'456'789;
  auto decoded = decode_envelope(encode(e));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expect_same(*decoded, e);
}

TEST(RecordCodecTest, TlsReportFlagRoundTrips) {
  Envelope e = make_envelope(QueueId{9}, 1);
  e.tls_report = true;
  auto decoded = decode_envelope(encode(e));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_TRUE(decoded->tls_report);
  expect_same(*decoded, e);
  e.tls_report = false;
  decoded = decode_envelope(encode(e));
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(decoded->tls_report);
  // The flag is bit 16 of byte 1, beside the others, and nothing else changes.
  e.tls_report = true;
  std::string with_flag = encode(e);
  e.tls_report = false;
  std::string without = encode(e);
  ASSERT_EQ(with_flag.size(), without.size());
  EXPECT_EQ(static_cast<unsigned char>(with_flag[1]) ^ static_cast<unsigned char>(without[1]),
            0x10);
}

TEST(RecordCodecTest, EmptyEnvelopeRoundTrips) {
  Envelope e;
  auto decoded = decode_envelope(encode(e));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expect_same(*decoded, e);
}

TEST(RecordCodecTest, ExtremeValuesRoundTrip) {
  Envelope e = make_envelope(QueueId{UINT64_MAX}, 2);
  e.arrival_us = INT64_MIN;
  e.next_attempt_us = -1;
  e.attempts = UINT32_MAX;
  e.body_size = UINT64_MAX;
  e.sender = std::string(70000, 'x');  // three-byte length varint
  e.client_helo = std::string("\0\xff\x80 binary", 10);
  e.recipients[0].attempts = UINT32_MAX;
  e.recipients[0].notify = kNotifyNever;
  e.recipients[1].last_reply = std::string(128, 'y');  // two-byte length varint
  e.body_type = BodyType::BinaryMime;
  e.ret = Ret::Full;
  auto decoded = decode_envelope(encode(e));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expect_same(*decoded, e);
}

TEST(RecordCodecTest, VersionByteComesFirstAndBufferIsReused) {
  Envelope big = make_envelope(QueueId{1}, 10);
  Envelope small = make_envelope(QueueId{2}, 1);
  std::string buf;
  ASSERT_TRUE(encode_envelope(big, buf).ok());
  ASSERT_TRUE(encode_envelope(small, buf).ok());
  EXPECT_EQ(static_cast<std::uint8_t>(buf[0]), kRecordVersion);
  EXPECT_EQ(buf, encode(small)) << "a reused buffer must not keep bytes of the previous record";
  auto decoded = decode_envelope(buf);
  ASSERT_TRUE(decoded.ok());
  expect_same(*decoded, small);
}

TEST(RecordCodecTest, EveryTruncationIsRejected) {
  std::string record = encode(make_envelope(QueueId{0xABCDEF}, 3));
  for (std::size_t len = 0; len < record.size(); ++len) {
    expect_corrupt(record.substr(0, len), "truncated to " + std::to_string(len));
  }
}

TEST(RecordCodecTest, EverySingleByteCorruptionIsRejected) {
  std::string record = encode(make_envelope(QueueId{0xABCDEF}, 3));
  for (std::size_t i = 0; i < record.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80, 0xFF}) {
      std::string bad = record;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      expect_corrupt(bad, "byte " + std::to_string(i) + " ^ " + std::to_string(flip));
    }
  }
}

TEST(RecordCodecTest, WrongVersionIsRejected) {
  std::string record = encode(make_envelope(QueueId{1}, 1));
  for (int v : {0, 4, 255}) {
    std::string bad = record;
    bad[0] = static_cast<char>(v);
    expect_corrupt_with(bad, "version");
    expect_corrupt_with(reseal(unsealed(bad)), "version");  // even with a valid checksum
  }
}

// Queues written before per-recipient TLS details (version 1) are still read: the same
// record without the four trailing fields of each recipient.
TEST(RecordCodecTest, Version1RecordsAreStillRead) {
  Envelope e = make_envelope(QueueId{7}, 1);
  e.recipients[0].last_tls.clear();
  e.recipients[0].last_attempt_us = 0;
  e.recipients[0].last_cert_sha256.clear();
  e.recipients[0].last_dnssec.clear();
  std::string body = unsealed(encode(e));
  ASSERT_EQ(body.substr(body.size() - 4), std::string(4, '\0'));  // "", varint 0, "", ""
  body.resize(body.size() - 4);
  body[0] = 1;
  auto d = decode_envelope(reseal(body));
  ASSERT_TRUE(d.ok()) << d.error().message;
  expect_same(*d, e);
}

// Queues written before the attempt's evidence (version 2) are still read: a recipient's
// TLS and last attempt time come through, its certificate and DNSSEC status read as empty.
TEST(RecordCodecTest, Version2RecordsReadWithoutEvidence) {
  Envelope e = make_envelope(QueueId{8}, 2);
  for (auto& r : e.recipients) {
    r.last_cert_sha256.clear();
    r.last_dnssec.clear();
  }
  // Built by hand as version 2 wrote it: each recipient ends after last_attempt_us.
  std::string v3 = unsealed(encode(e));
  std::string v2;
  std::size_t from = 0;
  for (const auto& r : e.recipients) {
    // The recipient's two empty evidence strings follow its last_attempt_us varint.
    std::string tail = r.last_tls;
    std::size_t at = v3.find(tail, from);
    ASSERT_NE(at, std::string::npos);
    std::size_t end = at + tail.size();
    while (static_cast<unsigned char>(v3[end]) & 0x80) ++end;  // the varint's bytes
    ++end;
    ASSERT_EQ(v3.substr(end, 2), std::string(2, '\0'));
    v2 += v3.substr(from, end - from);
    from = end + 2;
  }
  v2 += v3.substr(from);
  v2[0] = 2;
  auto d = decode_envelope(reseal(v2));
  ASSERT_TRUE(d.ok()) << d.error().message;
  expect_same(*d, e);
  EXPECT_EQ(d->recipients[1].last_tls, "TLSv1.3/TLS_AES_256_GCM_SHA384/dane");
  EXPECT_EQ(d->recipients[1].last_attempt_us, e.recipients[1].last_attempt_us);
  EXPECT_TRUE(d->recipients[1].last_cert_sha256.empty());
  EXPECT_TRUE(d->recipients[1].last_dnssec.empty());
}

// The evidence survives the round trip exactly, and a record of this version keeps it.
TEST(RecordCodecTest, EvidenceRoundTrips) {
  Envelope e = make_envelope(QueueId{9}, 2);
  e.recipients[0].last_tls = "TLSv1.2/ECDHE-RSA-AES256-GCM-SHA384/mta-sts";
  e.recipients[0].last_cert_sha256 =
      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  e.recipients[0].last_dnssec = "off";
  e.recipients[1].last_tls = "none";
  e.recipients[1].last_cert_sha256.clear();
  e.recipients[1].last_dnssec = "secure";
  std::string record = encode(e);
  EXPECT_EQ(static_cast<std::uint8_t>(record[0]), 3);
  auto d = decode_envelope(record);
  ASSERT_TRUE(d.ok()) << d.error().message;
  expect_same(*d, e);
  EXPECT_EQ(d->recipients[0].last_cert_sha256, e.recipients[0].last_cert_sha256);
  EXPECT_EQ(d->recipients[0].last_dnssec, "off");
  EXPECT_EQ(d->recipients[1].last_dnssec, "secure");
}

TEST(RecordCodecTest, TrailingBytesAreRejected) {
  std::string record = encode(make_envelope(QueueId{1}, 1));
  expect_corrupt(record + "x", "trailing byte, checksum not updated");
  expect_corrupt_with(reseal(unsealed(record) + "x"), "trailing bytes");
}

// A record of an envelope with every string empty and no recipients has fixed offsets:
// 4 header bytes, 24 fixed, attempts@28, body_size@29, 7 string lengths @30..36, count@37.
class RecordStructureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Envelope e;
    e.id = QueueId{5};
    body_ = unsealed(encode(e));
    ASSERT_EQ(body_.size(), 38u);
  }
  std::string with(std::size_t offset, unsigned char value) const {
    std::string b = body_;
    b[offset] = static_cast<char>(value);
    return reseal(b);
  }
  std::string body_;
};

TEST_F(RecordStructureTest, EnumsOutOfRange) {
  expect_corrupt_with(with(1, 0x20), "flags");
  expect_corrupt_with(with(2, 3), "body_type");
  expect_corrupt_with(with(3, 3), "ret");
  ASSERT_TRUE(decode_envelope(with(2, 2)).ok());  // the largest valid value still passes
}

TEST_F(RecordStructureTest, LengthsPastTheEnd) {
  expect_corrupt_with(with(30, 0x7F), "string length past end");
  expect_corrupt_with(with(36, 2), "string length past end");
  expect_corrupt_with(with(37, 1), "recipient count past end");
  // A count no larger than the input could be is checked before anything is allocated.
  std::string huge = body_.substr(0, 37) + std::string(9, '\xFF') + std::string(1, '\x01');
  expect_corrupt_with(reseal(huge), "recipient count past end");
}

TEST_F(RecordStructureTest, VarintOverflow) {
  std::string b =
      body_.substr(0, 28) + std::string(10, '\xFF') + std::string(1, '\x01') + body_.substr(29);
  expect_corrupt_with(reseal(b), "varint overflow");
  // attempts is 32 bits wide.
  std::string wide = body_.substr(0, 28) + "\x80\x80\x80\x80\x10" + body_.substr(29);
  expect_corrupt_with(reseal(wide), "32 bits");
}

TEST_F(RecordStructureTest, RecipientEnumsOutOfRange) {
  Envelope e;
  e.id = QueueId{5};
  e.recipients.push_back(Recipient{});
  std::string b = unsealed(encode(e));
  ASSERT_EQ(b.size(), 38u + 15u);  // 4 enums, 9 empty strings, 2 zero varints (version 3)
  auto set = [&](std::size_t off, unsigned char v) {
    std::string c = b;
    c[off] = static_cast<char>(v);
    return reseal(c);
  };
  expect_corrupt_with(set(38, 0x10), "notify");
  expect_corrupt_with(set(39, 4), "state");
  expect_corrupt_with(set(40, 3), "policy");
  expect_corrupt_with(set(41, 3), "tls");
  ASSERT_TRUE(decode_envelope(set(39, 3)).ok());
}

TEST(RecordCodecTest, EncodeRefusesWhatDecodeWouldRefuse) {
  std::string out;
  Envelope e = make_envelope(QueueId{1}, 2);
  e.body_type = static_cast<BodyType>(9);
  auto s = encode_envelope(e, out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, Error::Kind::Invalid);

  e = make_envelope(QueueId{1}, 2);
  e.recipients[1].notify = 0x40;
  EXPECT_FALSE(encode_envelope(e, out).ok());
  e = make_envelope(QueueId{1}, 2);
  e.recipients[1].tls = static_cast<model::TlsLevel>(3);
  EXPECT_FALSE(encode_envelope(e, out).ok());
}

TEST(RecordCodecTest, RandomMutationsWithValidChecksumNeverCrash) {
  std::mt19937 rng(1234);
  std::string record = unsealed(encode(make_envelope(QueueId{99}, 4)));
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string b = record;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      std::size_t pos = 1 + rng() % (b.size() - 1);
      switch (rng() % 3) {
        case 0:
          b[pos] = static_cast<char>(rng());
          break;
        case 1:
          b.erase(pos, 1 + rng() % 8);
          break;
        default:
          b.insert(pos, 1 + rng() % 3, static_cast<char>(rng()));
          break;
      }
    }
    auto r = decode_envelope(reseal(b));
    if (r.ok()) {
      ++accepted;
    } else {
      EXPECT_EQ(r.error().kind, Error::Kind::Corrupt);
    }
  }
  // Many mutations only change string contents and are structurally fine; most are not.
  EXPECT_LT(accepted, 20000);
}

TEST(RecordCodecTest, RandomGarbageIsRejected) {
  std::mt19937 rng(99);
  for (int i = 0; i < 20000; ++i) {
    std::string b(rng() % 200, '\0');
    for (char& c : b) c = static_cast<char>(rng());
    if (!b.empty()) b[0] = static_cast<char>(kRecordVersion);
    expect_corrupt(b, "random garbage");
  }
}

}  // namespace
}  // namespace secmx::queue
