// dns_config_test.cpp - [dns] dnssec: default off, validated as a boolean, restart-only,
// and the warnings `--check` prints when the AD bit would come over an untrusted path.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/config/config.hpp"
#include "tests/unit/temp_dir.hpp"

namespace secmx::config {
namespace {

struct Loaded {
  std::vector<std::string> issues;
  std::vector<std::string> warnings;
  bool dnssec = false;
};

Loaded load(const std::string& text) {
  test::TempDir dir;
  std::string path = dir.write("relay.toml", "hostname = \"relay.example\"\n" + text);
  Loaded out;
  auto r = load_config(path);
  auto strip = [&](const std::string& s) { return s.substr(path.size() + 1); };
  if (!r.ok()) {
    for (const auto& i : r.error()) out.issues.push_back(strip(i.to_string()));
    return out;
  }
  for (const auto& w : r->warnings) out.warnings.push_back(strip(w.to_string()));
  out.dnssec = r->dns.dnssec;
  return out;
}

TEST(DnsConfig, DnssecIsOffByDefaultAndWarnsNothing) {
  Loaded l = load("[dns]\nservers = [\"192.0.2.53\"]\n");
  EXPECT_TRUE(l.issues.empty());
  EXPECT_FALSE(l.dnssec);
  EXPECT_TRUE(l.warnings.empty()) << "a remote resolver is fine while the AD bit is not used";
}

TEST(DnsConfig, DnssecWithLoopbackResolversWarnsNothing) {
  Loaded l = load("[dns]\nservers = [\"127.0.0.1\", \"127.0.0.53:5353\", \"[::1]:53\"]\n"
                  "dnssec = true\n");
  EXPECT_TRUE(l.issues.empty());
  EXPECT_TRUE(l.dnssec);
  EXPECT_TRUE(l.warnings.empty()) << l.warnings.front();
}

TEST(DnsConfig, DnssecWarnsForEachResolverOffThisHost) {
  Loaded l = load("[dns]\nservers = [\"127.0.0.1\", \"192.0.2.53\", \"[2001:db8::53]:53\"]\n"
                  "dnssec = true\n");
  EXPECT_TRUE(l.issues.empty());
  EXPECT_TRUE(l.dnssec);
  ASSERT_EQ(l.warnings.size(), 2u);
  EXPECT_EQ(l.warnings[0],
            "3: warning: dns.dnssec: server 192.0.2.53:53 is not on loopback: the AD bit is "
            "only as trustworthy as the path to the resolver (run a validating resolver on "
            "this host)");
  EXPECT_NE(l.warnings[1].find("server [2001:db8::53]:53 is not on loopback"),
            std::string::npos)
      << l.warnings[1];
}

TEST(DnsConfig, DnssecWithoutServersWarnsAboutResolvConf) {
  Loaded l = load("[dns]\ndnssec = true\n");
  EXPECT_TRUE(l.issues.empty());
  ASSERT_EQ(l.warnings.size(), 1u);
  EXPECT_EQ(l.warnings[0].rfind("3: warning: dns.dnssec: dns.servers is empty", 0), 0u)
      << l.warnings[0];
}

TEST(DnsConfig, DnssecMustBeABoolean) {
  Loaded l = load("[dns]\ndnssec = \"yes\"\n");
  EXPECT_EQ(l.issues, (std::vector<std::string>{
                          "3: dns.dnssec: expected a boolean (true or false)"}));
}

TEST(DnsConfig, DnssecIsRestartOnly) {
  Config running, next;
  next.dns.dnssec = true;
  EXPECT_EQ(keep_restart_only(running, next), (std::vector<std::string>{"dns.dnssec"}));
  EXPECT_FALSE(next.dns.dnssec) << "the resolvers keep what they were built with";
}

}  // namespace
}  // namespace secmx::config
