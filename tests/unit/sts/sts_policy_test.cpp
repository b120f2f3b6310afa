// sts_policy_test.cpp - the MTA-STS policy body (RFC 8461 §3.2): the RFC's examples, every
// branch of the grammar, and each refusal with its message.
#include "relay/sts/sts_policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace secmx::sts {
namespace {

using Mx = std::vector<std::string>;

TEST(ParseStsPolicy, TheRfcExamples) {
  // §3.2, first example, with the CRLF lines it describes.
  const std::string enforce =
      "version: STSv1\r\n"
      "mode: enforce\r\n"
      "mx: mail.example.com\r\n"
      "mx: *.example.net\r\n"
      "mx: backupmx.example.com\r\n"
      "max_age: 604800\r\n";
  auto r = parse_sts_policy(enforce);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->mode, Mode::Enforce);
  EXPECT_EQ(r->max_age, std::chrono::seconds(604800));
  EXPECT_EQ(r->mx, (Mx{"mail.example.com", "*.example.net", "backupmx.example.com"}));
  EXPECT_EQ(r->text, enforce);

  // The second, in testing mode, with LF lines and no final line end.
  r = parse_sts_policy(
      "version: STSv1\n"
      "mode: testing\n"
      "mx: gmail-smtp-in.l.google.com\n"
      "mx: *.gmail-smtp-in.l.google.com\n"
      "max_age: 86400");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->mode, Mode::Testing);
  EXPECT_EQ(r->max_age, std::chrono::seconds(86400));
  EXPECT_EQ(r->mx, (Mx{"gmail-smtp-in.l.google.com", "*.gmail-smtp-in.l.google.com"}));
}

struct Good {
  const char* what;
  std::string body;
  Mode mode;
  long max_age;
  Mx mx;
};

TEST(ParseStsPolicy, AcceptsTheGrammar) {
  const std::vector<Good> cases = {
      {"mode none needs no mx", "version: STSv1\nmode: none\nmax_age: 0\n", Mode::None, 0, {}},
      {"mode none may still list mx", "version: STSv1\nmode: none\nmx: a.test\nmax_age: 1\n",
       Mode::None, 1, {"a.test"}},
      {"fields in any order", "max_age: 5\nmx: a.test\nmode: enforce\nversion: STSv1",
       Mode::Enforce, 5, {"a.test"}},
      {"mixed line ends", "version: STSv1\r\nmode: enforce\nmx: a.test\r\nmax_age: 5\n",
       Mode::Enforce, 5, {"a.test"}},
      {"no space after ':'", "version:STSv1\nmode:enforce\nmx:a.test\nmax_age:5",
       Mode::Enforce, 5, {"a.test"}},
      {"SP and HTAB around values",
       "version: \t STSv1 \t\r\nmode:\tenforce\t\nmx:  a.test  \nmax_age:\t5 \n",
       Mode::Enforce, 5, {"a.test"}},
      {"max_age upper bound", "version: STSv1\nmode: testing\nmx: a.test\nmax_age: 31557600\n",
       Mode::Testing, 31557600, {"a.test"}},
      {"max_age with ten digits",
       "version: STSv1\nmode: testing\nmx: a.test\nmax_age: 0000086400\n",
       Mode::Testing, 86400, {"a.test"}},
      {"mx lower-cased, final dot removed",
       "version: STSv1\nmode: enforce\nmx: MX1.Example.COM.\nmx: *.EXAMPLE.net\nmax_age: 5\n",
       Mode::Enforce, 5, {"mx1.example.com", "*.example.net"}},
      {"mx repeated as served",
       "version: STSv1\nmode: enforce\nmx: a.test\nmx: a.test\nmax_age: 5\n",
       Mode::Enforce, 5, {"a.test", "a.test"}},
      {"mx with digits and hyphens",
       "version: STSv1\nmode: enforce\nmx: 1-2.x-y.test\nmx: *.com\nmax_age: 5\n",
       Mode::Enforce, 5, {"1-2.x-y.test", "*.com"}},
      {"unknown fields are ignored",
       "version: STSv1\nmode: enforce\nfuture_field.v-2: any value, with: colons; and = signs\n"
       "mx: a.test\nmax_age: 5\nX: \xc3\xa9t\xc3\xa9 \xf0\x9f\x93\xa7\n",
       Mode::Enforce, 5, {"a.test"}},
      {"names are case-sensitive: Mode is an extension",
       "version: STSv1\nMode: bogus\nmode: testing\nmx: a.test\nmax_age: 5\n",
       Mode::Testing, 5, {"a.test"}},
      {"the first mode counts",
       "version: STSv1\nmode: testing\nmode: enforce\nmx: a.test\nmax_age: 5\n",
       Mode::Testing, 5, {"a.test"}},
      {"the first max_age counts, a repeat need only be well-formed",
       "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 5\nmax_age: 99999999999999\n",
       Mode::Enforce, 5, {"a.test"}},
      {"a repeated version is ignored",
       "version: STSv1\nversion: STSv2\nmode: enforce\nmx: a.test\nmax_age: 5\n",
       Mode::Enforce, 5, {"a.test"}},
      {"an extension value with inner spaces",
       "version: STSv1\nmode: none\nmax_age: 1\nnote: a  b c\n",
       Mode::None, 1, {}},
  };
  for (const Good& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = parse_sts_policy(c.body);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->mode, c.mode);
    EXPECT_EQ(r->max_age.count(), c.max_age);
    EXPECT_EQ(r->mx, c.mx);
    EXPECT_EQ(r->text, c.body);
  }
}

