// policy_probe_test.cpp - the policy test endpoint over a fake engine that echoes what it
// was given, and over the default engine.
#include "admin/policy_probe.hpp"

#include <gtest/gtest.h>

#include "relay/policy/rule_engine.hpp"

namespace secmx::admin {
namespace {

using nlohmann::json;

// Decides SOS when the header section contains "Secret", and says what it saw.
class EchoEngine : public policy::PolicyEngine {
 public:
  mutable std::string headers, sender;
  mutable bool requiretls = false;
  std::vector<policy::Decision> decide(const policy::MessageFacts& f) const override {
    headers = f.header_section;
    sender = f.sender;
    requiretls = f.requiretls;
    std::vector<policy::Decision> out;
    for (const auto& r : *f.recipients) {
      policy::Decision d;
      bool secret = headers.find("Secret") != std::string::npos;
      d.action = secret ? model::Policy::SOS : model::Policy::BES;
      d.tls = secret ? model::TlsLevel::Verify : model::TlsLevel::None;
      d.reason = "rule=1(" + r.address + ")";
      out.push_back(d);
    }
    return out;
  }
};

TEST(PolicyProbe, BuildsFactsAndAnswersPerRecipient) {
  EchoEngine engine;
  auto out = policy_test(engine, json{{"sender", "a@b.example"},
                                      {"headers", {"Subject: Secret plans", "X-Other: 1"}},
                                      {"recipients", {"r1@c.example", "r2@d.example"}}});
  ASSERT_TRUE(out.ok()) << out.error();
  EXPECT_EQ(engine.headers, "Subject: Secret plans\r\nX-Other: 1\r\n");
  EXPECT_EQ(engine.sender, "a@b.example");
  EXPECT_EQ((*out)["policy"], "SOS");
  EXPECT_EQ((*out)["tls"], "verify");
  EXPECT_EQ((*out)["rule"], "rule=1(r1@c.example)");
  ASSERT_EQ((*out)["decisions"].size(), 2u);
  EXPECT_EQ((*out)["decisions"][1]["recipient"], "r2@d.example");
}

TEST(PolicyProbe, RuleEngineAnswerSaysHowTheMarkingWasRead) {
  auto engine = policy::RuleEngine::create(config::PolicyConfig{});
  ASSERT_TRUE(engine.ok()) << engine.error();
  auto out = policy_test(**engine, json{{"headers", {"X-Protective-Marking: VER=2018.1, NS=gov.au, "
                                                     "SEC=PROTECTED, ORIGIN=a@b.gov.au",
                                                     "Subject: plans"}},
                                        {"recipients", {"r@c.example"}}});
  ASSERT_TRUE(out.ok()) << out.error();
  const json& c = (*out)["classification"];
  EXPECT_EQ(c["level"], "PROTECTED") << out->dump();
  EXPECT_EQ(c["unknown"], false);
  ASSERT_EQ(c["markings"].size(), 1u);
  EXPECT_EQ(c["markings"][0]["source"], "X-Protective-Marking");
  EXPECT_EQ((*out)["subject"], "plans");
  EXPECT_EQ((*out)["marking_invalid"], "");
  EXPECT_TRUE((*out)["decisions"][0].contains("step"));

  // Out of order: not a valid EPMS marking, and the answer says why.
  out = policy_test(**engine, json{{"headers", {"X-Protective-Marking: SEC=PROTECTED, VER=2018.1, NS=gov.au"}},
                                   {"recipients", {"r@c.example"}}});
  ASSERT_TRUE(out.ok()) << out.error();
  EXPECT_EQ((*out)["classification"]["unknown"], true) << out->dump();
  EXPECT_NE((*out)["classification"]["markings"][0]["error"], "") << out->dump();
  EXPECT_NE((*out)["marking_invalid"], "") << out->dump();
}

TEST(PolicyProbe, HeadersAsOneString) {
  EchoEngine engine;
  auto out = policy_test(engine, json{{"recipient", "r@c.example"},
                                      {"headers", "Subject: hello\nX-A: b\r\n"}});
  ASSERT_TRUE(out.ok()) << out.error();
  EXPECT_EQ(engine.headers, "Subject: hello\r\nX-A: b\r\n");
  EXPECT_EQ((*out)["policy"], "BES");
}

TEST(PolicyProbe, RejectsMalformedRequests) {
  EchoEngine engine;
  EXPECT_FALSE(policy_test(engine, json::array()).ok());
  EXPECT_FALSE(policy_test(engine, json{{"sender", "a@b"}}).ok());  // no recipient
  EXPECT_FALSE(policy_test(engine, json{{"recipient", "r@c"}, {"headers", {"no colon here"}}}).ok());
  EXPECT_FALSE(policy_test(engine, json{{"recipient", "r@c"}, {"headers", {"A: b\r\nInjected: x"}}}).ok());
  EXPECT_FALSE(policy_test(engine, json{{"recipient", 5}}).ok());
  EXPECT_FALSE(policy_test(engine, json{{"recipient", "r@c"}, {"requiretls", "yes"}}).ok());
}

TEST(PolicyProbe, DefaultEngineRequireTls) {
  config::PolicyConfig cfg;
  policy::DefaultPolicyEngine engine(cfg);
  auto out = policy_test(engine, json{{"recipient", "r@c.example"}, {"requiretls", true}});
  ASSERT_TRUE(out.ok()) << out.error();
  EXPECT_EQ((*out)["policy"], "SOS");
  EXPECT_EQ((*out)["rule"], "requiretls");
  auto plain = policy_test(engine, json{{"recipient", "r@c.example"}});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)["policy"], "BES");
  EXPECT_EQ((*plain)["rule"], "default");
}

}  // namespace
}  // namespace secmx::admin
