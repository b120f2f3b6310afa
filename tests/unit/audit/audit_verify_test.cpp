// audit_verify_test.cpp - `audit verify` over a store: a clean chain passes with its
// checkpoints checked; a flipped byte, a deleted record (inside, first, last behind a
// checkpoint) and a wrong key are found at the right seq; a pruned start verifies from its
// checkpoint; a time range verifies only its records; without a key the chain alone is checked.
#include "relay/audit/audit_verify.hpp"

#include <filesystem>

#include "relay/audit/audit_key.hpp"

#include <gtest/gtest.h>

#include "tests/unit/audit/audit_test_util.hpp"

namespace secmx::audit {
namespace {

using namespace secmx::audit::test;

const std::string kKey = "the audit checkpoint key of these tests";

// Ten records one hour apart from kNov1, checkpointed after the fifth and the tenth.
void fill(queue::Store& store) {
  auto env = envelope(1, "PROTECTED");
  for (int i = 0; i < 10; ++i) {
    std::int64_t t = kNov1 + i * 3'600'000'000;
    append_at(store, t, accept(t, env, {recipient("bob@dest.example", model::Policy::SOS)}));
    if (i == 4 || i == 9) {
      ASSERT_TRUE(store.checkpoint_audit(kKey, t).value());
    }
  }
}

TEST(AuditVerify, ACleanChainPassesWithItsCheckpoints) {
  TempDir dir;
  auto store = open_store(dir);
  fill(*store);
  auto r = verify(*store, kKey, std::nullopt, std::nullopt).value();
  EXPECT_TRUE(r.ok()) << r.first_break->what;
  EXPECT_EQ(r.records, 10u);
  EXPECT_EQ(r.checkpoints, 2u);
  EXPECT_EQ(r.first_seq, 1u);
  EXPECT_EQ(r.last_seq, 10u);
  EXPECT_EQ(r.first_time_us, kNov1);
  EXPECT_EQ(r.last_time_us, kNov1 + 9 * 3'600'000'000);
  EXPECT_TRUE(r.head_covered);
  auto j = verify_json(r);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["break"], nullptr);
  EXPECT_EQ(j["first_time"], "2026-11-01T00:00:00.000000Z");
  EXPECT_EQ(j["note"], "");
}

TEST(AuditVerify, AnEmptyChainPasses) {
  TempDir dir;
  auto store = open_store(dir);
  auto r = verify(*store, kKey, std::nullopt, std::nullopt).value();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.records, 0u);
  EXPECT_EQ(verify_json(r)["first_seq"], nullptr);
}

TEST(AuditVerify, AFlippedByteIsFoundAtTheRecordAfterIt) {
  TempDir dir;
  {
    auto store = open_store(dir);
    fill(*store);
  }
  RawAudit(dir.path() + "/q").flip(3);
  auto store = open_store(dir);
  auto r = verify(*store, kKey, std::nullopt, std::nullopt).value();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.first_break->seq, 4u) << r.first_break->what;
  EXPECT_NE(r.first_break->what.find("does not follow"), std::string::npos) << r.first_break->what;
  EXPECT_EQ(verify_json(r)["break"]["seq"], 4);
}

TEST(AuditVerify, AFlippedByteInTheNewestRecordIsFoundByItsCheckpoint) {
  TempDir dir;
  {
    auto store = open_store(dir);
    fill(*store);
  }
  RawAudit(dir.path() + "/q").flip(10);
  auto store = open_store(dir);
  auto r = verify(*store, kKey, std::nullopt, std::nullopt).value();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.first_break->seq, 10u);
  EXPECT_NE(r.first_break->what.find("rewritten"), std::string::npos) << r.first_break->what;
}

TEST(AuditVerify, ADeletedRecordIsFound) {
  TempDir dir;
  {
    auto store = open_store(dir);
    fill(*store);
  }
  RawAudit(dir.path() + "/q").erase("audit", 6);
  auto store = open_store(dir);
  auto r = verify(*store, kKey, std::nullopt, std::nullopt).value();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.first_break->seq, 6u);
  EXPECT_NE(r.first_break->what.find("missing"), std::string::npos) << r.first_break->what;
}

TEST(AuditVerify, ADeletedFirstRecordIsFoundThoughNothingPointsAtIt) {
  TempDir dir;
  {
    auto store = open_store(dir);
    fill(*store);
  }
  RawAudit(dir.path() + "/q").erase("audit", 1);
  auto store = open_store(dir);
  auto r = verify(*store, std::nullopt, std::nullopt, std::nullopt).value();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.first_break->seq, 1u);
  EXPECT_NE(r.first_break->what.find("records 1 to 1 are missing"), std::string::npos)
      << r.first_break->what;
}

