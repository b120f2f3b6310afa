// The LMDB store in a temp dir: round trips, restart, the schedule index, pagination,
// stats, corrupt records, and the full-map promise (nothing acknowledged is ever harmed,
// and one message that does not fit does not fail the others).
#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "queue/record_codec.hpp"
#include "queue/store.hpp"
#include "tests/unit/queue/queue_test_util.hpp"

namespace secmx::queue {
namespace {

using test::expect_same;
using test::make_body;
using test::make_message;
using test::TempDir;

std::unique_ptr<Store> open_store(const std::string& path, std::uint64_t map_size = 64ull << 20) {
  auto r = open_lmdb_store(StoreOptions{path, map_size});
  if (!r.ok()) ADD_FAILURE() << r.error().message;
  return r.ok() ? std::move(r).value() : nullptr;
}

Status<Error> insert_one(Store& store, NewMessage m) {
  std::vector<NewMessage> batch;
  batch.push_back(std::move(m));
  auto out = store.insert_batch(batch);
  if (out.size() != 1) std::abort();
  return std::move(out[0]);
}

void expect_stored(Store& store, const NewMessage& m) {
  auto env = store.load(m.envelope.id);
  ASSERT_TRUE(env.ok()) << env.error().message;
  ASSERT_TRUE(env->has_value()) << m.envelope.id.to_string();
  expect_same(**env, m.envelope);
  auto body = store.load_body(m.envelope.id);
  ASSERT_TRUE(body.ok()) << body.error().message;
  EXPECT_TRUE(*body == m.body) << m.envelope.id.to_string() << " body differs";
}

std::vector<QueueId> due_ids(Store& store, std::int64_t now, std::size_t limit = 100) {
  auto r = store.due_after(std::nullopt, now, limit);
  EXPECT_TRUE(r.ok());
  std::vector<QueueId> ids;
  if (r.ok())
    for (const auto& e : *r) ids.push_back(e.id);
  return ids;
}

class LmdbStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(dir_.sub("q"));
    ASSERT_NE(store_, nullptr);
  }
  NewMessage msg(std::uint64_t id, std::int64_t next_attempt = 0, bool held = false,
                 std::size_t body = 300) {
    auto m = make_message(QueueId{id}, make_body(QueueId{id}, body));
    m.envelope.next_attempt_us = next_attempt;
    m.envelope.held = held;
    return m;
  }
  void put(const NewMessage& m) {
    auto s = insert_one(*store_, m);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(LmdbStoreTest, InsertLoadBodyRemove) {
  auto a = msg(100), b = msg(200, 0, false, 0);  // an empty body is stored as such
  std::vector<NewMessage> batch{a, b};
  auto out = store_->insert_batch(batch);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].ok());
  EXPECT_TRUE(out[1].ok());
  expect_stored(*store_, a);
  expect_stored(*store_, b);

  ASSERT_TRUE(store_->remove(a.envelope.id).ok());
  auto gone = store_->load(a.envelope.id);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  auto body = store_->load_body(a.envelope.id);
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.error().kind, Error::Kind::NotFound);
  expect_stored(*store_, b);
  EXPECT_EQ(due_ids(*store_, 1), std::vector<QueueId>{b.envelope.id});
}

TEST_F(LmdbStoreTest, MissingIsAnOrdinaryOutcome) {
  auto env = store_->load(QueueId{42});
  ASSERT_TRUE(env.ok());
  EXPECT_FALSE(env->has_value());
  auto removed = store_->remove(QueueId{42});
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.error().kind, Error::Kind::NotFound);
  auto updated = store_->update(msg(42).envelope);
  ASSERT_FALSE(updated.ok());
  EXPECT_EQ(updated.error().kind, Error::Kind::NotFound);
  EXPECT_FALSE(store_->load(QueueId{42})->has_value()) << "update must not create";
  EXPECT_EQ(store_->last_id(), QueueId{});
}

TEST_F(LmdbStoreTest, DuplicateIdFailsOnlyItself) {
  auto first = msg(7);
  put(first);
  auto again = msg(7, 0, false, 50);
  std::vector<NewMessage> batch{msg(8), again, msg(9)};
  auto out = store_->insert_batch(batch);
  EXPECT_TRUE(out[0].ok());
  ASSERT_FALSE(out[1].ok());
  EXPECT_EQ(out[1].error().kind, Error::Kind::Invalid);
  EXPECT_TRUE(out[2].ok());
  expect_stored(*store_, first);  // the original is untouched
  expect_stored(*store_, batch[0]);
  expect_stored(*store_, batch[2]);
}

