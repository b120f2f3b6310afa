// mta_sts_config_test.cpp - the [mta_sts] section: defaults, every key, each error at its
// exact "file:line", and which keys a reload can change.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/config/config.hpp"
#include "tests/unit/config/config_file.hpp"

namespace secmx::config {
namespace {

using namespace std::chrono_literals;

using MtaStsConfigFile = test_support::ConfigFile;

TEST(MtaStsConfig, Defaults) {
  MtaStsConfigFile f("");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok());
  EXPECT_TRUE(cfg->mta_sts.enabled);
  EXPECT_EQ(cfg->mta_sts.fetch_timeout, 10s);
  EXPECT_EQ(cfg->mta_sts.max_policy_size, 64u * 1024);
  EXPECT_EQ(cfg->mta_sts.refresh_interval, 1h);
}

TEST(MtaStsConfig, EveryKey) {
  MtaStsConfigFile f(
      "[mta_sts]\n"
      "enabled = false\n"
      "fetch_timeout = \"5s\"\n"
      "max_policy_size = \"16KiB\"\n"
      "refresh_interval = \"15m\"\n");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok()) << (cfg.ok() ? "" : cfg.error()[0].to_string());
  EXPECT_FALSE(cfg->mta_sts.enabled);
  EXPECT_EQ(cfg->mta_sts.fetch_timeout, 5s);
  EXPECT_EQ(cfg->mta_sts.max_policy_size, 16u * 1024);
  EXPECT_EQ(cfg->mta_sts.refresh_interval, 15min);
}

TEST(MtaStsConfig, EachErrorAtItsLine) {
  MtaStsConfigFile f(
      "[mta_sts]\n"                       // line 2
      "enabled = \"yes\"\n"               // 3
      "fetch_timeout = \"10m\"\n"         // 4
      "max_policy_size = \"1MiB\"\n"      // 5
      "refresh_interval = \"often\"\n"    // 6
      "max_age = 5\n");                   // 7
  const std::string p = f.path();
  auto issues = f.issues();
  ASSERT_EQ(issues.size(), 5u);
  EXPECT_NE(issues[0].find(p + ":3: mta_sts.enabled:"), std::string::npos) << issues[0];
  EXPECT_EQ(issues[1], p + ":4: mta_sts.fetch_timeout: must be at most 5m (a delivery waits for it)");
  EXPECT_EQ(issues[2], p + ":5: mta_sts.max_policy_size: must be at most 64KiB (RFC 8461 §3.3)");
  EXPECT_NE(issues[3].find(p + ":6: mta_sts.refresh_interval: invalid duration 'often'"),
            std::string::npos)
      << issues[3];
  EXPECT_EQ(issues[4], p + ":7: unknown key 'mta_sts.max_age'");
}

TEST(MtaStsConfig, LowerBounds) {
  MtaStsConfigFile f(
      "[mta_sts]\n"
      "fetch_timeout = \"100ms\"\n"
      "max_policy_size = 100\n");
  auto issues = f.issues();
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_NE(issues[0].find(":3: mta_sts.fetch_timeout:"), std::string::npos) << issues[0];
  EXPECT_NE(issues[1].find(":4: mta_sts.max_policy_size: must be at least 1024 bytes"),
            std::string::npos)
      << issues[1];
}

TEST(MtaStsConfig, ReloadTakesAllButTheRefreshInterval) {
  Config running, next;
  next.mta_sts.enabled = false;
  next.mta_sts.fetch_timeout = 3s;
  next.mta_sts.max_policy_size = 2048;
  next.mta_sts.refresh_interval = 5min;
  auto changed = keep_restart_only(running, next);
  EXPECT_EQ(changed, std::vector<std::string>{"mta_sts.refresh_interval"});
  EXPECT_EQ(next.mta_sts.refresh_interval, 1h);
  EXPECT_FALSE(next.mta_sts.enabled);
  EXPECT_EQ(next.mta_sts.fetch_timeout, 3s);
}

}  // namespace
}  // namespace secmx::config
