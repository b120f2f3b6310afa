// reason_test.cpp - the policy reason: text form, parsing, round trips of every step.
#include "relay/model/reason.hpp"

#include <gtest/gtest.h>

namespace secmx::model {
namespace {

TEST(ModelReason, NamedStepsRoundTrip) {
  const std::pair<ReasonStep, const char*> cases[] = {
      {ReasonStep::RequireTls, "requiretls"},
      {ReasonStep::TlsRequiredNo, "tls-required-no"},
      {ReasonStep::Default, "default"},
      {ReasonStep::UnknownMarking, "unknown-marking"},
      {ReasonStep::Dsn, "dsn"},
      {ReasonStep::DsnSos, "dsn(sos)"},
      {ReasonStep::DsnSosFull, "dsn(sos-full)"},
  };
  for (auto [step, text] : cases) {
    Reason r(step);
    EXPECT_EQ(r.to_string(), text);
    EXPECT_EQ(r.rule_field(), text);
    auto back = Reason::parse(text);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(back->step, step) << text;
    EXPECT_FALSE(back->released);
    EXPECT_EQ(back->to_string(), text);
  }
}

TEST(ModelReason, RuleWithOneCondition) {
  auto r = Reason::for_rule(3, 41, {{"classification", "RESTRICTED"}});
  EXPECT_EQ(r.to_string(), "rule=3(classification=RESTRICTED)");
  EXPECT_EQ(r.rule_field(), "3(classification=RESTRICTED)");
  auto back = Reason::parse("rule=3(classification=RESTRICTED)");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->step, ReasonStep::Rule);
  EXPECT_EQ(back->rule, 3u);
  EXPECT_EQ(back->rule_line, 0u);  // not in the text
  ASSERT_EQ(back->conditions.size(), 1u);
  EXPECT_EQ(back->conditions[0].key, "classification");
  EXPECT_EQ(back->conditions[0].value, "RESTRICTED");
  EXPECT_EQ(*back, r);
}

TEST(ModelReason, RuleWithSeveralConditions) {
  std::vector<Reason::Condition> conds = {{"sender", "*@secure.agency.example"},
                                          {"header", "X-Secmx-Policy"},
                                          {"classification", "OFFICIAL:Sensitive"},
                                          {"recipient_domain", "xn--bcher-kva.example"}};
  auto r = Reason::for_rule(12, 7, conds);
  const std::string text =
      "rule=12(sender=*@secure.agency.example,header=X-Secmx-Policy,"
      "classification=OFFICIAL:Sensitive,recipient_domain=xn--bcher-kva.example)";
  EXPECT_EQ(r.to_string(), text);
  auto back = Reason::parse(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->rule, 12u);
  EXPECT_EQ(back->conditions, conds);
  EXPECT_EQ(back->to_string(), text);
}

TEST(ModelReason, ConditionValueWithCommaOrParenthesis) {
  // Sender globs are operator text; a comma inside one does not start a condition.
  auto r = Reason::for_rule(2, 0, {{"sender", "a,b(c)@x"}, {"header", "X-A"}});
  auto back = Reason::parse(r.to_string());
  ASSERT_TRUE(back) << r.to_string();
  EXPECT_EQ(back->conditions, r.conditions);
}

TEST(ModelReason, Released) {
  auto r = Reason::for_rule(3, 0, {{"classification", "CONFIDENTIAL"}});
  r.released = true;
  EXPECT_EQ(r.to_string(), "rule=3(classification=CONFIDENTIAL),released");
  auto back = Reason::parse("rule=3(classification=CONFIDENTIAL),released");
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->released);
  EXPECT_EQ(back->step, ReasonStep::Rule);
  EXPECT_EQ(back->rule, 3u);
  auto def = Reason::parse("default,released");
  ASSERT_TRUE(def);
  EXPECT_EQ(def->step, ReasonStep::Default);
  EXPECT_TRUE(def->released);
  EXPECT_EQ(def->to_string(), "default,released");
}

TEST(ModelReason, ParseRefuses) {
  for (const char* bad : {"", "Default", "rule", "rule=", "rule=3", "rule=3(", "rule=(sender=a)",
                          "rule=0(sender=a)", "rule=03(sender=a)", "rule=x(sender=a)",
                          "rule=3(sender)", "rule=3(nokey=a)", "rule=3(,sender=a)",
                          "rule=1(r1@c.example)", " default", "default ", "released",
                          ",released", "dsn(bes)"}) {
    EXPECT_FALSE(Reason::parse(bad).has_value()) << bad;
  }
}

TEST(ModelReason, UnknownTextIsKeptVerbatim) {
  for (const char* text : {"rule=1(r1@c.example)", "something else", "", "default "}) {
    Reason r(text);
    EXPECT_EQ(r.step, ReasonStep::Other) << text;
    EXPECT_EQ(r.to_string(), text);
    EXPECT_EQ(r, text);
  }
  Reason known("requiretls");
  EXPECT_EQ(known.step, ReasonStep::RequireTls);
}

TEST(ModelReason, StepNames) {
  EXPECT_EQ(to_string(ReasonStep::Rule), "rule");
  EXPECT_EQ(to_string(ReasonStep::Default), "default");
  EXPECT_EQ(to_string(ReasonStep::UnknownMarking), "unknown-marking");
}

}  // namespace
}  // namespace secmx::model