struct Bad {
  std::string body;
  const char* error;
};

TEST(ParseStsPolicy, RefusesWithAReason) {
  const std::string head = "version: STSv1\nmode: enforce\nmx: a.test\n";  // lines 1-3
  const char* kControl4 = "line 4: value with a control character or invalid UTF-8";
  const char* kBadMx4 = "line 4: mx must be a host name or *. and a domain name";
  const char* kBadMaxAge4 = "line 4: max_age must be 1 to 10 digits, at most 31557600";
  const char* kBadMode2 = "line 2: mode must be enforce, testing or none";
  const std::vector<Bad> cases = {
      {"", "empty policy"},
      {"\n", "line 1: empty line"},
      {"version: STSv1\n\nmode: none\nmax_age: 1\n", "line 2: empty line"},
      {head + "max_age: 5\n\n", "line 5: empty line"},  // one line end at most
      {head + "max_age: 5\r\n\r\n", "line 5: empty line"},
      {head + "max_age: 5\r", kControl4},
      {head + "max_age: 5\rmx: b.test\n", kControl4},
      {head + "max_age 5\n", "line 4: no ':' after the field name"},
      {head + " max_age: 5\n", "line 4: space before the field name"},
      {head + "\tmax_age: 5\n", "line 4: space before the field name"},
      {head + "max_age : 5\n", "line 4: space before ':'"},
      {head + ": 5\n", "line 4: invalid field name"},
      {head + "_x: 5\n", "line 4: invalid field name"},
      {head + "a/b: 5\n", "line 4: invalid field name"},
      {head + "a234567890123456789012345678901bc: 5\n", "line 4: invalid field name"},
      {head + "max_age:\n", "line 4: empty value"},
      {head + "max_age: \t \n", "line 4: empty value"},
      {head + "note: a\tb\n", kControl4},
      {head + "note: a\x7f\n", kControl4},
      {head + "note: \xc3\n", kControl4},
      {head + "note: \xc0\xaf\n", kControl4},
      {head + std::string("note: a\0b\n", 10), kControl4},
      {"version: STSv2\nmode: none\nmax_age: 1\n", "line 1: version must be STSv1"},
      {"version: stsv1\nmode: none\nmax_age: 1\n", "line 1: version must be STSv1"},
      {"version: STSv1\nmode: Enforce\nmax_age: 1\n", kBadMode2},
      {"version: STSv1\nmode: report\nmax_age: 1\n", kBadMode2},
      {head + "max_age: 31557601\n", kBadMaxAge4},
      {head + "max_age: 00000000001\n", kBadMaxAge4},
      {head + "max_age: 9999999999\n", kBadMaxAge4},
      {head + "max_age: -1\n", kBadMaxAge4},
      {head + "max_age: +5\n", kBadMaxAge4},
      {head + "max_age: 5 s\n", kBadMaxAge4},
      {head + "mx: *\n", kBadMx4},
      {head + "mx: *.\n", kBadMx4},
      {head + "mx: *.*.a.test\n", kBadMx4},
      {head + "mx: a.*.test\n", kBadMx4},
      {head + "mx: *a.test\n", kBadMx4},
      {head + "mx: -a.test\n", kBadMx4},
      {head + "mx: a..test\n", kBadMx4},
      {head + "mx: a.test..\n", kBadMx4},
      {head + "mx: a_b.test\n", kBadMx4},
      {head + "mx: a.test b.test\n", kBadMx4},
      {head + "mx: b\xc3\xbc" "cher.test\n", kBadMx4},
      {head + "mx: [192.0.2.1]\n", kBadMx4},
      {head + "mx: " + std::string(64, 'a') + ".test\n",
       kBadMx4},
      {"mode: none\nmax_age: 1\n", "no version field (names are case-sensitive)"},
      {"Version: STSv1\nmode: none\nmax_age: 1\n", "no version field (names are case-sensitive)"},
      {"version: STSv1\nmax_age: 1\n", "no mode field"},
      {"version: STSv1\nmode: none\n", "no max_age field"},
      {"version: STSv1\nmode: enforce\nmax_age: 1\n", "no mx field (required unless mode is none)"},
      {"version: STSv1\nmode: testing\nmax_age: 1\nMX: a.test\n",
       "no mx field (required unless mode is none)"},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.body);
    auto r = parse_sts_policy(c.body);
    ASSERT_FALSE(r.ok()) << canonical_text(*r);
    EXPECT_EQ(r.error(), c.error);
  }
}

