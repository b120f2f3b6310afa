// explain_test.cpp - explain() on whole message files and its text / JSON renderings.
#include "relay/policy/explain.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace secmx::policy {
namespace {

std::shared_ptr<const RuleEngine> engine() {
  config::PolicyConfig c;
  c.subject_markers = {"[RESTRICTED]"};
  config::PolicyRule r;
  r.line = 31;
  r.classification = {"RESTRICTED"};
  r.action = model::Policy::SOS;
  c.rules.push_back(r);
  config::PolicyRule spam;
  spam.line = 35;
  spam.header = "X-Spam-Flag";
  spam.match = "(?i)^yes$";
  spam.action = model::Policy::REJECT;
  spam.reason = "spam is not relayed";
  c.rules.push_back(spam);
  auto e = RuleEngine::create(c);
  if (!e.ok()) ADD_FAILURE() << e.error();
  return e.ok() ? e.value() : nullptr;
}

ExplainRequest request(std::string message) {
  ExplainRequest r;
  r.sender = "jane@agency.example";
  r.recipients = {"a@dest.example", "b@other.example"};
  r.message = std::move(message);
  return r;
}

TEST(Explain, TextNamesTheRuleAndTheMarking) {
  auto e = explain(*engine(), request("From: jane@agency.example\n"
                                      "Subject: [RESTRICTED] cabinet paper\n"
                                      "TLS-Required: No\n"
                                      "\n"
                                      "Subject: [SEC=TOP-SECRET] body text is not read\n"));
  ASSERT_EQ(e.evaluation.recipients.size(), 2u);
  std::string text = render_text(e);
  EXPECT_NE(text.find("classification: RESTRICTED\n"), std::string::npos) << text;
  EXPECT_NE(text.find("<a@dest.example>: policy=SOS tls=encrypt reason=rule=1(classification=RESTRICTED)"),
            std::string::npos) << text;
  EXPECT_NE(text.find("rule 1 (line 31) matched (TLS-Required: No never overrides a rule)"),
            std::string::npos) << text;
  EXPECT_EQ(text.find("TOP-SECRET"), std::string::npos) << text;
  EXPECT_EQ(e.request.message, "");  // not kept
}

TEST(Explain, JsonHasTheDecisionPerRecipient) {
  auto e = explain(*engine(), request("X-Spam-Flag: YES\r\n"
                                      "X-Protective-Marking: VER=2018.1, SEC=\"unclosed\r\n\r\n"));
  auto j = nlohmann::json::parse(render_json(e));
  EXPECT_EQ(j["sender"], "jane@agency.example");
  EXPECT_EQ(j["header_fields"], 2);
  EXPECT_TRUE(j["classification"]["unknown"].get<bool>());
  EXPECT_TRUE(j["classification"]["level"].is_null());
  ASSERT_EQ(j["recipients"].size(), 2u);
  for (const auto& r : j["recipients"]) {
    EXPECT_EQ(r["policy"], "REJECT");  // stronger than the unknown-marking floor
    EXPECT_EQ(r["step"], "rule");
    EXPECT_EQ(r["rule"], 2);
    EXPECT_EQ(r["rule_line"], 35);
    EXPECT_EQ(r["reply"], "550 5.7.1 spam is not relayed");
  }
}

TEST(Explain, UnknownMarkingRaiseIsExplained) {
  auto e = explain(*engine(), request("Subject: [SEC=MOST-SECRET] plan\n\n"));
  std::string text = render_text(e);
  EXPECT_NE(text.find("policy=SOS tls=encrypt reason=unknown-marking"), std::string::npos) << text;
  EXPECT_NE(text.find("raised from BES to policy.unknown_marking"), std::string::npos) << text;
  EXPECT_NE(text.find("unknown level 'MOST-SECRET'"), std::string::npos) << text;
}

TEST(Explain, ControlCharactersAreEscapedInText) {
  auto req = request("Subject: [SEC=BAD\x1b[31m]\n\n");
  req.sender = "x\x01y@agency.example";
  std::string text = render_text(explain(*engine(), req));
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_EQ(text.find('\x01'), std::string::npos);
  EXPECT_NE(text.find("x\\x01y@agency.example"), std::string::npos) << text;
}

TEST(Explain, RequireTlsAndDefault) {
  auto req = request("Subject: hi\n\n");
  req.requiretls = true;
  auto j = nlohmann::json::parse(render_json(explain(*engine(), req)));
  EXPECT_EQ(j["recipients"][0]["policy"], "SOS");
  EXPECT_EQ(j["recipients"][0]["tls"], "verify");
  EXPECT_EQ(j["recipients"][0]["step"], "requiretls");
  req.requiretls = false;
  j = nlohmann::json::parse(render_json(explain(*engine(), req)));
  EXPECT_EQ(j["recipients"][1]["policy"], "BES");
  EXPECT_EQ(j["recipients"][1]["reason"], "default");
}

}  // namespace
}  // namespace secmx::policy
