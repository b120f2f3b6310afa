// The store's durable counters (TLS-RPT session counts): adding, reading by prefix in key
// order, pruning below a bound in batches, surviving a reopen, and going in only with the
// change they came with.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "queue/store.hpp"
#include "tests/unit/queue/queue_test_util.hpp"

namespace secmx::queue {
namespace {
using namespace secmx::queue::test;

std::unique_ptr<Store> open_store(const TempDir& dir) {
  auto s = open_lmdb_store({dir.path() + "/q", 64ull << 20});
  EXPECT_TRUE(s.ok());
  return s.ok() ? std::move(s.value()) : nullptr;
}

CounterAdd add(std::string key, std::string payload = "p", std::uint64_t n = 1) {
  return CounterAdd{std::move(key), std::move(payload), n};
}

std::vector<CounterEntry> all(Store& store, std::string_view prefix = "", std::size_t limit = 100) {
  auto r = store.counters(prefix, limit);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : std::vector<CounterEntry>{};
}

std::vector<std::string> keys(const std::vector<CounterEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.key);
  return out;
}

TEST(Counters, AddingToAKeyKeepsTheFirstPayload) {
  TempDir dir;
  auto store = open_store(dir);
  ASSERT_TRUE(store->add_counters(std::vector<CounterAdd>{add("k", "first", 2)}).ok());
  ASSERT_TRUE(store->add_counters(std::vector<CounterAdd>{add("k", "second", 3), add("j")}).ok());
  auto entries = all(*store);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].key, "k");
  EXPECT_EQ(entries[1].count, 5u);
  EXPECT_EQ(entries[1].payload, "first");
  EXPECT_EQ(entries[0].key, "j");
  EXPECT_EQ(entries[0].count, 1u);
}

TEST(Counters, TheSameKeyTwiceInOneCallCountsTwice) {
  TempDir dir;
  auto store = open_store(dir);
  ASSERT_TRUE(store->add_counters(std::vector<CounterAdd>{add("k"), add("k", "x", 4)}).ok());
  auto entries = all(*store);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].count, 5u);
}

TEST(Counters, ACountSaturatesRatherThanWrapping) {
  TempDir dir;
  auto store = open_store(dir);
  ASSERT_TRUE(store->add_counters(std::vector<CounterAdd>{add("k", "p", UINT64_MAX - 1)}).ok());
  ASSERT_TRUE(store->add_counters(std::vector<CounterAdd>{add("k", "p", 5)}).ok());
  EXPECT_EQ(all(*store)[0].count, UINT64_MAX);
}

TEST(Counters, InvalidAddsChangeNothing) {
  TempDir dir;
  auto store = open_store(dir);
  for (auto bad :
       {add(""), add(std::string(512, 'k')), add("k", std::string(64 * 1024 + 1, 'p'))}) {
    auto st = store->add_counters(std::vector<CounterAdd>{add("good"), bad});
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().kind, Error::Kind::Invalid);
  }
  EXPECT_TRUE(all(*store).empty()) << "nothing of a refused call is written";
  // The limits themselves are allowed.
  ASSERT_TRUE(store->add_counters(std::vector<CounterAdd>{
                       add(std::string(511, 'k'), std::string(64 * 1024, 'p'))})
                  .ok());
  ASSERT_EQ(all(*store).size(), 1u);
  EXPECT_EQ(all(*store)[0].payload.size(), 64u * 1024);
}

TEST(Counters, PrefixListingIsInKeyOrderAndStopsAtTheLimit) {
  TempDir dir;
  auto store = open_store(dir);
  ASSERT_TRUE(store
                  ->add_counters(std::vector<CounterAdd>{
                      add("r2026-12-04/b.example/x"), add("r2026-12-03/b.example/x"),
                      add("r2026-12-03/a.example/y"), add("r2026-12-03/a.example/x"),
                      add("s2026-12-03/a.example"), add("r2026-12-02/a.example/x")})
                  .ok());
  EXPECT_EQ(keys(all(*store, "r2026-12-03/")),
            (std::vector<std::string>{"r2026-12-03/a.example/x", "r2026-12-03/a.example/y",
                                      "r2026-12-03/b.example/x"}));
  EXPECT_EQ(keys(all(*store, "r2026-12-03/a.example/")),
            (std::vector<std::string>{"r2026-12-03/a.example/x", "r2026-12-03/a.example/y"}));
  EXPECT_EQ(keys(all(*store, "r2026-12-03/", 2)),
            (std::vector<std::string>{"r2026-12-03/a.example/x", "r2026-12-03/a.example/y"}));
  EXPECT_EQ(keys(all(*store, "s")), std::vector<std::string>{"s2026-12-03/a.example"});
  EXPECT_TRUE(all(*store, "r2026-12-05/").empty());
  EXPECT_TRUE(all(*store, "t").empty()) << "past every key";
  EXPECT_TRUE(all(*store, "r", 0).empty());
  EXPECT_EQ(all(*store).size(), 6u) << "an empty prefix is every entry";
}

