// audit_chain_test.cpp - the audit trail's hash chain and checkpoints: an intact chain
// verifies; a flipped byte, a deleted record, a cut tail, a rewritten chain and a forged
// checkpoint are each found, at the right sequence number.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "queue/audit_chain.hpp"

namespace secmx::queue::audit {
namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef";

// A store in memory: records and checkpoints keyed by sequence number, as the LMDB
// databases keep them.
struct Chain {
  std::map<std::uint64_t, std::string> links;
  std::map<std::uint64_t, std::string> checkpoints;

  // Appends records "event 1".."event n" after what is there, chained.
  void append(int n) {
    for (int i = 0; i < n; ++i) {
      Link l;
      l.seq = links.empty() ? 1 : links.rbegin()->first + 1;
      l.time_us = 1'700'000'000'000'000 + static_cast<std::int64_t>(l.seq);
      l.prev = links.empty() ? kGenesis : link_digest(links.rbegin()->second);
      l.payload = "{\"event\":" + std::to_string(l.seq) + "}";
      links[l.seq] = encode_link(l);
    }
  }
  void checkpoint(const std::string& key = kKey) {
    auto last = links.rbegin();
    checkpoints[last->first] =
        encode_checkpoint(make_checkpoint(key, last->first, 42, link_digest(last->second)));
  }
};

// Feeds the verifier as the store's reader would: merged by sequence number, each
// checkpoint after the record it covers.
ChainVerifier verify(const Chain& c, std::uint64_t from = 0,
                     std::optional<Digest> anchor = std::nullopt) {
  ChainVerifier v(kKey, anchor);
  auto cp = c.checkpoints.begin();
  for (const auto& [seq, bytes] : c.links) {
    if (seq < from) continue;
    while (cp != c.checkpoints.end() && cp->first < seq) {
      if (cp->first >= from) v.add_checkpoint(cp->first, cp->second);
      ++cp;
    }
    v.add_link(seq, bytes);
  }
  for (; cp != c.checkpoints.end(); ++cp) {
    if (cp->first >= from) v.add_checkpoint(cp->first, cp->second);
  }
  return v;
}

TEST(AuditChain, LinkRoundTrips) {
  Link l{7, -3, {}, std::string("nul \0 inside", 13)};
  l.prev[0] = 0xab;
  auto back = decode_link(encode_link(l));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->seq, 7u);
  EXPECT_EQ(back->time_us, -3);
  EXPECT_EQ(back->prev, l.prev);
  EXPECT_EQ(back->payload, l.payload);
}

TEST(AuditChain, DecodeRefusesShortLongAndUnknownRecords) {
  std::string ok = encode_link(Link{1, 0, {}, "x"});
  EXPECT_FALSE(decode_link(ok.substr(0, 10)).ok());
  EXPECT_FALSE(decode_link(ok + "y").ok());
  std::string v2 = ok;
  v2[0] = 2;
  EXPECT_FALSE(decode_link(v2).ok());
  EXPECT_FALSE(decode_checkpoint("short").ok());
}

TEST(AuditChain, AnIntactChainWithCheckpointsVerifies) {
  Chain c;
  c.append(5);
  c.checkpoint();
  c.append(4);
  c.checkpoint();
  ChainVerifier v = verify(c);
  EXPECT_FALSE(v.first_break()) << v.first_break()->what;
  EXPECT_EQ(v.links(), 9u);
  EXPECT_EQ(v.checkpoints(), 2u);
  EXPECT_EQ(v.last_seq(), 9u);
}

TEST(AuditChain, AFlippedPayloadByteIsFoundAtTheNextRecord) {
  Chain c;
  c.append(6);
  c.links[3].back() ^= 0x01;  // record 3 still decodes; record 4 no longer follows it
  ChainVerifier v = verify(c);
  ASSERT_TRUE(v.first_break());
  EXPECT_EQ(v.first_break()->seq, 4u);
  EXPECT_NE(v.first_break()->what.find("does not follow"), std::string::npos);
}

