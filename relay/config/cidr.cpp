// cidr.cpp - parsing, matching and printing of IPv4/IPv6 prefixes (see cidr.hpp).
//
// Pure functions over value types; no allocation except to_string(); thread-agnostic.
// parse_cidr() never throws: malformed text is std::nullopt, the caller names the key.
#include "relay/config/cidr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

namespace secmx::config {
namespace {

// True when the first `prefix` bits of a and b agree.
bool prefix_equal(const std::uint8_t* a, const std::uint8_t* b, unsigned prefix) {
  unsigned full = prefix / 8;
  if (std::memcmp(a, b, full) != 0) return false;
  unsigned rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xFFu << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

// ::ffff:a.b.c.d - how a dual-stack socket shows an IPv4 peer.
bool is_v4_mapped(const std::uint8_t* a) {
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  return std::memcmp(a, kMapped, sizeof kMapped) == 0;
}

}  // namespace

std::optional<Cidr> parse_cidr(std::string_view text) {
  Cidr c;
  std::string_view addr = text;
  std::optional<unsigned> prefix;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    std::string_view digits = text.substr(slash + 1);
    // At most three digits: "/0032" is more likely a typo than a wish.
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    unsigned n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    prefix = n;
  }
  // inet_pton needs a terminated string; 45 is INET6_ADDRSTRLEN - 1.
  if (addr.empty() || addr.size() > 45) return std::nullopt;
  char buf[64];
  std::memcpy(buf, addr.data(), addr.size());
  buf[addr.size()] = '\0';
  unsigned max_prefix = 0;
  if (::inet_pton(AF_INET, buf, c.addr.data()) == 1) {
    c.v6 = false;
    max_prefix = 32;
  } else if (::inet_pton(AF_INET6, buf, c.addr.data()) == 1) {
    c.v6 = true;
    max_prefix = 128;
  } else {
    return std::nullopt;
  }
  unsigned p = prefix.value_or(max_prefix);
  if (p > max_prefix) return std::nullopt;
  c.prefix = static_cast<std::uint8_t>(p);
  // Host bits set ("10.0.0.1/8") are cleared rather than refused: the network meant is
  // unambiguous, and to_string() shows the normalised form so `--check` output and logs
  // say what is actually matched. (Postfix refuses such entries; we chose to be lenient.)
  for (unsigned bit = p; bit < max_prefix; ++bit) {
    c.addr[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
  return c;
}

bool Cidr::contains(const sockaddr* peer) const {
  if (peer == nullptr) return false;
  if (peer->sa_family == AF_INET) {
    if (v6) return false;
    const auto* sin = reinterpret_cast<const sockaddr_in*>(peer);
    std::uint8_t a[4];
    std::memcpy(a, &sin->sin_addr, 4);
    return prefix_equal(a, addr.data(), prefix);
  }
  if (peer->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(peer);
    std::uint8_t a[16];
    std::memcpy(a, &sin6->sin6_addr, 16);
    if (!v6) return is_v4_mapped(a) && prefix_equal(a + 12, addr.data(), prefix);
    return prefix_equal(a, addr.data(), prefix);
  }
  return false;  // AF_UNIX and others never relay by network
}

std::string Cidr::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (::inet_ntop(v6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof buf) == nullptr) {
    return "?";
  }
  return std::string(buf) + "/" + std::to_string(prefix);
}

bool any_contains(const std::vector<Cidr>& nets, const sockaddr* peer) {
  for (const auto& n : nets) {
    if (n.contains(peer)) return true;
  }
  return false;
}

}  // namespace secmx::config
