// rule_engine_test.cpp - the DESIGN section 2 precedence as decision tables: REQUIRETLS,
// each rule field and action, first match wins, TLS-Required: No with and without a
// matching rule, the unknown-marking floor, per-recipient rules, apply_decisions().
#include "relay/policy/rule_engine.hpp"

#include <gtest/gtest.h>

#include "relay/policy/address_match.hpp"

namespace secmx::policy {
namespace {

using model::Policy;
using config::PolicyRule;
using model::TlsLevel;

PolicyRule rule(model::Policy a) {
  PolicyRule r;
  r.action = a;
  return r;
}

// The sample profile of DESIGN section 8 plus a few rules to exercise every field.
config::PolicyConfig sample_config() {
  config::PolicyConfig c;
  c.subject_markers = {"[IN-CONFIDENCE]", "[SENSITIVE]", "[RESTRICTED]"};
  std::uint32_t line = 40;
  auto add = [&](PolicyRule r) {
    r.line = line++;
    c.rules.push_back(std::move(r));
  };
  PolicyRule r1 = rule(model::Policy::SOS);  // 1
  r1.sender = "*@secure.agency.example";
  add(r1);
  PolicyRule r2 = rule(model::Policy::SOS);  // 2
  r2.classification = {"IN-CONFIDENCE", "SENSITIVE", "RESTRICTED", "OFFICIAL:Sensitive"};
  add(r2);
  PolicyRule r3 = rule(model::Policy::HOLD);  // 3
  r3.classification = {"CONFIDENTIAL", "PROTECTED", "SECRET", "TOP SECRET"};
  add(r3);
  PolicyRule r4 = rule(model::Policy::SOS);  // 4
  r4.header = "X-Secmx-Policy";
  r4.match = "(?i)^sos$";
  r4.tls = model::TlsLevel::Verify;
  add(r4);
  PolicyRule r5 = rule(model::Policy::REJECT);  // 5
  r5.header = "X-Spam-Flag";
  r5.match = "(?i)^yes$";
  r5.reason = "spam is not relayed";
  add(r5);
  PolicyRule r6 = rule(model::Policy::SOS);  // 6
  r6.recipient_domain = {"Partner.Example"};
  add(r6);
  PolicyRule r7 = rule(model::Policy::BES);  // 7: sender AND recipient domain
  r7.sender = "@newsletters.agency.example";
  r7.recipient_domain = {"lists.example"};
  add(r7);
  PolicyRule r8 = rule(model::Policy::REJECT);  // 8: no reason given
  r8.sender = "blocked@agency.example";
  add(r8);
  PolicyRule r9 = rule(model::Policy::SOS);  // 9: an IDN, as the loader stores it
  r9.recipient_domain = {"xn--bcher-kva.example"};
  add(r9);
  return c;
}

struct Case {
  const char* name;
  const char* sender;
  std::vector<std::string> rcpts;
  bool requiretls;
  const char* headers;
  // expected per recipient: action, tls, reason
  std::vector<std::tuple<model::Policy, model::TlsLevel, std::string>> want;
};

class Precedence : public ::testing::TestWithParam<Case> {};

TEST_P(Precedence, Decides) {
  const auto& c = GetParam();
  static auto engine = RuleEngine::create(sample_config());
  ASSERT_TRUE(engine.ok()) << engine.error();
  std::vector<model::Recipient> rcpts;
  for (const auto& a : c.rcpts) rcpts.push_back(model::Recipient{.address = a});
  MessageFacts f;
  f.sender = c.sender;
  f.recipients = &rcpts;
  f.requiretls = c.requiretls;
  f.header_section = c.headers;
  auto got = (*engine)->decide(f);
  ASSERT_EQ(got.size(), c.want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    auto [action, tls, reason] = c.want[i];
    EXPECT_EQ(got[i].action, action) << c.name << " rcpt " << i << " " << got[i].reason;
    EXPECT_EQ(got[i].tls, tls) << c.name << " rcpt " << i;
    EXPECT_EQ(got[i].reason, reason) << c.name << " rcpt " << i;
  }
}

constexpr auto BES = model::Policy::BES;
constexpr auto SOS = model::Policy::SOS;
constexpr auto HOLD = model::Policy::HOLD;
constexpr auto REJECT = model::Policy::REJECT;
constexpr auto kNone = model::TlsLevel::None;
constexpr auto kEnc = model::TlsLevel::Encrypt;
constexpr auto kVer = model::TlsLevel::Verify;

INSTANTIATE_TEST_SUITE_P(
    Table, Precedence,
    ::testing::Values(
        Case{"default", "a@agency.example", {"x@dest.example"}, false, "Subject: hi\r\n",
             {{BES, kNone, "default"}}},
        Case{"requiretls", "a@agency.example", {"x@dest.example"}, true, "Subject: hi\r\n",
             {{SOS, kVer, "requiretls"}}},
        Case{"requiretls_beats_reject_rule", "a@agency.example", {"x@dest.example"}, true,
             "X-Spam-Flag: YES\r\n", {{SOS, kVer, "requiretls"}}},
        Case{"glob_sender", "Alice@SECURE.agency.example", {"x@dest.example"}, false, "",
             {{SOS, kEnc, "rule=1(sender=*@secure.agency.example)"}}},
        Case{"glob_sender_other_domain", "alice@insecure.agency.example", {"x@dest.example"},
             false, "", {{BES, kNone, "default"}}},
        Case{"classification_restricted_nz_word", "a@agency.example", {"x@dest.example"}, false,
             "Subject: [RESTRICTED] cabinet paper\r\n",
             {{SOS, kEnc, "rule=2(classification=RESTRICTED)"}}},
        Case{"classification_au_header", "a@agency.example", {"x@dest.example"}, false,
             "X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=OFFICIAL:Sensitive\r\n",
             {{SOS, kEnc, "rule=2(classification=OFFICIAL:Sensitive)"}}},
        Case{"classification_hold", "a@agency.example", {"x@dest.example"}, false,
             "X-Protective-Marking: VER=2012.3, NS=govt.nz, SEC=CONFIDENTIAL\r\n",
             {{HOLD, kEnc, "rule=3(classification=CONFIDENTIAL)"}}},
        Case{"classification_highest_of_two", "a@agency.example", {"x@dest.example"}, false,
             "Subject: [RESTRICTED] x\r\nX-Protective-Marking: VER=2024.1, SEC=TOP-SECRET\r\n",
             {{HOLD, kEnc, "rule=3(classification=TOP-SECRET)"}}},
        Case{"unlisted_level_falls_through", "a@agency.example", {"x@dest.example"}, false,
             "X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=OFFICIAL\r\n",
             {{BES, kNone, "default"}}},
        Case{"header_rule_with_tls", "a@agency.example", {"x@dest.example"}, false,
             "X-Secmx-Policy: SOS\r\n", {{SOS, kVer, "rule=4(header=X-Secmx-Policy)"}}},
        Case{"header_rule_second_field_tried", "a@agency.example", {"x@dest.example"}, false,
             "X-Secmx-Policy: maybe\r\nX-Secmx-Policy: sos\r\n",
             {{SOS, kVer, "rule=4(header=X-Secmx-Policy)"}}},
        Case{"header_rule_rfc2047_value", "a@agency.example", {"x@dest.example"}, false,
             "X-Secmx-Policy: =?utf-8?B?U09T?=\r\n", {{SOS, kVer, "rule=4(header=X-Secmx-Policy)"}}},
        Case{"header_rule_folded_value_no_match", "a@agency.example", {"x@dest.example"}, false,
             "X-Secmx-Policy: s\r\n os\r\n", {{BES, kNone, "default"}}},
        Case{"reject_rule", "a@agency.example", {"x@dest.example"}, false,
             "X-Spam-Flag: YES\r\n", {{REJECT, kNone, "rule=5(header=X-Spam-Flag)"}}},
        Case{"first_match_wins", "a@secure.agency.example", {"x@dest.example"}, false,
             "X-Spam-Flag: YES\r\nSubject: [RESTRICTED]\r\n",
             {{SOS, kEnc, "rule=1(sender=*@secure.agency.example)"}}},
        Case{"recipient_domain_per_recipient", "a@agency.example",
             {"x@dest.example", "y@partner.example.", "z@PARTNER.EXAMPLE"}, false, "",
             {{BES, kNone, "default"},
              {SOS, kEnc, "rule=6(recipient_domain=Partner.Example)"},
              {SOS, kEnc, "rule=6(recipient_domain=Partner.Example)"}}},
        Case{"recipient_domain_of_an_internationalized_name", "a@agency.example",
             {"anna@b\xc3\xbc" "cher.example", "bob@xn--bcher-kva.example", "x@bucher.example"},
             false, "",
             {{SOS, kEnc, "rule=9(recipient_domain=xn--bcher-kva.example)"},
              {SOS, kEnc, "rule=9(recipient_domain=xn--bcher-kva.example)"},
              {BES, kNone, "default"}}},
        Case{"sender_and_recipient_domain_both_needed", "news@newsletters.agency.example",
             {"x@lists.example", "y@dest.example"}, false, "TLS-Required: No\r\n",
             {{BES, kNone, "rule=7(sender=@newsletters.agency.example,recipient_domain=lists.example)"},
              {BES, kNone, "tls-required-no"}}},
        Case{"tls_required_no_downgrades_default_only", "a@agency.example", {"x@dest.example"},
             false, "TLS-Required: No\r\n", {{BES, kNone, "tls-required-no"}}},
        Case{"tls_required_no_never_overrides_rule", "a@agency.example", {"x@dest.example"},
             false, "TLS-Required: No\r\nSubject: [RESTRICTED]\r\n",
             {{SOS, kEnc, "rule=2(classification=RESTRICTED)"}}},
        Case{"tls_required_no_never_overrides_requiretls", "a@agency.example", {"x@dest.example"},
             true, "TLS-Required: No\r\n", {{SOS, kVer, "requiretls"}}},
        Case{"tls_required_conflicting_values_ignored", "a@agency.example", {"x@dest.example"},
             false, "TLS-Required: No\r\nTLS-Required: Yes\r\n", {{BES, kNone, "default"}}},
        Case{"reject_without_reason", "blocked@agency.example", {"x@dest.example"}, false, "",
             {{REJECT, kNone, "rule=8(sender=blocked@agency.example)"}}},
        Case{"exact_sender_local_part_case_sensitive", "Blocked@AGENCY.example",
             {"x@dest.example"}, false, "", {{BES, kNone, "default"}}},
        Case{"unknown_marking_raises_default", "a@agency.example", {"x@dest.example"}, false,
             "X-Protective-Marking: garbage\r\n", {{SOS, kEnc, "unknown-marking"}}},
        Case{"unknown_marking_beats_tls_required_no", "a@agency.example", {"x@dest.example"},
             false, "TLS-Required: No\r\nSubject: [SEC=NOT-A-LEVEL]\r\n",
             {{SOS, kEnc, "unknown-marking"}}},
        Case{"unknown_marking_keeps_stronger_rule", "a@agency.example", {"x@dest.example"}, false,
             "X-Protective-Marking: VER=2018.1, SEC=SECRET\r\nX-Protective-Marking: junk\r\n",
             {{HOLD, kEnc, "rule=3(classification=SECRET)"}}},
        // RFC 2047 in any charset: the marking is read (the probe's HIGH and MEDIUM finds).
        Case{"subject_iso_2022_jp_secret", "a@agency.example", {"x@dest.example"}, false,
             "Subject: =?iso-2022-jp?B?GyRCTT07OxsoQiBbU0VDPVNFQ1JFVF0=?=\r\n",
             {{HOLD, kEnc, "rule=3(classification=SECRET)"}}},
        Case{"subject_koi8_r_restricted", "a@agency.example", {"x@dest.example"}, false,
             "Subject: =?koi8-r?B?79Teo9QgW1JFU1RSSUNURURd?=\r\n",
             {{SOS, kEnc, "rule=2(classification=RESTRICTED)"}}},
        Case{"subject_iso_2022_jp_restricted", "a@agency.example", {"x@dest.example"}, false,
             "Subject: =?iso-2022-jp?B?GyRCSnM5cBsoQiBbUkVTVFJJQ1RFRF0=?=\r\n",
             {{SOS, kEnc, "rule=2(classification=RESTRICTED)"}}},
        Case{"subject_iso_8859_2_secret", "a@agency.example", {"x@dest.example"}, false,
             "Subject: =?iso-8859-2?Q?Rozpo=E8et_[SEC=3DSECRET]?=\r\n",
             {{HOLD, kEnc, "rule=3(classification=SECRET)"}}},
        Case{"subject_unknown_charset", "a@agency.example", {"x@dest.example"}, false,
             "Subject: =?x-unknown?B?W1NFQz1TRUNSRVRd?=\r\n", {{SOS, kEnc, "unknown-marking"}}},
        Case{"subject_empty_charset", "a@agency.example", {"x@dest.example"}, false,
             "Subject: =??B?W1NFQz1TRUNSRVRd?=\r\n", {{SOS, kEnc, "unknown-marking"}}},
        Case{"marking_header_bad_bytes", "a@agency.example", {"x@dest.example"}, false,
             "X-Protective-Marking: =?utf-8?Q?=FF?=\r\n", {{SOS, kEnc, "unknown-marking"}}},
        // A header a rule reads is a marking too; one no rule reads changes nothing.
        Case{"rule_header_undecodable", "a@agency.example", {"x@dest.example"}, false,
             "X-Secmx-Policy: =?x-unknown?Q?sos?=\r\n", {{SOS, kEnc, "unknown-marking"}}},
        Case{"unread_header_undecodable", "a@agency.example", {"x@dest.example"}, false,
             "X-Mailer: =?x-unknown?Q?abc?=\r\n", {{BES, kNone, "default"}}},
        Case{"null_sender", "", {"x@dest.example"}, false, "", {{BES, kNone, "default"}}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RuleEngine, UnknownMarkingHoldAndBes) {
  auto cfg = sample_config();
  cfg.unknown_marking = model::Policy::HOLD;
  auto engine = RuleEngine::create(cfg);
  ASSERT_TRUE(engine.ok());
  std::vector<model::Recipient> rcpts{{.address = "x@dest.example"}};
  MessageFacts f;
  f.sender = "a@secure.agency.example";  // rule 1 says SOS ...
  f.recipients = &rcpts;
  f.header_section = "X-Protective-Marking: VER=2018.1, SEC=WHATEVER\r\n";
  auto ev = (*engine)->evaluate(f);
  ASSERT_EQ(ev.recipients.size(), 1u);
  EXPECT_EQ(ev.recipients[0].decision.action, model::Policy::HOLD);  // ... the floor says HOLD
  EXPECT_EQ(ev.recipients[0].chosen, model::Policy::SOS);
  EXPECT_TRUE(ev.recipients[0].raised_by_unknown_marking);
  EXPECT_EQ(ev.recipients[0].rule, 1u);

  cfg.unknown_marking = model::Policy::REJECT;
  engine = RuleEngine::create(cfg);
  ASSERT_TRUE(engine.ok());
  auto d = (*engine)->decide(f);
  EXPECT_EQ(d[0].action, model::Policy::REJECT);
  EXPECT_EQ(d[0].reason, "unknown-marking");
  EXPECT_EQ(d[0].reject_text, "Message refused: its protective marking could not be read");

  // The loader refuses it; an engine built around the loader refuses it too.
  cfg.unknown_marking = model::Policy::BES;
  EXPECT_FALSE(RuleEngine::create(cfg).ok());
}

TEST(RuleEngine, TlsRequiredNoIgnoredByConfig) {
  auto cfg = sample_config();
  cfg.tls_required_no_honor = false;
  cfg.default_action = model::Policy::SOS;
  auto engine = RuleEngine::create(cfg);
  ASSERT_TRUE(engine.ok());
  std::vector<model::Recipient> rcpts{{.address = "x@dest.example"}};
  MessageFacts f;
  f.sender = "a@agency.example";
  f.recipients = &rcpts;
  f.header_section = "TLS-Required: no\r\n";
  auto ev = (*engine)->evaluate(f);
  EXPECT_TRUE(ev.tls_required_no);
  EXPECT_FALSE(ev.tls_required_no_honoured);
  EXPECT_EQ(ev.recipients[0].decision.action, model::Policy::SOS);
  EXPECT_EQ(ev.recipients[0].decision.tls, model::TlsLevel::Encrypt);
  EXPECT_EQ(ev.recipients[0].decision.reason, "default");
}

TEST(RuleEngine, RejectCarriesTheReplyText) {
  auto engine = RuleEngine::create(sample_config());
  ASSERT_TRUE(engine.ok());
  std::vector<model::Recipient> rcpts{{.address = "x@dest.example"}};
  MessageFacts f;
  f.sender = "a@agency.example";
  f.recipients = &rcpts;
  f.header_section = "X-Spam-Flag: yes\r\n";
  EXPECT_EQ((*engine)->decide(f)[0].reject_text, "spam is not relayed");
  f.sender = "blocked@agency.example";
  f.header_section = "";
  EXPECT_EQ((*engine)->decide(f)[0].reject_text, "Message refused by policy");
}

// The server stores what the engine read (envelope, audit record) instead of parsing the
// header section again: the first decision carries it, the others do not repeat it.
TEST(RuleEngine, FirstDecisionCarriesTheClassificationAndMessageIdItRead) {
  auto engine = RuleEngine::create(sample_config());
  ASSERT_TRUE(engine.ok());
  std::vector<model::Recipient> rcpts(2);
  MessageFacts f;
  f.sender = "a@b.example";
  f.recipients = &rcpts;
  f.header_section =
      "Message-ID: <one@b.example>\r\nMessage-ID: <two@b.example>\r\n"
      "X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=PROTECTED, ORIGIN=a@b.example\r\n";
  auto d = (*engine)->decide(f);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].message_id, "<one@b.example>");
  ASSERT_EQ(d[0].classification.markings.size(), 1u);
  EXPECT_EQ(d[0].classification.level, model::Level::Protected);
  EXPECT_FALSE(d[0].classification.unknown);
  EXPECT_EQ(d[1].message_id, "");
  EXPECT_TRUE(d[1].classification.markings.empty());
}

TEST(RuleEngine, CreateRefusesWhatTheLoaderWouldHaveRefused) {
  config::PolicyConfig c;
  PolicyRule r = rule(model::Policy::SOS);
  r.header = "X-A";
  r.match = "(unclosed";
  c.rules.push_back(r);
  EXPECT_FALSE(RuleEngine::create(c).ok());
  c.rules[0] = rule(model::Policy::SOS);
  c.rules[0].classification = {"MOST SECRET"};
  EXPECT_FALSE(RuleEngine::create(c).ok());
  c.rules[0] = rule(model::Policy::SOS);
  EXPECT_FALSE(RuleEngine::create(c).ok());  // no condition
}

TEST(RuleEngine, NoRecipientsNoDecisions) {
  auto engine = RuleEngine::create(sample_config());
  ASSERT_TRUE(engine.ok());
  MessageFacts f;
  EXPECT_TRUE((*engine)->decide(f).empty());
}

// ------------------------------------------------------------------------ apply_decisions

TEST(ApplyDecisions, StoresPolicyTlsReasonAndHeldState) {
  model::Envelope env;
  env.recipients = {{.address = "a@x"}, {.address = "b@y"}, {.address = "c@z"}};
  std::vector<Decision> d(3);
  d[0] = {model::Policy::BES, model::TlsLevel::None, "default", ""};
  d[1] = {model::Policy::SOS, model::TlsLevel::Verify, "rule=4(header=X)", ""};
  d[2] = {model::Policy::HOLD, model::TlsLevel::Encrypt, "rule=3(classification=SECRET)", ""};
  ASSERT_TRUE(apply_decisions(d, env));
  EXPECT_EQ(env.recipients[0].policy, model::Policy::BES);
  EXPECT_EQ(env.recipients[0].state, model::RcptState::Pending);
  EXPECT_EQ(env.recipients[1].policy, model::Policy::SOS);
  EXPECT_EQ(env.recipients[1].tls, model::TlsLevel::Verify);
  EXPECT_EQ(env.recipients[1].policy_reason, "rule=4(header=X)");
  EXPECT_EQ(env.recipients[2].policy, model::Policy::HOLD);
  EXPECT_EQ(env.recipients[2].state, model::RcptState::Held);
  EXPECT_FALSE(env.held);  // the others must still be delivered

  model::Envelope all;
  all.recipients = {{.address = "a@x"}};
  ASSERT_TRUE(apply_decisions({d[2]}, all));
  EXPECT_TRUE(all.held);
}

TEST(ApplyDecisions, RejectLeavesTheEnvelopeAlone) {
  model::Envelope env;
  env.recipients = {{.address = "a@x"}, {.address = "b@y"}};
  std::vector<Decision> d(2);
  d[0] = {model::Policy::HOLD, model::TlsLevel::None, "rule=1(sender=a)", ""};
  d[1] = {model::Policy::REJECT, model::TlsLevel::None, "rule=2(sender=b)", "no"};
  EXPECT_FALSE(apply_decisions(d, env));
  EXPECT_EQ(env.recipients[0].state, model::RcptState::Pending);
  EXPECT_EQ(env.recipients[0].policy_reason, "");
  EXPECT_FALSE(env.held);
}

// ------------------------------------------------------------------------ address matching

struct SenderCase {
  const char* pattern;
  const char* address;
  bool want;
};

class Sender : public ::testing::TestWithParam<SenderCase> {};

TEST_P(Sender, Matches) {
  const auto& c = GetParam();
  EXPECT_EQ(SenderPattern(c.pattern).matches(c.address), c.want) << c.pattern << " ~ " << c.address;
}

INSTANTIATE_TEST_SUITE_P(
    Table, Sender,
    ::testing::Values(
        SenderCase{"jane@agency.example", "jane@agency.example", true},
        SenderCase{"jane@agency.example", "jane@AGENCY.Example", true},
        SenderCase{"jane@agency.example", "Jane@agency.example", false},
        SenderCase{"jane@agency.example", "jane@sub.agency.example", false},
        SenderCase{"@agency.example", "anyone@Agency.Example", true},
        SenderCase{"@agency.example", "anyone@sub.agency.example", false},
        SenderCase{"@agency.example", "", false},
        SenderCase{"*@secure.agency.example", "x@secure.agency.example", true},
        SenderCase{"*@*.agency.example", "x@a.b.agency.example", true},
        SenderCase{"*@*.agency.example", "x@agency.example", false},
        SenderCase{"svc-?@agency.example", "svc-1@agency.example", true},
        SenderCase{"svc-?@agency.example", "svc-12@agency.example", false},
        SenderCase{"*@AGENCY.EXAMPLE", "x@agency.example", true},
        SenderCase{"*payroll*", "Payroll-Bot@HR.agency.example", true},
        SenderCase{"<>", "", true},
        SenderCase{"<>", "a@b", false},
        SenderCase{"*", "", false},
        SenderCase{"\"a@b\"@agency.example", "\"a@b\"@agency.example", true},
        // An internationalized domain is one domain in either form, either side.
        SenderCase{"@b\xc3\xbc" "cher.example", "anna@xn--bcher-kva.example", true},
        SenderCase{"@b\xc3\xbc" "cher.example", "anna@B\xc3\x9c" "cher.Example", true},
        SenderCase{"@xn--bcher-kva.example", "anna@b\xc3\xbc" "cher.example", true},
        SenderCase{"anna@xn--bcher-kva.example", "anna@b\xc3\xbc" "cher.example", true},
        SenderCase{"@b\xc3\xbc" "cher.example", "anna@bucher.example", false},
        // A glob has no A-label form: it matches the domain as written or as A-labels.
        SenderCase{"*@b\xc3\xbc*.example", "anna@b\xc3\xbc" "cher.example", true},
        SenderCase{"*@*b\xc3\xbc" "cher.example", "anna@mail.b\xc3\xbc" "cher.example", true},
        SenderCase{"*@*.xn--bcher-kva.example", "anna@mail.b\xc3\xbc" "cher.example", true},
        SenderCase{"*@*.b\xc3\xbc" "cher.example", "anna@mail.b\xc3\xbc" "cher.example", true},
        SenderCase{"*b\xc3\xbc" "cher.example", "anna@mail.b\xc3\xbc" "cher.example", true},
        SenderCase{"*xn--bcher-kva*", "anna@b\xc3\xbc" "cher.example", true},
        SenderCase{"*@b\xc3\xbc*.example", "anna@bucher.example", false}));

TEST(Glob, Basics) {
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
  EXPECT_TRUE(glob_match("**a", "bbba"));
  EXPECT_FALSE(glob_match("?", ""));
  // Many stars over a long near-miss stays fast (iterative matcher, no blow-up).
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*b", std::string(300, 'a')));
}

TEST(AddressDomain, LowerCasedWithoutFinalDot) {
  EXPECT_EQ(address_domain("X@Example.ORG."), "example.org");
  EXPECT_EQ(address_domain("postmaster"), "");
  EXPECT_TRUE(same_domain("Example.org.", "example.ORG"));
  EXPECT_EQ(address_domain("anna@B\xc3\x9c" "cher.example"), "xn--bcher-kva.example");
  EXPECT_TRUE(same_domain("b\xc3\xbc" "cher.example", "XN--BCHER-KVA.example."));
}

}  // namespace
}  // namespace secmx::policy
