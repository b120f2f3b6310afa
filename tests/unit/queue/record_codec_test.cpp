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
  for (int v : {0, 5, 255}) {
    std::string bad = record;
    bad[0] = static_cast<char>(v);
    expect_corrupt_with(bad, "version");
    expect_corrupt_with(reseal(unsealed(bad)), "version");  // even with a valid checksum
  }
}

// A record as versions 1 to 3 wrote it, built here from the documented layout rather than
// by the encoder, so that the decoder is checked against what older code actually stored.
class LegacyRecord {
 public:
  static std::string of(const Envelope& e, int version) {
    LegacyRecord w;
    w.u8(static_cast<std::uint8_t>(version));
    w.u8(static_cast<std::uint8_t>((e.smtputf8 ? 1 : 0) | (e.requiretls ? 2 : 0) |
                                   (e.held ? 4 : 0) | (e.delay_notified ? 8 : 0) |
                                   (e.tls_report ? 16 : 0)));
    w.u8(static_cast<std::uint8_t>(e.body_type));
    w.u8(static_cast<std::uint8_t>(e.ret));
    w.fixed64(e.id.value);
    w.fixed64(static_cast<std::uint64_t>(e.arrival_us));
    w.fixed64(static_cast<std::uint64_t>(e.next_attempt_us));
    w.varint(e.attempts);
    w.varint(e.body_size);
    for (const auto* s : {&e.sender, &e.envid, &e.client_address, &e.client_helo, &e.auth_user,
                          &e.tls_protocol, &e.tls_cipher}) {
      w.str(*s);
    }
    w.varint(e.recipients.size());
    for (const Recipient& r : e.recipients) {
      w.u8(r.notify);
      w.u8(static_cast<std::uint8_t>(r.state));
      w.u8(static_cast<std::uint8_t>(r.policy));
      w.u8(static_cast<std::uint8_t>(r.tls));
      w.varint(r.attempts);
      for (const auto* s : {&r.address, &r.orcpt, &r.policy_reason, &r.last_status,
                            &r.last_reply, &r.remote_mta}) {
        w.str(*s);
      }
      if (version >= 2) {
        w.str(r.last_tls);
        w.varint(static_cast<std::uint64_t>(r.last_attempt_us));
      }
      if (version >= 3) {
        w.str(r.last_cert_sha256);
        w.str(r.last_dnssec);
      }
    }
    return reseal(w.out_);
  }

 private:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void fixed64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void varint(std::uint64_t v) {
    for (; v >= 0x80; v >>= 7) u8(static_cast<std::uint8_t>(v | 0x80));
    u8(static_cast<std::uint8_t>(v));
  }
  void str(const std::string& s) {
    varint(s.size());
    out_ += s;
  }
  std::string out_;
};

// What a record of `version` cannot hold reads as empty.
Envelope as_version(Envelope e, int version) {
  e.message_id.clear();
  e.classification.clear();
  for (Recipient& r : e.recipients) {
    r.history.clear();
    r.history_dropped = 0;
    if (version < 3) {
      r.last_cert_sha256.clear();
      r.last_dnssec.clear();
    }
    if (version < 2) {
      r.last_tls.clear();
      r.last_attempt_us = 0;
    }
  }
  return e;
}

// Queues written by every earlier layout are still read: each field that layout had comes
// through, the ones it did not have (TLS details, evidence, Message-ID, classification,
// attempt history) read as empty.
TEST(RecordCodecTest, OlderVersionsAreStillRead) {
  Envelope e = make_envelope(QueueId{7}, 3);
  ASSERT_FALSE(e.recipients[1].history.empty());
  for (int version : {1, 2, 3}) {
    auto d = decode_envelope(LegacyRecord::of(e, version));
    ASSERT_TRUE(d.ok()) << "version " << version << ": " << d.error().message;
    expect_same(*d, as_version(e, version));
    EXPECT_TRUE(d->message_id.empty());
    EXPECT_TRUE(d->recipients[1].history.empty());
    EXPECT_EQ(d->recipients[1].history_dropped, 0u);
  }
  auto v2 = decode_envelope(LegacyRecord::of(e, 2));
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->recipients[1].last_tls, "TLSv1.3/TLS_AES_256_GCM_SHA384/dane");
  EXPECT_TRUE(v2->recipients[1].last_cert_sha256.empty());
}

// The legacy writer agrees with the encoder on everything the two layouts share: were the
// fields of version 4 empty, only the version byte and the new empty fields would differ.
TEST(RecordCodecTest, LegacyWriterMatchesTheLayout) {
  Envelope e = as_version(make_envelope(QueueId{11}, 0), 3);
  std::string v4 = unsealed(encode(e));
  std::string v3 = unsealed(LegacyRecord::of(e, 3));
  ASSERT_EQ(v4.size(), v3.size() + 2);  // two empty strings: message_id, classification
  EXPECT_EQ(v4.substr(1, v3.size() - 2), v3.substr(1, v3.size() - 2));
}

