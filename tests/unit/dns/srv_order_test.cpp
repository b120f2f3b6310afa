// srv_order_test.cpp - RFC 2782 SRV ordering and MX preference ordering, with fixed seeds:
// priorities strictly ascending, weights honoured in proportion, weight 0 rarely first.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "relay/dns/candidates.hpp"

namespace secmx::dns {
namespace {

std::vector<std::string> targets(const std::vector<SrvRecord>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.target);
  return out;
}

TEST(OrderSrv, PriorityAscendingAlways) {
  std::vector<SrvRecord> in = {{30, 5, 25, "c1"}, {10, 50, 25, "a1"}, {20, 1, 25, "b1"},
                               {10, 0, 25, "a2"},  {30, 0, 25, "c2"},  {20, 9, 25, "b2"}};
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    auto out = order_srv(in, rng);
    ASSERT_EQ(out.size(), in.size());
    for (std::size_t i = 1; i < out.size(); ++i) {
      EXPECT_LE(out[i - 1].priority, out[i].priority) << "seed " << seed;
    }
    std::multiset<std::string> a, b;
    for (const auto& r : in) a.insert(r.target);
    for (const auto& r : out) b.insert(r.target);
    EXPECT_EQ(a, b) << "a permutation: nothing lost or doubled";
  }
}

TEST(OrderSrv, SameSeedSameOrder) {
  std::vector<SrvRecord> in = {{10, 10, 25, "a"}, {10, 20, 25, "b"}, {10, 30, 25, "c"},
                               {10, 40, 25, "d"}};
  Rng r1(42), r2(42);
  EXPECT_EQ(targets(order_srv(in, r1)), targets(order_srv(in, r2)));
}

TEST(OrderSrv, FirstPickFollowsWeights) {
  // Within one priority, the first target is chosen with probability weight/sum.
  std::vector<SrvRecord> in = {{10, 60, 25, "sixty"}, {10, 30, 25, "thirty"},
                               {10, 10, 25, "ten"}};
  Rng rng(2782);
  std::map<std::string, int> first;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++first[order_srv(in, rng).front().target];
  EXPECT_NEAR(first["sixty"] / double(n), 0.60, 0.03);
  EXPECT_NEAR(first["thirty"] / double(n), 0.30, 0.03);
  EXPECT_NEAR(first["ten"] / double(n), 0.10, 0.02);
}

TEST(OrderSrv, WeightZeroIsRarelyButNotNeverFirst) {
  std::vector<SrvRecord> in = {{10, 0, 25, "zero"}, {10, 100, 25, "hundred"}};
  Rng rng(7);
  int zero_first = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) zero_first += order_srv(in, rng).front().target == "zero";
  // RFC 2782: the random number is in [0, sum]; only 0 selects the weight-0 record.
  EXPECT_GT(zero_first, 0);
  EXPECT_LT(zero_first / double(n), 0.03);
}

TEST(OrderSrv, AllWeightsZeroStillOrdersEveryone) {
  std::vector<SrvRecord> in = {{5, 0, 25, "a"}, {5, 0, 25, "b"}, {5, 0, 25, "c"}};
  Rng rng(3);
  std::map<std::string, int> first;
  for (int i = 0; i < 3000; ++i) {
    auto out = order_srv(in, rng);
    ASSERT_EQ(out.size(), 3u);
    ++first[out.front().target];
  }
  EXPECT_EQ(first.size(), 3u) << "each can come first";
}

TEST(OrderSrv, LowerPriorityNeverBeatsHigherWhateverTheWeight) {
  std::vector<SrvRecord> in = {{20, 65535, 25, "heavy"}, {10, 0, 25, "light"}};
  for (std::uint64_t seed = 0; seed < 100; ++seed) {
    Rng rng(seed);
    EXPECT_EQ(targets(order_srv(in, rng)), (std::vector<std::string>{"light", "heavy"}));
  }
}

TEST(OrderMx, PreferenceAscendingRandomAmongEquals) {
  std::vector<MxRecord> in = {{20, "b1"}, {10, "a"}, {20, "b2"}, {51966, "cafe"}};
  std::map<std::string, int> second;
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    Rng rng(seed);
    auto out = order_mx(in, rng);
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0].host, "a");
    EXPECT_EQ(out[3].host, "cafe");
    ++second[out[1].host];
  }
  EXPECT_GT(second["b1"], 100);
  EXPECT_GT(second["b2"], 100);
}

}  // namespace
}  // namespace secmx::dns
