// params_test.cpp - parse_mail / parse_rcpt tables: every parameter, paths and limits,
// with the exact reply code and enhanced code expected for each invalid line.
#include "relay/smtp/params.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace secmx::smtp {
namespace {

// Offered as after EHLO over TLS with a 10 MB limit; variants below switch things off.
Offered all_offered() {
  Offered o;
  o.requiretls = true;
  o.auth = true;
  o.max_size = 10'000'000;
  return o;
}

Offered none_offered() { return Offered{false, false, false, false, false, false, false, 0}; }

struct MailCase {
  std::string arg;
  int code;              // 0: accepted
  std::string enhanced;  // or, when accepted, the expected reverse path
};

void check_mail(const std::vector<MailCase>& cases, const Offered& offered) {
  for (const auto& c : cases) {
    auto r = parse_mail(c.arg, offered);
    if (c.code == 0) {
      ASSERT_TRUE(r.ok()) << "MAIL " << c.arg << " -> " << r.error().code << " "
                          << r.error().enhanced << " " << r.error().text;
      EXPECT_EQ(r->reverse_path, c.enhanced) << c.arg;
    } else {
      ASSERT_FALSE(r.ok()) << "MAIL " << c.arg << " was accepted";
      EXPECT_EQ(r.error().code, c.code) << c.arg << ": " << r.error().text;
      EXPECT_EQ(r.error().enhanced, c.enhanced) << c.arg << ": " << r.error().text;
      EXPECT_FALSE(r.error().text.empty());
    }
  }
}

void check_rcpt(const std::vector<MailCase>& cases, const Offered& offered, bool utf8_tx) {
  for (const auto& c : cases) {
    auto r = parse_rcpt(c.arg, offered, utf8_tx);
    if (c.code == 0) {
      ASSERT_TRUE(r.ok()) << "RCPT " << c.arg << " -> " << r.error().code << " "
                          << r.error().enhanced << " " << r.error().text;
      EXPECT_EQ(r->forward_path, c.enhanced) << c.arg;
    } else {
      ASSERT_FALSE(r.ok()) << "RCPT " << c.arg << " was accepted";
      EXPECT_EQ(r.error().code, c.code) << c.arg << ": " << r.error().text;
      EXPECT_EQ(r.error().enhanced, c.enhanced) << c.arg << ": " << r.error().text;
    }
  }
}

TEST(ParseMail, ValidPaths) {
  check_mail(
      {
          {"FROM:<a@b.example>", 0, "a@b.example"},
          {"from:<a@b.example>", 0, "a@b.example"},
          {"From:<A.B@Example.COM>", 0, "A.B@Example.COM"},
          {"FROM: <a@b.example>", 0, "a@b.example"},
          {"FROM:  <a@b.example>", 0, "a@b.example"},
          {"FROM:<>", 0, ""},
          {"FROM: <>", 0, ""},
          {"FROM:<> SIZE=10", 0, ""},
          {"FROM:<@r1.example:a@b.example>", 0, "a@b.example"},
          {"FROM:<@r1.example,@r2.example:a@b.example>", 0, "a@b.example"},
          {"FROM:<\"john doe\"@example.com>", 0, "\"john doe\"@example.com"},
          {"FROM:<\"a>b\"@example.com>", 0, "\"a>b\"@example.com"},
          {"FROM:<\"a\\\"b\"@example.com>", 0, "\"a\\\"b\"@example.com"},
          {"FROM:<\"\"@example.com>", 0, "\"\"@example.com"},
          {"FROM:<a@[192.0.2.1]>", 0, "a@[192.0.2.1]"},
          {"FROM:<a@[0.0.0.0]>", 0, "a@[0.0.0.0]"},
          {"FROM:<a@[IPv6:2001:db8::1]>", 0, "a@[IPv6:2001:db8::1]"},
          {"FROM:<a@[ipv6:::1]>", 0, "a@[ipv6:::1]"},
          {"FROM:<a@[IPv6:::ffff:192.0.2.1]>", 0, "a@[IPv6:::ffff:192.0.2.1]"},
          {"FROM:<a.b+tag@sub.example.com>", 0, "a.b+tag@sub.example.com"},
          {"FROM:<!#$%&'*+-/=?^_`{|}~@example.com>", 0, "!#$%&'*+-/=?^_`{|}~@example.com"},
          {"FROM:<a@b>", 0, "a@b"},
          {"FROM:<a@123.example>", 0, "a@123.example"},
          {"FROM:<a@x-y.example>", 0, "a@x-y.example"},
          {"FROM:<" + std::string(64, 'l') + "@example.com>", 0,
           std::string(64, 'l') + "@example.com"},
      },
      all_offered());
}

TEST(ParseMail, InvalidPaths) {
  const std::string label63(63, 'd');
  const std::string domain255 = label63 + "." + label63 + "." + label63 + "." + label63;  // 255
  check_mail(
      {
          {"", 501, "5.5.4"},
          {"FROM", 501, "5.5.4"},
          {"FROM<a@b>", 501, "5.5.4"},
          {"FROM <a@b>", 501, "5.5.4"},
          {"TO:<a@b>", 501, "5.5.4"},
          {"FROM:", 501, "5.1.7"},
          {"FROM:a@b", 501, "5.1.7"},
          {"FROM:<a@b", 501, "5.1.7"},
          {"FROM:<a@b >", 501, "5.1.7"},
          {"FROM:< a@b>", 501, "5.1.7"},
          {"FROM:<a b@c>", 501, "5.1.7"},
          {"FROM:<a@b>>", 501, "5.5.4"},
          {"FROM:<a@b>SIZE=1", 501, "5.5.4"},
          {"FROM:<a..b@c>", 501, "5.1.7"},
          {"FROM:<.a@c>", 501, "5.1.7"},
          {"FROM:<a.@c>", 501, "5.1.7"},
          {"FROM:<a@-b.com>", 501, "5.1.7"},
          {"FROM:<a@b-.com>", 501, "5.1.7"},
          {"FROM:<a@b..com>", 501, "5.1.7"},
          {"FROM:<a@b.com.>", 501, "5.1.7"},
          {"FROM:<a@.b.com>", 501, "5.1.7"},
          {"FROM:<a@>", 501, "5.1.7"},
          {"FROM:<@b>", 501, "5.1.7"},
          {"FROM:<a>", 501, "5.1.7"},
          {"FROM:<a@b@c>", 501, "5.1.7"},
          {"FROM:<a@b_c.com>", 501, "5.1.7"},
          {"FROM:<a(comment)@b>", 501, "5.1.7"},
          {"FROM:<a@[1.2.3.256]>", 501, "5.1.7"},
          {"FROM:<a@[1.2.3]>", 501, "5.1.7"},
          {"FROM:<a@[1.2.3.4.5]>", 501, "5.1.7"},
          {"FROM:<a@[1.2.3.4>", 501, "5.1.7"},
          {"FROM:<a@[]>", 501, "5.1.7"},
          {"FROM:<a@[IPv6:zz::1]>", 501, "5.1.7"},
          {"FROM:<a@[IPv6:1:2:3:4:5:6:7:8:9]>", 501, "5.1.7"},
          {"FROM:<a@[IPv6:]>", 501, "5.1.7"},
          {"FROM:<a@[x400:foo]>", 501, "5.1.7"},
          {"FROM:<a@[1.2.3.4]x>", 501, "5.1.7"},
          {"FROM:<postmaster>", 501, "5.1.7"},
          {"FROM:<\"unterminated@b>", 501, "5.1.7"},
          {std::string("FROM:<\"a\x01\"@b>"), 501, "5.1.7"},
          {std::string("FROM:<a\x7f@b>"), 501, "5.1.7"},
          {"FROM:<\"a\\\"@b>", 501, "5.1.7"},
          {"FROM:<@r1:a@b", 501, "5.1.7"},
          {"FROM:<@:a@b>", 501, "5.1.7"},
          {"FROM:<@r1,a@b>", 501, "5.1.7"},
          {"FROM:<@r1;a@b>", 501, "5.1.7"},
          {"FROM:<" + std::string(65, 'l') + "@example.com>", 501, "5.1.7"},
          {"FROM:<a@" + domain255 + ">", 501, "5.1.7"},      // path 259 > 256
          {"FROM:<a@" + domain255 + "x>", 501, "5.1.7"},     // domain 256
          {"FROM:<a@" + std::string(64, 'd') + ".com>", 501, "5.1.7"},  // label 64
      },
      all_offered());
}

TEST(ParseMail, PathLengthLimitIsInclusive) {
  // "<" + 59 + "@" + 194 + ">" = 256 octets: the longest acceptable path.
  std::string domain = std::string(63, 'd') + "." + std::string(63, 'e') + "." +
                       std::string(63, 'f') + ".ab";
  ASSERT_EQ(domain.size(), 194u);
  std::string local(59, 'l');
  std::string arg = "FROM:<" + local + "@" + domain + ">";
  ASSERT_EQ(arg.size() - 5, 256u);
  EXPECT_TRUE(parse_mail(arg, all_offered()).ok());
  auto r = parse_mail("FROM:<" + local + "x@" + domain + ">", all_offered());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 501);
  EXPECT_EQ(r.error().enhanced, "5.1.7");
}

