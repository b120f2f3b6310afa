// Queue ids: text and key forms, ordering, and the generator's uniqueness and monotonicity.
#include "relay/model/queue_id.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace secmx::model {
namespace {

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

TEST(QueueIdTest, TextIsSixteenUpperCaseHexDigits) {
  EXPECT_EQ(QueueId{0x0123456789ABCDEFull}.to_string(), "0123456789ABCDEF");
  EXPECT_EQ(QueueId{0}.to_string(), "0000000000000000");
  EXPECT_EQ(QueueId{UINT64_MAX}.to_string(), "FFFFFFFFFFFFFFFF");
  EXPECT_EQ(QueueId{0xabcdefull}.to_string(), "0000000000ABCDEF");
}

TEST(QueueIdTest, ParseRoundTripsAndAcceptsLowerCase) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 1000; ++i) {
    QueueId id{rng()};
    auto parsed = QueueId::parse(id.to_string());
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, id);
  }
  auto lower = QueueId::parse("0123456789abcdef");
  ASSERT_TRUE(lower.has_value());
  EXPECT_EQ(lower->value, 0x0123456789ABCDEFull);
}

TEST(QueueIdTest, ParseRejectsMalformedText) {
  for (const char* bad :
       {"", "0123456789ABCDE", "0123456789ABCDEF0", "0123456789ABCDEG", " 123456789ABCDEF",
        "0123456789ABCDE ", "+123456789ABCDEF", "0x23456789ABCDEF", "0123456789ABCDE\n"}) {
    EXPECT_FALSE(QueueId::parse(bad).has_value()) << '"' << bad << '"';
  }
  EXPECT_FALSE(QueueId::parse(std::string_view("0123456789ABCDE\0", 16)).has_value());
}

TEST(QueueIdTest, KeyIsBigEndianAndRoundTrips) {
  QueueId id{0x0102030405060708ull};
  auto key = id.to_key();
  const unsigned char want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(std::memcmp(key.data(), want, 8), 0);
  EXPECT_EQ(QueueId::from_key(key.data(), key.size()), id);
  EXPECT_EQ(QueueId::from_key(key.data(), 7), QueueId{});
  EXPECT_EQ(QueueId::from_key(nullptr, 8), QueueId{});
}

TEST(QueueIdTest, KeyAndTextOrderEqualNumericOrder) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10000; ++i) {
    // Mix in small and close values, where byte-order mistakes show.
    QueueId a{rng() >> (i % 64)}, b{rng() >> (i % 61)};
    if (i % 3 == 0) b.value = a.value + 1;
    auto ka = a.to_key(), kb = b.to_key();
    int keycmp = std::memcmp(ka.data(), kb.data(), 8);
    EXPECT_EQ(keycmp < 0, a < b);
    EXPECT_EQ(keycmp == 0, a == b);
    EXPECT_EQ(a.to_string() < b.to_string(), a < b);
  }
}

TEST(IdGeneratorTest, FollowsTheClock) {
  std::uint64_t before = now_ms();
  IdGenerator gen;
  QueueId id = gen.next();
  std::uint64_t after = now_ms();
  EXPECT_GE(id.value >> 20, before);
  EXPECT_LE(id.value >> 20, after);
}

TEST(IdGeneratorTest, StrictlyIncreasing) {
  IdGenerator gen;
  QueueId prev = gen.next();
  for (int i = 0; i < 200000; ++i) {
    QueueId id = gen.next();
    ASSERT_GT(id, prev);
    prev = id;
  }
}

TEST(IdGeneratorTest, UniqueAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100000;
  IdGenerator gen;
  std::vector<std::vector<std::uint64_t>> per_thread(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto& mine = per_thread[static_cast<std::size_t>(t)];
      mine.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) mine.push_back(gen.next().value);
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::uint64_t> all;
  for (const auto& mine : per_thread) {
    EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
    EXPECT_EQ(std::adjacent_find(mine.begin(), mine.end()), mine.end());
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "duplicate id";
}

TEST(IdGeneratorTest, SeededFromALargerLastIdNeverGoesBack) {
  // As after a restart following a clock step backwards: the stored ids are in the future.
  QueueId last{((now_ms() + 3'600'000) << 20) | 5};
  IdGenerator gen(last);
  EXPECT_EQ(gen.next().value, last.value + 1);
  EXPECT_EQ(gen.next().value, last.value + 2);
}

TEST(IdGeneratorTest, SeededFromAnOlderIdUsesTheClock) {
  QueueId last{((now_ms() - 60'000) << 20) | 77};
  IdGenerator gen(last);
  QueueId id = gen.next();
  EXPECT_GT(id, last);
  EXPECT_EQ(id.value & ((1u << 20) - 1), 0u);  // a fresh millisecond starts at sequence 0
}

}  // namespace
}  // namespace secmx::model
