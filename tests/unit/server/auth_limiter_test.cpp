// auth_limiter_test.cpp - failed logins per address and per user: delays, lockout,
// expiry and the bound on memory.
#include "relay/server/auth_limiter.hpp"

#include <gtest/gtest.h>

#include <string>

namespace secmx::server {
namespace {

LimiterSettings settings() {
  LimiterSettings s;
  s.max_failures = 3;
  s.lockout_ms = 60'000;
  s.delay_ms = 1000;
  s.max_delay_ms = 4000;
  return s;
}

TEST(AuthLimiterTest, DelayDoublesUpToTheCap) {
  AuthLimiter l;
  auto s = settings();
  s.max_failures = 100;
  EXPECT_EQ(l.record_failure("192.0.2.1", "a", s, 1000), 1000u);
  EXPECT_EQ(l.record_failure("192.0.2.1", "b", s, 1001), 2000u);
  EXPECT_EQ(l.record_failure("192.0.2.1", "c", s, 1002), 4000u);
  EXPECT_EQ(l.record_failure("192.0.2.1", "d", s, 1003), 4000u);
  // A fresh address guessing a user already tried is delayed by the user's count.
  EXPECT_EQ(l.record_failure("192.0.2.9", "a", s, 1004), 2000u);
}

TEST(AuthLimiterTest, LocksTheAddressAfterMaxFailures) {
  AuthLimiter l;
  auto s = settings();
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(l.locked("192.0.2.1", "u" + std::to_string(i), s, 1000));
    l.record_failure("192.0.2.1", "u" + std::to_string(i), s, 1000);
  }
  EXPECT_TRUE(l.locked("192.0.2.1", "someone-else", s, 2000));
  EXPECT_FALSE(l.locked("192.0.2.2", "someone-else", s, 2000));  // other clients go on
  // lockout after the last failure, the address is free and forgotten.
  EXPECT_TRUE(l.locked("192.0.2.1", "x", s, 60'999));
  EXPECT_FALSE(l.locked("192.0.2.1", "x", s, 61'000));
  EXPECT_EQ(l.record_failure("192.0.2.1", "x", s, 61'000), 1000u);
}

TEST(AuthLimiterTest, LocksTheUserFromEveryAddress) {
  AuthLimiter l;
  auto s = settings();
  l.record_failure("192.0.2.1", "admin", s, 0);
  l.record_failure("192.0.2.2", "admin", s, 0);
  l.record_failure("192.0.2.3", "admin", s, 0);
  EXPECT_TRUE(l.locked("192.0.2.4", "admin", s, 10));
  EXPECT_FALSE(l.locked("192.0.2.4", "other", s, 10));
}

TEST(AuthLimiterTest, SuccessForgetsTheUserNotTheAddress) {
  AuthLimiter l;
  auto s = settings();
  l.record_failure("192.0.2.1", "app", s, 0);
  l.record_failure("192.0.2.1", "app", s, 0);
  l.record_success("app");
  EXPECT_EQ(l.users(), 0u);
  EXPECT_EQ(l.addresses(), 1u);
  // The address still has two failures: the third locks it.
  l.record_failure("192.0.2.1", "app", s, 0);
  EXPECT_TRUE(l.locked("192.0.2.1", "app", s, 0));
}

TEST(AuthLimiterTest, MapsStayBounded) {
  AuthLimiter l(100);
  auto s = settings();
  for (int i = 0; i < 1000; ++i) {
    l.record_failure("10.0.0." + std::to_string(i), "user" + std::to_string(i), s,
                     static_cast<std::uint64_t>(i));
  }
  EXPECT_LE(l.addresses(), 100u);
  EXPECT_LE(l.users(), 100u);
  // The newest entries are the ones kept.
  l.record_failure("10.0.0.999", "x", s, 1000);
  l.record_failure("10.0.0.999", "y", s, 1000);
  EXPECT_TRUE(l.locked("10.0.0.999", "z", s, 1000));
}

}  // namespace
}  // namespace secmx::server
