// uncovered_levels_test.cpp - `--check` and reload about levels no rule covers: a warning
// per level above OFFICIAL at the line of policy.default while the default is BES, an
// error instead with policy.uncovered_levels = "error", and silence when every level is
// covered, the default is SOS, or the policy reads no markings at all.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/config/config.hpp"
#include "tests/unit/config/config_file.hpp"

namespace secmx::config {
namespace {

struct Loaded {
  bool ok = false;
  std::vector<std::string> issues;    // "line: message", file name stripped
  std::vector<std::string> warnings;  // the same
};

Loaded load(const std::string& text) {
  test_support::ConfigFile file(text);
  const std::string& path = file.path();
  Loaded out;
  auto r = load_config(path);
  auto strip = [&](const std::string& s) { return s.substr(path.size() + 1); };
  if (!r.ok()) {
    for (const auto& i : r.error()) out.issues.push_back(strip(i.to_string()));
    return out;
  }
  out.ok = true;
  for (const auto& w : r->warnings) out.warnings.push_back(strip(w.to_string()));
  return out;
}

// Line 2 [policy], line 3 default, line 4 on: the rules given.
std::string policy(const std::string& extra, const std::string& rules) {
  return "[policy]\ndefault = \"BES\"\n" + extra + rules;
}

const std::string kNzOnly =
    "[[policy.rule]]\n"
    "classification = [\"IN-CONFIDENCE\", \"SENSITIVE\", \"RESTRICTED\"]\n"
    "policy = \"SOS\"\n"
    "[[policy.rule]]\n"
    "classification = [\"CONFIDENTIAL\", \"SECRET\", \"TOP SECRET\"]\n"
    "policy = \"HOLD\"\n";

const std::string kAuToo =
    "[[policy.rule]]\n"
    "classification = [\"OFFICIAL:Sensitive\", \"PROTECTED\"]\n"
    "policy = \"SOS\"\n";

TEST(UncoveredLevels, WarnsForEachLevelAtTheDefaultsLine) {
  // The issue's case: an NZ-only profile sends PROTECTED mail BES.
  Loaded l = load(policy("", kNzOnly));
  ASSERT_TRUE(l.ok) << l.issues.front();
  ASSERT_EQ(l.warnings.size(), 2u);
  EXPECT_EQ(l.warnings[0],
            "3: warning: policy: no rule covers level OFFICIAL:Sensitive and policy.default is "
            "\"BES\": mail marked OFFICIAL:Sensitive would go BES");
  EXPECT_EQ(l.warnings[1],
            "3: warning: policy: no rule covers level PROTECTED and policy.default is "
            "\"BES\": mail marked PROTECTED would go BES");
}

TEST(UncoveredLevels, ErrorMakesTheFileFail) {
  Loaded l = load(policy("uncovered_levels = \"error\"\n", kNzOnly));
  EXPECT_FALSE(l.ok);
  ASSERT_EQ(l.issues.size(), 2u);
  EXPECT_EQ(l.issues[1],
            "3: policy: no rule covers level PROTECTED and policy.default is \"BES\": mail "
            "marked PROTECTED would go BES (policy.uncovered_levels = \"error\")");
}

TEST(UncoveredLevels, ErrorIsQuietWhenEveryLevelIsCovered) {
  Loaded l = load(policy("uncovered_levels = \"error\"\n", kNzOnly + kAuToo));
  EXPECT_TRUE(l.ok) << l.issues.front();
  EXPECT_TRUE(l.warnings.empty()) << l.warnings.front();
}

TEST(UncoveredLevels, PointsAtThePolicyTableWithoutADefault) {
  Loaded l = load("[policy]\nsubject_markers = [\"[RESTRICTED]\"]\n");
  ASSERT_TRUE(l.ok);
  ASSERT_EQ(l.warnings.size(), 8u) << "every level from IN-CONFIDENCE up";
  EXPECT_EQ(l.warnings[0].rfind("2: warning: policy: no rule covers level IN-CONFIDENCE", 0), 0u)
      << l.warnings[0];
  EXPECT_NE(l.warnings[7].find("mail marked TOP-SECRET would go BES"), std::string::npos)
      << l.warnings[7];
}

TEST(UncoveredLevels, ANarrowedRuleDoesNotCover) {
  // PROTECTED mail for any other domain still takes the default.
  Loaded l = load(policy("", kNzOnly +
                                 "[[policy.rule]]\n"
                                 "classification = [\"OFFICIAL:Sensitive\", \"PROTECTED\"]\n"
                                 "recipient_domain = \"partner.example\"\n"
                                 "policy = \"SOS\"\n"));
  ASSERT_TRUE(l.ok);
  EXPECT_EQ(l.warnings.size(), 2u);
}

TEST(UncoveredLevels, SilentForSosDefaultAndForAPolicyThatReadsNoMarkings) {
  Loaded sos = load("[policy]\ndefault = \"SOS\"\nuncovered_levels = \"error\"\n" + kNzOnly);
  EXPECT_TRUE(sos.ok);
  EXPECT_TRUE(sos.warnings.empty());
  Loaded plain = load("[policy]\ndefault = \"BES\"\n[[policy.rule]]\nsender = \"@x.example\"\n"
                      "policy = \"SOS\"\n");
  EXPECT_TRUE(plain.ok);
  EXPECT_TRUE(plain.warnings.empty()) << plain.warnings.front();
}

TEST(UncoveredLevels, RefusesOtherValues) {
  Loaded l = load("[policy]\nuncovered_levels = \"ignore\"\n");
  EXPECT_FALSE(l.ok);
  ASSERT_EQ(l.issues.size(), 1u);
  EXPECT_EQ(l.issues[0],
            "3: policy.uncovered_levels: must be \"warn\" or \"error\", not 'ignore'");
}

}  // namespace
}  // namespace secmx::config