TEST(ParseStsPolicy, SizeLimit) {
  std::string body = "version: STSv1\nmode: none\nmax_age: 1\n";
  const std::string filler = "x: " + std::string(60, 'y') + "\n";
  while (body.size() + filler.size() <= kMaxPolicyBytes) body += filler;
  body += "x: " + std::string(kMaxPolicyBytes - body.size() - 4, 'y') + "\n";
  ASSERT_EQ(body.size(), kMaxPolicyBytes);
  EXPECT_TRUE(parse_sts_policy(body).ok());
  body += "x";
  auto r = parse_sts_policy(body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "policy larger than 65536 bytes");
}

TEST(ParseStsPolicy, ModeNames) {
  EXPECT_STREQ(to_string(Mode::Enforce), "enforce");
  EXPECT_STREQ(to_string(Mode::Testing), "testing");
  EXPECT_STREQ(to_string(Mode::None), "none");
}

TEST(CanonicalText, WritesTheRfcOrderAndReadsBack) {
  auto r = parse_sts_policy(
      "max_age: 0604800\nmx: *.Example.NET.\nx: y\nmode: enforce\nmx: mail.example.com\n"
      "version:STSv1");
  ASSERT_TRUE(r.ok()) << r.error();
  const std::string text = canonical_text(*r);
  EXPECT_EQ(text,
            "version: STSv1\r\n"
            "mode: enforce\r\n"
            "mx: *.example.net\r\n"
            "mx: mail.example.com\r\n"
            "max_age: 604800\r\n");
  auto again = parse_sts_policy(text);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->mode, r->mode);
  EXPECT_EQ(again->max_age, r->max_age);
  EXPECT_EQ(again->mx, r->mx);
  EXPECT_EQ(canonical_text(*again), text);
}

TEST(CanonicalText, ModeNoneWithoutMx) {
  StsPolicy p;
  EXPECT_EQ(canonical_text(p), "version: STSv1\r\nmode: none\r\nmax_age: 0\r\n");
  EXPECT_TRUE(parse_sts_policy(canonical_text(p)).ok());
}

}  // namespace
}  // namespace secmx::sts
