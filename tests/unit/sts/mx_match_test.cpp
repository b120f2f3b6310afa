// mx_match_test.cpp - MX host validation against a policy's mx patterns (RFC 8461 §4.1),
// as a table.
#include "relay/sts/mx_match.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace secmx::sts {
namespace {

struct Case {
  const char* pattern;
  const char* host;
  bool matches;
};

TEST(MxMatches, Table) {
  const std::vector<Case> cases = {
      // Exact names.
      {"mail.example.com", "mail.example.com", true},
      {"mail.example.com", "MAIL.Example.COM", true},
      {"MAIL.EXAMPLE.COM", "mail.example.com", true},
      {"mail.example.com", "mail.example.com.", true},
      {"mail.example.com.", "mail.example.com", true},
      {"mail.example.com", "mail.example.org", false},
      {"mail.example.com", "example.com", false},
      {"mail.example.com", "x.mail.example.com", false},
      {"mail.example.com", "mail.example.co", false},
      {"mail.example.com", "ail.example.com", false},
      // The wildcard: exactly one leftmost label.
      {"*.example.com", "mx1.example.com", true},
      {"*.example.com", "MX1.EXAMPLE.COM.", true},
      {"*.Example.Com", "mx1.example.com", true},
      {"*.example.com", "a-b.example.com", true},
      {"*.example.com", "example.com", false},
      {"*.example.com", "a.b.example.com", false},
      {"*.example.com", ".example.com", false},
      {"*.example.com", "mx1.example.net", false},
      {"*.example.com", "mx1example.com", false},
      {"*.example.com", "mx1.xexample.com", false},
      {"*.com", "example.com", true},
      {"*.com", "com", false},
      // Only a whole leftmost label is a wildcard; "*" is no host character.
      {"*.example.com", "*.example.com", false},
      {"mx*.example.com", "mx1.example.com", false},
      {"*mx.example.com", "amx.example.com", false},
      {"mx1.*.com", "mx1.example.com", false},
      {"*", "example", false},
      {"*.", "a", false},
      {"*.*.example.com", "a.b.example.com", false},
      // Invalid names match nothing.
      {"", "", false},
      {"", "mail.example.com", false},
      {"mail.example.com", "", false},
      {".", ".", false},
      {"a..b", "a..b", false},
      {"mail.example.com..", "mail.example.com..", false},
      {"a_b.example.com", "a_b.example.com", false},
      {"*.example.com", "a_b.example.com", false},
      {"*.example.com", "a b.example.com", false},
      {"-a.example.com", "-a.example.com", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.pattern) + " ~ " + c.host);
    EXPECT_EQ(mx_matches(c.pattern, c.host), c.matches);
  }
}

StsPolicy policy(Mode mode, std::vector<std::string> mx) {
  StsPolicy p;
  p.mode = mode;
  p.max_age = std::chrono::seconds(86400);
  p.mx = std::move(mx);
  return p;
}

TEST(PolicyAllows, AnyPatternMatching) {
  StsPolicy p = policy(Mode::Enforce, {"mail.example.com", "*.example.net"});
  EXPECT_TRUE(policy_allows(p, "mail.example.com"));
  EXPECT_TRUE(policy_allows(p, "mx2.example.net."));
  EXPECT_FALSE(policy_allows(p, "example.net"));
  EXPECT_FALSE(policy_allows(p, "a.b.example.net"));
  EXPECT_FALSE(policy_allows(p, "evil.example.org"));
}

TEST(PolicyAllows, TestingChecksTheSame) {
  StsPolicy p = policy(Mode::Testing, {"*.example.net"});
  EXPECT_TRUE(policy_allows(p, "mx.example.net"));
  EXPECT_FALSE(policy_allows(p, "mx.example.org"));
}

TEST(PolicyAllows, ModeNoneConstrainsNothing) {
  EXPECT_TRUE(policy_allows(policy(Mode::None, {}), "anything.example"));
  EXPECT_TRUE(policy_allows(policy(Mode::None, {"mx.example.net"}), "other.example"));
}

TEST(PolicyAllows, EnforceWithoutPatternsAllowsNothing) {
  // parse_sts_policy() never returns this; a hand-built policy fails closed.
  EXPECT_FALSE(policy_allows(policy(Mode::Enforce, {}), "mx.example.net"));
}

}  // namespace
}  // namespace secmx::sts
