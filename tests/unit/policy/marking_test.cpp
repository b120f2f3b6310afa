// marking_test.cpp - the EPMS parser and the classification read from whole header
// sections: each VER, subject markers, NZ words, folding, RFC 2047, duplicates,
// conflicts and malformed markings.
#include "relay/policy/marking.hpp"

#include <gtest/gtest.h>

namespace secmx::policy {
namespace {

struct EpmsCase {
  const char* name;
  const char* text;
  std::optional<model::Level> level;
  bool ok;  // no error
};

class ParseEpmsHeader : public ::testing::TestWithParam<EpmsCase> {};

TEST_P(ParseEpmsHeader, ReadsLevelAndValidity) {
  const auto& c = GetParam();
  Marking m = parse_epms(c.text, MarkingSource::Header);
  EXPECT_EQ(m.level, c.level) << c.text;
  EXPECT_EQ(m.error.empty(), c.ok) << c.text << " error: " << m.error;
}

INSTANTIATE_TEST_SUITE_P(
    Samples, ParseEpmsHeader,
    ::testing::Values(
        // AU PSPF 2012 (EPMS 2012.3): SEC plus optional DLM.
        EpmsCase{"v2012_unclassified",
                 "VER=2012.3, NS=gov.au, SEC=UNCLASSIFIED, ORIGIN=jane.citizen@agency.gov.au",
                 model::Level::Unclassified, true},
        EpmsCase{"v2012_dlm_only", "VER=2012.3, NS=gov.au, DLM=Sensitive:Personal, "
                                   "ORIGIN=jane.citizen@agency.gov.au",
                 model::Level::OfficialSensitive, true},
        EpmsCase{"v2012_sec_and_dlm", "VER=2012.3, NS=gov.au, SEC=UNCLASSIFIED, DLM=For-Official-Use-Only",
                 model::Level::Official, true},
        EpmsCase{"v2012_protected_caveat",
                 "VER=2012.3, NS=gov.au, SEC=PROTECTED, CAVEAT=SH:CABINET, EXPIRES=2013-06-30, "
                 "DOWNTO=UNCLASSIFIED, ORIGIN=jane.citizen@agency.gov.au",
                 model::Level::Protected, true},
        EpmsCase{"v2012_confidential", "VER=2012.3, NS=gov.au, SEC=CONFIDENTIAL",
                 model::Level::Confidential, true},
        // AU PSPF 2018 (EPMS 2018.1).
        EpmsCase{"v2018_official", "VER=2018.1, NS=gov.au, SEC=OFFICIAL, ORIGIN=a@agency.gov.au",
                 model::Level::Official, true},
        EpmsCase{"v2018_official_sensitive_access",
                 "VER=2018.1, NS=gov.au, SEC=OFFICIAL:Sensitive, ACCESS=Legal-Privilege, "
                 "ORIGIN=jane.citizen@agency.gov.au",
                 model::Level::OfficialSensitive, true},
        EpmsCase{"v2018_top_secret", "VER=2018.1, NS=gov.au, SEC=TOP-SECRET, CAVEAT=RI:AUSTEO",
                 model::Level::TopSecret, true},
        // EPMS 2024.1.
        EpmsCase{"v2024_protected",
                 "VER=2024.1, NS=gov.au, SEC=PROTECTED, CAVEAT=C:REDACTED, CAVEAT=RI:AUSTEO, "
                 "ORIGIN=jane.citizen@agency.gov.au",
                 model::Level::Protected, true},
        EpmsCase{"v2024_unofficial", "VER=2024.1, NS=gov.au, SEC=UNOFFICIAL", model::Level::Unofficial, true},
        // NZ levels in the same grammar.
        EpmsCase{"nz_restricted", "VER=2012.2, NS=govt.nz, SEC=RESTRICTED", model::Level::Restricted, true},
        EpmsCase{"nz_in_confidence", "VER=2012.3, NS=govt.nz, SEC=In Confidence",
                 model::Level::InConfidence, true},
        // Writers' variations that are still readable.
        EpmsCase{"spaces_around_fields", "VER = 2018.1 ,NS=gov.au,  SEC = OFFICIAL:Sensitive ",
                 model::Level::OfficialSensitive, true},
        EpmsCase{"legacy_lowercase_value", "VER=2012.3, NS=gov.au, SEC=protected",
                 model::Level::Protected, true},
        EpmsCase{"quoted_note_with_comma",
                 "VER=2018.1, NS=gov.au, SEC=OFFICIAL, NOTE=\"budget, draft \\\"2\\\"\", ORIGIN=a@b",
                 model::Level::Official, true},
        EpmsCase{"quoted_sec", "VER=2018.1, SEC=\"PROTECTED\"", model::Level::Protected, true},
        EpmsCase{"trailing_comma", "VER=2018.1, NS=gov.au, SEC=OFFICIAL,", model::Level::Official, true},
        EpmsCase{"unknown_key_ignored", "VER=2024.1, SEC=OFFICIAL, X-FUTURE=1", model::Level::Official, true},
        // Malformed: the level still counts when one could be read.
        EpmsCase{"unknown_level", "VER=2018.1, NS=gov.au, SEC=SUPER-SECRET", std::nullopt, false},
        EpmsCase{"no_sec", "VER=2018.1, NS=gov.au, ORIGIN=a@b", std::nullopt, false},
        EpmsCase{"no_ver", "NS=gov.au, SEC=PROTECTED", model::Level::Protected, false},
        EpmsCase{"unknown_ver", "VER=2031.1, SEC=OFFICIAL", model::Level::Official, false},
        EpmsCase{"two_secs_highest_counts", "VER=2018.1, SEC=OFFICIAL, SEC=SECRET", model::Level::Secret, false},
        EpmsCase{"unterminated_quote", "VER=2018.1, NOTE=\"oops, SEC=SECRET", std::nullopt, false},
        EpmsCase{"junk_after_quote", "VER=2018.1, SEC=\"OFFICIAL\"x", std::nullopt, false},
        EpmsCase{"lone_word", "VER=2018.1, SECRET", std::nullopt, false},
        EpmsCase{"unknown_dlm", "VER=2012.3, SEC=UNCLASSIFIED, DLM=Sensitive:Other",
                 model::Level::Unclassified, false},
        EpmsCase{"empty", "", std::nullopt, false},
        EpmsCase{"no_key", "VER=2018.1, =SECRET, SEC=OFFICIAL", model::Level::Official, false},
        // Broken EPMS rules (epms_rules below says which): the level read still counts.
        EpmsCase{"lowercase_keys", "ver = 2018.1 ,ns=gov.au,  sec = official: sensitive ",
                 model::Level::OfficialSensitive, false}),
    [](const auto& info) { return std::string(info.param.name); });

// Each EPMS rule, valid and invalid: the problem recorded and the level still read.
struct RuleCase {
  const char* name;
  const char* text;
  std::optional<MarkingProblem> problem;  // nullopt: valid
  std::optional<model::Level> level;
};

class EpmsRules : public ::testing::TestWithParam<RuleCase> {};

TEST_P(EpmsRules, Checks) {
  const auto& c = GetParam();
  Marking m = parse_epms(c.text, MarkingSource::Header);
  EXPECT_EQ(m.level, c.level) << m.error;
  if (c.problem) {
    EXPECT_FALSE(m.error.empty());
    EXPECT_EQ(to_string(m.problem), to_string(*c.problem)) << m.error;
  } else {
    EXPECT_TRUE(m.error.empty()) << m.error;
  }
}

constexpr auto kOrder = MarkingProblem::Order;
constexpr auto kCase = MarkingProblem::Case;
constexpr auto kValue = MarkingProblem::Value;
constexpr auto kAccess = MarkingProblem::Access;
using model::Level;

INSTANTIATE_TEST_SUITE_P(
    Table, EpmsRules,
    ::testing::Values(
        // Element order: VER, NS, SEC, DLM, CAVEAT, EXPIRES, DOWNTO, ACCESS, NOTE, ORIGIN.
        RuleCase{"order_full",
                 "VER=2024.1, NS=gov.au, SEC=PROTECTED, CAVEAT=SH:CABINET, CAVEAT=RI:AUSTEO, "
                 "EXPIRES=2030-01-01, DOWNTO=OFFICIAL, ACCESS=Legal-Privilege, NOTE=x, ORIGIN=a@b",
                 std::nullopt, Level::Protected},
        RuleCase{"order_sec_first", "SEC=OFFICIAL, VER=2024.1, NS=gov.au", kOrder, Level::Official},
        RuleCase{"order_ns_after_sec", "VER=2018.1, SEC=OFFICIAL, NS=gov.au", kOrder,
                 Level::Official},
        RuleCase{"order_origin_before_access",
                 "VER=2018.1, NS=gov.au, SEC=PROTECTED, ORIGIN=a@b, ACCESS=Legal-Privilege", kOrder,
                 Level::Protected},
        RuleCase{"order_unknown_field_anywhere", "VER=2018.1, X-NEW=1, NS=gov.au, SEC=OFFICIAL",
                 std::nullopt, Level::Official},
        // Case: field names always; values under 2018.1 / 2024.1.
        RuleCase{"case_key", "VER=2018.1, NS=gov.au, Sec=OFFICIAL", kCase, Level::Official},
        RuleCase{"case_value_2024", "VER=2024.1, NS=gov.au, SEC=Protected", kCase,
                 Level::Protected},
        RuleCase{"case_official_sensitive", "VER=2024.1, NS=gov.au, SEC=OFFICIAL:SENSITIVE",
                 kCase, Level::OfficialSensitive},
        RuleCase{"case_access", "VER=2024.1, NS=gov.au, SEC=PROTECTED, ACCESS=legal-privilege",
                 kCase, Level::Protected},
        RuleCase{"case_value_2012_lenient", "VER=2012.3, NS=gov.au, SEC=Protected", std::nullopt,
                 Level::Protected},
        // Values per VER.
        RuleCase{"value_unclassified_2018", "VER=2018.1, NS=gov.au, SEC=UNCLASSIFIED", kValue,
                 Level::Unclassified},
        RuleCase{"value_confidential_2024", "VER=2024.1, NS=gov.au, SEC=CONFIDENTIAL", kValue,
                 Level::Confidential},
        RuleCase{"value_unclassified_2012", "VER=2012.3, NS=gov.au, SEC=UNCLASSIFIED",
                 std::nullopt, Level::Unclassified},
        RuleCase{"value_dlm_2018", "VER=2018.1, NS=gov.au, SEC=OFFICIAL, DLM=Sensitive", kValue,
                 Level::OfficialSensitive},
        RuleCase{"value_access_unknown", "VER=2024.1, NS=gov.au, SEC=PROTECTED, ACCESS=Cabinet",
                 kValue, Level::Protected},
        RuleCase{"value_space_not_hyphen", "VER=2024.1, NS=gov.au, SEC=TOP SECRET", kValue,
                 Level::TopSecret},
        RuleCase{"value_nz_namespace_lenient", "VER=2018.1, NS=govt.nz, SEC=IN-CONFIDENCE",
                 std::nullopt, Level::InConfidence},
        // ACCESS only from OFFICIAL:Sensitive up.
        RuleCase{"access_official_sensitive",
                 "VER=2024.1, NS=gov.au, SEC=OFFICIAL:Sensitive, ACCESS=Personal-Privacy",
                 std::nullopt, Level::OfficialSensitive},
        RuleCase{"access_secret", "VER=2024.1, NS=gov.au, SEC=SECRET, ACCESS=Legislative-Secrecy",
                 std::nullopt, Level::Secret},
        RuleCase{"access_official", "VER=2024.1, NS=gov.au, SEC=OFFICIAL, ACCESS=Legal-Privilege",
                 kAccess, Level::Official},
        RuleCase{"access_unofficial",
                 "VER=2018.1, NS=gov.au, SEC=UNOFFICIAL, ACCESS=Personal-Privacy", kAccess,
                 Level::Unofficial}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ParseEpms, KeepsTheFields) {
  Marking m = parse_epms(
      "VER=2018.1, NS=gov.au, SEC=OFFICIAL:Sensitive, CAVEAT=SH:CABINET, EXPIRES=2030-01-01, "
      "DOWNTO=OFFICIAL, ACCESS=Legal-Privilege, NOTE=\"a, b\", ORIGIN=jane@agency.gov.au",
      MarkingSource::Header);
  EXPECT_TRUE(m.error.empty()) << m.error;
  EXPECT_EQ(m.fields.version, "2018.1");
  EXPECT_EQ(m.fields.ns, "gov.au");
  EXPECT_EQ(m.fields.sec, "OFFICIAL:Sensitive");
  EXPECT_EQ(m.fields.caveats, std::vector<std::string>{"SH:CABINET"});
  EXPECT_EQ(m.fields.access, std::vector<std::string>{"Legal-Privilege"});
  EXPECT_EQ(m.fields.expires, "2030-01-01");
  EXPECT_EQ(m.fields.downto, "OFFICIAL");  // recorded, never lowers the level
  EXPECT_EQ(m.level, model::Level::OfficialSensitive);
  EXPECT_EQ(m.fields.note, "a, b");
  EXPECT_EQ(m.fields.origin, "jane@agency.gov.au");
}

TEST(ParseEpms, SubjectFormNeedsNoVersion) {
  Marking m = parse_epms("SEC=OFFICIAL:Sensitive, CAVEAT=SH:CABINET", MarkingSource::SubjectSec);
  EXPECT_TRUE(m.error.empty()) << m.error;
  EXPECT_EQ(m.level, model::Level::OfficialSensitive);
}

TEST(ParseEpms, TextIsBoundedAndPrintable) {
  std::string long_text = "VER=2018.1, SEC=OFFICIAL, NOTE=" + std::string(5000, 'x') + "\x01";
  Marking m = parse_epms(long_text, MarkingSource::Header);
  EXPECT_LE(m.text.size(), kMaxMarkingText + 3);
  for (char c : m.text) EXPECT_GE(static_cast<unsigned char>(c), 32);
}

// ----------------------------------------------------------------------- whole sections

struct ClassifyCase {
  const char* name;
  const char* headers;
  std::optional<model::Level> level;
  bool unknown;
};

class Classify : public ::testing::TestWithParam<ClassifyCase> {};

const MarkingReader& nz_reader() {
  static const MarkingReader r({"[IN-CONFIDENCE]", "[SENSITIVE]", "[RESTRICTED]", "CONFIDENTIAL"});
  return r;
}

TEST_P(Classify, HighestLevelAndUnknown) {
  const auto& c = GetParam();
  Classification cls = nz_reader().classify(parse_header_section(c.headers));
  EXPECT_EQ(cls.level, c.level) << c.headers;
  EXPECT_EQ(cls.unknown, c.unknown) << c.headers << " why: " << cls.unknown_why();
  EXPECT_EQ(cls.unknown, !cls.unknown_why().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Sections, Classify,
    ::testing::Values(
        ClassifyCase{"none", "From: a@b.example\r\nSubject: lunch on friday\r\n", std::nullopt, false},
        ClassifyCase{"au_header",
                     "From: jane.citizen@agency.gov.au\r\n"
                     "X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=OFFICIAL:Sensitive,\r\n"
                     " ACCESS=Legal-Privilege, ORIGIN=jane.citizen@agency.gov.au\r\n"
                     "Subject: Advice [SEC=OFFICIAL:Sensitive, ACCESS=Legal-Privilege]\r\n",
                     model::Level::OfficialSensitive, false},
        // Folding adds no white space of its own: these were written "TOP SECRET" and
        // "OFFICIAL: Sensitive", which EPMS 2018.1 and 2024.1 do not allow (level kept).
        ClassifyCase{"folded_level_name",
                     "X-Protective-Marking: VER=2024.1, NS=gov.au, SEC=TOP\r\n\tSECRET\r\n",
                     model::Level::TopSecret, true},
        ClassifyCase{"folded_official_sensitive",
                     "X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=OFFICIAL:\r\n Sensitive\r\n",
                     model::Level::OfficialSensitive, true},
        ClassifyCase{"folded_legacy_level_name",
                     "X-Protective-Marking: VER=2012.3, NS=gov.au, SEC=TOP\r\n\tSECRET\r\n",
                     model::Level::TopSecret, false},
        ClassifyCase{"subject_sec_only", "Subject: Budget [SEC=PROTECTED]\r\n", model::Level::Protected, false},
        ClassifyCase{"subject_sec_2012_and_dlm",
                     "Subject: HR case [SEC=UNCLASSIFIED] [DLM=Sensitive:Personal]\r\n",
                     model::Level::OfficialSensitive, false},
        ClassifyCase{"subject_rfc2047",
                     "Subject: =?UTF-8?B?W1NFQz1QUk9URUNURURdIEJ1ZGdldA==?=\r\n",
                     model::Level::Protected, false},
        ClassifyCase{"subject_q_folded",
                     "Subject: =?utf-8?q?Plan_?=\r\n =?utf-8?q?[SEC=3DSECRET]?=\r\n", model::Level::Secret, false},
        ClassifyCase{"nz_word", "Subject: [RESTRICTED] Cabinet paper\r\n", model::Level::Restricted, false},
        ClassifyCase{"nz_word_spelled_differently",
                     "Subject: [In Confidence] staff matter\r\n", model::Level::InConfidence, false},
        ClassifyCase{"nz_unbracketed_word", "Subject: CONFIDENTIAL: tender\r\n",
                     model::Level::Confidential, false},
        ClassifyCase{"nz_unbracketed_inside_word", "Subject: nonconfidential stuff\r\n",
                     std::nullopt, false},
        ClassifyCase{"unlisted_bracket_word_ignored", "Subject: [SECRET] santa\r\n", std::nullopt, false},
        // The header takes precedence: a subject that disagrees makes the marking
        // invalid, and the higher of the two still counts (never lower).
        ClassifyCase{"subject_disagrees_higher",
                     "X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=OFFICIAL\r\n"
                     "Subject: [SEC=PROTECTED] re: budget\r\n",
                     model::Level::Protected, true},
        ClassifyCase{"subject_disagrees_lower",
                     "X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=PROTECTED\r\n"
                     "Subject: [SEC=OFFICIAL] re: budget\r\n",
                     model::Level::Protected, true},
        ClassifyCase{"subject_agrees",
                     "X-Protective-Marking: VER=2024.1, NS=gov.au, SEC=PROTECTED\r\n"
                     "Subject: [SEC=PROTECTED] re: budget\r\n",
                     model::Level::Protected, false},
        // EPMS allows one field per message.
        ClassifyCase{"duplicate_headers_conflicting",
                     "X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=SECRET\r\n"
                     "X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=OFFICIAL\r\n",
                     model::Level::Secret, true},
        ClassifyCase{"nz_and_au_mixed",
                     "X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=PROTECTED\r\n"
                     "Subject: [RESTRICTED] joint work\r\n",
                     model::Level::Protected, false},
        ClassifyCase{"malformed_header_alone",
                     "X-Protective-Marking: this is not a marking\r\n", std::nullopt, true},
        ClassifyCase{"malformed_second_keeps_first_level",
                     "X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=PROTECTED\r\n"
                     "X-Protective-Marking: VER=2018.1, SEC=ULTRA\r\n",
                     model::Level::Protected, true},
        ClassifyCase{"unknown_level_in_subject", "Subject: [SEC=MOST-SECRET] x\r\n", std::nullopt, true},
        ClassifyCase{"unterminated_subject_marking", "Subject: hello [SEC=PROTECTED\r\n",
                     model::Level::Protected, true},
        ClassifyCase{"nested_brackets", "Subject: [fwd: [SEC=SECRET]] x\r\n", model::Level::Secret, false},
        ClassifyCase{"empty_marking_header", "X-Protective-Marking:\r\n", std::nullopt, true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Classify, TruncatedSectionIsUnknown) {
  HeaderLimits lim;
  lim.max_fields = 2;
  auto h = parse_header_section(
      "A: 1\r\nB: 2\r\nX-Protective-Marking: VER=2018.1, SEC=SECRET\r\n", lim);
  Classification cls = nz_reader().classify(h);
  EXPECT_TRUE(cls.unknown);
  EXPECT_FALSE(cls.level.has_value());
  EXPECT_NE(cls.unknown_why().find("header fields"), std::string::npos);
}

TEST(Classify, TooManyMarkingsIsUnknown) {
  std::string subject = "Subject:";
  for (std::size_t i = 0; i < kMaxMarkings + 5; ++i) subject += " [SEC=OFFICIAL]";
  subject += " [SEC=TOP-SECRET]\r\n";
  Classification cls = nz_reader().classify(parse_header_section(subject));
  EXPECT_TRUE(cls.unknown);
  EXPECT_LE(cls.markings.size(), kMaxMarkings + 2);
}

TEST(Classify, EncodedSubjectsInOtherCharsetsAreRead) {
  // The adversarial probe's subjects: before, these went undecoded and unflagged.
  auto cls = nz_reader().classify(
      parse_header_section("Subject: =?iso-2022-jp?B?GyRCTT07OxsoQiBbU0VDPVNFQ1JFVF0=?=\r\n"));
  EXPECT_EQ(cls.level, model::Level::Secret);
  EXPECT_FALSE(cls.unknown) << cls.unknown_why();
  cls = nz_reader().classify(
      parse_header_section("Subject: =?koi8-r?B?79Teo9QgW1JFU1RSSUNURURd?=\r\n"));
  EXPECT_EQ(cls.level, model::Level::Restricted);
  EXPECT_FALSE(cls.unknown) << cls.unknown_why();
}

TEST(Classify, AnUndecodableWordMakesTheMarkingUnknown) {
  for (const char* h : {
           "Subject: =?x-unknown?B?W1NFQz1TRUNSRVRd?=\r\n",
           "Subject: =??Q?[SEC=3DSECRET]?=\r\n",
           "Subject: =?utf-8?B?W1NFQz1TRUNSRVRdQ?=\r\n",
           "X-Protective-Marking: =?gbk?Q?=FF?=\r\n",
       }) {
    auto cls = nz_reader().classify(parse_header_section(h));
    EXPECT_TRUE(cls.unknown) << h;
    EXPECT_NE(cls.unknown_why().find("undecodable"), std::string::npos) << h << cls.unknown_why();
  }
  // The readable part still counts: a second, unreadable word adds caution only.
  auto cls = nz_reader().classify(parse_header_section(
      "Subject: [RESTRICTED] =?x-unknown?Q?more?=\r\n"));
  EXPECT_EQ(cls.level, model::Level::Restricted);
  EXPECT_TRUE(cls.unknown);
  // Other fields are not markings.
  cls = nz_reader().classify(parse_header_section("X-Mailer: =?x-unknown?Q?a?=\r\n"));
  EXPECT_FALSE(cls.unknown);
}

TEST(Classify, UndecodableWordsPastTheLimitKeepTheListBounded) {
  // Found by fuzzing: every Subject field with an undecodable word added a marking, past
  // kMaxMarkings.
  std::string h;
  for (std::size_t i = 0; i < kMaxMarkings; ++i) h += "Subject: [SEC=OFFICIAL]\r\n";
  for (int i = 0; i < 10; ++i) h += "Subject: =?x-unknown?Q?a?=\r\n";
  auto cls = nz_reader().classify(parse_header_section(h));
  EXPECT_TRUE(cls.unknown);
  EXPECT_LE(cls.markings.size(), kMaxMarkings + 2);
  EXPECT_NE(cls.unknown_why().find("more than"), std::string::npos) << cls.unknown_why();
}

TEST(Classify, MarkersThatNameNoLevelAreDropped) {
  MarkingReader r({"[NOT-A-LEVEL]", "[RESTRICTED]"});
  auto cls = r.classify(parse_header_section("Subject: [NOT-A-LEVEL] [RESTRICTED]\r\n"));
  EXPECT_EQ(cls.level, model::Level::Restricted);
  EXPECT_FALSE(cls.unknown);
}

TEST(Classify, SaysWhichRuleWasBroken) {
  auto dup = nz_reader().classify(parse_header_section(
      "X-Protective-Marking: VER=2024.1, NS=gov.au, SEC=OFFICIAL\r\n"
      "X-Protective-Marking: VER=2024.1, NS=gov.au, SEC=OFFICIAL\r\n"));
  ASSERT_EQ(dup.markings.size(), 2u);
  EXPECT_TRUE(dup.markings[0].error.empty());
  EXPECT_EQ(dup.markings[1].problem, MarkingProblem::Duplicate);
  EXPECT_EQ(dup.unknown_why(), "X-Protective-Marking: more than one X-Protective-Marking field");

  auto subj = nz_reader().classify(parse_header_section(
      "Subject: [SEC=OFFICIAL] hi\r\nX-Protective-Marking: VER=2024.1, NS=gov.au, SEC=SECRET\r\n"));
  ASSERT_EQ(subj.markings.size(), 2u);
  EXPECT_EQ(subj.markings[1].source, MarkingSource::SubjectSec);
  EXPECT_EQ(subj.markings[1].problem, MarkingProblem::Subject);
  EXPECT_EQ(subj.level, model::Level::Secret);
  EXPECT_EQ(subj.unknown_why(),
            "Subject [SEC=]: subject says OFFICIAL, X-Protective-Marking says SECRET");

  auto cut = nz_reader().classify(parse_header_section("Subject: =?x-unknown?Q?a?=\r\n"));
  ASSERT_FALSE(cut.markings.empty());
  EXPECT_EQ(cut.markings[0].problem, MarkingProblem::Unreadable);
}

}  // namespace
}  // namespace secmx::policy
