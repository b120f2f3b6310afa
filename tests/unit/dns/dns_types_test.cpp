// dns_types_test.cpp - IpAddress parsing, printing and sockaddr form; name normalising.
#include "relay/dns/dns_types.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

namespace secmx::dns {
namespace {

TEST(IpAddress, ParsesAndPrintsCanonically) {
  struct Case {
    const char* in;
    const char* out;  // nullptr: rejected
    int family;
  } cases[] = {
      {"127.0.0.1", "127.0.0.1", AF_INET},
      {"::1", "::1", AF_INET6},
      {"0:0:0:0:0:0:0:1", "::1", AF_INET6},
      {"2001:DB8::A", "2001:db8::a", AF_INET6},
      {"::ffff:127.0.0.1", "::ffff:127.0.0.1", AF_INET6},
      {"", nullptr, 0},
      {"127.0.0", nullptr, 0},
      {"256.1.1.1", nullptr, 0},
      {"[::1]", nullptr, 0},
      {"mx.test", nullptr, 0},
      {"127.0.0.1 ", nullptr, 0},
  };
  for (const Case& c : cases) {
    auto ip = IpAddress::parse(c.in);
    if (!c.out) {
      EXPECT_FALSE(ip.has_value()) << c.in;
      continue;
    }
    ASSERT_TRUE(ip.has_value()) << c.in;
    EXPECT_EQ(ip->to_string(), c.out);
    EXPECT_EQ(ip->family, c.family) << c.in;
  }
}

TEST(IpAddress, ToSockaddrV4) {
  sockaddr_storage ss;
  socklen_t len = IpAddress::parse("127.0.0.10")->to_sockaddr(2525, ss);
  ASSERT_EQ(len, sizeof(sockaddr_in));
  auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
  EXPECT_EQ(sin->sin_family, AF_INET);
  EXPECT_EQ(ntohs(sin->sin_port), 2525);
  EXPECT_EQ(ntohl(sin->sin_addr.s_addr), 0x7F00000Au);
}

TEST(IpAddress, ToSockaddrV6) {
  sockaddr_storage ss;
  socklen_t len = IpAddress::parse("::1")->to_sockaddr(25, ss);
  ASSERT_EQ(len, sizeof(sockaddr_in6));
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  EXPECT_EQ(sin6->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(sin6->sin6_port), 25);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
}

TEST(NormalizeName, LowerCaseWithoutTrailingDot) {
  EXPECT_EQ(normalize_name("MX1.D.Test."), "mx1.d.test");
  EXPECT_EQ(normalize_name("d.test"), "d.test");
  EXPECT_EQ(normalize_name("."), "");
  EXPECT_EQ(normalize_name(""), "");
}

// c-ares writes a dot inside a label as "\."; that dot is not the root's (fuzz finding:
// "x\.." normalised to "x\.", which normalised again to "x\").
TEST(NormalizeName, KeepsAnEscapedFinalDotAndIsIdempotent) {
  EXPECT_EQ(normalize_name("X\\."), "x\\.");
  EXPECT_EQ(normalize_name("x\\.."), "x\\.");
  EXPECT_EQ(normalize_name("\\."), "\\.");
  EXPECT_EQ(normalize_name("x\\\\."), "x\\\\");  // an escaped backslash, then the root's dot
  for (std::string_view n : {"x\\..", "a.b.", "\\.", "x\\\\.", ".", "a\\\\\\.."}) {
    std::string once = normalize_name(n);
    EXPECT_EQ(normalize_name(once), once) << n;
  }
}

TEST(AnswerSummary, SaysStatusTtlErrorAndCache) {
  MxAnswer a;
  a.status = LookupStatus::Ok;
  a.ttl = 300;
  a.records = {{10, "mx.test"}};
  EXPECT_EQ(summary(a), "ok ttl=300");
  a.from_cache = true;
  EXPECT_EQ(summary(a), "ok ttl=300 cached");
  MxAnswer t;
  t.error = "SERVFAIL";
  EXPECT_EQ(summary(t), "temporary (SERVFAIL)");
  MxAnswer nx;
  nx.status = LookupStatus::NxDomain;
  EXPECT_EQ(summary(nx), "nxdomain");
}

}  // namespace
}  // namespace secmx::dns
