// tlsrpt_txt_test.cpp - the _smtp._tls TXT record (RFC 8460 §3): the RFC's examples, the
// grammar's branches as tables, hostile input, and the choice among an RRset's records.
#include "relay/tlsrpt/tlsrpt_txt.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace secmx::tlsrpt {
namespace {

using Kind = Rua::Kind;

Rua mailto(const char* a) { return Rua{Kind::Mailto, a}; }
Rua https(const char* u) { return Rua{Kind::Https, u}; }

// A reason must be one short printable line (it goes to logs and to the admin API as is).
void expect_one_line(const std::string& reason) {
  EXPECT_FALSE(reason.empty());
  EXPECT_LE(reason.size(), 120u) << reason;
  for (char c : reason) {
    EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << "byte " << static_cast<int>(c) << " in " << reason;
  }
}

TEST(TlsRptName, PrefixesTheDomain) {
  EXPECT_EQ(tlsrpt_name("example.com"), "_smtp._tls.example.com");
  EXPECT_EQ(tlsrpt_name("mail.example.org."), "_smtp._tls.mail.example.org.");
}

TEST(ParseTlsRptTxt, TheRfcExamples) {
  // §3.2, "Report using MAILTO" and "Report using HTTPS".
  auto m = parse_tlsrpt_txt("v=TLSRPTv1;rua=mailto:reports@example.com");
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->rua, std::vector<Rua>{mailto("reports@example.com")});

  auto h = parse_tlsrpt_txt("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt");
  ASSERT_TRUE(h.ok()) << h.error();
  EXPECT_EQ(h->rua, std::vector<Rua>{https("https://reporting.example.com/v1/tlsrpt")});
}

struct Good {
  const char* txt;
  std::vector<Rua> rua;
};

TEST(ParseTlsRptTxt, AcceptsTheGrammar) {
  const std::vector<Good> cases = {
      {"v=TLSRPTv1;rua=mailto:a@example.com;", {mailto("a@example.com")}},  // final ';'
      {"v=TLSRPTv1 ;rua=mailto:a@example.com", {mailto("a@example.com")}},  // WSP before ';'
      {"v=TLSRPTv1\t;\trua=mailto:a@example.com\t;\t", {mailto("a@example.com")}},
      {"v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.net/x",
       {mailto("a@example.com"), https("https://r.example.net/x")}},
      {"v=TLSRPTv1; rua=mailto:a@example.com , \thttps://r.example.net/x",  // WSP at commas
       {mailto("a@example.com"), https("https://r.example.net/x")}},
      {"v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com",  // both rua count
       {mailto("a@example.com"), mailto("b@example.com")}},
      {"v=TLSRPTv1; rua=mailto:a@example.com,mailto:a@example.com",  // duplicates once
       {mailto("a@example.com")}},
      {"v=TLSRPTv1; x=1; rua=mailto:a@example.com; y.z_w-9=!\"#$%&'()*+,-./:<>?@[\\]^_`{|}~",
       {mailto("a@example.com")}},  // extensions anywhere, the whole ext-value range
      {"v=TLSRPTv1; rua=mailto:a@example.com; RUA=nothing; v=TLSRPTv2",  // ignored fields
       {mailto("a@example.com")}},
      {"v=TLSRPTv1; rua=MAILTO:a@example.com,HTTPS://r.example.net",  // schemes: any case
       {mailto("a@example.com"), https("HTTPS://r.example.net")}},
      // RFC 6068 / §3: %-escapes decoded in mailto; ',' encoded separates addresses.
      {"v=TLSRPTv1; rua=mailto:tls%2Breports@example.com", {mailto("tls+reports@example.com")}},
      {"v=TLSRPTv1; rua=mailto:a@example.com%2Cb@example.org",
       {mailto("a@example.com"), mailto("b@example.org")}},
      {"v=TLSRPTv1; rua=mailto:a@example.com?subject=tls", {mailto("a@example.com")}},
      {"v=TLSRPTv1; rua=mailto:a@Example.COM.", {mailto("a@Example.COM")}},
      // https: kept as written, %-escapes and all; ports and IP literals.
      {"v=TLSRPTv1; rua=https://r.example.net:8443/a%2Cb?x=1&y=2#f",
       {https("https://r.example.net:8443/a%2Cb?x=1&y=2#f")}},
      {"v=TLSRPTv1; rua=https://[2001:db8::1]:443/r", {https("https://[2001:db8::1]:443/r")}},
      {"v=TLSRPTv1; rua=https://192.0.2.7/r", {https("https://192.0.2.7/r")}},
      // Unknown schemes are skipped, not fatal, while one usable URI remains.
      {"v=TLSRPTv1; rua=http://r.example.net/x,mailto:a@example.com", {mailto("a@example.com")}},
      {"v=TLSRPTv1; rua=ftp://x.example,urn:isbn:1,mailto:a@example.com",
       {mailto("a@example.com")}},
      // An unusable mailto/https URI is skipped too when another one is good.
      {"v=TLSRPTv1; rua=mailto:nobody,mailto:a@example.com", {mailto("a@example.com")}},
      {"v=TLSRPTv1; rua=https://u:p@r.example.net/,https://r.example.net/",
       {https("https://r.example.net/")}},
  };
  for (const Good& c : cases) {
    SCOPED_TRACE(c.txt);
    auto r = parse_tlsrpt_txt(c.txt);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->rua, c.rua);
  }
}

