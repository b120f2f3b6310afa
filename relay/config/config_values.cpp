// config_values.cpp - the small grammars of config values: sizes, durations, endpoints,
// host names, classification levels, actions and TLS levels, and their to_string()s.
//
// Pure functions, thread-agnostic, never throwing: a malformed value is std::nullopt or
// false and the caller reports it against the key it came from.
#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <limits>

#include "relay/config/config.hpp"
#include "relay/config/config_reader.hpp"
#include "relay/model/levels.hpp"

namespace secmx::config {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Leading decimal digits of `s` into `out`; false on none or on overflow.
bool take_number(std::string_view& s, std::uint64_t& out) {
  std::size_t n = 0;
  while (n < s.size() && is_digit(s[n])) ++n;
  if (n == 0) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + n, out);
  if (ec != std::errc() || end != s.data() + n) return false;
  s.remove_prefix(n);
  return true;
}

bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t limit) {
  return b != 0 && a > limit / b;
}

bool is_ip(std::string_view text, int* family = nullptr) {
  if (text.empty() || text.size() > 45) return false;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  unsigned char out[16];
  for (int af : {AF_INET, AF_INET6}) {
    if (::inet_pton(af, buf, out) == 1) {
      if (family) *family = af;
      return true;
    }
  }
  return false;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::string_view s = text;
  std::uint64_t n = 0;
  if (!take_number(s, n)) return std::nullopt;
  // One or more blanks may separate number and unit ("50 MiB"), but not end the text.
  if (s.starts_with(' ')) {
    while (s.starts_with(' ')) s.remove_prefix(1);
    if (s.empty()) return std::nullopt;
  }
  // KB/MB/... are decimal and KiB/MiB/... binary, as IEC 80000-13 says; a bare "K" or "M"
  // is refused because operators disagree on what it means.
  static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
      {"", 1},
      {"b", 1},
      {"kb", 1000ull},
      {"kib", 1ull << 10},
      {"mb", 1000ull * 1000},
      {"mib", 1ull << 20},
      {"gb", 1000ull * 1000 * 1000},
      {"gib", 1ull << 30},
      {"tb", 1000ull * 1000 * 1000 * 1000},
      {"tib", 1ull << 40},
  };
  std::string unit = ascii_lowercase(s);
  for (auto [name, mult] : kUnits) {
    if (unit != name) continue;
    if (mul_overflows(n, mult, std::numeric_limits<std::uint64_t>::max())) return std::nullopt;
    return n * mult;
  }
  return std::nullopt;
}

std::optional<Duration> parse_duration(std::string_view text) {
  if (text == "0") return Duration(0);  // the one unit-less value that is unambiguous
  if (text.empty()) return std::nullopt;
  constexpr std::uint64_t kMax =
      static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
  std::string_view s = text;
  std::uint64_t total = 0;
  while (!s.empty()) {
    std::uint64_t n = 0;
    if (!take_number(s, n)) return std::nullopt;
    std::uint64_t mult = 0;
    if (s.starts_with("ms")) {
      mult = 1;
      s.remove_prefix(2);
    } else if (!s.empty()) {
      switch (s.front()) {
        case 's': mult = 1000; break;
        case 'm': mult = 60ull * 1000; break;
        case 'h': mult = 3600ull * 1000; break;
        case 'd': mult = 86400ull * 1000; break;
        default: return std::nullopt;
      }
      s.remove_prefix(1);
    } else {
      return std::nullopt;  // "1h30": a number without its unit
    }
    if (mul_overflows(n, mult, kMax)) return std::nullopt;
    if (total > kMax - n * mult) return std::nullopt;
    total += n * mult;
  }
  return Duration(static_cast<Duration::rep>(total));
}

std::string Issue::to_string() const {
  if (line == 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ": " + message;
}

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

namespace detail {

std::optional<Endpoint> parse_endpoint(std::string_view text,
                                       std::optional<std::uint16_t> default_port) {
  Endpoint ep;
  std::string_view host;
  std::string_view rest;  // "" or ":port"
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
    if (!is_ip(host)) return std::nullopt;
  } else if (int af = 0; default_port && is_ip(text, &af) && af == AF_INET6) {
    host = text;  // a bare IPv6 address: its colons are not a port separator
  } else {
    auto colon = text.rfind(':');
    host = colon == std::string_view::npos ? text : text.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
    int family = 0;
    if (!is_ip(host, &family) || family != AF_INET) return std::nullopt;
  }
  if (rest.empty()) {
    if (!default_port) return std::nullopt;
    ep.port = *default_port;
  } else {
    if (rest.front() != ':') return std::nullopt;
    auto port = parse_port(rest.substr(1));
    if (!port) return std::nullopt;
    ep.port = *port;
  }
  ep.host = std::string(host);
  return ep;
}

bool known_classification(std::string_view level) {
  return model::parse_level(level).has_value();
}

std::string reply_text_problem(std::string_view text) {
  for (char c : text) {
    if (c < 32 || c > 126) return "must be one line of printable ASCII (it is sent in the SMTP reply)";
  }
  if (text.size() > kMaxReplyText) {
    return "is " + std::to_string(text.size()) + " bytes; at most " +
           std::to_string(kMaxReplyText) + " fit in an SMTP reply line";
  }
  return "";
}

bool valid_address(std::string_view a) {
  std::size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at > 64) return false;
  for (char c : a.substr(0, at)) {
    if (c <= 32 || c >= 127 || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
        c == ';' || c == ':' || c == '\\' || c == '"' || c == '[' || c == ']' || c == '@') {
      return false;
    }
  }
  return valid_hostname(a.substr(at + 1));
}

}  // namespace detail
}  // namespace secmx::config