TEST_F(LmdbStoreTest, InvalidEnvelopeFailsOnlyItself) {
  std::vector<NewMessage> batch{msg(1), msg(2), msg(3)};
  batch[1].envelope.ret = static_cast<Ret>(17);
  auto out = store_->insert_batch(batch);
  EXPECT_TRUE(out[0].ok());
  ASSERT_FALSE(out[1].ok());
  EXPECT_EQ(out[1].error().kind, Error::Kind::Invalid);
  EXPECT_TRUE(out[2].ok());
  EXPECT_FALSE(store_->load(QueueId{2})->has_value());
}

TEST_F(LmdbStoreTest, DirectoryAndFilesArePrivate) {
  store_.reset();
  std::string nested = dir_.sub("a/b/queue");
  auto store = open_store(nested);
  ASSERT_NE(store, nullptr);
  struct stat st {};
  for (const char* d : {"a", "a/b", "a/b/queue"}) {
    ASSERT_EQ(::stat(dir_.sub(d).c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << d;
  }
  ASSERT_EQ(::stat((nested + "/data.mdb").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u) << "data.mdb readable by others";
}

TEST_F(LmdbStoreTest, OpenFailsCleanlyOnAFile) {
  std::string file = dir_.sub("plain-file");
  std::FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  auto r = open_lmdb_store(StoreOptions{file, 1 << 20});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Error::Kind::Io);
  auto empty = open_lmdb_store(StoreOptions{"", 1 << 20});
  EXPECT_FALSE(empty.ok());
}

TEST_F(LmdbStoreTest, RestartFindsEverything) {
  std::vector<NewMessage> all;
  for (std::uint64_t i = 1; i <= 60; ++i) {
    all.push_back(msg(i << 20, static_cast<std::int64_t>(i % 7) * 1000, i % 10 == 0, 100 + i * 37));
  }
  for (std::size_t first = 0; first < all.size(); first += 25) {
    std::vector<NewMessage> batch(
        all.begin() + static_cast<std::ptrdiff_t>(first),
        all.begin() + static_cast<std::ptrdiff_t>(std::min(first + 25, all.size())));
    for (const auto& s : store_->insert_batch(batch)) ASSERT_TRUE(s.ok());
  }
  auto due_before = due_ids(*store_, 1'000'000, 1000);
  store_.reset();  // close

  store_ = open_store(dir_.sub("q"));
  ASSERT_NE(store_, nullptr);
  for (const auto& m : all) expect_stored(*store_, m);
  EXPECT_EQ(store_->last_id(), QueueId{60ull << 20});
  EXPECT_EQ(due_ids(*store_, 1'000'000, 1000), due_before);
  EXPECT_EQ(due_before.size(), 54u);  // 6 of 60 are held
  auto stats = store_->stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->messages, 60u);
  EXPECT_EQ(stats->held, 6u);
}

TEST_F(LmdbStoreTest, DueIsEarliestFirstAndSkipsHeld) {
  put(msg(1, 300));
  put(msg(2, 100));
  put(msg(3, 200));
  put(msg(4, 50, /*held=*/true));
  put(msg(5, 0));
  put(msg(6, -20));  // a time before the epoch still sorts first
  put(msg(7, 100));  // same time as 2: id order breaks the tie
  EXPECT_EQ(due_ids(*store_, 250), (std::vector<QueueId>{{6}, {5}, {2}, {7}, {3}}));
  EXPECT_EQ(due_ids(*store_, 250, 2), (std::vector<QueueId>{{6}, {5}}));
  EXPECT_EQ(due_ids(*store_, 100), (std::vector<QueueId>{{6}, {5}, {2}, {7}}));
  EXPECT_EQ(due_ids(*store_, 99), (std::vector<QueueId>{{6}, {5}}));
  EXPECT_EQ(due_ids(*store_, -21), std::vector<QueueId>{});
  EXPECT_EQ(due_ids(*store_, 1000, 0), std::vector<QueueId>{});
  EXPECT_EQ(due_ids(*store_, INT64_MAX).size(), 6u);
}

TEST_F(LmdbStoreTest, UpdateMovesTheScheduleKey) {
  auto m = msg(10, 100);
  put(m);
  put(msg(11, 150));
  Envelope e = m.envelope;
  e.next_attempt_us = 500;
  e.attempts = 1;
  e.recipients[0].state = RcptState::Delivered;
  e.recipients[0].last_reply = "250 ok";
  ASSERT_TRUE(store_->update(e).ok());
  EXPECT_EQ(due_ids(*store_, 200), std::vector<QueueId>{QueueId{11}});
  EXPECT_EQ(due_ids(*store_, 600), (std::vector<QueueId>{{11}, {10}}));
  auto loaded = store_->load(e.id);
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  expect_same(loaded->value(), e);

  e.held = true;  // operator hold: out of the schedule
  ASSERT_TRUE(store_->update(e).ok());
  EXPECT_EQ(due_ids(*store_, INT64_MAX), std::vector<QueueId>{QueueId{11}});
  EXPECT_EQ(store_->stats()->held, 1u);

  e.held = false;  // release, due now
  e.next_attempt_us = 0;
  ASSERT_TRUE(store_->update(e).ok());
  EXPECT_EQ(due_ids(*store_, 0), std::vector<QueueId>{QueueId{10}});
  EXPECT_EQ(due_ids(*store_, INT64_MAX), (std::vector<QueueId>{{10}, {11}}))
      << "no stale entry left";
  EXPECT_EQ(store_->stats()->held, 0u);

  ASSERT_TRUE(store_->update(e).ok());  // same key again
  EXPECT_EQ(due_ids(*store_, INT64_MAX).size(), 2u);
  expect_stored(*store_, NewMessage{e, m.body, {}});  // the body is not touched by update
}

TEST_F(LmdbStoreTest, ScheduledPagesThroughTheIndexInDueOrderWithoutHeld) {
  put(msg(1, 300));
  put(msg(2, 100));
  put(msg(3, kNeverDue));
  put(msg(4, 50, /*held=*/true));
  put(msg(5, -20));
  put(msg(6, 100));  // same time as 2: id order breaks the tie
  std::vector<std::pair<std::int64_t, std::uint64_t>> seen;
  std::optional<ScheduleEntry> after;
  for (int page = 0; page < 10; ++page) {
    auto r = store_->scheduled(after, 2);
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (r->empty()) break;
    EXPECT_LE(r->size(), 2u);
    for (const auto& e : *r) seen.emplace_back(e.next_attempt_us, e.id.value);
    after = r->back();
  }
  EXPECT_EQ(seen, (std::vector<std::pair<std::int64_t, std::uint64_t>>{
                      {-20, 5}, {100, 2}, {100, 6}, {300, 1}, {kNeverDue, 3}}));
  // `after` is exclusive, and need not be an entry that exists.
  auto from = store_->scheduled(ScheduleEntry{100, QueueId{2}}, 10);
  ASSERT_TRUE(from.ok());
  ASSERT_EQ(from->size(), 3u);
  EXPECT_EQ(from->front().id, QueueId{6});
  from = store_->scheduled(ScheduleEntry{100, QueueId{3}}, 10);
  ASSERT_TRUE(from.ok());
  EXPECT_EQ(from->front().id, QueueId{6});
  EXPECT_TRUE(store_->scheduled(ScheduleEntry{kNeverDue, QueueId{3}}, 10)->empty());
  EXPECT_TRUE(store_->scheduled(std::nullopt, 0)->empty());
}

TEST_F(LmdbStoreTest, ListPaginatesInIdOrder) {
  for (std::uint64_t i = 25; i >= 1; --i) put(msg(i * 3, 0, i % 4 == 0));  // inserted out of order
  std::vector<std::uint64_t> seen;
  QueueId after{};
  for (int page = 0; page < 10; ++page) {
    auto r = store_->list(after, 10);
    ASSERT_TRUE(r.ok());
    if (r->empty()) break;
    EXPECT_LE(r->size(), 10u);
    for (const auto& e : *r) seen.push_back(e.id.value);
    after = r->back().id;
  }
  ASSERT_EQ(seen.size(), 25u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], (i + 1) * 3);
  EXPECT_EQ(store_->list(QueueId{4}, 2)->size(), 2u);
  EXPECT_EQ(store_->list(QueueId{4}, 2)->front().id, QueueId{6});
  EXPECT_TRUE(store_->list(QueueId{UINT64_MAX}, 10)->empty());
  EXPECT_TRUE(store_->list(QueueId{}, 0)->empty());
}

