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
};

class Rfc2047 : public ::testing::TestWithParam<DecodeCase> {};

TEST_P(Rfc2047, Decodes) {
  EXPECT_EQ(decode_encoded_words(GetParam().in), GetParam().want) << GetParam().in;
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
        DecodeCase{"=?koi8-r?q?abc?=", "=?koi8-r?q?abc?="},  // unknown charset: as written
        DecodeCase{"=?utf-8?x?abc?=", "=?utf-8?x?abc?="},
        DecodeCase{"=?utf-8?q?=ZZ?=", "=?utf-8?q?=ZZ?="},
        DecodeCase{"=?utf-8?b?W1NFQ?=", "=?utf-8?b?W1NFQ?="},  // impossible base64 length
        DecodeCase{"=?utf-8?B?UkVTVFJJQ1RFRA?=", "RESTRICTED"},  // padding left out
        DecodeCase{"=?utf-8?q?unterminated", "=?utf-8?q?unterminated"},
        DecodeCase{"=?", "=?"}));

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
