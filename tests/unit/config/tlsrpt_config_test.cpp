// tlsrpt_config_test.cpp - the [tlsrpt] section: defaults, every key, the defaults that
// follow other keys, each error at its exact "file:line", and reload.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/config/config.hpp"
#include "tests/unit/config/config_file.hpp"

namespace secmx::config {
namespace {

using namespace std::chrono_literals;

using TlsRptConfigFile = test_support::ConfigFile;

TEST(TlsRptConfig, DefaultsLeaveReportingOff) {
  TlsRptConfigFile f("");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok());
  const auto& t = cfg->tlsrpt;
  EXPECT_FALSE(t.enabled);
  EXPECT_EQ(t.from, "");
  EXPECT_EQ(t.organization, "relay.example");  // the hostname
  EXPECT_EQ(t.contact, "");                     // from, which is empty
  EXPECT_EQ(t.report_hour, 1u);
  EXPECT_TRUE(t.exclude.empty());
  EXPECT_EQ(t.retention_days, 14u);
  EXPECT_EQ(t.https_timeout, 30s);
  EXPECT_EQ(t.https_retries, 3u);
}

TEST(TlsRptConfig, EveryKey) {
  TlsRptConfigFile f(
      "[tlsrpt]\n"
      "enabled = true\n"
      "from = \"tlsrpt@agency.example\"\n"
      "organization = \"Example Agency\"\n"
      "contact = \"mailto:noc@agency.example\"\n"
      "report_hour = 23\n"
      "exclude = [\"Partner.Example.\", \"other.example\"]\n"
      "retention_days = 30\n"
      "https_timeout = \"45s\"\n"
      "https_retries = 5\n");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok()) << (cfg.ok() ? "" : cfg.error()[0].to_string());
  const auto& t = cfg->tlsrpt;
  EXPECT_TRUE(t.enabled);
  EXPECT_EQ(t.from, "tlsrpt@agency.example");
  EXPECT_EQ(t.organization, "Example Agency");
  EXPECT_EQ(t.contact, "mailto:noc@agency.example");
  EXPECT_EQ(t.report_hour, 23u);
  EXPECT_EQ(t.exclude, (std::vector<std::string>{"partner.example", "other.example"}));
  EXPECT_EQ(t.retention_days, 30u);
  EXPECT_EQ(t.https_timeout, 45s);
  EXPECT_EQ(t.https_retries, 5u);
}

TEST(TlsRptConfig, ContactDefaultsToFrom) {
  TlsRptConfigFile f(
      "[tlsrpt]\n"
      "enabled = true\n"
      "from = \"reports@agency.example\"\n");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->tlsrpt.contact, "reports@agency.example");
  EXPECT_EQ(cfg->tlsrpt.organization, "relay.example");
}

TEST(TlsRptConfig, ExcludedIsExactAndIgnoresCase) {
  TlsRptConfig t;
  t.exclude = {"partner.example"};
  EXPECT_TRUE(t.excluded("partner.example"));
  EXPECT_TRUE(t.excluded("PARTNER.example."));
  EXPECT_FALSE(t.excluded("mail.partner.example"));
  EXPECT_FALSE(t.excluded("example"));
}

TEST(TlsRptConfig, FromIsRequiredWhenEnabled) {
  TlsRptConfigFile f(
      "[tlsrpt]\n"         // line 2
      "enabled = true\n");  // 3
  EXPECT_EQ(f.issues(), std::vector<std::string>{f.path() +
                                                 ":3: tlsrpt.from is required when tlsrpt.enabled"});
}

TEST(TlsRptConfig, EmptyFromIsNamedAtItsOwnLine) {
  TlsRptConfigFile f(
      "[tlsrpt]\n"        // 2
      "enabled = true\n"  // 3
      "from = \"\"\n");   // 4
  EXPECT_EQ(f.issues(), std::vector<std::string>{f.path() +
                                                 ":4: tlsrpt.from is required when tlsrpt.enabled"});
}

TEST(TlsRptConfig, DisabledNeedsNoFrom) {
  TlsRptConfigFile f("[tlsrpt]\nenabled = false\nreport_hour = 5\n");
  EXPECT_TRUE(f.issues().empty());
}

TEST(TlsRptConfig, EachErrorAtItsLine) {
  TlsRptConfigFile f(
      "[tlsrpt]\n"                                   // 2
      "enabled = \"yes\"\n"                          // 3
      "from = \"not an address\"\n"                  // 4
      "organization = \"two\\nlines\"\n"             // 5
      "report_hour = 24\n"                           // 6
      "exclude = [\"ok.example\",\n"                 // 7
      "           \"bad domain\"]\n"                 // 8
      "retention_days = 1\n"                         // 9
      "https_timeout = \"1h\"\n"                     // 10
      "https_retries = 0\n"                          // 11
      "interval = \"1d\"\n");                        // 12
  const std::string p = f.path();
  auto issues = f.issues();
  ASSERT_EQ(issues.size(), 9u);
  EXPECT_NE(issues[0].find(p + ":3: tlsrpt.enabled:"), std::string::npos) << issues[0];
  EXPECT_EQ(issues[1],
            p + ":4: tlsrpt.from: invalid address 'not an address' (expected \"local@domain\")");
  EXPECT_EQ(issues[2], p + ":5: tlsrpt.organization: must be one line of printable text");
  EXPECT_EQ(issues[3], p + ":6: tlsrpt.report_hour: must be between 0 and 23");
  EXPECT_EQ(issues[4], p + ":8: tlsrpt.exclude: invalid domain 'bad domain'");
  EXPECT_EQ(issues[5], p + ":9: tlsrpt.retention_days: must be between 2 and 3660");
  EXPECT_EQ(issues[6], p + ":10: tlsrpt.https_timeout: must be at most 10m");
  EXPECT_EQ(issues[7], p + ":11: tlsrpt.https_retries: must be between 1 and 20");
  EXPECT_EQ(issues[8], p + ":12: unknown key 'tlsrpt.interval'");
}

TEST(TlsRptConfig, ReloadTakesEverySetting) {
  Config running, next;
  next.tlsrpt.enabled = true;
  next.tlsrpt.from = "r@agency.example";
  next.tlsrpt.report_hour = 4;
  next.tlsrpt.exclude = {"partner.example"};
  next.tlsrpt.retention_days = 3;
  next.tlsrpt.https_timeout = 5s;
  next.tlsrpt.https_retries = 1;
  EXPECT_TRUE(keep_restart_only(running, next).empty());
  EXPECT_TRUE(next.tlsrpt.enabled);
  EXPECT_EQ(next.tlsrpt.report_hour, 4u);
  EXPECT_EQ(next.tlsrpt.exclude, std::vector<std::string>{"partner.example"});
}

}  // namespace
}  // namespace secmx::config