TEST_F(LmdbStoreTest, Stats) {
  auto empty = store_->stats();
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->messages, 0u);
  EXPECT_EQ(empty->oldest_arrival_us, 0);

  auto a = msg(50), b = msg(60, 0, true), c = msg(70, 0, true);
  a.envelope.arrival_us = 1111;
  b.envelope.arrival_us = 2222;
  put(c);
  put(a);
  put(b);
  auto s = store_->stats();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->messages, 3u);
  EXPECT_EQ(s->held, 2u);
  EXPECT_EQ(s->oldest_arrival_us, 1111);
  EXPECT_EQ(store_->last_id(), QueueId{70});

  ASSERT_TRUE(store_->remove(QueueId{60}).ok());
  ASSERT_TRUE(store_->remove(QueueId{50}).ok());
  s = store_->stats();
  EXPECT_EQ(s->messages, 1u);
  EXPECT_EQ(s->held, 1u);
  EXPECT_EQ(s->oldest_arrival_us, c.envelope.arrival_us);
}

TEST_F(LmdbStoreTest, ReadersOnManyThreadsWhileWriting) {
  constexpr std::uint64_t kBatches = 50, kPerBatch = 10;
  std::atomic<std::uint64_t> committed{0};  // ids 1..committed are durable
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      std::uint64_t probe = static_cast<std::uint64_t>(t);
      while (!done.load()) {
        std::uint64_t upto = committed.load();
        if (upto == 0) continue;
        QueueId id{1 + probe++ % upto};
        auto env = store_->load(id);
        if (!env.ok() || !env->has_value() || (*env)->id != id) ++errors;
        auto body = store_->load_body(id);
        if (!body.ok() || *body != make_body(id, 64)) ++errors;
        auto due = store_->due_after(std::nullopt, INT64_MAX, 5);
        if (!due.ok() || due->empty()) ++errors;
        auto stats = store_->stats();
        if (!stats.ok() || stats->messages < upto) ++errors;
      }
    });
  }
  std::uint64_t id = 1;
  for (std::uint64_t b = 0; b < kBatches; ++b) {
    std::vector<NewMessage> batch;
    for (std::uint64_t i = 0; i < kPerBatch; ++i, ++id) batch.push_back(msg(id, 0, false, 64));
    for (const auto& s : store_->insert_batch(batch)) ASSERT_TRUE(s.ok());
    committed.store(id - 1);
  }
  done.store(true);
  for (auto& th : readers) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(store_->stats()->messages, kBatches * kPerBatch);
}

