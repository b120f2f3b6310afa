// dsn_format.cpp - text-level helpers for the DSN writer (see dsn_format.hpp).
//
// Pure; any thread.
#include "relay/dsn/dsn_format.hpp"

#include <ctime>

namespace secmx::dsn::format {
namespace {

// Length of the well-formed UTF-8 sequence at s[i] (1-4) and its code point; 0 if none.
std::size_t utf8_seq(std::string_view s, std::size_t i, std::uint32_t& cp) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  std::size_t n = c < 0x80           ? 1
                  : (c >> 5) == 0x6  ? 2
                  : (c >> 4) == 0xE  ? 3
                  : (c >> 3) == 0x1E ? 4
                                     : 0;
  if (n == 0 || i + n > s.size()) return 0;
  cp = n == 1 ? c : n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3Fu);
  }
  static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

void append_hex(std::string& out, std::uint32_t v) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string digits;
  do {
    digits.insert(digits.begin(), kHex[v & 0xF]);
    v >>= 4;
  } while (v != 0);
  if (digits.size() < 2) digits.insert(digits.begin(), '0');
  out += digits;
}

std::string utf8_addr_xtext(std::string_view a) {
  std::string out;
  for (std::size_t i = 0; i < a.size();) {
    std::uint32_t cp = 0;
    std::size_t n = utf8_seq(a, i, cp);
    if (n == 0) {  // not UTF-8: say so byte by byte rather than lose it
      cp = static_cast<unsigned char>(a[i]);
      n = 1;
    }
    if (cp < 0x21 || cp > 0x7E || cp == '\\' || cp == '+' || cp == '=') {
      out += "\\x{";
      append_hex(out, cp);
      out += '}';
    } else {
      out += static_cast<char>(cp);
    }
    i += n;
  }
  return out;
}

}  // namespace

std::string date(std::int64_t unix_us) {
  std::time_t t = static_cast<std::time_t>(unix_us / 1'000'000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return std::string(buf, n);
}

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::string clean(std::string_view text, bool utf8) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r' || c == '\n' || c == '\t') {
      out += ' ';
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      out += '?';
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else {
      std::uint32_t cp = 0;
      std::size_t n = utf8 ? utf8_seq(text, i, cp) : 0;
      // C1 controls are as unwelcome in a line of text as C0 ones.
      if (n == 0 || (cp >= 0x80 && cp < 0xA0)) {
        out += '?';
        ++i;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
    }
  }
  return out;
}

std::string field(std::string_view name, std::string_view value) {
  constexpr std::size_t kSoft = 78;
  std::string out(name);
  out += ": ";
  std::size_t col = out.size();
  std::size_t i = 0;
  bool first_word = true;
  while (i < value.size()) {
    // A word runs up to the next space; the space goes with the following word so that
    // a fold (CRLF inserted before it) unfolds to the same text.
    std::size_t end = value.find(' ', i + (first_word ? 0 : 1));
    if (end == std::string_view::npos) end = value.size();
    std::string_view word = value.substr(i, end - i);
    if (!first_word && col + word.size() > kSoft && !word.empty() &&
        word.find_first_not_of(' ') != std::string_view::npos) {
      out += "\r\n";
      col = 0;
    }
    while (col + word.size() > kMaxLine) {  // a token that fits no line: split it
      std::size_t take = kMaxLine - col;
      out.append(word.substr(0, take));
      out += "\r\n ";
      col = 1;
      word.remove_prefix(take);
    }
    out.append(word);
    col += word.size();
    i = end;
    first_word = false;
  }
  out += "\r\n";
  return out;
}

std::string address_value(std::string_view address, bool global) {
  if (is_ascii(address)) return "rfc822; " + std::string(address);
  return "utf-8; " + (global ? clean(address, true) : utf8_addr_xtext(address));
}

std::string orcpt_value(std::string_view orcpt, bool global) {
  std::size_t semi = orcpt.find(';');
  if (semi == std::string_view::npos || semi + 1 >= orcpt.size()) return "";
  std::string_view type = orcpt.substr(0, semi);
  std::string_view addr = orcpt.substr(semi + 1);
  std::string t;
  for (char c : type) t += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  if (t == "rfc822" && is_ascii(addr)) return "rfc822; " + clean(addr, false);
  if (t == "utf-8" || t == "rfc822") {
    return "utf-8; " + (global ? clean(addr, true) : utf8_addr_xtext(addr));
  }
  return "";
}

std::string_view header_section(std::string_view message) {
  if (message.starts_with("\r\n")) return message.substr(0, 0);
  std::size_t end = message.find("\r\n\r\n");
  if (end == std::string_view::npos) return message;
  return message.substr(0, end + 2);
}

std::size_t longest_line(std::string_view text) {
  std::size_t longest = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find("\r\n", start);
    if (end == std::string_view::npos) end = text.size();
    if (end - start > longest) longest = end - start;
    start = end + 2;
  }
  return longest;
}

std::string cut_long_lines(std::string_view text, std::size_t max) {
  std::string out;
  out.reserve(text.size());
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find("\r\n", start);
    bool has_crlf = end != std::string_view::npos;
    if (!has_crlf) end = text.size();
    out.append(text.substr(start, std::min(end - start, max)));
    if (has_crlf) out += "\r\n";
    start = end + 2;
  }
  return out;
}

std::string wrap(std::string_view text, std::string_view first, std::string_view rest,
                 std::size_t width) {
  std::string out;
  std::string line(first);
  bool empty = true;
  std::size_t i = 0;
  auto flush = [&] {
    out += cut_long_lines(line, kMaxLine);
    out += "\r\n";
  };
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i >= text.size()) break;
    std::size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(i, end - i);
    if (!empty && line.size() + 1 + word.size() > width) {
      flush();
      line = std::string(rest);
      empty = true;
    }
    if (!empty) line += ' ';
    line.append(word);
    empty = false;
    i = end;
  }
  flush();
  return out;
}

std::string tls_evidence(std::string_view tls, std::string_view cert_sha256,
                         std::string_view dnssec) {
  if (tls.empty()) return {};
  std::string out = clean(tls, false);
  if (!cert_sha256.empty()) out += "; cert=sha256:" + clean(cert_sha256, false);
  if (!dnssec.empty()) out += "; dnssec=" + clean(dnssec, false);
  return out;
}

}  // namespace secmx::dsn::format