TEST(ParseMail, Parameters) {
  check_mail(
      {
          {"FROM:<a@b> SIZE=100", 0, "a@b"},
          {"FROM:<a@b> SIZE=0", 0, "a@b"},
          {"FROM:<a@b> SIZE=10000000", 0, "a@b"},
          {"FROM:<a@b> size=100 body=8bitmime", 0, "a@b"},
          {"FROM:<a@b> BODY=7BIT", 0, "a@b"},
          {"FROM:<a@b> BODY=BINARYMIME", 0, "a@b"},
          {"FROM:<a@b> SMTPUTF8", 0, "a@b"},
          {"FROM:<a@b> REQUIRETLS", 0, "a@b"},
          {"FROM:<a@b> RET=FULL", 0, "a@b"},
          {"FROM:<a@b> RET=hdrs", 0, "a@b"},
          {"FROM:<a@b> ENVID=QQ314159", 0, "a@b"},
          {"FROM:<a@b> ENVID=" + std::string(100, 'e'), 0, "a@b"},
          {"FROM:<a@b> AUTH=<>", 0, "a@b"},
          {"FROM:<a@b> AUTH=e+2Bf@example.org", 0, "a@b"},
          {"FROM:<a@b> SIZE=1 ", 0, "a@b"},
          {"FROM:<a@b> ", 0, "a@b"},
          // Parameters are one space apart (RFC 5321 4.1.2).
          {"FROM:<a@b>  SIZE=1", 501, "5.5.4"},
          {"FROM:<a@b> SIZE=1  BODY=7BIT", 501, "5.5.4"},
          {"FROM:<a@b> SIZE=1 BODY=8BITMIME RET=HDRS ENVID=x SMTPUTF8 REQUIRETLS AUTH=<>", 0,
           "a@b"},
          // Syntax of parameters: 501 5.5.4.
          {"FROM:<a@b> =x", 501, "5.5.4"},
          {"FROM:<a@b> -X=1", 501, "5.5.4"},
          {"FROM:<a@b> X_Y=1", 501, "5.5.4"},
          {"FROM:<a@b> SIZE=", 501, "5.5.4"},
          {"FROM:<a@b> SIZE", 501, "5.5.4"},
          {"FROM:<a@b> SIZE=abc", 501, "5.5.4"},
          {"FROM:<a@b> SIZE=-1", 501, "5.5.4"},
          {"FROM:<a@b> SIZE=+1", 501, "5.5.4"},
          {"FROM:<a@b> SIZE=1\t", 501, "5.5.4"},
          {"FROM:<a@b> SIZE=1=2", 501, "5.5.4"},
          {"FROM:<a@b> BODY=9BIT", 501, "5.5.4"},
          {"FROM:<a@b> BODY", 501, "5.5.4"},
          {"FROM:<a@b> SMTPUTF8=yes", 501, "5.5.4"},
          {"FROM:<a@b> REQUIRETLS=yes", 501, "5.5.4"},
          {"FROM:<a@b> RET=ALL", 501, "5.5.4"},
          {"FROM:<a@b> RET", 501, "5.5.4"},
          {"FROM:<a@b> ENVID", 501, "5.5.4"},
          {"FROM:<a@b> ENVID=a+2", 501, "5.5.4"},
          {"FROM:<a@b> ENVID=a+ZZ", 501, "5.5.4"},
          {"FROM:<a@b> ENVID=+00", 501, "5.5.4"},
          {"FROM:<a@b> ENVID=" + std::string(101, 'e'), 501, "5.5.4"},
          {"FROM:<a@b> AUTH=a+", 501, "5.5.4"},
          // Repeated, in any case: 501 5.5.4.
          {"FROM:<a@b> SIZE=1 SIZE=2", 501, "5.5.4"},
          {"FROM:<a@b> size=1 SIZE=1", 501, "5.5.4"},
          {"FROM:<a@b> BODY=7BIT BODY=8BITMIME", 501, "5.5.4"},
          {"FROM:<a@b> SMTPUTF8 smtputf8", 501, "5.5.4"},
          {"FROM:<a@b> REQUIRETLS REQUIRETLS", 501, "5.5.4"},
          {"FROM:<a@b> RET=FULL RET=FULL", 501, "5.5.4"},
          {"FROM:<a@b> ENVID=a ENVID=b", 501, "5.5.4"},
          {"FROM:<a@b> AUTH=<> AUTH=<>", 501, "5.5.4"},
          // Unknown, or not a MAIL parameter: 555 5.5.4.
          {"FROM:<a@b> FOO=bar", 555, "5.5.4"},
          {"FROM:<a@b> FOO", 555, "5.5.4"},
          {"FROM:<a@b> NOTIFY=NEVER", 555, "5.5.4"},
          {"FROM:<a@b> ORCPT=rfc822;a@b", 555, "5.5.4"},
          {"FROM:<a@b> SIZE=1 XFORWARD=1", 555, "5.5.4"},
          // SIZE over the limit: 552 5.3.4 (RFC 1870 6).
          {"FROM:<a@b> SIZE=10000001", 552, "5.3.4"},
          {"FROM:<a@b> SIZE=18446744073709551615", 552, "5.3.4"},
          {"FROM:<a@b> SIZE=18446744073709551616", 552, "5.3.4"},
          {"FROM:<a@b> SIZE=99999999999999999999999999999", 552, "5.3.4"},
      },
      all_offered());
}

