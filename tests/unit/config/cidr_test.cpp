// cidr_test.cpp - parse_cidr(), Cidr::contains() for IPv4, IPv6 and IPv4-mapped peers.
#include "relay/config/cidr.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace secmx::config {
namespace {

sockaddr_storage peer(const char* ip) {
  sockaddr_storage ss{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
  } else if (::inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
  } else {
    ADD_FAILURE() << "bad test address " << ip;
  }
  return ss;
}

bool contains(const char* cidr, const char* ip) {
  auto c = parse_cidr(cidr);
  EXPECT_TRUE(c.has_value()) << cidr;
  if (!c) return false;
  auto ss = peer(ip);
  return c->contains(reinterpret_cast<const sockaddr*>(&ss));
}

TEST(Cidr, ParsesAndPrintsNormalisedForm) {
  struct Case {
    const char* in;
    const char* out;
    bool v6;
    int prefix;
  };
  const Case cases[] = {
      {"10.0.0.0/8", "10.0.0.0/8", false, 8},
      {"127.0.0.0/8", "127.0.0.0/8", false, 8},
      {"192.168.1.7", "192.168.1.7/32", false, 32},
      {"0.0.0.0/0", "0.0.0.0/0", false, 0},
      {"::1/128", "::1/128", true, 128},
      {"::1", "::1/128", true, 128},
      {"2001:DB8::/32", "2001:db8::/32", true, 32},
      {"::/0", "::/0", true, 0},
      // Host bits are cleared, not refused (see cidr.cpp).
      {"10.0.0.1/8", "10.0.0.0/8", false, 8},
      {"192.168.1.255/25", "192.168.1.128/25", false, 25},
      {"2001:db8::1/64", "2001:db8::/64", true, 64},
      {"::ffff:10.1.2.3/104", "::ffff:10.0.0.0/104", true, 104},
  };
  for (const auto& c : cases) {
    auto p = parse_cidr(c.in);
    ASSERT_TRUE(p.has_value()) << c.in;
    EXPECT_EQ(p->to_string(), c.out) << c.in;
    EXPECT_EQ(p->v6, c.v6) << c.in;
    EXPECT_EQ(p->prefix, c.prefix) << c.in;
  }
}

TEST(Cidr, RejectsMalformed) {
  for (const char* bad :
       {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/8x", "10.0.0.0/-1",
        "10.0.0.0/+8", "10.0.0.0/0008", "10.0.0.0 /8", " 10.0.0.0/8", "256.0.0.0/8", "fe80::1%eth0",
        "localhost", "10.0.0.0/8/8", "::1/12 8"}) {
    EXPECT_FALSE(parse_cidr(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(Cidr, ContainsIpv4) {
  EXPECT_TRUE(contains("10.0.0.0/8", "10.255.1.2"));
  EXPECT_FALSE(contains("10.0.0.0/8", "11.0.0.1"));
  EXPECT_TRUE(contains("192.168.1.128/25", "192.168.1.200"));
  EXPECT_FALSE(contains("192.168.1.128/25", "192.168.1.127"));
  EXPECT_TRUE(contains("192.168.1.7", "192.168.1.7"));
  EXPECT_FALSE(contains("192.168.1.7", "192.168.1.8"));
  EXPECT_TRUE(contains("0.0.0.0/0", "203.0.113.9"));
  EXPECT_FALSE(contains("10.0.0.0/8", "::1"));  // other family
}

TEST(Cidr, ContainsIpv6) {
  EXPECT_TRUE(contains("::1/128", "::1"));
  EXPECT_FALSE(contains("::1/128", "::2"));
  EXPECT_TRUE(contains("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(contains("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(contains("2001:db8::/33", "2001:db8:7fff::1"));
  EXPECT_FALSE(contains("2001:db8::/33", "2001:db8:8000::1"));
  EXPECT_TRUE(contains("::/0", "fe80::1"));
  EXPECT_FALSE(contains("::/0", "127.0.0.1"));  // an IPv4 peer never matches an IPv6 prefix
}

TEST(Cidr, Ipv4MappedPeerMatchesIpv4Prefixes) {
  EXPECT_TRUE(contains("127.0.0.0/8", "::ffff:127.0.0.1"));
  EXPECT_TRUE(contains("10.0.0.0/8", "::ffff:10.9.8.7"));
  EXPECT_FALSE(contains("10.0.0.0/8", "::ffff:11.0.0.1"));
  EXPECT_TRUE(contains("0.0.0.0/0", "::ffff:1.2.3.4"));
  // Not mapped: an IPv6 address whose last 32 bits happen to look like 10.x.
  EXPECT_FALSE(contains("10.0.0.0/8", "::a00:1"));
  EXPECT_FALSE(contains("10.0.0.0/8", "64:ff9b::10.0.0.1"));
  // A mapped peer still matches an IPv6 prefix that covers it as IPv6.
  EXPECT_TRUE(contains("::ffff:0:0/96", "::ffff:10.0.0.1"));
}

TEST(Cidr, AnyContainsAndOddPeers) {
  std::vector<Cidr> nets = {*parse_cidr("127.0.0.0/8"), *parse_cidr("::1/128")};
  auto v4 = peer("127.0.0.1");
  auto v6 = peer("::1");
  auto mapped = peer("::ffff:127.0.0.2");
  auto outside = peer("192.0.2.1");
  EXPECT_TRUE(any_contains(nets, reinterpret_cast<const sockaddr*>(&v4)));
  EXPECT_TRUE(any_contains(nets, reinterpret_cast<const sockaddr*>(&v6)));
  EXPECT_TRUE(any_contains(nets, reinterpret_cast<const sockaddr*>(&mapped)));
  EXPECT_FALSE(any_contains(nets, reinterpret_cast<const sockaddr*>(&outside)));
  EXPECT_FALSE(any_contains({}, reinterpret_cast<const sockaddr*>(&v4)));
  EXPECT_FALSE(any_contains(nets, nullptr));

  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(nets[0].contains(reinterpret_cast<const sockaddr*>(&un)));
}

}  // namespace
}  // namespace secmx::config