TEST(Counters, EraseBelowABoundInBatches) {
  TempDir dir;
  auto store = open_store(dir);
  std::vector<CounterAdd> adds;
  for (int day = 1; day <= 9; ++day) {
    for (const char* d : {"a.example", "b.example"})
      adds.push_back(add("r2026-12-0" + std::to_string(day) + "/" + d + "/x"));
  }
  adds.push_back(add("s2026-12-01/a.example"));
  ASSERT_TRUE(store->add_counters(adds).ok());

  // Days before the 5th, three at a time, until nothing is left to erase.
  std::vector<std::size_t> batches;
  for (;;) {
    auto n = store->erase_counters_below("r", "r2026-12-05", 3);
    ASSERT_TRUE(n.ok()) << n.error().message;
    batches.push_back(*n);
    if (*n == 0) break;
  }
  EXPECT_EQ(batches, (std::vector<std::size_t>{3, 3, 2, 0}));
  auto left = keys(all(*store, "r"));
  ASSERT_EQ(left.size(), 10u);
  EXPECT_EQ(left.front(), "r2026-12-05/a.example/x");
  EXPECT_EQ(keys(all(*store, "s")), std::vector<std::string>{"s2026-12-01/a.example"})
      << "only keys under the prefix are erased";
  auto none = store->erase_counters_below("r", "r2026-12-05", 0);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
}

TEST(Counters, CountsSurviveAReopen) {
  TempDir dir;
  {
    auto store = open_store(dir);
    ASSERT_TRUE(store->add_counters(std::vector<CounterAdd>{add("k", "payload", 7)}).ok());
    Change c;
    NewMessage m = make_message(QueueId{1}, "x\r\n");
    std::vector<NewMessage> batch{m};
    ASSERT_TRUE(store->insert_batch(batch)[0].ok());
    c.envelope = m.envelope;
    c.counters.push_back(add("k", "other", 1));
    ASSERT_TRUE(store->apply_batch(std::vector<Change>{c})[0].ok());
  }
  auto store = open_store(dir);
  auto entries = all(*store);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].count, 8u);
  EXPECT_EQ(entries[0].payload, "payload");
}

TEST(Counters, AChangeAddsItsCountsInItsTransaction) {
  TempDir dir;
  auto store = open_store(dir);
  std::vector<NewMessage> msgs = {make_message(QueueId{10}, "one\r\n"),
                                  make_message(QueueId{20}, "two\r\n")};
  for (auto& r : store->insert_batch(msgs)) ASSERT_TRUE(r.ok());
  Change update;
  update.envelope = msgs[0].envelope;
  update.envelope.attempts = 5;
  update.counters = {add("a", "pa", 2), add("b")};
  Change removal;
  removal.kind = Change::Kind::Remove;
  removal.envelope.id = QueueId{20};
  removal.counters = {add("a", "ignored", 1)};
  auto results = store->apply_batch(std::vector<Change>{update, removal});
  ASSERT_TRUE(results[0].ok());
  ASSERT_TRUE(results[1].ok());
  auto entries = all(*store);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].count, 3u);
  EXPECT_EQ(entries[0].payload, "pa");
  EXPECT_EQ(entries[1].count, 1u);
  auto updated = store->load(QueueId{10});
  ASSERT_TRUE(updated.ok() && updated->has_value());
  EXPECT_EQ((*updated)->attempts, 5u);
}

TEST(Counters, AFailedChangeAddsNoCountsAloneOrInAGroup) {
  TempDir dir;
  auto store = open_store(dir);
  std::vector<NewMessage> msgs = {make_message(QueueId{10}, "one\r\n")};
  for (auto& r : store->insert_batch(msgs)) ASSERT_TRUE(r.ok());
  Change gone;  // its message is not there: the change fails
  gone.envelope = make_envelope(QueueId{999});
  gone.counters = {add("lost")};
  Change good;
  good.envelope = msgs[0].envelope;
  good.counters = {add("kept")};

  auto alone = store->apply_batch(std::vector<Change>{gone});
  ASSERT_FALSE(alone[0].ok());
  EXPECT_TRUE(all(*store).empty());

  // In a group the batch fails, and the one-by-one retry commits only the good change.
  auto group = store->apply_batch(std::vector<Change>{gone, good});
  ASSERT_FALSE(group[0].ok());
  ASSERT_TRUE(group[1].ok());
  auto entries = all(*store);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].key, "kept");
  EXPECT_EQ(entries[0].count, 1u) << "counted once, not once per try";
}

TEST(Counters, ACounterNoStoreMayHoldDoesNotHoldUpItsChange) {
  TempDir dir;
  auto store = open_store(dir);
  std::vector<NewMessage> msgs = {make_message(QueueId{10}, "one\r\n")};
  for (auto& r : store->insert_batch(msgs)) ASSERT_TRUE(r.ok());
  Change c;
  c.envelope = msgs[0].envelope;
  c.envelope.attempts = 9;
  c.counters = {add(std::string(600, 'k')), add("fine")};
  auto results = store->apply_batch(std::vector<Change>{c});
  ASSERT_TRUE(results[0].ok()) << "an outcome never waits on a statistic";
  EXPECT_EQ(keys(all(*store)), std::vector<std::string>{"fine"});
  auto updated = store->load(QueueId{10});
  ASSERT_TRUE(updated.ok() && updated->has_value());
  EXPECT_EQ((*updated)->attempts, 9u);
}

}  // namespace
}  // namespace secmx::queue