struct Bad {
  const char* txt;
  const char* reason;  // a part of the expected reason
};

TEST(ParseTlsRptTxt, RefusesWhatBreaksTheGrammar) {
  const std::vector<Bad> cases = {
      {"", "does not begin with v=TLSRPTv1"},
      {"rua=mailto:a@example.com; v=TLSRPTv1", "does not begin with v=TLSRPTv1"},  // v first
      {"v=tlsrptv1; rua=mailto:a@example.com", "does not begin with v=TLSRPTv1"},  // case
      {" v=TLSRPTv1; rua=mailto:a@example.com", "does not begin with v=TLSRPTv1"},
      {"v = TLSRPTv1; rua=mailto:a@example.com", "does not begin with v=TLSRPTv1"},
      {"v=TLSRPTv10; rua=mailto:a@example.com", "v=TLSRPTv1 is not followed by ';'"},
      {"v=TLSRPTv1 rua=mailto:a@example.com", "v=TLSRPTv1 is not followed by ';'"},
      {"v=TLSRPTv1", "no field after v=TLSRPTv1"},
      {"v=TLSRPTv1;", "no field after v=TLSRPTv1"},
      {"v=TLSRPTv1; ; ", "field 1: empty"},
      {"v=TLSRPTv1;; rua=mailto:a@example.com", "field 1: empty"},
      {"v=TLSRPTv1; x=1", "no rua field"},
      {"v=TLSRPTv1; RUA=mailto:a@example.com", "no rua field"},  // names are case-sensitive
      {"v=TLSRPTv1; rua=mailto:a@example.com ", "field 1: trailing whitespace without ';'"},
      {"v=TLSRPTv1; rua =mailto:a@example.com", "field 1: invalid field name"},
      {"v=TLSRPTv1; rua= mailto:a@example.com", "field 1: rua= is not followed by a URI"},
      {"v=TLSRPTv1; rua=", "field 1: rua= is not followed by a URI"},
      {"v=TLSRPTv1; rua", "field 1: has no '='"},
      {"v=TLSRPTv1; rua=mailto:a@example.com; x=a b", "field 2: invalid value"},
      {"v=TLSRPTv1; rua=mailto:a@example.com; x=a=b", "field 2: invalid value"},
      {"v=TLSRPTv1; rua=mailto:a@example.com; x=", "field 2: invalid value"},
      {"v=TLSRPTv1; rua=mailto:a@example.com; _x=1", "field 2: invalid field name"},
      {"v=TLSRPTv1; rua=mailto:a@example.com; a234567890123456789012345678901bc=1",
       "field 2: invalid field name"},  // 33 characters
      {"v=TLSRPTv1; rua=mailto:a@example.com,", "rua URI 2: empty"},
      {"v=TLSRPTv1; rua=,mailto:a@example.com", "rua URI 1: empty"},
      {"v=TLSRPTv1; rua=a@example.com", "rua URI 1: not a URI (no scheme)"},
      {"v=TLSRPTv1; rua=1mailto:a@example.com", "rua URI 1: not a URI (no scheme)"},
      {"v=TLSRPTv1; rua=mailto:a!b@example.com", "rua URI 1: not a URI"},  // '!' unencoded
      {"v=TLSRPTv1; rua=mailto:a@example.com!10m", "rua URI 1: not a URI"},
      {"v=TLSRPTv1; rua=https://r.example.net/a b", "rua URI 1: not a URI"},
      {"v=TLSRPTv1; rua=mailto:a%2@example.com", "rua URI 1: not a URI"},  // bad escape
      {"v=TLSRPTv1; rua=mailto:a@example.com%", "rua URI 1: not a URI"},
      {"v=TLSRPTv1; rua=mailto:a%zz@example.com", "rua URI 1: not a URI"},
      {"v=TLSRPTv1; rua=http://r.example.net/", "no mailto: or https: URI in rua"},
      {"v=TLSRPTv1; rua=mailto:", "rua URI 1: mailto URI without an address"},
      {"v=TLSRPTv1; rua=mailto:?to=a@example.com", "rua URI 1: mailto URI without an address"},
      {"v=TLSRPTv1; rua=mailto:reports", "rua URI 1: mailto address without '@'"},
      {"v=TLSRPTv1; rua=mailto:@example.com", "rua URI 1: mailto address with an unusable local"},
      {"v=TLSRPTv1; rua=mailto:a..b@example.com", "rua URI 1: mailto address with an unusable"},
      {"v=TLSRPTv1; rua=mailto:%22a%20b%22@example.com", "rua URI 1: mailto address with an"},
      {"v=TLSRPTv1; rua=mailto:r%C3%A9@example.com", "rua URI 1: mailto address with an"},
      {"v=TLSRPTv1; rua=mailto:a@exa_mple.com", "rua URI 1: mailto address with an invalid dom"},
      {"v=TLSRPTv1; rua=mailto:a@[192.0.2.1]", "rua URI 1: mailto address with an invalid dom"},
      {"v=TLSRPTv1; rua=mailto:a@example.com%2C", "rua URI 1: mailto address without '@'"},
      {"v=TLSRPTv1; rua=https:r.example.net", "rua URI 1: https URI without '//'"},
      {"v=TLSRPTv1; rua=https:///path", "rua URI 1: https URI with an invalid host"},
      {"v=TLSRPTv1; rua=https://-r.example.net/", "rua URI 1: https URI with an invalid host"},
      {"v=TLSRPTv1; rua=https://u@r.example.net/", "rua URI 1: https URI with user information"},
      {"v=TLSRPTv1; rua=https://r.example.net:0/", "rua URI 1: https URI with an invalid port"},
      {"v=TLSRPTv1; rua=https://r.example.net:65536/", "rua URI 1: https URI with an invalid po"},
      {"v=TLSRPTv1; rua=https://r.example.net:/", "rua URI 1: https URI with an invalid port"},
      {"v=TLSRPTv1; rua=https://[zz::1]/", "rua URI 1: https URI with a broken IP literal"},
      {"v=TLSRPTv1; rua=https://[::1/", "rua URI 1: https URI with a broken IP literal"},
      {"v=TLSRPTv1; rua=https://[::1]x/", "rua URI 1: https URI with a broken IP literal"},
      // The first unusable URI names the problem when none is usable.
      {"v=TLSRPTv1; rua=http://x.example,mailto:x,https://u@x.example",
       "rua URI 2: mailto address without '@'"},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.txt);
    auto r = parse_tlsrpt_txt(c.txt);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find(c.reason), std::string::npos) << r.error();
    expect_one_line(r.error());
  }
}

