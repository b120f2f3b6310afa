// address_test.cpp - the path, domain, address-literal and UTF-8 scanners of address.hpp.
#include "relay/smtp/address.hpp"

#include <gtest/gtest.h>

#include <string>

namespace secmx::smtp {
namespace {

TEST(ParsePath, ViewsAndFlags) {
  ParsedPath p = parse_path("<@r.example:Joe@Example.ORG> SIZE=1");
  ASSERT_EQ(p.error, PathError::None);
  EXPECT_EQ(p.consumed, 28u);
  EXPECT_EQ(p.mailbox, "Joe@Example.ORG");
  EXPECT_EQ(p.local, "Joe");
  EXPECT_EQ(p.domain, "Example.ORG");
  EXPECT_FALSE(p.null_path);
  EXPECT_FALSE(p.bare_postmaster);
  EXPECT_FALSE(p.non_ascii);

  ParsedPath null = parse_path("<>");
  EXPECT_EQ(null.error, PathError::None);
  EXPECT_TRUE(null.null_path);
  EXPECT_EQ(null.consumed, 2u);
  EXPECT_TRUE(null.mailbox.empty());

  ParsedPath pm = parse_path("<POSTMASTER>");
  EXPECT_EQ(pm.error, PathError::None);
  EXPECT_TRUE(pm.bare_postmaster);
  EXPECT_EQ(pm.mailbox, "POSTMASTER");
  EXPECT_TRUE(pm.domain.empty());

  ParsedPath utf = parse_path("<\xc3\xa9@b>");
  EXPECT_EQ(utf.error, PathError::None);
  EXPECT_TRUE(utf.non_ascii);
}

TEST(ParsePath, Errors) {
  EXPECT_EQ(parse_path("").error, PathError::Syntax);
  EXPECT_EQ(parse_path("<").error, PathError::Syntax);
  EXPECT_EQ(parse_path("a@b").error, PathError::Syntax);
  EXPECT_EQ(parse_path("<" + std::string(65, 'a') + "@b>").error, PathError::LocalTooLong);
  EXPECT_EQ(parse_path("<a@" + std::string(256, 'b') + ">").error, PathError::DomainTooLong);
  EXPECT_EQ(parse_path("<\xe9@b>").error, PathError::BadUtf8);
}

TEST(IsDomain, Cases) {
  for (const char* ok : {"a", "example.com", "a-b.c", "1.2.3.4", "xn--bcher-kva.example",
                         "b\xc3\xbc" "cher.example"}) {
    EXPECT_TRUE(is_domain(ok)) << ok;
  }
  for (const char* bad : {"", ".", "a.", ".a", "a..b", "-a", "a-", "a_b", "a b", "[1.2.3.4]"}) {
    EXPECT_FALSE(is_domain(bad)) << bad;
  }
  EXPECT_TRUE(is_domain(std::string(63, 'a')));
  EXPECT_FALSE(is_domain(std::string(64, 'a')));
}

TEST(IsAddressLiteral, Cases) {
  for (const char* ok : {"[1.2.3.4]", "[255.255.255.255]", "[001.002.003.004]", "[IPv6:::1]",
                         "[ipv6:2001:db8::1]", "[IPv6:1:2:3:4:5:6:7:8]",
                         "[IPv6:::ffff:10.0.0.1]"}) {
    EXPECT_TRUE(is_address_literal(ok)) << ok;
  }
  for (const char* bad : {"[]", "[1.2.3]", "[1.2.3.4.]", "[1.2.3.256]", "[1.2.3.1234]", "1.2.3.4",
                          "[IPv6:]", "[IPv6:1.2.3.4]", "[IPv6:g::1]", "[IPv4:1.2.3.4]",
                          "[IPv6:::1%eth0]", "[ 1.2.3.4]"}) {
    EXPECT_FALSE(is_address_literal(bad)) << bad;
  }
}

TEST(IsValidUtf8, Cases) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("ascii"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9"));
  EXPECT_TRUE(is_valid_utf8("\xe2\x82\xac"));
  EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x98\x80"));
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));      // U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));
  EXPECT_FALSE(is_valid_utf8("\xc0\x80"));             // overlong NUL
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));         // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));         // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));     // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));
  EXPECT_FALSE(is_valid_utf8("\xe2\x28\xa1"));
}

}  // namespace
}  // namespace secmx::smtp
