// audit_service_test.cpp - checkpoints and retention over a real LMDB store: a checkpoint
// covers the head and verifies under the key, none is written when nothing is new, the
// shutdown checkpoint is written by stop(), and pruning goes in bounded batches, only
// below a checkpoint, leaving a chain that still verifies.
#include "relay/audit/audit_service.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "queue/audit_chain.hpp"
#include "tests/unit/temp_dir.hpp"

namespace secmx::audit {
namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
constexpr std::int64_t kDay = 24LL * 3600 * 1000000;

struct Fixture {
  test::TempDir dir;
  std::unique_ptr<queue::Store> store;
  std::int64_t now = 100 * kDay;
  std::vector<std::size_t> batches;
  std::vector<std::int64_t> checkpoints;

  Fixture() {
    auto s = queue::open_lmdb_store({dir.path() + "/q", 64ull << 20});
    EXPECT_TRUE(s.ok());
    store = std::move(s.value());
  }

  ServiceOptions options(std::size_t batch = 10) {
    ServiceOptions o;
    o.store = store.get();
    o.key = kKey;
    o.retention = std::chrono::hours(24 * 30);
    o.prune_batch = batch;
    o.now_us = [this] { return now; };
    o.on_checkpoint = [this](std::int64_t at) { checkpoints.push_back(at); };
    o.on_pruned = [this](std::size_t n) { batches.push_back(n); };
    return o;
  }

  void append(std::size_t n, std::int64_t time_us) {
    std::vector<queue::AuditRecord> records;
    for (std::size_t i = 0; i < n; ++i) records.push_back({time_us, "{\"n\":" + std::to_string(i) + "}"});
    ASSERT_TRUE(store->append_audit(records).ok());
  }

  std::optional<queue::audit::Break> verify() {
    auto links = store->audit_links(0, 100000).value();
    auto cps = store->audit_checkpoints(0, 100000).value();
    queue::audit::ChainVerifier v(kKey);
    auto cp = cps.begin();
    for (const auto& l : links) {
      for (; cp != cps.end() && cp->seq < l.seq; ++cp) v.add_checkpoint(cp->seq, cp->stored);
      v.add_link(l.seq, l.stored);
    }
    for (; cp != cps.end(); ++cp) v.add_checkpoint(cp->seq, cp->stored);
    EXPECT_EQ(v.checkpoints(), cps.size());
    return v.first_break();
  }
};

TEST(AuditService, ACheckpointCoversTheHeadAndVerifiesUnderTheKey) {
  Fixture f;
  AuditService service(f.options());
  EXPECT_FALSE(service.checkpoint());  // an empty chain has nothing to vouch for
  f.append(3, f.now);
  EXPECT_TRUE(service.checkpoint());
  EXPECT_FALSE(service.checkpoint());  // nothing new since
  auto cps = f.store->audit_checkpoints(0, 10).value();
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].seq, 3u);
  EXPECT_EQ(f.checkpoints, std::vector<std::int64_t>{f.now});
  EXPECT_FALSE(f.verify().has_value());
}

TEST(AuditService, StopWritesTheShutdownCheckpoint) {
  Fixture f;
  auto o = f.options();
  o.checkpoint_interval = std::chrono::hours(1);  // the timer never fires in this test
  AuditService service(std::move(o));
  service.start();
  f.append(2, f.now);
  service.stop();
  auto cps = f.store->audit_checkpoints(0, 10).value();
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].seq, 2u);
  service.stop();  // idempotent: no second one
  EXPECT_EQ(f.store->audit_checkpoints(0, 10).value().size(), 1u);
}

TEST(AuditService, TheTimerCheckpointsWhileRunning) {
  Fixture f;
  auto o = f.options();
  o.checkpoint_interval = std::chrono::milliseconds(20);
  f.append(1, f.now);
  AuditService service(std::move(o));
  service.start();
  for (int i = 0; i < 500 && f.store->audit_checkpoints(0, 10).value().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(f.store->audit_checkpoints(0, 10).value().size(), 1u);
  service.stop();
}

TEST(AuditService, PrunesOldRecordsInBoundedBatchesOnlyBelowACheckpoint) {
  Fixture f;
  AuditService service(f.options(10));
  const std::int64_t old = f.now - 60 * kDay;  // older than the 30 days kept
  f.append(25, old);
  // Without a checkpoint nothing may go: what remained could not be vouched for.
  EXPECT_EQ(service.prune(), 0u);
  EXPECT_TRUE(f.batches.empty());
  ASSERT_TRUE(service.checkpoint());  // covers seq 25
  f.append(5, f.now);                 // young: kept
  ASSERT_TRUE(service.checkpoint());  // covers seq 30
  // Batches of 10: the first finds no checkpoint among seqs 1-10, so it reaches to the
  // next one (25), which stays as the anchor of what remains.
  EXPECT_EQ(service.prune(), 24u);
  EXPECT_EQ(f.batches, (std::vector<std::size_t>{24}));
  auto links = f.store->audit_links(0, 100).value();
  ASSERT_EQ(links.size(), 6u);
  EXPECT_EQ(links.front().seq, 25u);
  EXPECT_FALSE(f.verify().has_value());
  EXPECT_EQ(service.prune(), 0u);  // nothing more may go
}

TEST(AuditService, EachBatchIsBoundedWhenCheckpointsAreDense) {
  Fixture f;
  AuditService service(f.options(10));
  const std::int64_t old = f.now - 60 * kDay;
  for (int i = 0; i < 6; ++i) {  // a checkpoint every 5 records: seqs 5, 10, ..., 30
    f.append(5, old);
    ASSERT_TRUE(service.checkpoint());
  }
  f.append(1, f.now);
  ASSERT_TRUE(service.checkpoint());
  EXPECT_EQ(service.prune(), 29u);
  for (auto n : f.batches) EXPECT_LE(n, 10u);
  EXPECT_GE(f.batches.size(), 3u);
  EXPECT_EQ(f.store->audit_links(0, 100).value().front().seq, 30u);
  EXPECT_FALSE(f.verify().has_value());
}

}  // namespace
}  // namespace secmx::audit
