// route_host_test.cpp - the one grammar of a route's next hop (config check and delivery).
#include "relay/common/route_host.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <optional>
#include <string>

namespace secmx {
namespace {

struct Good {
  const char* text;
  const char* host;
  int family;
  std::optional<std::uint16_t> port;
};

TEST(RouteHost, AcceptsNamesAddressesAndLiterals) {
  const Good cases[] = {
      {"mx.example.org", "mx.example.org", 0, std::nullopt},
      {"MX.Example.org.", "MX.Example.org.", 0, std::nullopt},
      {"mx.example.org:2525", "mx.example.org", 0, 2525},
      {"10.0.0.5", "10.0.0.5", AF_INET, std::nullopt},
      {"10.0.0.5:25", "10.0.0.5", AF_INET, 25},
      {"[10.0.0.5]", "10.0.0.5", AF_INET, std::nullopt},
      {"[10.0.0.5]:65535", "10.0.0.5", AF_INET, 65535},
      {"[2001:db8::25]", "2001:db8::25", AF_INET6, std::nullopt},
      {"[::1]:2525", "::1", AF_INET6, 2525},
      {"[IPv6:::1]:2525", "::1", AF_INET6, 2525},
      {"[ipv6:2001:db8::1]", "2001:db8::1", AF_INET6, std::nullopt},
  };
  for (const Good& c : cases) {
    SCOPED_TRACE(c.text);
    auto r = parse_route_host(c.text);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->host, c.host);
    EXPECT_EQ(r->family, c.family);
    EXPECT_EQ(r->port, c.port);
  }
}

TEST(RouteHost, RefusesWhatDeliveryCouldNotUse) {
  for (const char* bad : {"", ":25", "::1", "2001:db8::1", "[10.0.0.5", "[10.0.0.5]25",
                          "[10.0.0.5]:", "[10.0.0.5]:0", "[10.0.0.5]:65536", "[10.0.0.5]:123456",
                          "mx.example.org:", "mx.example.org:port", "mx.example.org:25:25",
                          "[mx.example.org]", "[IPv6:10.0.0.5]", "[IPv6:]", "-mx.example.org",
                          "mx..example.org", "mx_1.example.org", "bücher.example", "[ 10.0.0.5]",
                          "[::1%eth0]"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_route_host(bad).has_value());
  }
}

}  // namespace
}  // namespace secmx