TEST(AuditChain, AFlippedByteInTheLastRecordIsFoundByTheCheckpoint) {
  Chain c;
  c.append(3);
  c.checkpoint();
  c.links[3].back() ^= 0x20;
  ChainVerifier v = verify(c);
  ASSERT_TRUE(v.first_break());
  EXPECT_EQ(v.first_break()->seq, 3u);
  EXPECT_NE(v.first_break()->what.find("rewritten"), std::string::npos);
}

TEST(AuditChain, ADeletedRecordIsFound) {
  Chain c;
  c.append(6);
  c.links.erase(4);
  ChainVerifier v = verify(c);
  ASSERT_TRUE(v.first_break());
  EXPECT_EQ(v.first_break()->seq, 4u);
  EXPECT_EQ(v.first_break()->what, "records 4 to 4 are missing");
}

TEST(AuditChain, ACutTailIsFoundByTheCheckpointThatCoveredIt) {
  Chain c;
  c.append(6);
  c.checkpoint();
  c.links.erase(6);
  c.links.erase(5);
  ChainVerifier v = verify(c);
  ASSERT_TRUE(v.first_break());
  EXPECT_EQ(v.first_break()->seq, 5u);
  EXPECT_NE(v.first_break()->what.find("missing"), std::string::npos);
}

TEST(AuditChain, ARewrittenChainIsFoundByTheCheckpoint) {
  // Whoever rewrites record 2 and re-chains 3..4 keeps the links consistent; only the
  // checkpoint, which they cannot sign, tells.
  Chain c;
  c.append(4);
  c.checkpoint();
  Chain forged;
  forged.append(1);
  forged.links[1] = c.links[1];
  Link changed = decode_link(c.links[2]).value();
  changed.payload = "{\"event\":\"nothing happened\"}";
  forged.links[2] = encode_link(changed);
  forged.append(2);
  forged.checkpoints = c.checkpoints;
  ChainVerifier v = verify(forged);
  ASSERT_TRUE(v.first_break());
  EXPECT_EQ(v.first_break()->seq, 4u);
  EXPECT_NE(v.first_break()->what.find("rewritten"), std::string::npos);
}

TEST(AuditChain, ACheckpointUnderAnotherKeyIsNotAuthentic) {
  Chain c;
  c.append(2);
  c.checkpoint("another key");
  ChainVerifier v = verify(c);
  ASSERT_TRUE(v.first_break());
  EXPECT_EQ(v.first_break()->seq, 2u);
  EXPECT_NE(v.first_break()->what.find("not authentic"), std::string::npos);
}

TEST(AuditChain, ARecordStoredUnderAnotherNumberIsFound) {
  Chain c;
  c.append(3);
  c.links[4] = c.links[3];  // a copy appended as if it were the next record
  ChainVerifier v = verify(c);
  ASSERT_TRUE(v.first_break());
  EXPECT_EQ(v.first_break()->seq, 4u);
}

TEST(AuditChain, ARangeStartsFromItsFirstRecordOrFromAnAnchor) {
  Chain c;
  c.append(8);
  c.checkpoint();
  // From record 5, trusting its prev: the rest verifies against the checkpoint.
  EXPECT_FALSE(verify(c, 5).first_break());
  // With the digest of record 4 as anchor, record 5 is held to it too.
  EXPECT_FALSE(verify(c, 5, link_digest(c.links[4])).first_break());
  ChainVerifier wrong = verify(c, 5, link_digest(c.links[3]));
  ASSERT_TRUE(wrong.first_break());
  EXPECT_EQ(wrong.first_break()->seq, 5u);
}

TEST(AuditChain, TheFirstRecordMustFollowTheGenesis) {
  Chain c;
  c.append(2);
  Link first = decode_link(c.links[1]).value();
  first.prev[31] = 1;
  c.links[1] = encode_link(first);
  ChainVerifier v = verify(c);
  ASSERT_TRUE(v.first_break());
  EXPECT_EQ(v.first_break()->seq, 1u);
}

}  // namespace
}  // namespace secmx::queue::audit
