// address.cpp - scanners for RFC 5321 4.1.2 paths (with RFC 6531 UTF-8).
//
// Pure; parse_path() returns views into its input. Strict where the grammar is (only
// the source route is accepted and discarded, as 4.1.1.3 asks); the length limits of
// 4.5.3.1 are reported apart from syntax so the server can say which limit was hit.
#include "relay/smtp/address.hpp"
#include "relay/common/ascii.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <string_view>

namespace secmx::smtp {

namespace {

constexpr std::size_t kMaxLocal = 64;
constexpr std::size_t kMaxDomain = 255;
constexpr std::size_t kMaxPath = 256;
constexpr std::size_t kMaxLabel = 63;

bool is_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322 atext, extended by RFC 6531 with UTF8-non-ascii.
bool is_atext(unsigned char c) {
  if (is_alnum(c) || c >= 0x80) return true;
  return c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

bool is_domain_char(unsigned char c) { return is_alnum(c) || c == '-' || c == '.' || c >= 0x80; }

bool is_dot_string(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  return s.find("..") == std::string_view::npos;
}

bool is_ipv4(std::string_view s) {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t start = i;
    unsigned value = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
      value = value * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
    }
    if (i == start || value > 255) return false;
    ++parts;
    if (i == s.size()) return parts == 4;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
}

bool is_ipv6(std::string_view s) {
  char buf[64];
  if (s.empty() || s.size() >= sizeof buf) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == ':' || c == '.';
    if (!ok) return false;
  }
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  unsigned char addr[16];
  return inet_pton(AF_INET6, buf, addr) == 1;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;            // overlong
      if (c == 0xED) hi = 0x9F;            // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;            // overlong
      if (c == 0xF4) hi = 0x8F;            // above U+10FFFF
    } else {
      return false;
    }
    if (n - i < len) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

bool is_domain(std::string_view text) {
  if (text.empty() || text.size() > kMaxDomain) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = text.find('.', start);
    std::string_view label =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) return false;
    bool ascii = true;
    for (unsigned char c : label) {
      if (c >= 0x80) ascii = false;
      else if (!is_alnum(c) && c != '-') return false;
    }
    if (label.front() == '-' || label.back() == '-') return false;
    // A U-label's limit applies to its A-label form, which only DNS code computes.
    if (ascii && label.size() > kMaxLabel) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_address_literal(std::string_view text) {
  if (text.size() < 3 || text.front() != '[' || text.back() != ']') return false;
  std::string_view inner = text.substr(1, text.size() - 2);
  if (inner.size() > 5 && iequals(inner.substr(0, 5), "IPv6:")) return is_ipv6(inner.substr(5));
  // General-address-literal tags other than IPv6 are unregistered (RFC 5321 4.1.3).
  return is_ipv4(inner);
}

ParsedPath parse_path(std::string_view in) {
  ParsedPath r;
  auto syntax = [&r]() {
    r.error = PathError::Syntax;
    return r;
  };
  const std::size_t n = in.size();
  if (n < 2 || in[0] != '<') return syntax();
  std::size_t i = 1;
  if (in[i] == '>') {
    r.null_path = true;
    r.consumed = 2;
    return r;
  }
  if (in[i] == '@') {
    // Source route (A-d-l): obsolete; must be accepted and ignored (RFC 5321 4.1.1.3, C).
    while (true) {
      if (i >= n || in[i] != '@') return syntax();
      std::size_t start = ++i;
      while (i < n && is_domain_char(static_cast<unsigned char>(in[i]))) ++i;
      if (!is_domain(in.substr(start, i - start))) return syntax();
      if (i < n && in[i] == ',') {
        ++i;
        continue;
      }
      if (i < n && in[i] == ':') {
        ++i;
        break;
      }
      return syntax();
    }
  }

  const std::size_t mailbox_start = i;
  if (i < n && in[i] == '"') {
    ++i;
    while (true) {
      if (i >= n) return syntax();
      auto c = static_cast<unsigned char>(in[i]);
      if (c == '"') {
        ++i;
        break;
      }
      if (c == '\\') {
        if (i + 1 >= n) return syntax();
        auto d = static_cast<unsigned char>(in[i + 1]);
        if (d < 32 || d > 126) return syntax();
        i += 2;
        continue;
      }
      if (c < 32 || c == 127) return syntax();
      ++i;  // qtextSMTP, or UTF8-non-ascii (RFC 6531)
    }
  } else {
    while (i < n && (is_atext(static_cast<unsigned char>(in[i])) || in[i] == '.')) ++i;
    if (!is_dot_string(in.substr(mailbox_start, i - mailbox_start))) return syntax();
  }
  r.local = in.substr(mailbox_start, i - mailbox_start);

  if (i < n && in[i] == '>') {
    if (mailbox_start != 1 || !iequals(r.local, "postmaster")) return syntax();
    r.bare_postmaster = true;
    r.mailbox = r.local;
    r.consumed = i + 1;
    return r;
  }
  if (i >= n || in[i] != '@') return syntax();
  const std::size_t domain_start = ++i;
  if (i < n && in[i] == '[') {
    std::size_t close = in.find(']', i);
    if (close == std::string_view::npos) return syntax();
    i = close + 1;
    r.domain = in.substr(domain_start, i - domain_start);
    if (!is_address_literal(r.domain)) return syntax();
  } else {
    while (i < n && is_domain_char(static_cast<unsigned char>(in[i]))) ++i;
    r.domain = in.substr(domain_start, i - domain_start);
    if (r.domain.size() > kMaxDomain) {
      r.error = PathError::DomainTooLong;
      return r;
    }
    if (!is_domain(r.domain)) return syntax();
  }
  if (i >= n || in[i] != '>') return syntax();
  r.consumed = i + 1;
  r.mailbox = in.substr(mailbox_start, i - mailbox_start);

  if (r.local.size() > kMaxLocal) r.error = PathError::LocalTooLong;
  else if (r.consumed > kMaxPath) r.error = PathError::PathTooLong;
  for (unsigned char c : r.mailbox) {
    if (c >= 0x80) {
      r.non_ascii = true;
      break;
    }
  }
  if (r.error == PathError::None && r.non_ascii && !is_valid_utf8(r.mailbox)) {
    r.error = PathError::BadUtf8;
  }
  return r;
}

}  // namespace secmx::smtp