// Version 4 keeps the Message-ID, the classification and every attempt of the history,
// in order, with the count of those dropped before it.
TEST(RecordCodecTest, HistoryRoundTrips) {
  Envelope e = make_envelope(QueueId{12}, 3);
  e.message_id = "20261204.abc@agency.example";
  e.classification = "OFFICIAL:Sensitive";
  auto& h = e.recipients[0].history;
  for (int k = 0; k < 20; ++k) {
    model::Attempt a;
    a.time_us = 1'764'800'000'000'000 + k;
    a.host = "mx.example.org";
    a.address = "[2001:db8::7]:25";
    a.method = "mx";
    a.tls = "TLSv1.3/TLS_AES_256_GCM_SHA384/pkix";
    a.cert_sha256 = std::string(64, 'c');
    a.dnssec = "insecure";
    a.status = k < 19 ? "4.2.0" : "2.0.0";
    a.reply = std::string(300, static_cast<char>('a' + k));  // two-byte length varints
    h.push_back(a);
  }
  e.recipients[0].history_dropped = 70000;  // a three-byte varint
  std::string record = encode(e);
  EXPECT_EQ(static_cast<std::uint8_t>(record[0]), 4);
  auto d = decode_envelope(record);
  ASSERT_TRUE(d.ok()) << d.error().message;
  expect_same(*d, e);
  EXPECT_EQ(d->classification, "OFFICIAL:Sensitive");
  ASSERT_EQ(d->recipients[0].history.size(), 20u);
  EXPECT_EQ(d->recipients[0].history.back().status, "2.0.0");
  EXPECT_EQ(d->recipients[0].history_dropped, 70000u);
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
  EXPECT_EQ(static_cast<std::uint8_t>(record[0]), kRecordVersion);
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
// 4 header bytes, 24 fixed, attempts@28, body_size@29, 9 string lengths @30..38, count@39.
class RecordStructureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Envelope e;
    e.id = QueueId{5};
    body_ = unsealed(encode(e));
    ASSERT_EQ(body_.size(), 40u);
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
  expect_corrupt_with(with(38, 2), "string length past end");
  expect_corrupt_with(with(39, 1), "recipient count past end");
  // A count no larger than the input could be is checked before anything is allocated.
  std::string huge = body_.substr(0, 39) + std::string(9, '\xFF') + std::string(1, '\x01');
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
  // 4 enums, 9 empty strings, 4 zero varints (attempts, last_attempt_us, history_dropped,
  // history count).
  ASSERT_EQ(b.size(), 40u + 17u);
  auto set = [&](std::size_t off, unsigned char v) {
    std::string c = b;
    c[off] = static_cast<char>(v);
    return reseal(c);
  };
  expect_corrupt_with(set(40, 0x10), "notify");
  expect_corrupt_with(set(41, 4), "state");
  expect_corrupt_with(set(42, 3), "policy");
  expect_corrupt_with(set(43, 3), "tls");
  ASSERT_TRUE(decode_envelope(set(41, 3)).ok());
}

// A history whose count promises more attempts than the record holds, or whose last
// attempt is cut short, is refused before anything is allocated for it.
TEST_F(RecordStructureTest, TruncatedHistoryIsRefused) {
  Envelope e;
  e.id = QueueId{5};
  Recipient r;
  model::Attempt a;
  a.time_us = 1'764'800'000'000'000;
  a.host = "mx.example.org";
  a.status = "4.2.0";
  r.history = {a, a};
  e.recipients.push_back(r);
  std::string b = unsealed(encode(e));
  ASSERT_TRUE(decode_envelope(reseal(b)).ok());
  // The history count is the byte before the first attempt; an attempt is its time, host,
  // five empty strings, status and an empty reply, and the two end the record.
  const std::size_t attempt_size = 8 + 1 + a.host.size() + 5 + 1 + a.status.size() + 1;
  const std::size_t count_at = b.size() - 2 * attempt_size - 1;
  ASSERT_EQ(b[count_at], 2);
  // The last attempt cut short.
  expect_corrupt_with(reseal(b.substr(0, b.size() - 3)), "past end");
  // One attempt gone, the count still saying two.
  expect_corrupt_with(reseal(b.substr(0, b.size() - attempt_size)), "truncated");
  // A count far past what is left.
  std::string huge = b.substr(0, count_at) + std::string(9, '\xFF') + std::string(1, '\x01') +
                     b.substr(count_at + 1);
  expect_corrupt_with(reseal(huge), "history count past end");
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
