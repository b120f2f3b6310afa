// audit_config_test.cpp - the [audit] section: defaults, every key, paths resolved like
// the others, each error at its exact "file:line".
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "relay/config/config.hpp"
#include "tests/unit/config/config_file.hpp"

namespace secmx::config {
namespace {

using namespace std::chrono_literals;
using AuditConfigFile = test_support::ConfigFile;

std::string dir_of(const AuditConfigFile& f) {
  return std::filesystem::path(f.path()).parent_path().string();
}

TEST(AuditConfig, DefaultsKeepTheTrailOnWithAKeyBesideTheConfig) {
  AuditConfigFile f("");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok());
  const auto& a = cfg->audit;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.key_file, dir_of(f) + "/audit.key");
  EXPECT_EQ(a.retention, std::chrono::hours(24 * 400));
  EXPECT_EQ(a.checkpoint_interval, 5min);
  EXPECT_EQ(a.stream_file, "");
}

TEST(AuditConfig, EveryKey) {
  AuditConfigFile f(
      "[audit]\n"
      "enabled = false\n"
      "key_file = \"keys/audit.key\"\n"
      "retention = \"30d\"\n"
      "checkpoint_interval = \"90s\"\n"
      "stream_file = \"/var/log/secmx/audit.jsonl\"\n");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok()) << f.issues().front();
  const auto& a = cfg->audit;
  EXPECT_FALSE(a.enabled);
  EXPECT_EQ(a.key_file, dir_of(f) + "/keys/audit.key");
  EXPECT_EQ(a.retention, std::chrono::hours(24 * 30));
  EXPECT_EQ(a.checkpoint_interval, 90s);
  EXPECT_EQ(a.stream_file, "/var/log/secmx/audit.jsonl");
}

TEST(AuditConfig, RelativeStreamFileIsTakenAgainstTheConfigDirectory) {
  AuditConfigFile f("[audit]\nstream_file = \"../log/audit.jsonl\"\n");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->audit.stream_file,
            std::filesystem::path(dir_of(f)).parent_path().string() + "/log/audit.jsonl");
}

TEST(AuditConfig, EachErrorAtItsLine) {
  AuditConfigFile f(
      "[audit]\n"                          // line 2
      "enabled = \"yes\"\n"                // 3
      "key_file = \"\"\n"                  // 4
      "retention = \"2h\"\n"               // 5
      "checkpoint_interval = \"2d\"\n"     // 6
      "stream = \"x\"\n");                 // 7
  auto issues = f.issues();
  ASSERT_EQ(issues.size(), 5u) << ::testing::PrintToString(issues);
  auto has = [&](const std::string& needle) {
    for (const auto& i : issues) {
      if (i.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("relay.toml:3: audit.enabled"));
  EXPECT_TRUE(has("relay.toml:4: audit.key_file: must name a file"));
  EXPECT_TRUE(has("relay.toml:5: audit.retention: must be at least"));
  EXPECT_TRUE(has("relay.toml:6: audit.checkpoint_interval: must be at most 1d"));
  EXPECT_TRUE(has("relay.toml:7: unknown key 'audit.stream'"));
}

TEST(AuditConfig, ATableIsRequired) {
  AuditConfigFile f("audit = 1\n");
  auto issues = f.issues();
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_NE(issues[0].find("relay.toml:2: audit"), std::string::npos) << issues[0];
}

TEST(AuditConfig, EveryKeyNeedsARestart) {
  Config running;
  Config next;
  next.audit.enabled = false;
  next.audit.key_file = "/elsewhere/audit.key";
  next.audit.retention = std::chrono::hours(48);
  next.audit.checkpoint_interval = 10s;
  next.audit.stream_file = "/var/log/audit.jsonl";
  auto changed = keep_restart_only(running, next);
  for (const char* key : {"audit.enabled", "audit.key_file", "audit.retention",
                          "audit.checkpoint_interval", "audit.stream_file"}) {
    EXPECT_NE(std::find(changed.begin(), changed.end(), key), changed.end()) << key;
  }
  EXPECT_TRUE(next.audit.enabled);  // the running values stay in force
  EXPECT_EQ(next.audit.key_file, running.audit.key_file);
  EXPECT_EQ(next.audit.stream_file, "");
}

}  // namespace
}  // namespace secmx::config
