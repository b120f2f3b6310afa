// sts_store_test.cpp - the durable MTA-STS cache (queue/sts_store.hpp): round trip,
// survives reopening, removal, refusal of bad keys.
#include "queue/sts_store.hpp"

#include <gtest/gtest.h>

#include "tests/unit/temp_dir.hpp"

namespace secmx::queue {
namespace {

TEST(StsStore, RoundTripAndReopen) {
  test::TempDir dir;
  std::string path = sts_store_path(dir.path() + "/");
  EXPECT_EQ(path, dir.path() + "/mta-sts.mdb");
  StsRecord rec{"20240101T000000", 1700000000123456, "version: STSv1\nmode: none\nmax_age: 60\n"};
  {
    auto store = StsStore::open(path);
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto none = (*store)->get("d.test");
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(*none);
    ASSERT_TRUE((*store)->put("d.test", rec).ok());
    ASSERT_TRUE((*store)->put("a.test", StsRecord{"x", -5, ""}).ok());
    auto got = (*store)->get("d.test");
    ASSERT_TRUE(got.ok());
    ASSERT_TRUE(*got);
    EXPECT_EQ(**got, rec);
  }
  auto store = StsStore::open(path);
  ASSERT_TRUE(store.ok());
  auto all = (*store)->all();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->entries.size(), 2u);
  EXPECT_EQ(all->entries[0].domain, "a.test");
  EXPECT_EQ(all->entries[0].record.fetched_us, -5);
  EXPECT_EQ(all->entries[1].record, rec);
  EXPECT_EQ(all->skipped, 0u);

  auto removed = (*store)->remove("d.test");
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  removed = (*store)->remove("d.test");
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(*removed);
}

TEST(StsStore, RefusesWhatNoRecordMayHold) {
  test::TempDir dir;
  auto store = StsStore::open(sts_store_path(dir.path()));
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->put("", StsRecord{"id", 0, ""}).error().kind, Error::Kind::Invalid);
  EXPECT_EQ((*store)->put("d.test", StsRecord{"", 0, ""}).error().kind, Error::Kind::Invalid);
  EXPECT_EQ((*store)->put(std::string(256, 'a'), StsRecord{"id", 0, ""}).error().kind,
            Error::Kind::Invalid);
}

TEST(StsStore, OpenFailsWithWordsWhenTheDirectoryIsMissing) {
  auto store = StsStore::open("/nonexistent-dir-for-secmx/mta-sts.mdb");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("mta-sts.mdb"), std::string::npos);
}

}  // namespace
}  // namespace secmx::queue
