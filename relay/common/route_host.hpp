// route_host.hpp - the syntax of a [[route]]'s next hop: "name", "name:port", "ip",
// "[ip]", "[ip]:port", "[IPv6:ip]" and "[IPv6:ip]:port" (the RFC 5321 literal form).
//
// One parser for the config loader, which refuses at file:line what it cannot parse, and
// for discovery, which connects to what it returns: a route that passes --check is a
// route that delivery can use. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace secmx {

struct RouteHost {
  std::string host;                   // the address's text, or the name as written
  int family = 0;                     // AF_INET or AF_INET6 for an address, 0 for a name
  std::optional<std::uint16_t> port;  // none: the caller's default (25)
};

// A bare IPv6 address needs brackets (its colons would read as a port). Brackets always
// hold an address; "IPv6:" inside them requires an IPv6 one. Ports are 1..65535.
std::optional<RouteHost> parse_route_host(std::string_view text);

}  // namespace secmx
