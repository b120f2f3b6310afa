// policy_config_test.cpp - what --check says about the policy section: file:line errors
// for bad rules and subject markers, and that every accepted config builds an engine.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "relay/config/config.hpp"
#include "relay/policy/rule_engine.hpp"

namespace secmx::policy {
namespace {

class PolicyConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("secmx-policy-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<config::Config, std::vector<config::Issue>> load(const std::string& text) {
    auto p = dir_ / "relay.toml";
    std::ofstream(p) << text;
    return config::load_config(p.string());
  }
  std::vector<std::string> issues(const std::string& text) {
    auto r = load(text);
    std::vector<std::string> out;
    if (!r.ok()) {
      for (const auto& i : r.error()) out.push_back(i.to_string());
    }
    return out;
  }
  std::filesystem::path dir_;
};

bool contains(const std::vector<std::string>& v, const std::string& needle) {
  for (const auto& s : v) {
    if (s.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST_F(PolicyConfigFile, SubjectMarkerMustNameALevel) {
  auto got = issues("[policy]\nsubject_markers = [\n  \"[RESTRICTED]\",\n  \"[SPECIAL]\",\n]\n");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(contains(got, "relay.toml:4: policy.subject_markers: '[SPECIAL]' names no known "
                            "classification level"))
      << got[0];
}

TEST_F(PolicyConfigFile, BadRuleFieldsAreReportedWithLines) {
  auto got = issues(
      "[[policy.rule]]\n"                 // 1
      "header = \"X-A\"\n"                // 2
      "match = \"(?P<x\"\n"               // 3
      "policy = \"SOS\"\n"                // 4
      "\n"                                // 5
      "[[policy.rule]]\n"                 // 6
      "classification = [\"SECRET\", \"ULTRA\"]\n"  // 7
      "policy = \"QUARANTINE\"\n"         // 8
      "colour = \"red\"\n");              // 9
  EXPECT_TRUE(contains(got, ":3: policy.rule.match: invalid regular expression")) << got.size();
  EXPECT_TRUE(contains(got, ":7: unknown classification level 'ULTRA'"));
  EXPECT_TRUE(contains(got, ":8: policy.rule.policy: unknown action 'QUARANTINE'"));
  EXPECT_TRUE(contains(got, ":9: unknown key 'policy.rule.colour'"));
}

TEST_F(PolicyConfigFile, TheDesignSampleLoadsAndBuildsAnEngine) {
  auto r = load(
      "[policy]\n"
      "default = \"BES\"\n"
      "subject_markers = [\"[IN-CONFIDENCE]\", \"[SENSITIVE]\", \"[RESTRICTED]\"]\n"
      "unknown_marking = \"SOS\"\n"
      "tls_required_no = \"honor\"\n"
      "[[policy.rule]]\nsender = \"*@secure.agency.example\"\npolicy = \"SOS\"\n"
      "[[policy.rule]]\nclassification = [\"IN-CONFIDENCE\", \"SENSITIVE\", \"RESTRICTED\"]\n"
      "policy = \"SOS\"\n"
      "[[policy.rule]]\nclassification = [\"CONFIDENTIAL\", \"SECRET\", \"TOP SECRET\"]\n"
      "policy = \"HOLD\"\n"
      "[[policy.rule]]\nheader = \"X-Secmx-Policy\"\nmatch = \"(?i)^sos$\"\npolicy = \"SOS\"\n"
      "[[policy.rule]]\nheader = \"X-Spam-Flag\"\nmatch = \"(?i)^yes$\"\npolicy = \"REJECT\"\n"
      "reason = \"spam is not relayed\"\n"
      "[[policy.rule]]\nrecipient_domain = \"partner.example\"\npolicy = \"SOS\"\ntls = \"verify\"\n");
  ASSERT_TRUE(r.ok()) << r.error().front().to_string();
  ASSERT_EQ(r->policy.rules.size(), 6u);
  auto engine = RuleEngine::create(r->policy);
  ASSERT_TRUE(engine.ok()) << engine.error();
  std::vector<model::Recipient> rcpts{{.address = "x@dest.example"}};
  MessageFacts f;
  f.sender = "a@agency.example";
  f.recipients = &rcpts;
  f.header_section = "Subject: [TOP SECRET] x\r\n";  // not a listed marker: no level
  EXPECT_EQ((*engine)->decide(f)[0].reason, "default");
  f.header_section = "Subject: [SEC=TOP SECRET] x\r\n";
  EXPECT_EQ((*engine)->decide(f)[0].reason, "rule=3(classification=TOP-SECRET)");
}

}  // namespace
}  // namespace secmx::policy