// Writes straight into the database, as a disk error or a bug elsewhere might.
void write_raw_meta(const std::string& path, QueueId id, const std::string& value) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_set_maxdbs(env, 4), 0);
  ASSERT_EQ(mdb_env_open(env, path.c_str(), 0, 0600), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi = 0;
  ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
  auto key = id.to_key();
  MDB_val k{key.size(), key.data()};
  MDB_val v{value.size(), const_cast<char*>(value.data())};
  ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

TEST_F(LmdbStoreTest, CorruptRecordIsReportedAndCanBeRemoved) {
  put(msg(1, 10));
  put(msg(2, 20));
  put(msg(3, 30));
  store_.reset();
  write_raw_meta(dir_.sub("q"), QueueId{2}, "\x01garbage");
  store_ = open_store(dir_.sub("q"));
  ASSERT_NE(store_, nullptr);

  auto bad = store_->load(QueueId{2});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, Error::Kind::Corrupt);
  EXPECT_NE(bad.error().message.find("0000000000000002"), std::string::npos) << bad.error().message;
  auto listed = store_->list(QueueId{}, 10);
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().kind, Error::Kind::Corrupt);
  expect_stored(*store_, msg(1, 10));

  // Removal works without being able to read the record, and clears its schedule entry.
  ASSERT_TRUE(store_->remove(QueueId{2}).ok());
  EXPECT_EQ(due_ids(*store_, 100), (std::vector<QueueId>{{1}, {3}}));
  EXPECT_EQ(store_->list(QueueId{}, 10)->size(), 2u);
}

