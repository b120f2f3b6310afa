// dns_cache_test.cpp - TtlCache: expiry by the injected clock, LRU eviction, replacement.
#include "relay/dns/dns_cache.hpp"

#include <gtest/gtest.h>

#include <string>

namespace secmx::dns {
namespace {

TEST(TtlCache, EntryLivesUntilItsExpiryTime) {
  TtlCache<int> c(10);
  c.put("MX d.test", 7, /*expires_ms=*/1000);
  ASSERT_NE(c.find("MX d.test", 0), nullptr);
  EXPECT_EQ(*c.find("MX d.test", 999), 7);
  EXPECT_EQ(c.find("MX d.test", 1000), nullptr) << "expired exactly at its expiry time";
  EXPECT_EQ(c.size(), 0u) << "an expired entry is dropped when met";
  EXPECT_EQ(c.find("MX d.test", 0), nullptr) << "and stays gone";
}

TEST(TtlCache, ExpiredEntryIsReplacedByAFreshOne) {
  TtlCache<int> c(10);
  c.put("A h", 1, 100);
  EXPECT_EQ(c.find("A h", 150), nullptr);
  c.put("A h", 2, 300);
  ASSERT_NE(c.find("A h", 150), nullptr);
  EXPECT_EQ(*c.find("A h", 150), 2);
}

TEST(TtlCache, PutReplacesWithoutGrowing) {
  TtlCache<int> c(10);
  c.put("k", 1, 100);
  c.put("k", 2, 50);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(*c.find("k", 10), 2);
  EXPECT_EQ(c.find("k", 60), nullptr) << "the replacement's expiry counts";
}

TEST(TtlCache, EvictsTheLeastRecentlyUsed) {
  TtlCache<std::string> c(2);
  c.put("a", "A", 1000);
  c.put("b", "B", 1000);
  ASSERT_NE(c.find("a", 0), nullptr);  // "a" is now the most recently used
  c.put("c", "C", 1000);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_NE(c.find("a", 0), nullptr);
  EXPECT_EQ(c.find("b", 0), nullptr) << "b was the least recently used";
  EXPECT_NE(c.find("c", 0), nullptr);
}

TEST(TtlCache, ZeroCapacityKeepsNothingAndClearEmpties) {
  TtlCache<int> none(0);
  none.put("k", 1, 1000);
  EXPECT_EQ(none.find("k", 0), nullptr);
  TtlCache<int> c(4);
  c.put("x", 1, 1000);
  c.put("y", 2, 1000);
  c.clear();
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.find("x", 0), nullptr);
}

}  // namespace
}  // namespace secmx::dns
