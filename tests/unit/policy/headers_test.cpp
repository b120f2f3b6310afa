// headers_test.cpp - header section splitting, unfolding, RFC 2047 and the limits.
#include "relay/policy/headers.hpp"

#include <gtest/gtest.h>

namespace secmx::policy {
namespace {

TEST(Unfold, RemovesLineBreaksBeforeWhiteSpaceOnly) {
  EXPECT_EQ(unfold("a\r\n b"), "a b");
  EXPECT_EQ(unfold("a\r\n\tb"), "a\tb");
  EXPECT_EQ(unfold("a\n b"), "a b");
  EXPECT_EQ(unfold("a\r\nb"), "a\r\nb");
  EXPECT_EQ(unfold("a\r\n"), "a\r\n");
  EXPECT_EQ(unfold(""), "");
}

struct DecodeCase {
  const char* in;
  const char* want;
  bool error = false;  // some word could not be decoded
};

class Rfc2047 : public ::testing::TestWithParam<DecodeCase> {};

TEST_P(Rfc2047, Decodes) {
  DecodedText d = decode_encoded_words(GetParam().in);
  EXPECT_EQ(d.text, GetParam().want) << GetParam().in;
  EXPECT_EQ(!d.error.empty(), GetParam().error) << GetParam().in << ": " << d.error;
}

INSTANTIATE_TEST_SUITE_P(
    Words, Rfc2047,
    ::testing::Values(
        DecodeCase{"plain text", "plain text"},
        DecodeCase{"=?utf-8?Q?=5BSEC=3DPROTECTED=5D?= budget", "[SEC=PROTECTED] budget"},
        DecodeCase{"=?UTF-8?B?W1NFQz1PRkZJQ0lBTDpTZW5zaXRpdmVd?=", "[SEC=OFFICIAL:Sensitive]"},
        DecodeCase{"=?utf-8?q?a_b?= =?utf-8?q?c?=", "a bc"},  // space between words dropped
        DecodeCase{"=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b"},
        DecodeCase{"=?iso-8859-1?q?caf=E9?=", "caf\xC3\xA9"},
        DecodeCase{"=?windows-1252?q?=93quoted=94?=", "\xE2\x80\x9Cquoted\xE2\x80\x9D"},
        DecodeCase{"=?utf-8*en?q?x?=", "x"},
        DecodeCase{"=?koi8-r?q?abc?=", "abc"},
        DecodeCase{"=?utf-8?B?UkVTVFJJQ1RFRA?=", "RESTRICTED"},  // padding left out
        DecodeCase{"=?utf-8?q?unterminated", "=?utf-8?q?unterminated"},
        DecodeCase{"=?", "=?"},
        DecodeCase{"what=? next ?= no", "what=? next ?= no"},  // prose, not a word
        DecodeCase{"=?utf-8?q?two?=\r\n =?utf-8?q?_lines?=", "two lines"},
        // Words that look like encoded-words but cannot be decoded: kept, and reported.
        DecodeCase{"=?utf-8?x?abc?=", "=?utf-8?x?abc?=", true},
        DecodeCase{"=?utf-8?q?=ZZ?=", "=?utf-8?q?=ZZ?=", true},
        DecodeCase{"=?utf-8?b?W1NFQ?=", "=?utf-8?b?W1NFQ?=", true},  // impossible base64 length
        DecodeCase{"=?utf-8?b?W1N=FQ?=", "=?utf-8?b?W1N=FQ?=", true},  // data after padding
        DecodeCase{"=??Q?abc?=", "=??Q?abc?=", true},                  // empty charset
        DecodeCase{"=?*en?Q?abc?=", "=?*en?Q?abc?=", true},            // only a language
        DecodeCase{"=?x-no-such-charset?Q?abc?=", "=?x-no-such-charset?Q?abc?=", true},
        DecodeCase{"a =?x-unknown?B?W1NFQz1TRUNSRVRd?= b", "a =?x-unknown?B?W1NFQz1TRUNSRVRd?= b",
                   true},
        DecodeCase{"=?utf-8?Q?=FF=FE?=", "=?utf-8?Q?=FF=FE?=", true},  // not UTF-8
        DecodeCase{"=?us-ascii?Q?=E9?=", "=?us-ascii?Q?=E9?=", true},  // 8 bits in ASCII
        // iconv must not be asked to drop what it cannot convert.
        DecodeCase{"=?utf-8//IGNORE?Q?=FF?=", "=?utf-8//IGNORE?Q?=FF?=", true},
        DecodeCase{"=?utf-8//TRANSLIT?Q?x?=", "=?utf-8//TRANSLIT?Q?x?=", true},
        // One good word, one bad: the good one decodes, the error is still reported.
        DecodeCase{"=?utf-8?q?ok?= =?x-bad?q?no?=", "ok=?x-bad?q?no?=", true}));

// The adversarial probe's charsets: every one is decoded by iconv and the marking is read.
struct CharsetCase {
  const char* in;
  const char* want;  // UTF-8
};

class Charsets : public ::testing::TestWithParam<CharsetCase> {};

TEST_P(Charsets, DecodeToUtf8) {
  DecodedText d = decode_encoded_words(GetParam().in);
  EXPECT_EQ(d.text, GetParam().want) << GetParam().in;
  EXPECT_EQ(d.error, "") << GetParam().in;
}

INSTANTIATE_TEST_SUITE_P(
    Probe, Charsets,
    ::testing::Values(
        CharsetCase{"=?iso-2022-jp?B?GyRCTT07OxsoQiBbU0VDPVNFQ1JFVF0=?=", "予算 [SEC=SECRET]"},
        CharsetCase{"=?ISO-2022-JP?q?=1B=24BM=3D=3B=3B=1B=28B_[SEC=3DSECRET]?=",
                    "予算 [SEC=SECRET]"},
        CharsetCase{"=?shift_jis?B?l1yOWiBbU0VDPVNFQ1JFVF0=?=", "予算 [SEC=SECRET]"},
        CharsetCase{"=?Shift_JIS?Q?=97=5C=8EZ_[SEC=3DSECRET]?=", "予算 [SEC=SECRET]"},
        CharsetCase{"=?euc-jp?B?zb27uyBbU0VDPVNFQ1JFVF0=?=", "予算 [SEC=SECRET]"},
        CharsetCase{"=?gb2312?B?0+jL4yBbU0VDPVNFQ1JFVF0=?=", "予算 [SEC=SECRET]"},
        CharsetCase{"=?GBK?Q?=D3=E8=CB=E3_[SEC=3DSECRET]?=", "予算 [SEC=SECRET]"},
        CharsetCase{"=?big5?B?uXe64iBbU0VDPVNFQ1JFVF0=?=", "預算 [SEC=SECRET]"},
        CharsetCase{"=?euc-kr?B?v7m76iBbU0VDPVNFQ1JFVF0=?=", "예산 [SEC=SECRET]"},
        CharsetCase{"=?koi8-r?B?4sDE1sXUIFtTRUM9U0VDUkVUXQ==?=", "Бюджет [SEC=SECRET]"},
        CharsetCase{"=?KOI8-R?q?=E2=C0=C4=D6=C5=D4_[SEC=3DSECRET]?=", "Бюджет [SEC=SECRET]"},
        CharsetCase{"=?windows-1251?B?wf7k5uXyIFtTRUM9U0VDUkVUXQ==?=", "Бюджет [SEC=SECRET]"},
        CharsetCase{"=?iso-8859-5?b?se7U1tXiIFtTRUM9U0VDUkVUXQ==?=", "Бюджет [SEC=SECRET]"},
        CharsetCase{"=?iso-8859-15?B?pHVybyBbU0VDPVNFQ1JFVF0=?=", "€uro [SEC=SECRET]"},
        CharsetCase{"=?iso-8859-15?Q?=A4uro_[SEC=3DSECRET]?=", "€uro [SEC=SECRET]"},
        CharsetCase{"=?iso-8859-2?Q?Rozpo=E8et_[SEC=3DSECRET]?=", "Rozpočet [SEC=SECRET]"},
        CharsetCase{"=?iso-8859-2?B?Um96cG/oZXQgW1NFQz1TRUNSRVRd?=", "Rozpočet [SEC=SECRET]"},
        CharsetCase{"=?utf-16?B?//6ITpd7IABbAFMARQBDAD0AUwBFAEMAUgBFAFQAXQA=?=",
                    "予算 [SEC=SECRET]"},
        CharsetCase{"=?utf-16be?B?AFsAUgBFAFMAVABSAEkAQwBUAEUARABd?=", "[RESTRICTED]"},
        CharsetCase{"=?utf-7?B?K1RvaDdsdyBbU0VDPVNFQ1JFVF0=?=", "予算 [SEC=SECRET]"},
        CharsetCase{"=?windows-1255?B?+vf26eEgW1NFQz1TRUNSRVRd?=", "תקציב [SEC=SECRET]"},
        CharsetCase{"=?iso-8859-7?B?0PHv+/Dv6+/j6fPs/PIgW1NFQz1TRUNSRVRd?=",
                    "Προϋπολογισμός [SEC=SECRET]"},
        CharsetCase{"=?tis-620?B?p7q7w9DB0rMgW1NFQz1TRUNSRVRd?=", "งบประมาณ [SEC=SECRET]"},
        // A multi-byte character split across two words of one charset.
        CharsetCase{"=?utf-8?B?5Lo=?= =?utf-8?B?iCBbU0VDPVNFQ1JFVF0=?=", "予 [SEC=SECRET]"},
        // The marker itself split across words; mixed encodings in one charset.
        CharsetCase{"=?koi8-r?Q?=E2=C0=C4=D6=C5=D4_[SEC=3DSE?= =?KOI8-R?B?Q1JFVF0=?=",
                    "Бюджет [SEC=SECRET]"},
        // Words longer than RFC 2047's 75 characters are still read.
        CharsetCase{"=?utf-8?Q?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                    "aaaaaaaa_[SEC=3DSECRET]?=",
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                    "aaaaaaaa [SEC=SECRET]"}));

TEST(ParseHeaderSection, KeepsTheDecodeErrorOfEachField) {
  auto h = parse_header_section(
      "Subject: =?x-unknown?B?W1NFQz1TRUNSRVRd?=\r\n"
      "X-Other: =?utf-8?q?fine?=\r\n"
      "\r\n");
  ASSERT_EQ(h.fields.size(), 2u);
  EXPECT_NE(h.fields[0].decode_error.find("unknown charset 'x-unknown'"), std::string::npos)
      << h.fields[0].decode_error;
  EXPECT_EQ(h.fields[1].decode_error, "");
  EXPECT_EQ(h.fields[1].value, "fine");
}

TEST(ParseHeaderSection, UnfoldsDecodesAndStopsAtTheEmptyLine) {
  auto h = parse_header_section(
      "From: a@b.example\r\n"
      "X-Protective-Marking: VER=2018.1, NS=gov.au,\r\n"
      "  SEC=OFFICIAL:Sensitive,\r\n"
      "\tORIGIN=jane@agency.gov.au\r\n"
      "Subject: =?utf-8?Q?budget_[SEC=3DPROTECTED]?=\r\n"
      "X-Odd  : spaced name\r\n"
      "\r\n"
      "Subject: in the body\r\n");
  ASSERT_EQ(h.fields.size(), 4u);
  EXPECT_FALSE(h.truncated);
  EXPECT_EQ(h.fields[1].value,
            "VER=2018.1, NS=gov.au,  SEC=OFFICIAL:Sensitive,\tORIGIN=jane@agency.gov.au");
  EXPECT_EQ(h.values("subject"), std::vector<std::string_view>{"budget [SEC=PROTECTED]"});
  EXPECT_EQ(h.values("X-ODD"), std::vector<std::string_view>{"spaced name"});
}

TEST(ParseHeaderSection, AcceptsBareLfAndCountsJunkLines) {
  auto h = parse_header_section(" leading continuation\nnot a header\nSubject: x\n y\n\nbody");
  ASSERT_EQ(h.fields.size(), 1u);
  EXPECT_EQ(h.fields[0].value, "x y");
  EXPECT_EQ(h.skipped_lines, 2u);
}

TEST(ParseHeaderSection, EveryFieldOfANameIsKept) {
  auto h = parse_header_section("X-A: 1\r\nX-B: 2\r\nx-a: 3\r\n");
  EXPECT_EQ(h.values("X-A"), (std::vector<std::string_view>{"1", "3"}));
  EXPECT_TRUE(h.values("X-C").empty());
}

TEST(ParseHeaderSection, LimitsTruncateAndSaySo) {
  HeaderLimits small;
  small.max_fields = 3;
  auto h = parse_header_section("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n", small);
  EXPECT_EQ(h.fields.size(), 3u);
  EXPECT_TRUE(h.truncated);
  EXPECT_NE(h.truncation.find("more than 3 header fields"), std::string::npos);

  HeaderLimits lines;
  lines.max_line_bytes = 10;
  h = parse_header_section("A: 1\r\nB: 01234567890\r\nC: 3\r\n", lines);
  EXPECT_EQ(h.fields.size(), 1u);  // B was cut: it does not count
  EXPECT_TRUE(h.truncated);

  HeaderLimits section;
  section.max_section_bytes = 16;
  h = parse_header_section("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n", section);
  EXPECT_TRUE(h.truncated);
  EXPECT_LE(h.fields.size(), 2u);

  HeaderLimits field;
  field.max_field_bytes = 8;
  h = parse_header_section("A: 1\r\n 2345\r\n 6789\r\n", field);
  EXPECT_TRUE(h.truncated);
  EXPECT_TRUE(h.values("A").empty());
}

TEST(ParseHeaderSection, DefaultLimitsBoundAHostileSection) {
  std::string raw;
  for (int i = 0; i < 5000; ++i) raw += "X-Junk: " + std::to_string(i) + "\r\n";
  auto h = parse_header_section(raw);
  EXPECT_EQ(h.fields.size(), kMaxHeaderFields);
  EXPECT_TRUE(h.truncated);

  std::string longline = "Subject: " + std::string(kMaxHeaderLineBytes, 'x') + "\r\n";
  h = parse_header_section(longline);
  EXPECT_TRUE(h.truncated);
  EXPECT_TRUE(h.fields.empty());
}

TEST(ParseHeaderSection, EmptyInputAndNoHeaders) {
  EXPECT_TRUE(parse_header_section("").fields.empty());
  auto h = parse_header_section("\r\nSubject: body\r\n");
  EXPECT_TRUE(h.fields.empty());
  EXPECT_FALSE(h.truncated);
}

}  // namespace
}  // namespace secmx::policy
