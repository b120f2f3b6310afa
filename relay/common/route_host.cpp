#include "relay/common/route_host.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>

#include "relay/common/hostname.hpp"

namespace secmx {
namespace {

// AF_INET / AF_INET6 if `text` is an address of that family, else 0.
int address_family(std::string_view text) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) return 0;
  std::copy(text.begin(), text.end(), buf);
  buf[text.size()] = '\0';
  unsigned char out[16];
  if (::inet_pton(AF_INET, buf, out) == 1) return AF_INET;
  if (::inet_pton(AF_INET6, buf, out) == 1) return AF_INET6;
  return 0;
}

std::optional<std::uint16_t> port_of(std::string_view digits) {
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char p, char c) {
           return p == std::tolower(static_cast<unsigned char>(c));
         });
}

}  // namespace

std::optional<RouteHost> parse_route_host(std::string_view text) {
  RouteHost out;
  std::string_view host = text;
  std::string_view rest;  // "" or ":port"
  bool bracketed = text.starts_with('[');
  if (bracketed) {
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
  } else if (auto colon = text.find(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    rest = text.substr(colon);
  }
  if (!rest.empty()) {
    if (rest.front() != ':') return std::nullopt;
    out.port = port_of(rest.substr(1));
    if (!out.port) return std::nullopt;
  }
  if (bracketed && starts_with_nocase(host, "ipv6:")) {
    host.remove_prefix(5);
    if (address_family(host) != AF_INET6) return std::nullopt;
  }
  out.family = address_family(host);
  if (out.family == 0 && (bracketed || !valid_hostname(host))) return std::nullopt;
  out.host = std::string(host);
  return out;
}

}  // namespace secmx