TEST(ParseMail, ParameterValues) {
  auto r = parse_mail("FROM:<a@b> SIZE=1234 BODY=8BITMIME SMTPUTF8 REQUIRETLS RET=HDRS "
                      "ENVID=id+2B1 AUTH=user+3Dx@example.org",
                      all_offered());
  ASSERT_TRUE(r.ok()) << r.error().text;
  EXPECT_EQ(r->size, 1234u);
  EXPECT_EQ(r->body, model::BodyType::EightBitMime);
  EXPECT_TRUE(r->smtputf8);
  EXPECT_TRUE(r->requiretls);
  EXPECT_EQ(r->ret, model::Ret::Hdrs);
  EXPECT_EQ(r->envid, "id+1");
  EXPECT_EQ(r->auth, "user=x@example.org");

  auto plain = parse_mail("FROM:<a@b>", all_offered());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->size.has_value());
  EXPECT_EQ(plain->body, model::BodyType::SevenBit);
  EXPECT_FALSE(plain->smtputf8);
  EXPECT_FALSE(plain->requiretls);
  EXPECT_EQ(plain->ret, model::Ret::Unset);
  EXPECT_EQ(plain->envid, "");
  EXPECT_EQ(plain->auth, "");

  auto binary = parse_mail("FROM:<a@b> BODY=binarymime RET=full", all_offered());
  ASSERT_TRUE(binary.ok());
  EXPECT_EQ(binary->body, model::BodyType::BinaryMime);
  EXPECT_EQ(binary->ret, model::Ret::Full);

  auto null_auth = parse_mail("FROM:<a@b> AUTH=<>", all_offered());
  ASSERT_TRUE(null_auth.ok());
  EXPECT_EQ(null_auth->auth, "<>");
}