TEST(ParseTlsRptTxt, HostileInputGetsAShortReasonThatQuotesNothing) {
  const std::string kMarker = "EVILMARKER";
  const std::vector<std::string> cases = {
      "v=TLSRPTv1; rua=mailto:a@example.com" + std::string(1, '\0') + "EVILMARKER",
      "v=TLSRPTv1; rua=mailto:a@example.com\r\nEVILMARKER: x",
      "v=TLSRPTv1; rua=mailto:EVILMARKER\x01@example.com",
      "v=TLSRPTv1; rua=https://EVILMARKER.example/\xff\xfe",
      "v=TLSRPTv1; EVILMARKER\x1b[31m=1; rua=mailto:a@example.com",
      "v=TLSRPTv1; rua=mailto:a@example.com; x=\xc3\xa9" "EVILMARKER",
      "v=TLSRPTv1; rua=javascript:EVILMARKER()",
      "v=TLSRPTv1; rua=mailto:%0D%0ABcc:EVILMARKER@example.com",
      "v=TLSRPTv1; rua=mailto:" + std::string(5000, 'a') + "@example.com",      // long local
      "v=TLSRPTv1; rua=mailto:a@" + std::string(300, 'b') + ".example",          // long domain
      "v=TLSRPTv1; " + std::string(10000, ';') + "EVILMARKER",
      "v=TLSRPTv1;" + std::string(10000, ' ') + "EVILMARKER",
      "v=TLSRPTv1; rua=" + std::string(10000, ','),
  };
  for (const std::string& txt : cases) {
    SCOPED_TRACE(testing::PrintToString(txt.substr(0, 80)));
    auto r = parse_tlsrpt_txt(txt);
    ASSERT_FALSE(r.ok());
    expect_one_line(r.error());
    EXPECT_EQ(r.error().find(kMarker), std::string::npos) << r.error();
  }
}

