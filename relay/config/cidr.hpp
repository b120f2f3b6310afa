// cidr.hpp - IPv4/IPv6 network prefixes for relay_networks and similar lists.
//
// Plain value type. parse_cidr() accepts "10.0.0.0/8", "::1/128" and bare addresses
// (a host prefix). contains() compares in the address's own family; an IPv4-mapped IPv6
// peer (::ffff:a.b.c.d) is matched against IPv4 prefixes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sockaddr;

namespace secmx::config {

struct Cidr {
  bool v6 = false;
  std::array<std::uint8_t, 16> addr{};  // network byte order; IPv4 in the first 4 bytes
  std::uint8_t prefix = 0;

  bool contains(const sockaddr* peer) const;
  std::string to_string() const;
  bool operator==(const Cidr&) const = default;
};

std::optional<Cidr> parse_cidr(std::string_view text);
bool any_contains(const std::vector<Cidr>& nets, const sockaddr* peer);

}  // namespace secmx::config