TEST(AuditVerify, ACutTailBehindACheckpointIsFound) {
  TempDir dir;
  {
    auto store = open_store(dir);
    fill(*store);
  }
  RawAudit(dir.path() + "/q").erase("audit", 10);
  auto store = open_store(dir);
  auto r = verify(*store, kKey, std::nullopt, std::nullopt).value();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.first_break->seq, 10u) << r.first_break->what;
  EXPECT_NE(r.first_break->what.find("covers records that are missing"), std::string::npos);
  auto unkeyed = verify(*store, std::nullopt, std::nullopt, std::nullopt).value();
  ASSERT_FALSE(unkeyed.ok()) << "the checkpoint is there to see without a key too";
  EXPECT_EQ(unkeyed.first_break->seq, 10u);
}

TEST(AuditVerify, AWrongKeyFailsTheFirstCheckpoint) {
  TempDir dir;
  auto store = open_store(dir);
  fill(*store);
  auto r = verify(*store, std::string("another key"), std::nullopt, std::nullopt).value();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.first_break->seq, 5u);
  EXPECT_NE(r.first_break->what.find("not authentic"), std::string::npos);
}

TEST(AuditVerify, WithoutAKeyTheChainAloneIsVerifiedAndTheReportSaysSo) {
  TempDir dir;
  {
    auto store = open_store(dir);
    fill(*store);
  }
  {
    auto store = open_store(dir);
    auto r = verify(*store, std::nullopt, std::nullopt, std::nullopt).value();
    EXPECT_TRUE(r.ok());
    EXPECT_FALSE(r.key_used);
    EXPECT_EQ(r.records, 10u);
    EXPECT_EQ(r.checkpoints, 2u) << "seen, not checked";
    EXPECT_EQ(verify_json(r)["note"], "no key: checkpoints not checked");
  }
  RawAudit(dir.path() + "/q").flip(7);
  auto store = open_store(dir);
  auto r = verify(*store, std::nullopt, std::nullopt, std::nullopt).value();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.first_break->seq, 8u);
}

TEST(AuditVerify, APrunedStartVerifiesFromItsCheckpoint) {
  TempDir dir;
  auto store = open_store(dir);
  fill(*store);
  // Everything before the checkpointed record 5 is older than this.
  auto pruned = store->prune_audit(kNov1 + 6 * 3'600'000'000, 100).value();
  ASSERT_EQ(pruned, 4u);
  auto r = verify(*store, kKey, std::nullopt, std::nullopt).value();
  EXPECT_TRUE(r.ok()) << r.first_break->what;
  EXPECT_EQ(r.first_seq, 5u);
  EXPECT_EQ(r.records, 6u);
  EXPECT_EQ(r.checkpoints, 2u);
}

TEST(AuditVerify, ATimeRangeVerifiesOnlyItsRecords) {
  TempDir dir;
  auto store = open_store(dir);
  fill(*store);
  auto r = verify(*store, kKey, kNov1 + 2 * 3'600'000'000, kNov1 + 6 * 3'600'000'000).value();
  EXPECT_TRUE(r.ok()) << r.first_break->what;
  EXPECT_EQ(r.first_seq, 3u);
  EXPECT_EQ(r.last_seq, 6u);
  EXPECT_EQ(r.records, 4u);
  EXPECT_EQ(r.checkpoints, 1u) << "the one at 5; the one at 10 is outside";
  EXPECT_EQ(r.head_seq, 10u);
  auto none = verify(*store, kKey, kNov1 + 30 * kDay, std::nullopt).value();
  EXPECT_TRUE(none.ok());
  EXPECT_EQ(none.records, 0u);
}

TEST(AuditVerify, TheHeadPastTheLastCheckpointIsNamed) {
  TempDir dir;
  auto store = open_store(dir);
  fill(*store);
  append_at(*store, kNov1 + kDay, accept(kNov1 + kDay, envelope(2, "none"), {}));
  auto r = verify(*store, kKey, std::nullopt, std::nullopt).value();
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.head_covered);
  EXPECT_EQ(r.last_checkpoint_seq, 10u);
  EXPECT_EQ(verify_json(r)["note"],
            "records 11 to 11 are newer than the last checkpoint: only the chain vouches for them");
}

// Verify reads the key as the writer does (audit_key.hpp): its line without the newline,
// from a file no one else may read.
TEST(AuditVerify, TheKeyFileIsReadAsTheWriterReadsIt) {
  TempDir dir;
  EXPECT_FALSE(read_key_file(dir.sub("absent")).value());
  auto owner_only = [](const std::string& p) {
    std::filesystem::permissions(p, std::filesystem::perms::owner_read |
                                        std::filesystem::perms::owner_write);
    return p;
  };
  auto p = owner_only(dir.write("k", "secret-key\n"));
  EXPECT_EQ(read_key_file(p).value(), std::optional<std::string>("secret-key"));
  EXPECT_EQ(read_key_file(p).value(), read_audit_key(p).value());
  auto e = owner_only(dir.write("e", "\n"));
  EXPECT_FALSE(read_key_file(e).ok());
  auto open = dir.write("o", "secret-key\n");
  std::filesystem::permissions(open, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::owner_write |
                                         std::filesystem::perms::group_read);
  ASSERT_FALSE(read_key_file(open).ok());
  EXPECT_NE(read_key_file(open).error().find("readable by group or others"), std::string::npos);
}

}  // namespace
}  // namespace secmx::audit