TEST(ParseTlsRptTxt, KeepsAtMostKMaxRuaTargets) {
  std::string txt = "v=TLSRPTv1; rua=";
  for (int i = 0; i < 1000; ++i) {
    txt += (i ? "," : "") + std::string("mailto:r") + std::to_string(i) + "@example.com";
  }
  auto r = parse_tlsrpt_txt(txt);
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->rua.size(), kMaxRua);
  EXPECT_EQ(r->rua.front(), mailto("r0@example.com"));
  EXPECT_EQ(r->rua.back().target, "r" + std::to_string(kMaxRua - 1) + "@example.com");
}

TEST(SelectTlsRptRecord, OnlyOneV1RecordCounts) {
  const std::string good = "v=TLSRPTv1; rua=mailto:a@example.com";
  // Other TXT records of the name are not ours to judge.
  auto one = select_tlsrpt_record({"v=spf1 -all", good, "google-site-verification=x"});
  ASSERT_TRUE(one.ok()) << one.error();
  EXPECT_EQ(one->rua, std::vector<Rua>{mailto("a@example.com")});
  EXPECT_TRUE(select_tlsrpt_record({"v=TLSRPTv1 ;rua=mailto:a@example.com"}).ok());

  auto none = select_tlsrpt_record({});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error(), "no TXT record begins with v=TLSRPTv1;");
  // Records that do not begin with "v=TLSRPTv1" *WSP ";" are discarded, valid or not.
  auto discarded = select_tlsrpt_record({"v=TLSRPTv1", "V=TLSRPTv1; rua=mailto:a@example.com",
                                         "v=TLSRPTv10; rua=mailto:a@example.com", "x"});
  ASSERT_FALSE(discarded.ok());
  EXPECT_EQ(discarded.error(), "no TXT record begins with v=TLSRPTv1;");

  // Two records, even identical ones, mean the domain has none (§3).
  auto two = select_tlsrpt_record({good, good});
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.error(), "2 TXT records begin with v=TLSRPTv1; (none counts)");
  auto two_one_bad = select_tlsrpt_record({good, "v=TLSRPTv1; broken"});
  ASSERT_FALSE(two_one_bad.ok());
  EXPECT_NE(two_one_bad.error().find("2 TXT records"), std::string::npos);

  auto invalid = select_tlsrpt_record({"v=TLSRPTv1; x=1", "v=spf1 -all"});
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error(), "invalid record: no rua field (names are case-sensitive)");
}

}  // namespace
}  // namespace secmx::tlsrpt