TEST(ParseMail, ExtensionsNotOffered) {
  Offered o = all_offered();
  o.requiretls = false;
  o.auth = false;
  check_mail({{"FROM:<a@b> REQUIRETLS", 555, "5.5.4"}, {"FROM:<a@b> AUTH=<>", 555, "5.5.4"}},
             o);
  o = all_offered();
  o.size = false;
  check_mail({{"FROM:<a@b> SIZE=1", 555, "5.5.4"}}, o);
  o = all_offered();
  o.eightbitmime = false;
  check_mail({{"FROM:<a@b> BODY=8BITMIME", 555, "5.5.4"},
              {"FROM:<a@b> BODY=BINARYMIME", 0, "a@b"},
              {"FROM:<a@b> BODY=7BIT", 0, "a@b"}},
             o);
  o = all_offered();
  o.chunking = false;
  check_mail({{"FROM:<a@b> BODY=BINARYMIME", 555, "5.5.4"},
              {"FROM:<a@b> BODY=8BITMIME", 0, "a@b"}},
             o);
  o = all_offered();
  o.dsn = false;
  check_mail({{"FROM:<a@b> RET=FULL", 555, "5.5.4"}, {"FROM:<a@b> ENVID=x", 555, "5.5.4"}}, o);
  o = all_offered();
  o.smtputf8 = false;
  check_mail({{"FROM:<a@b> SMTPUTF8", 555, "5.5.4"},
              {"FROM:<\xc3\xbc@b.example> SMTPUTF8", 555, "5.5.4"}},
             o);
  // After HELO nothing is offered: every parameter is unsupported, no limit applies.
  check_mail({{"FROM:<a@b>", 0, "a@b"},
              {"FROM:<a@b> SIZE=1", 555, "5.5.4"},
              {"FROM:<a@b> BODY=7BIT", 555, "5.5.4"},
              {"FROM:<a@b> SMTPUTF8", 555, "5.5.4"}},
             none_offered());
  // SIZE with no limit configured: any value that fits is fine; overflow is a syntax error.
  o = all_offered();
  o.max_size = 0;
  check_mail({{"FROM:<a@b> SIZE=18446744073709551615", 0, "a@b"},
              {"FROM:<a@b> SIZE=18446744073709551616", 501, "5.5.4"}},
             o);
}

