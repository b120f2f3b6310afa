// The audit trail in the queue's LMDB environment: records commit with the insert or
// change they describe (and only then), chain across transactions and reopens, are
// checkpointed, and are pruned only up to a checkpoint, which stays as the anchor that
// lets what remains be verified.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "queue/audit_chain.hpp"
#include "queue/store.hpp"
#include "tests/unit/queue/queue_test_util.hpp"

namespace secmx::queue {
namespace {
using namespace secmx::queue::test;

const std::string kKey = "audit checkpoint key for the tests";

std::unique_ptr<Store> open_store(const TempDir& dir) {
  auto s = open_lmdb_store({dir.path() + "/q", 64ull << 20});
  EXPECT_TRUE(s.ok());
  return s.ok() ? std::move(s.value()) : nullptr;
}

AuditRecord rec(std::string payload, std::int64_t time_us = 1000) {
  return AuditRecord{time_us, std::move(payload)};
}

std::vector<std::string> payloads(Store& store) {
  auto links = store.audit_links(0, 1000);
  EXPECT_TRUE(links.ok());
  std::vector<std::string> out;
  for (const auto& e : *links) out.push_back(audit::decode_link(e.stored).value().payload);
  return out;
}

// Verifies what the store holds the way `audit verify` will: every record and checkpoint
// merged by sequence number (after pruning, the first record is one a checkpoint covers).
std::optional<audit::Break> verify(Store& store) {
  auto links = store.audit_links(0, 100000).value();
  auto cps = store.audit_checkpoints(0, 100000).value();
  audit::ChainVerifier v(kKey);
  auto cp = cps.begin();
  for (const auto& l : links) {
    for (; cp != cps.end() && cp->seq < l.seq; ++cp) v.add_checkpoint(cp->seq, cp->stored);
    v.add_link(l.seq, l.stored);
  }
  for (; cp != cps.end(); ++cp) v.add_checkpoint(cp->seq, cp->stored);
  return v.first_break();
}

TEST(AuditStore, AnInsertAndAChangeCarryTheirRecordsChainedAcrossReopens) {
  TempDir dir;
  {
    auto store = open_store(dir);
    std::vector<NewMessage> msgs = {make_message(QueueId{1}, "a\r\n")};
    msgs[0].audit = {rec("accepted 1")};
    ASSERT_TRUE(store->insert_batch(msgs)[0].ok());
    Change c;
    c.envelope = msgs[0].envelope;
    c.audit = {rec("deferred 1"), rec("held 1")};
    ASSERT_TRUE(store->apply_batch(std::vector<Change>{c})[0].ok());
  }
  auto store = open_store(dir);
  ASSERT_TRUE(store->append_audit(std::vector<AuditRecord>{rec("reload")}).ok());
  EXPECT_EQ(payloads(*store),
            (std::vector<std::string>{"accepted 1", "deferred 1", "held 1", "reload"}));
  auto links = store->audit_links(0, 10).value();
  ASSERT_EQ(links.size(), 4u);
  EXPECT_EQ(links.front().seq, 1u);
  EXPECT_EQ(links.back().seq, 4u);
  EXPECT_FALSE(verify(*store));
}

TEST(AuditStore, AFailedChangeLeavesNoRecordAloneOrInAGroup) {
  TempDir dir;
  auto store = open_store(dir);
  std::vector<NewMessage> msgs = {make_message(QueueId{10}, "one\r\n")};
  ASSERT_TRUE(store->insert_batch(msgs)[0].ok());
  Change gone;  // its message is not there: the change fails, and its record with it
  gone.envelope = make_envelope(QueueId{999});
  gone.audit = {rec("never happened")};
  Change good;
  good.envelope = msgs[0].envelope;
  good.audit = {rec("happened")};
  ASSERT_FALSE(store->apply_batch(std::vector<Change>{gone})[0].ok());
  auto group = store->apply_batch(std::vector<Change>{gone, good});
  ASSERT_FALSE(group[0].ok());
  ASSERT_TRUE(group[1].ok());
  EXPECT_EQ(payloads(*store), (std::vector<std::string>{"happened"}));
  EXPECT_FALSE(verify(*store)) << "the retried group left no gap in the chain";
}

TEST(AuditStore, ARecordTooLargeRefusesItsChange) {
  TempDir dir;
  auto store = open_store(dir);
  std::vector<NewMessage> msgs = {make_message(QueueId{1}, "a\r\n")};
  msgs[0].audit = {rec(std::string(64 * 1024 + 1, 'x'))};
  auto r = store->insert_batch(msgs);
  ASSERT_FALSE(r[0].ok());
  EXPECT_EQ(r[0].error().kind, Error::Kind::Invalid);
  EXPECT_FALSE(store->load(QueueId{1}).value()) << "not acknowledged without its record";
}

TEST(AuditStore, CheckpointsCoverTheHeadOnce) {
  TempDir dir;
  auto store = open_store(dir);
  EXPECT_FALSE(store->checkpoint_audit(kKey, 5).value()) << "an empty chain has nothing to sign";
  ASSERT_TRUE(store->append_audit(std::vector<AuditRecord>{rec("a"), rec("b")}).ok());
  auto first = store->checkpoint_audit(kKey, 5).value();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->seq, 2u);
  EXPECT_FALSE(store->checkpoint_audit(kKey, 6).value()) << "the head did not move";
  ASSERT_TRUE(store->append_audit(std::vector<AuditRecord>{rec("c")}).ok());
  EXPECT_EQ(store->checkpoint_audit(kKey, 7).value()->seq, 3u);
  EXPECT_EQ(store->audit_checkpoints(0, 10).value().size(), 2u);
  EXPECT_FALSE(verify(*store));
}

TEST(AuditStore, PruningStopsAtACheckpointedRecordThatStaysAsTheAnchor) {
  TempDir dir;
  auto store = open_store(dir);
  // Records 1-4 are old; a checkpoint covers 3; 5-6 are new.
  for (int i = 1; i <= 3; ++i)
    ASSERT_TRUE(store->append_audit(std::vector<AuditRecord>{rec("old", 100)}).ok());
  ASSERT_TRUE(store->checkpoint_audit(kKey, 100).value());
  ASSERT_TRUE(store->append_audit(std::vector<AuditRecord>{rec("old", 100)}).ok());
  ASSERT_TRUE(store->append_audit(std::vector<AuditRecord>{rec("new", 900), rec("new", 900)}).ok());
  ASSERT_TRUE(store->checkpoint_audit(kKey, 900).value());

  // Record 4 is old too, but the newest checkpoint among the old records is at 3.
  EXPECT_EQ(store->prune_audit(500, 100).value(), 2u);
  auto links = store->audit_links(0, 10).value();
  ASSERT_EQ(links.size(), 4u);
  EXPECT_EQ(links.front().seq, 3u);
  EXPECT_EQ(store->audit_checkpoints(0, 10).value().front().seq, 3u);
  EXPECT_FALSE(verify(*store));
  EXPECT_EQ(store->prune_audit(500, 100).value(), 0u) << "nothing more may go yet";
}

TEST(AuditStore, AChangedAnchorRecordIsFoundAfterPruning) {
  TempDir dir;
  auto store = open_store(dir);
  ASSERT_TRUE(store->append_audit(std::vector<AuditRecord>{rec("old", 100), rec("old", 100)}).ok());
  ASSERT_TRUE(store->checkpoint_audit(kKey, 100).value());
  ASSERT_TRUE(store->append_audit(std::vector<AuditRecord>{rec("new", 900)}).ok());
  ASSERT_EQ(store->prune_audit(500, 100).value(), 1u);
  // What verify sees if record 2 (the anchor) were rewritten: its checkpoint no longer matches.
  auto links = store->audit_links(0, 10).value();
  auto cps = store->audit_checkpoints(0, 10).value();
  ASSERT_EQ(links.front().seq, 2u);
  auto two = audit::decode_link(links.front().stored).value();
  two.payload = "rewritten";
  audit::ChainVerifier v(kKey);
  v.add_link(2, audit::encode_link(two));
  v.add_checkpoint(cps.front().seq, cps.front().stored);
  ASSERT_TRUE(v.first_break());
  EXPECT_EQ(v.first_break()->seq, 2u);
}

TEST(AuditStore, PruningIsBoundedPerCallAndTheChainGoesOn) {
  TempDir dir;
  auto store = open_store(dir);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->append_audit(std::vector<AuditRecord>{rec("old", 100)}).ok());
    ASSERT_TRUE(store->checkpoint_audit(kKey, 100).value());
  }
  EXPECT_EQ(store->prune_audit(500, 4).value(), 3u) << "records 1-3, below the checkpoint at 4";
  EXPECT_EQ(store->prune_audit(500, 4).value(), 3u);
  EXPECT_EQ(store->prune_audit(500, 4).value(), 3u);
  EXPECT_EQ(store->prune_audit(500, 4).value(), 0u) << "record 10 stays: the chain's head";
  auto links = store->audit_links(0, 10).value();
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links.front().seq, 10u);
  ASSERT_TRUE(store->append_audit(std::vector<AuditRecord>{rec("new", 900)}).ok());
  EXPECT_EQ(store->audit_links(0, 10).value().back().seq, 11u);
  EXPECT_FALSE(verify(*store));
}

}  // namespace
}  // namespace secmx::queue