TEST_F(LmdbStoreTest, RecordUnderTheWrongKeyIsCorrupt) {
  put(msg(1));
  store_.reset();
  std::string other;
  ASSERT_TRUE(encode_envelope(msg(9).envelope, other).ok());
  write_raw_meta(dir_.sub("q"), QueueId{1}, other);
  store_ = open_store(dir_.sub("q"));
  auto r = store_->load(QueueId{1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Error::Kind::Corrupt);
}

// ---- a full map --------------------------------------------------------------------------

class FullStoreTest : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kMap = 1 << 20;
  void SetUp() override {
    store_ = open_store(dir_.sub("q"), kMap);
    ASSERT_NE(store_, nullptr);
  }
  NewMessage msg(std::uint64_t id, std::size_t body) {
    return make_message(QueueId{id}, make_body(QueueId{id}, body));
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(FullStoreTest, FillUntilFullKeepsEveryAcknowledgedMessage) {
  std::vector<NewMessage> acked;
  bool full = false;
  std::uint64_t id = 1;
  for (int round = 0; round < 500 && !full; ++round) {
    std::vector<NewMessage> batch;
    for (int i = 0; i < 4; ++i)
      batch.push_back(msg(id++, 9000 + static_cast<std::size_t>(round % 5) * 1000));
    auto out = store_->insert_batch(batch);
    ASSERT_EQ(out.size(), batch.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].ok()) {
        acked.push_back(batch[i]);
      } else {
        ASSERT_EQ(out[i].error().kind, Error::Kind::Full) << out[i].error().message;
        EXPECT_TRUE(out[i].error().temporary());
        EXPECT_FALSE(store_->load(batch[i].envelope.id)->has_value())
            << "a failed message left a trace";
        full = true;
      }
    }
  }
  ASSERT_TRUE(full) << "a 1 MiB map never filled";
  ASSERT_GT(acked.size(), 20u);
  for (const auto& m : acked) expect_stored(*store_, m);
  EXPECT_EQ(store_->stats()->messages, acked.size());

  // A message far smaller than a page may still fit in what is left.
  NewMessage tiny;
  tiny.envelope.id = QueueId{id++};
  tiny.body = "x";
  auto tiny_status = insert_one(*store_, tiny);
  if (tiny_status.ok()) acked.push_back(tiny);

  // Make room and the store takes new mail again.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store_->remove(acked.front().envelope.id).ok());
    acked.erase(acked.begin());
  }
  auto after = msg(id++, 9000);
  ASSERT_TRUE(insert_one(*store_, after).ok());
  acked.push_back(after);

  store_.reset();  // and everything survives a restart
  store_ = open_store(dir_.sub("q"), kMap);
  ASSERT_NE(store_, nullptr);
  for (const auto& m : acked) expect_stored(*store_, m);
  EXPECT_EQ(store_->stats()->messages, acked.size());
}

TEST_F(FullStoreTest, SmallMessageGoesInAfterABigOneFailed) {
  auto a = msg(1, 2000);
  ASSERT_TRUE(insert_one(*store_, a).ok());
  auto big = msg(2, 2 * kMap);
  auto s = insert_one(*store_, big);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, Error::Kind::Full);
  auto b = msg(3, 2000);
  ASSERT_TRUE(insert_one(*store_, b).ok());
  expect_stored(*store_, a);
  expect_stored(*store_, b);
  EXPECT_FALSE(store_->load(QueueId{2})->has_value());
}

TEST_F(FullStoreTest, BigMessageInABatchFailsAlone) {
  std::vector<NewMessage> batch{msg(1, 3000), msg(2, 500), msg(3, 2 * kMap), msg(4, 4000),
                                msg(5, 100)};
  auto out = store_->insert_batch(batch);
  ASSERT_EQ(out.size(), 5u);
  for (std::size_t i : {0u, 1u, 3u, 4u}) {
    EXPECT_TRUE(out[i].ok()) << i << ": " << out[i].error().message;
    expect_stored(*store_, batch[i]);
  }
  ASSERT_FALSE(out[2].ok());
  EXPECT_EQ(out[2].error().kind, Error::Kind::Full);
  EXPECT_FALSE(store_->load(QueueId{3})->has_value());
  EXPECT_EQ(store_->stats()->messages, 4u);
}

// Not a benchmark with a threshold: prints the durable insert rate for the lead's notes.
TEST(LmdbStoreRate, Prints4KiBBatchesOf100) {
  TempDir dir;
  auto store = open_store(dir.sub("q"), 1ull << 30);
  ASSERT_NE(store, nullptr);
  constexpr int kBatches = 30;
  constexpr int kPerBatch = 100;
  std::vector<std::vector<NewMessage>> batches(kBatches);
  std::uint64_t id = 1;
  for (auto& b : batches) {
    for (int i = 0; i < kPerBatch; ++i, ++id)
      b.push_back(make_message(QueueId{id}, make_body(QueueId{id}, 4096)));
  }
  auto start = std::chrono::steady_clock::now();
  for (auto& b : batches) {
    for (const auto& s : store->insert_batch(b)) ASSERT_TRUE(s.ok());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ rate     ] %d x %d msgs of 4 KiB: %.3f s, %.0f msg/s, %.2f ms per fsync'd batch\n",
              kBatches, kPerBatch, secs, kBatches * kPerBatch / secs, secs * 1000 / kBatches);
  EXPECT_EQ(store->stats()->messages, static_cast<std::uint64_t>(kBatches * kPerBatch));
}

}  // namespace
}  // namespace secmx::queue