TEST(ParseMail, InternationalAddresses) {
  Offered o = all_offered();
  check_mail(
      {
          {"FROM:<\xc3\xbc@b.example> SMTPUTF8", 0, "\xc3\xbc@b.example"},
          {"FROM:<a@b\xc3\xbc" "cher.example> SMTPUTF8", 0, "a@b\xc3\xbc" "cher.example"},
          {"FROM:<\"\xc3\xbc x\"@b.example> SMTPUTF8", 0, "\"\xc3\xbc x\"@b.example"},
          {"FROM:<\xc3\xbc@b.example>", 553, "5.6.7"},
          {"FROM:<a@b\xc3\xbc" "cher.example>", 553, "5.6.7"},
          {"FROM:<\xff@b.example> SMTPUTF8", 501, "5.1.7"},       // not UTF-8
          {"FROM:<\xc0\xaf@b.example> SMTPUTF8", 501, "5.1.7"},   // overlong
          {"FROM:<\xed\xa0\x80@b.example> SMTPUTF8", 501, "5.1.7"},  // surrogate
          {"FROM:<\xc3@b.example> SMTPUTF8", 501, "5.1.7"},       // truncated
          {"FROM:<a@[\xc3\xbc]> SMTPUTF8", 501, "5.1.7"},
      },
      o);
}

