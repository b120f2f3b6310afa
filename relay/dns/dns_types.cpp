// dns_types.cpp - addresses and names: parsing, printing, normalising; the Resolver
// seam's default TLSA and TXT lookups ("not supported").
#include "relay/dns/dns_types.hpp"

#include "relay/common/ascii.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>
#include <cstring>

namespace secmx::dns {

const char* to_string(LookupStatus s) {
  switch (s) {
    case LookupStatus::Ok: return "ok";
    case LookupStatus::NxDomain: return "nxdomain";
    case LookupStatus::NoData: return "nodata";
    case LookupStatus::Temporary: return "temporary";
  }
  return "?";
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(family, bytes.data(), buf, sizeof buf)) return "?";
  return buf;
}

socklen_t IpAddress::to_sockaddr(std::uint16_t port, sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof out);
  if (family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, bytes.data(), 16);
    return sizeof(sockaddr_in6);
  }
  auto* sin = reinterpret_cast<sockaddr_in*>(&out);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  std::memcpy(&sin->sin_addr, bytes.data(), 4);
  return sizeof(sockaddr_in);
}

std::string normalize_name(std::string_view name) {
  // c-ares writes a '.' inside a label as "\."; only an unescaped final dot is the root's.
  std::size_t backslashes = 0;
  while (backslashes + 1 < name.size() && name[name.size() - 2 - backslashes] == '\\') {
    ++backslashes;
  }
  if (name.ends_with('.') && backslashes % 2 == 0) name.remove_suffix(1);
  return ascii_lowercase(name);
}

void Resolver::lookup_tlsa(std::string /*name*/, std::function<void(TlsaAnswer)> cb) {
  post([cb = std::move(cb)] {
    TlsaAnswer a;
    a.error = "TLSA lookups not supported";
    cb(std::move(a));
  });
}

void Resolver::lookup_txt(std::string /*name*/, std::function<void(TxtAnswer)> cb) {
  post([cb = std::move(cb)] {
    TxtAnswer a;
    a.error = "TXT lookups not supported";
    cb(std::move(a));
  });
}

}  // namespace secmx::dns
