// Store::apply_batch and CommitWriter::submit_change: delivery outcomes and DSNs are
// stored in one transaction, and a change whose message is gone fails alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <thread>

#include "queue/commit_writer.hpp"
#include "queue/store.hpp"
#include "tests/unit/queue/queue_test_util.hpp"

namespace secmx::queue {
namespace {
using namespace secmx::queue::test;

std::unique_ptr<Store> open_store(const TempDir& dir) {
  auto s = open_lmdb_store({dir.path() + "/q", 64ull << 20});
  EXPECT_TRUE(s.ok());
  return std::move(s.value());
}

TEST(ApplyBatch, UpdateWithInsertAndRemoveInOneTransaction) {
  TempDir dir;
  auto store = open_store(dir);
  std::vector<NewMessage> msgs = {make_message(QueueId{100}, "one\r\n"),
                                  make_message(QueueId{200}, "two\r\n")};
  for (auto& r : store->insert_batch(msgs)) ASSERT_TRUE(r.ok());

  Change final_with_dsn;
  final_with_dsn.envelope = msgs[0].envelope;
  final_with_dsn.envelope.recipients[0].state = RcptState::Failed;
  final_with_dsn.envelope.recipients[0].last_status = "5.7.10";
  final_with_dsn.envelope.next_attempt_us = 5'000'000;
  final_with_dsn.inserts.push_back(make_message(QueueId{300}, "dsn\r\n", 1));
  Change removal;
  removal.kind = Change::Kind::Remove;
  removal.envelope.id = QueueId{200};
  Change gone;
  gone.envelope = make_envelope(QueueId{999});

  std::vector<Change> changes = {final_with_dsn, removal, gone};
  auto results = store->apply_batch(changes);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  ASSERT_FALSE(results[2].ok());
  EXPECT_EQ(results[2].error().kind, Error::Kind::NotFound);

  auto updated = store->load(QueueId{100});
  ASSERT_TRUE(updated.ok() && updated->has_value());
  EXPECT_EQ((*updated)->recipients[0].state, RcptState::Failed);
  EXPECT_EQ((*updated)->recipients[0].last_status, "5.7.10");
  auto dsn = store->load_body(QueueId{300});
  ASSERT_TRUE(dsn.ok());
  EXPECT_EQ(*dsn, "dsn\r\n");
  auto removed = store->load(QueueId{200});
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(removed->has_value());
  // The schedule moved with the update: due at 5 s, not before.
  auto due_early = store->due_after(std::nullopt, 4'000'000, 10);
  ASSERT_TRUE(due_early.ok());
  for (const auto& e : *due_early) EXPECT_NE(e.id, QueueId{100});
  auto due_later = store->due_after(std::nullopt, 6'000'000, 10);
  ASSERT_TRUE(due_later.ok());
  EXPECT_TRUE(std::any_of(due_later->begin(), due_later->end(),
                          [](const ScheduleEntry& e) { return e.id == QueueId{100}; }));
}

TEST(ApplyBatch, ChangeWhoseMessageIsGoneDoesNotLeaveItsInsertBehind) {
  TempDir dir;
  auto store = open_store(dir);
  Change orphan;
  orphan.envelope = make_envelope(QueueId{42});
  orphan.inserts.push_back(make_message(QueueId{43}, "dsn\r\n", 1));
  std::vector<Change> changes = {orphan};
  auto results = store->apply_batch(changes);
  ASSERT_FALSE(results[0].ok());
  auto dsn = store->load(QueueId{43});
  ASSERT_TRUE(dsn.ok());
  EXPECT_FALSE(dsn->has_value()) << "a DSN must not be queued without its change";
}

// A change that fails after its first DSN went in (here: its second DSN's id is taken)
// must leave nothing behind, alone or in a group: committing the first DSN without the
// recipients' final state would queue it again at the retry.
TEST(ApplyBatch, ChangeFailingHalfWayLeavesNoDsnAloneOrInAGroup) {
  TempDir dir;
  auto store = open_store(dir);
  std::vector<NewMessage> msgs = {make_message(QueueId{10}, "one\r\n"),
                                  make_message(QueueId{20}, "two\r\n"),
                                  make_message(QueueId{77}, "taken\r\n")};
  for (auto& r : store->insert_batch(msgs)) ASSERT_TRUE(r.ok());

  Change half;
  half.envelope = msgs[0].envelope;
  half.envelope.recipients[0].state = RcptState::Failed;
  half.inserts.push_back(make_message(QueueId{70}, "failure dsn\r\n", 1));
  half.inserts.push_back(make_message(QueueId{77}, "success dsn\r\n", 1));  // id in use
  Change good;
  good.envelope = msgs[1].envelope;
  good.envelope.attempts = 3;

  for (auto group : {std::vector<Change>{half}, std::vector<Change>{half, good}}) {
    auto results = store->apply_batch(group);
    ASSERT_FALSE(results[0].ok());
    EXPECT_EQ(results[0].error().kind, Error::Kind::Invalid);
    auto first_dsn = store->load(QueueId{70});
    ASSERT_TRUE(first_dsn.ok());
    EXPECT_FALSE(first_dsn->has_value()) << "half a change was committed";
    auto original = store->load(QueueId{10});
    ASSERT_TRUE(original.ok() && original->has_value());
    EXPECT_EQ((*original)->recipients[0].state, RcptState::Pending);
    if (group.size() == 2) {
      ASSERT_TRUE(results[1].ok()) << "the good change must still commit";
      auto other = store->load(QueueId{20});
      ASSERT_TRUE(other.ok() && other->has_value());
      EXPECT_EQ((*other)->attempts, 3u);
    }
  }
}

TEST(ApplyBatch, WriterBatchesChangesFromManyThreads) {
  TempDir dir;
  auto store = open_store(dir);
  std::vector<NewMessage> msgs;
  for (int i = 1; i <= 200; ++i) msgs.push_back(make_message(QueueId{static_cast<std::uint64_t>(i)}, "x\r\n"));
  for (auto& r : store->insert_batch(msgs)) ASSERT_TRUE(r.ok());
  auto writer = CommitWriter::start(*store, {});
  std::vector<std::promise<bool>> done(msgs.size());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = t; i < msgs.size(); i += 4) {
        Change c;
        c.envelope = msgs[i].envelope;
        c.envelope.attempts = 7;
        writer->submit_change(std::move(c), [&, i](Status<Error> st) { done[i].set_value(st.ok()); });
      }
    });
  }
  for (auto& th : threads) th.join();
  for (auto& p : done) {
    auto f = p.get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    EXPECT_TRUE(f.get());
  }
  writer->stop();
  EXPECT_LT(writer->stats().batches, msgs.size());
  auto one = store->load(QueueId{150});
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->attempts, 7u);
}

}  // namespace
}  // namespace secmx::queue