TEST(ParseRcpt, Paths) {
  check_rcpt(
      {
          {"TO:<a@b.example>", 0, "a@b.example"},
          {"to:<a@b.example>", 0, "a@b.example"},
          {"TO: <a@b.example>", 0, "a@b.example"},
          {"TO:<postmaster>", 0, "postmaster"},
          {"TO:<PostMaster>", 0, "PostMaster"},
          {"TO:<postmaster@b.example>", 0, "postmaster@b.example"},
          {"TO:<@r.example:a@b.example>", 0, "a@b.example"},
          {"TO:<@r1.example,@r2.example:a@b.example>", 0, "a@b.example"},
          {"TO:<\"x y\"@b.example>", 0, "\"x y\"@b.example"},
          {"TO:<a@[192.0.2.7]>", 0, "a@[192.0.2.7]"},
          {"TO:<>", 501, "5.1.3"},
          {"TO: <>", 501, "5.1.3"},
          {"TO:", 501, "5.1.3"},
          {"TO:a@b", 501, "5.1.3"},
          {"TO:<a@b", 501, "5.1.3"},
          {"TO:<a>", 501, "5.1.3"},
          {"TO:<postmasterx>", 501, "5.1.3"},
          {"TO:<@r.example:postmaster>", 501, "5.1.3"},
          {"TO:<postmaster@>", 501, "5.1.3"},
          {"TO:<a@b..c>", 501, "5.1.3"},
          {"TO:<" + std::string(65, 'l') + "@b.example>", 501, "5.1.3"},
          {"", 501, "5.5.4"},
          {"TO <a@b>", 501, "5.5.4"},
          {"FROM:<a@b>", 501, "5.5.4"},
          {"TO:<a@b>x", 501, "5.5.4"},
          {"TO:<\xc3\xbc@b.example>", 553, "5.6.7"},
      },
      all_offered(), false);
  check_rcpt({{"TO:<\xc3\xbc@b.example>", 0, "\xc3\xbc@b.example"},
              {"TO:<\xff@b.example>", 501, "5.1.3"}},
             all_offered(), true);
}

struct NotifyCase {
  const char* arg;
  int code;
  std::uint8_t bits;
};

TEST(ParseRcpt, Notify) {
  const std::vector<NotifyCase> cases = {
      {"TO:<a@b>", 0, model::kNotifyUnset},
      {"TO:<a@b> NOTIFY=NEVER", 0, model::kNotifyNever},
      {"TO:<a@b> notify=never", 0, model::kNotifyNever},
      {"TO:<a@b> NOTIFY=SUCCESS", 0, model::kNotifySuccess},
      {"TO:<a@b> NOTIFY=FAILURE", 0, model::kNotifyFailure},
      {"TO:<a@b> NOTIFY=DELAY", 0, model::kNotifyDelay},
      {"TO:<a@b> NOTIFY=SUCCESS,FAILURE", 0, model::kNotifySuccess | model::kNotifyFailure},
      {"TO:<a@b> NOTIFY=delay,Failure,SUCCESS", 0,
       model::kNotifySuccess | model::kNotifyFailure | model::kNotifyDelay},
      {"TO:<a@b> NOTIFY=NEVER,SUCCESS", 501, 0},
      {"TO:<a@b> NOTIFY=FAILURE,NEVER", 501, 0},
      {"TO:<a@b> NOTIFY=", 501, 0},
      {"TO:<a@b> NOTIFY", 501, 0},
      {"TO:<a@b> NOTIFY=SUCCESS,", 501, 0},
      {"TO:<a@b> NOTIFY=,SUCCESS", 501, 0},
      {"TO:<a@b> NOTIFY=SUCCESS;FAILURE", 501, 0},
      {"TO:<a@b> NOTIFY=ALWAYS", 501, 0},
      {"TO:<a@b> NOTIFY=SUCCESS NOTIFY=FAILURE", 501, 0},
  };
  for (const auto& c : cases) {
    auto r = parse_rcpt(c.arg, all_offered(), false);
    if (c.code == 0) {
      ASSERT_TRUE(r.ok()) << c.arg << ": " << r.error().text;
      EXPECT_EQ(r->notify, c.bits) << c.arg;
    } else {
      ASSERT_FALSE(r.ok()) << c.arg;
      EXPECT_EQ(r.error().code, c.code) << c.arg;
      EXPECT_EQ(r.error().enhanced, "5.5.4") << c.arg;
    }
  }
}

