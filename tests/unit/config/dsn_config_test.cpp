// dsn_config_test.cpp - the [dsn] section: defaults, every key, and each kind of error at
// its exact "file:line".
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "relay/config/config.hpp"
#include "tests/unit/config/config_file.hpp"

namespace secmx::config {
namespace {

using namespace std::chrono_literals;

using DsnConfigFile = test_support::ConfigFile;

TEST(DsnConfig, Defaults) {
  DsnConfigFile f("");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->dsn.delay_warning, 4h);
  EXPECT_EQ(cfg->dsn.return_size_limit, 100u * 1024);
  EXPECT_EQ(cfg->dsn.sos_ret, DsnRet::Hdrs);
  EXPECT_EQ(cfg->dsn.postmaster, "");
}

TEST(DsnConfig, EveryKey) {
  DsnConfigFile f(
      "[dsn]\n"
      "delay_warning = \"30m\"\n"
      "return_size_limit = \"1MiB\"\n"
      "sos_ret = \"full\"\n"
      "postmaster = \"postmaster@agency.example\"\n");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok()) << (cfg.ok() ? "" : cfg.error()[0].to_string());
  EXPECT_EQ(cfg->dsn.delay_warning, 30min);
  EXPECT_EQ(cfg->dsn.return_size_limit, 1u << 20);
  EXPECT_EQ(cfg->dsn.sos_ret, DsnRet::Full);
  EXPECT_EQ(cfg->dsn.postmaster, "postmaster@agency.example");
}

TEST(DsnConfig, ZeroDelayWarningDisablesAndHdrsIsAccepted) {
  DsnConfigFile f(
      "[dsn]\n"
      "delay_warning = \"0\"\n"
      "return_size_limit = 4096\n"
      "sos_ret = \"HDRS\"\n"
      "postmaster = \"\"\n");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->dsn.delay_warning, 0ms);
  EXPECT_EQ(cfg->dsn.return_size_limit, 4096u);
  EXPECT_EQ(cfg->dsn.sos_ret, DsnRet::Hdrs);
  EXPECT_EQ(cfg->dsn.postmaster, "");
}

TEST(DsnConfig, EachErrorAtItsLine) {
  DsnConfigFile f(
      "[dsn]\n"                                 // line 2
      "delay_warning = \"soon\"\n"              // 3
      "return_size_limit = \"100\"\n"           // 4
      "sos_ret = \"ALL\"\n"                     // 5
      "postmaster = \"<pm@agency.example>\"\n"  // 6
      "bounce_to = \"x\"\n");                   // 7
  const std::string p = f.path();
  EXPECT_EQ(f.issues(),
            (std::vector<std::string>{
                p + ":3: dsn.delay_warning: invalid duration 'soon' (expected e.g. \"250ms\", "
                    "\"90s\", \"5m\", \"1h\", \"5d\")",
                p + ":4: dsn.return_size_limit: must be at least 1024 bytes",
                p + ":5: dsn.sos_ret: unknown value 'ALL' (expected \"HDRS\" or \"FULL\")",
                p + ":6: dsn.postmaster: invalid address '<pm@agency.example>' (expected "
                    "\"local@domain\", or \"\" to drop bounces of <> mail)",
                p + ":7: unknown key 'dsn.bounce_to'",
            }));
}

TEST(DsnConfig, PostmasterAddressForms) {
  for (const char* bad : {"postmaster", "@agency.example", "pm@", "pm@bad_domain!", "p m@x.example",
                          "Postmaster <pm@x.example>"}) {
    DsnConfigFile f(std::string("[dsn]\npostmaster = \"") + bad + "\"\n");
    auto issues = f.issues();
    ASSERT_EQ(issues.size(), 1u) << bad;
    EXPECT_NE(issues[0].find(":3: dsn.postmaster: invalid address"), std::string::npos)
        << issues[0];
  }
  DsnConfigFile ok("[dsn]\npostmaster = \"mail-admin+dsn@relay.agency.example\"\n");
  EXPECT_TRUE(ok.issues().empty());
}

TEST(DsnConfig, WrongTypes) {
  DsnConfigFile f(
      "[dsn]\n"
      "delay_warning = 5\n"
      "sos_ret = true\n");
  auto issues = f.issues();
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_NE(issues[0].find(":3: dsn.delay_warning: expected a duration"), std::string::npos)
      << issues[0];
  EXPECT_NE(issues[1].find(":4: dsn.sos_ret:"), std::string::npos) << issues[1];
}

}  // namespace
}  // namespace secmx::config
