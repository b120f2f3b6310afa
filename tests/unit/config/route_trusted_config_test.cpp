// route_trusted_config_test.cpp - [[route]] trusted, and the warning --check gives for a
// route that could carry reports on SOS mail neither over TLS nor as trusted.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/config/config.hpp"
#include "tests/unit/temp_dir.hpp"

namespace secmx::config {
namespace {

const std::string kSosRule =
    "[[policy.rule]]\nsender = \"@agency.example\"\npolicy = \"SOS\"\n";

// The warnings of a file that loads; "line: message" each.
std::vector<std::string> warnings(const std::string& text, Config* out = nullptr) {
  test::TempDir dir;
  auto path = dir.write("relay.toml", "hostname = \"relay.example\"\n" + text);
  auto cfg = load_config(path);
  EXPECT_TRUE(cfg.ok());
  std::vector<std::string> w;
  if (!cfg.ok()) return w;
  for (const auto& i : cfg->warnings) w.push_back(std::to_string(i.line) + ": " + i.message);
  if (out) *out = *cfg;
  return w;
}

TEST(RouteTrusted, DefaultsToFalseAndReadsTrue) {
  Config cfg;
  warnings("[[route]]\ndomain = \"a.example\"\nhost = \"[10.0.0.5]:25\"\n"
           "[[route]]\ndomain = \"b.example\"\nhost = \"[10.0.0.6]:25\"\ntrusted = true\n",
           &cfg);
  ASSERT_EQ(cfg.routes.size(), 2u);
  EXPECT_FALSE(cfg.routes[0].trusted);
  EXPECT_TRUE(cfg.routes[1].trusted);
}

TEST(RouteTrusted, NotABooleanIsAnError) {
  test::TempDir dir;
  auto path = dir.write("relay.toml",
                        "[[route]]\ndomain = \"a.example\"\nhost = \"[10.0.0.5]:25\"\n"
                        "trusted = \"yes\"\n");
  auto cfg = load_config(path);
  ASSERT_FALSE(cfg.ok());
  ASSERT_EQ(cfg.error().size(), 1u);
  EXPECT_EQ(cfg.error()[0].line, 4u);
  EXPECT_NE(cfg.error()[0].message.find("route.trusted"), std::string::npos);
}

TEST(RouteTrusted, WarnsAtTheRouteWhenSosRulesExistAndItHasNeitherTlsNorTrust) {
  auto w = warnings(kSosRule +
                    "[[route]]\ndomain = \"agency.example\"\nhost = \"[10.0.0.5]:25\"\n"
                    "[[route]]\ndomain = \"trusted.example\"\nhost = \"[10.0.0.6]:25\"\n"
                    "trusted = true\n"
                    "[[route]]\ndomain = \"tls.example\"\nhost = \"[10.0.0.7]:25\"\n"
                    "tls = \"encrypt\"\n");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].rfind("5: warning: route agency.example: reports on SOS mail", 0), 0u) << w[0];
  EXPECT_NE(w[0].find("trusted = true"), std::string::npos);
}

TEST(RouteTrusted, NoWarningWithoutSosRules) {
  EXPECT_TRUE(
      warnings("[[route]]\ndomain = \"agency.example\"\nhost = \"[10.0.0.5]:25\"\n").empty());
}

TEST(RouteTrusted, SosByDefaultWarnsToo) {
  auto w = warnings("[policy]\ndefault = \"SOS\"\n"
                    "[[route]]\ndomain = \"agency.example\"\nhost = \"[10.0.0.5]:25\"\n");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].rfind("4: warning: route agency.example", 0), 0u) << w[0];
}

}  // namespace
}  // namespace secmx::config