struct OrcptCase {
  std::string arg;
  bool utf8_tx;
  int code;
  std::string value;  // expected orcpt, or expected enhanced code on failure
};

TEST(ParseRcpt, Orcpt) {
  const std::vector<OrcptCase> cases = {
      {"TO:<a@b> ORCPT=rfc822;a@b", false, 0, "rfc822;a@b"},
      {"TO:<a@b> ORCPT=RFC822;Joe+20Bloggs@b", false, 0, "rfc822;Joe Bloggs@b"},
      {"TO:<a@b> ORCPT=rfc822;a+2Bx@b", false, 0, "rfc822;a+x@b"},
      {"TO:<a@b> ORCPT=rfc822;a+3d@b", false, 0, "rfc822;a=@b"},
      {"TO:<a@b> ORCPT=utf-8;a@b", false, 0, "utf-8;a@b"},
      {"TO:<a@b> ORCPT=UTF-8;\\x{E9}t\\x{E9}@b", false, 0, "utf-8;\xc3\xa9t\xc3\xa9@b"},
      {"TO:<a@b> ORCPT=utf-8;\\x{1F600}@b", false, 0, "utf-8;\xf0\x9f\x98\x80@b"},
      {"TO:<a@b> ORCPT=utf-8;\\x{2B}@b", false, 0, "utf-8;+@b"},
      {"TO:<a@b> ORCPT=utf-8;\xc3\xa9@b", true, 0, "utf-8;\xc3\xa9@b"},
      {"TO:<a@b> ORCPT=utf-8;\xc3\xa9@b", false, 553, "5.6.7"},
      {"TO:<a@b> ORCPT=utf-8;\xc3@b", true, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=utf-8;a+b@c", false, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=utf-8;a\\b@c", false, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=utf-8;\\x{D800}@c", false, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=utf-8;\\x{110000}@c", false, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=utf-8;\\x{1}@c", false, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=utf-8;\\x{E9@c", false, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=utf-8;\\x{}@c", false, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=rfc822", false, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=rfc822;", false, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=;a@b", false, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=x400;a@b", false, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=rfc822;a+4", false, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=rfc822;a+0Ab", false, 501, "5.5.4"},  // decodes to a control char
      {"TO:<a@b> ORCPT", false, 501, "5.5.4"},
      // The value, "rfc822;" included, is at most 500 characters.
      {"TO:<a@b> ORCPT=rfc822;" + std::string(493, 'x'), false, 0,
       "rfc822;" + std::string(493, 'x')},
      {"TO:<a@b> ORCPT=rfc822;" + std::string(494, 'x'), false, 501, "5.5.4"},
      {"TO:<a@b> ORCPT=rfc822;a@b ORCPT=rfc822;a@b", false, 501, "5.5.4"},
  };
  for (const auto& c : cases) {
    auto r = parse_rcpt(c.arg, all_offered(), c.utf8_tx);
    if (c.code == 0) {
      ASSERT_TRUE(r.ok()) << c.arg << ": " << r.error().text;
      EXPECT_EQ(r->orcpt, c.value) << c.arg;
    } else {
      ASSERT_FALSE(r.ok()) << c.arg;
      EXPECT_EQ(r.error().code, c.code) << c.arg;
      EXPECT_EQ(r.error().enhanced, c.value) << c.arg;
    }
  }
}

TEST(ParseRcpt, UnsupportedParameters) {
  Offered no_dsn = all_offered();
  no_dsn.dsn = false;
  check_rcpt({{"TO:<a@b> NOTIFY=NEVER", 555, "5.5.4"},
              {"TO:<a@b> ORCPT=rfc822;a@b", 555, "5.5.4"}},
             no_dsn, false);
  check_rcpt({{"TO:<a@b> SIZE=1", 555, "5.5.4"},
              {"TO:<a@b> BODY=8BITMIME", 555, "5.5.4"},
              {"TO:<a@b> FOO", 555, "5.5.4"},
              {"TO:<a@b> NOTIFY=NEVER X-Y=1", 555, "5.5.4"},
              {"TO:<a@b> NOTIFY=NEVER ORCPT=rfc822;a@b", 0, "a@b"}},
             all_offered(), false);
  check_rcpt({{"TO:<a@b> NOTIFY=NEVER", 555, "5.5.4"}}, none_offered(), false);
}

TEST(ParseMail, UnsupportedReplyNamesTheParameter) {
  auto r = parse_mail("FROM:<a@b> x-frob=1", all_offered());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().text, "Unsupported parameter: X-FROB");
  auto long_kw = parse_mail("FROM:<a@b> " + std::string(200, 'K'), all_offered());
  ASSERT_FALSE(long_kw.ok());
  EXPECT_LT(long_kw.error().text.size(), 80u);
}

