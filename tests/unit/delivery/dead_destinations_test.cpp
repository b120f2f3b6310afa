// dead_destinations_test.cpp - a destination is suspended after a cohort of attempts in a
// row that reached no host, probed one attempt at a time once the suspension ends, and
// freed by the first attempt that reaches a host.
#include "relay/delivery/dead_destinations.hpp"

#include <gtest/gtest.h>

namespace secmx::delivery {
namespace {

using Admit = DeadDestinations::Admit;

TEST(DeadDestinationsTest, ACohortOfFailuresInARowSuspendsForTheInterval) {
  DeadDestinations dead(3, 1000);
  EXPECT_EQ(dead.admit("down.test", 0), Admit::Open);
  EXPECT_FALSE(dead.record("down.test", false, "refused 1", 10));
  EXPECT_FALSE(dead.record("down.test", false, "refused 2", 20));
  EXPECT_EQ(dead.admit("down.test", 20), Admit::Open) << "two of a cohort of three";
  EXPECT_TRUE(dead.record("down.test", false, "refused 3", 30)) << "the third suspends";
  EXPECT_EQ(dead.admit("down.test", 30), Admit::Suspended);
  EXPECT_EQ(dead.admit("down.test", 1029), Admit::Suspended);
  EXPECT_EQ(dead.reason("down.test"), "refused 3");
  EXPECT_EQ(dead.admit("down.test", 1030), Admit::Probe) << "the interval is over";
  EXPECT_EQ(dead.admit("other.test", 30), Admit::Open) << "per destination";
}

TEST(DeadDestinationsTest, AHostReachedInBetweenStartsTheCountAgain) {
  DeadDestinations dead(2, 1000);
  dead.record("flaky.test", false, "refused", 1);
  dead.record("flaky.test", true, "", 2);
  EXPECT_FALSE(dead.record("flaky.test", false, "refused", 3)) << "one in a row, not two";
  EXPECT_EQ(dead.admit("flaky.test", 3), Admit::Open);
}

TEST(DeadDestinationsTest, LateFailuresDoNotStretchTheSuspensionButAFailedProbeRenewsIt) {
  DeadDestinations dead(1, 1000);
  EXPECT_TRUE(dead.record("down.test", false, "refused", 0));
  // Attempts under way when it was suspended end during the suspension.
  EXPECT_FALSE(dead.record("down.test", false, "refused late", 900));
  EXPECT_EQ(dead.admit("down.test", 1000), Admit::Probe);
  EXPECT_TRUE(dead.record("down.test", false, "probe refused", 1200)) << "the probe failed";
  EXPECT_EQ(dead.admit("down.test", 2199), Admit::Suspended);
  EXPECT_EQ(dead.reason("down.test"), "probe refused");
  EXPECT_EQ(dead.admit("down.test", 2200), Admit::Probe);
  EXPECT_FALSE(dead.record("down.test", true, "", 2300)) << "the probe reached a host";
  EXPECT_EQ(dead.admit("down.test", 2300), Admit::Open);
  EXPECT_EQ(dead.size(), 0u);
}

TEST(DeadDestinationsTest, ACohortBelowOneIsOne) {
  DeadDestinations dead(0, 1000);
  EXPECT_TRUE(dead.record("down.test", false, "refused", 0));
  dead.configure(5, 50);
  EXPECT_EQ(dead.admit("down.test", 999), Admit::Open)
      << "a larger cohort from a reload: one failure is no longer a cohort";
}

TEST(DeadDestinationsTest, SweepForgetsOnlyIdleDestinationsThatAreNotSuspended) {
  DeadDestinations dead(1, 5000);
  dead.record("once.test", false, "refused", 0);      // suspended until 5000
  dead.configure(2, 5000);
  dead.record("twice.test", false, "refused", 100);   // one of a cohort of two
  dead.sweep(3000, 1000);
  EXPECT_EQ(dead.size(), 1u) << "twice.test idle and not suspended; once.test still suspended";
  EXPECT_EQ(dead.reason("twice.test"), "");
  dead.sweep(6000, 1000);
  EXPECT_EQ(dead.size(), 0u);
}

}  // namespace
}  // namespace secmx::delivery