TEST(Xtext, Decode) {
  EXPECT_EQ(xtext_decode(""), "");
  EXPECT_EQ(xtext_decode("abc"), "abc");
  EXPECT_EQ(xtext_decode("a+2Bb"), "a+b");
  EXPECT_EQ(xtext_decode("+3D"), "=");
  EXPECT_EQ(xtext_decode("+20+7E"), " ~");
  EXPECT_EQ(xtext_decode("+c3+A9"), "\xc3\xa9");
  EXPECT_EQ(xtext_decode("<>"), "<>");
  EXPECT_EQ(xtext_decode("a+"), std::nullopt);
  EXPECT_EQ(xtext_decode("a+2"), std::nullopt);
  EXPECT_EQ(xtext_decode("a+2G"), std::nullopt);
  EXPECT_EQ(xtext_decode("a=b"), std::nullopt);
  EXPECT_EQ(xtext_decode("a b"), std::nullopt);
  EXPECT_EQ(xtext_decode("a\x7f"), std::nullopt);
  EXPECT_EQ(xtext_decode("\xc3\xa9"), std::nullopt);
}

TEST(Xtext, Encode) {
  EXPECT_EQ(xtext_encode("abc"), "abc");
  EXPECT_EQ(xtext_encode("a+b=c d"), "a+2Bb+3Dc+20d");
  EXPECT_EQ(xtext_encode(std::string("\0\xff", 2)), "+00+FF");
  EXPECT_EQ(xtext_encode("<>"), "<>");
}

TEST(Xtext, RoundTripEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  std::string encoded = xtext_encode(all);
  for (unsigned char c : encoded) {
    EXPECT_TRUE(c >= 33 && c <= 126 && c != '=') << int(c);
  }
  EXPECT_EQ(xtext_decode(encoded), all);
  for (int c = 0; c < 256; ++c) {
    std::string one(1, static_cast<char>(c));
    EXPECT_EQ(xtext_decode(xtext_encode(one)), one) << c;
  }
}

TEST(AddressDomain, Cases) {
  EXPECT_EQ(address_domain("a@Example.COM"), "example.com");
  EXPECT_EQ(address_domain("postmaster"), "");
  EXPECT_EQ(address_domain(""), "");
  EXPECT_EQ(address_domain("\"a@b\"@C.d"), "c.d");
  EXPECT_EQ(address_domain("a@[IPv6:::1]"), "[ipv6:::1]");
  EXPECT_EQ(address_domain("a@B\xc3\x9c.example"), "b\xc3\x9c.example");  // ASCII only
}

}  // namespace
}  // namespace secmx::smtp
