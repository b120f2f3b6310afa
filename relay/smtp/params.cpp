// params.cpp - parse_mail / parse_rcpt: the arguments of MAIL and RCPT (RFC 5321 4.1.2),
// their ESMTP parameters (RFC 1870, 6152, 3030, 6531, 8689, 3461, 4954) and xtext.
//
// Pure. Each failure is returned as the Reply the server sends, checked in this order:
// the "FROM:"/"TO:" prefix, the path, each parameter left to right (keyword syntax 501,
// unknown or not offered 555, repeated 501, bad value 501, SIZE too big 552), and last
// whether a non-ASCII address is allowed (553 5.6.7). Only one leniency: spaces between
// the colon and the path, which many clients send; parameters are one space apart.
#include "relay/smtp/params.hpp"
#include "relay/common/ascii.hpp"

#include <string>
#include <string_view>

#include "relay/smtp/address.hpp"

namespace secmx::smtp {

namespace {

constexpr std::size_t kMaxEnvid = 100;    // RFC 3461 4.4
constexpr std::size_t kMaxOrcpt = 500;    // RFC 3461 4.2
constexpr std::size_t kMaxShownKeyword = 32;

enum ParamBit : unsigned {
  kSize = 1u << 0, kBody = 1u << 1, kSmtputf8 = 1u << 2, kRequiretls = 1u << 3,
  kRet = 1u << 4, kEnvid = 1u << 5, kAuth = 1u << 6, kNotify = 1u << 7, kOrcpt = 1u << 8,
};

struct Param {
  std::string_view keyword;
  std::string_view value;
  bool has_value = false;
};

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

unsigned hex_value(char c) {
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
  return static_cast<unsigned>(c - 'A' + 10);
}

bool printable_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 32 || c > 126) return false;
  }
  return true;
}

Reply make(int code, const char* enhanced, std::string text) {
  return Reply{code, enhanced, std::move(text)};
}

Reply bad_params(std::string text) { return make(501, "5.5.4", std::move(text)); }

Reply duplicate() { return bad_params("Duplicate parameter"); }

Reply unsupported(std::string_view keyword) {
  std::string shown(keyword.substr(0, kMaxShownKeyword));
  for (char& c : shown) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  return make(555, "5.5.4", "Unsupported parameter: " + shown);
}

// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
bool is_keyword(std::string_view k) {
  if (k.empty() || !is_alnum(k.front())) return false;
  for (char c : k) {
    if (!is_alnum(c) && c != '-') return false;
  }
  return true;
}

// esmtp-value = 1*(%d33-60 / %d62-126), plus UTF8-non-ascii (RFC 6531 3.3)
bool is_esmtp_value(std::string_view v) {
  if (v.empty()) return false;
  for (unsigned char c : v) {
    if (c < 33 || c == '=' || c == 127) return false;
  }
  return true;
}

// Takes the next of "K1=V1 K2 ..." (one space apart); false on bad syntax, which
// includes the empty parameter between two spaces.
bool next_param(std::string_view& rest, Param& p) {
  std::size_t sp = rest.find(' ');
  std::string_view token = rest.substr(0, sp);
  rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
  std::size_t eq = token.find('=');
  p.keyword = token.substr(0, eq);
  p.has_value = eq != std::string_view::npos;
  p.value = p.has_value ? token.substr(eq + 1) : std::string_view{};
  return is_keyword(p.keyword) && (!p.has_value || is_esmtp_value(p.value));
}

std::string_view skip_spaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

// The parameters follow the path after one space (RFC 5321 4.1.2: SP, not 1*SP).
// Trailing spaces are dropped as parse_command() does.
bool split_after_path(std::string_view arg, std::size_t consumed, std::string_view& params) {
  params = arg.substr(consumed);
  while (!params.empty() && params.back() == ' ') params.remove_suffix(1);
  if (params.empty()) return true;
  if (params.front() != ' ') return false;
  params.remove_prefix(1);
  return true;
}

Reply path_error(PathError e, bool sender) {
  const char* enh = sender ? "5.1.7" : "5.1.3";
  const char* who = sender ? "sender" : "recipient";
  switch (e) {
    case PathError::LocalTooLong:
      return make(501, enh, std::string("Bad ") + who + " address: local part too long");
    case PathError::DomainTooLong:
      return make(501, enh, std::string("Bad ") + who + " address: domain too long");
    case PathError::PathTooLong:
      return make(501, enh, std::string("Bad ") + who + " address: path too long");
    default:
      return make(501, enh, std::string("Bad ") + who + " address syntax");
  }
}

Reply needs_smtputf8() {
  return make(553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
}

// RFC 1870: SIZE=1*20DIGIT. An overflowing value is certainly above any limit.
Result<std::uint64_t, Reply> parse_size(std::string_view v, const Offered& offered) {
  Reply too_big = make(552, "5.3.4", "Message size exceeds fixed maximum message size");
  std::uint64_t n = 0;
  bool overflow = false;
  for (char c : v) {
    if (c < '0' || c > '9') return fail(bad_params("Bad SIZE value"));
    auto d = static_cast<std::uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) overflow = true;
    else n = n * 10 + d;
  }
  if (overflow) {
    if (offered.max_size != 0) return fail(too_big);
    return fail(bad_params("SIZE value out of range"));
  }
  if (offered.max_size != 0 && n > offered.max_size) return fail(too_big);
  return n;
}

// RFC 3461 4.2 / RFC 6533 3: ORCPT=addr-type;value. "rfc822" takes xtext; "utf-8" takes
// utf-8-addr-xtext ("\x{HEX}" escapes), or raw UTF-8 when the transaction is SMTPUTF8.
Result<std::string, Reply> parse_orcpt(std::string_view v, bool smtputf8) {
  Reply bad = bad_params("Bad ORCPT value");
  if (v.size() > kMaxOrcpt) return fail(bad);
  std::size_t semi = v.find(';');
  if (semi == std::string_view::npos) return fail(bad);
  std::string_view type = v.substr(0, semi);
  std::string_view addr = v.substr(semi + 1);
  if (addr.empty()) return fail(bad);
  if (iequals(type, "rfc822")) {
    auto decoded = xtext_decode(addr);
    if (!decoded || decoded->empty() || !printable_ascii(*decoded)) return fail(bad);
    return "rfc822;" + *decoded;
  }
  if (!iequals(type, "utf-8")) return fail(bad_params("Unsupported ORCPT address type"));
  std::string out = "utf-8;";
  for (std::size_t i = 0; i < addr.size();) {
    auto c = static_cast<unsigned char>(addr[i]);
    if (c == '\\') {
      // \x{HEX}: 2 to 6 hex digits naming a Unicode scalar value.
      std::size_t close = addr.find('}', i);
      if (addr.substr(i, 3) != "\\x{" || close == std::string_view::npos) return fail(bad);
      std::string_view hex = addr.substr(i + 3, close - i - 3);
      if (hex.size() < 2 || hex.size() > 6) return fail(bad);
      std::uint32_t cp = 0;
      for (char h : hex) {
        if (!is_hex(h)) return fail(bad);
        cp = cp * 16 + hex_value(h);
      }
      if (cp < 0x20 || cp == 0x7F || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return fail(bad);
      }
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
      i = close + 1;
      continue;
    }
    if (c >= 0x80) {
      if (!smtputf8) return fail(needs_smtputf8());
    } else if (c < 0x21 || c > 0x7E || c == '+' || c == '=') {
      return fail(bad);  // QCHAR excludes CTLs, SP, '\', '+' and '='
    }
    out += static_cast<char>(c);
    ++i;
  }
  if (!is_valid_utf8(out)) return fail(bad);
  return out;
}

// Rejects a parameter repeated on one command.
bool first_use(unsigned& seen, unsigned bit) {
  if (seen & bit) return false;
  seen |= bit;
  return true;
}

}  // namespace

std::optional<std::string> xtext_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '+') {
      if (i + 2 >= text.size()) return std::nullopt;
      if (!is_hex(text[i + 1]) || !is_hex(text[i + 2])) return std::nullopt;
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return std::nullopt;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string xtext_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c >= 33 && c <= 126 && c != '+' && c != '=') {
      out += static_cast<char>(c);
    } else {
      out += '+';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::optional<std::string> utf8_addr_xtext_encode(std::string_view utf8) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    auto c = static_cast<unsigned char>(utf8[i]);
    if (c >= 0x21 && c <= 0x7E && c != '+' && c != '=' && c != '\\') {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    std::uint32_t cp = c;
    std::size_t len = 1;
    if (c >= 0xF0) {
      cp = c & 0x07, len = 4;
    } else if (c >= 0xE0) {
      cp = c & 0x0F, len = 3;
    } else if (c >= 0xC0) {
      cp = c & 0x1F, len = 2;
    } else if (c >= 0x80) {
      return std::nullopt;  // a continuation byte where a character starts
    }
    if (i + len > utf8.size()) return std::nullopt;
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(utf8[i + k]);
      if ((cc & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cc & 0x3F);
    }
    std::string hex;
    for (std::uint32_t v = cp; v != 0 || hex.empty(); v >>= 4) hex.insert(hex.begin(), kHex[v & 0xF]);
    if (hex.size() < 2) hex.insert(hex.begin(), '0');
    out += "\\x{" + hex + "}";
    i += len;
  }
  if (!is_valid_utf8(utf8)) return std::nullopt;  // overlong forms, surrogates, > U+10FFFF
  return out;
}

std::string address_domain(std::string_view address) {
  std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string domain(address.substr(at + 1));
  for (char& c : domain) c = ascii_lower(c);
  return domain;
}

Result<MailParams, Reply> parse_mail(std::string_view arg, const Offered& offered) {
  if (!istarts_with(arg, "FROM:")) return fail(bad_params("Syntax: MAIL FROM:<address>"));
  std::string_view rest = skip_spaces(arg.substr(5));
  ParsedPath path = parse_path(rest);
  if (path.error != PathError::None) return fail(path_error(path.error, true));
  if (path.bare_postmaster) return fail(path_error(PathError::Syntax, true));
  std::string_view params;
  if (!split_after_path(rest, path.consumed, params)) {
    return fail(bad_params("Syntax: MAIL FROM:<address> [parameters]"));
  }

  MailParams mp;
  mp.reverse_path = std::string(path.mailbox);
  unsigned seen = 0;
  while (!params.empty()) {
    Param p;
    if (!next_param(params, p)) return fail(bad_params("Bad parameter syntax"));
    std::string_view k = p.keyword;
    if (iequals(k, "SIZE")) {
      if (!offered.size) return fail(unsupported(k));
      if (!first_use(seen, kSize)) return fail(duplicate());
      if (!p.has_value) return fail(bad_params("Bad SIZE value"));
      auto n = parse_size(p.value, offered);
      if (!n) return fail(n.error());
      mp.size = *n;
    } else if (iequals(k, "BODY")) {
      if (!offered.eightbitmime && !offered.chunking) return fail(unsupported(k));
      if (!first_use(seen, kBody)) return fail(duplicate());
      if (iequals(p.value, "7BIT")) {
        mp.body = model::BodyType::SevenBit;
      } else if (iequals(p.value, "8BITMIME")) {
        if (!offered.eightbitmime) return fail(make(555, "5.5.4", "BODY=8BITMIME not offered"));
        mp.body = model::BodyType::EightBitMime;
      } else if (iequals(p.value, "BINARYMIME")) {
        if (!offered.chunking) return fail(make(555, "5.5.4", "BODY=BINARYMIME not offered"));
        mp.body = model::BodyType::BinaryMime;
      } else {
        return fail(bad_params("Bad BODY value"));
      }
    } else if (iequals(k, "SMTPUTF8")) {
      if (!offered.smtputf8) return fail(unsupported(k));
      if (!first_use(seen, kSmtputf8)) return fail(duplicate());
      if (p.has_value) return fail(bad_params("SMTPUTF8 takes no value"));
      mp.smtputf8 = true;
    } else if (iequals(k, "REQUIRETLS")) {
      if (!offered.requiretls) return fail(unsupported(k));
      if (!first_use(seen, kRequiretls)) return fail(duplicate());
      if (p.has_value) return fail(bad_params("REQUIRETLS takes no value"));
      mp.requiretls = true;
    } else if (iequals(k, "RET")) {
      if (!offered.dsn) return fail(unsupported(k));
      if (!first_use(seen, kRet)) return fail(duplicate());
      if (iequals(p.value, "FULL")) mp.ret = model::Ret::Full;
      else if (iequals(p.value, "HDRS")) mp.ret = model::Ret::Hdrs;
      else return fail(bad_params("Bad RET value"));
    } else if (iequals(k, "ENVID")) {
      if (!offered.dsn) return fail(unsupported(k));
      if (!first_use(seen, kEnvid)) return fail(duplicate());
      auto decoded = p.value.size() <= kMaxEnvid ? xtext_decode(p.value) : std::nullopt;
      if (!p.has_value || !decoded || !printable_ascii(*decoded)) {
        return fail(bad_params("Bad ENVID value"));
      }
      mp.envid = std::move(*decoded);
    } else if (iequals(k, "AUTH")) {
      if (!offered.auth) return fail(unsupported(k));
      if (!first_use(seen, kAuth)) return fail(duplicate());
      auto decoded = xtext_decode(p.value);
      if (!p.has_value || !decoded) return fail(bad_params("Bad AUTH value"));
      mp.auth = std::move(*decoded);
    } else {
      return fail(unsupported(k));
    }
  }
  if (path.non_ascii && !mp.smtputf8) return fail(needs_smtputf8());
  return mp;
}

Result<RcptParams, Reply> parse_rcpt(std::string_view arg, const Offered& offered,
                                     bool smtputf8_transaction) {
  if (!istarts_with(arg, "TO:")) return fail(bad_params("Syntax: RCPT TO:<address>"));
  std::string_view rest = skip_spaces(arg.substr(3));
  ParsedPath path = parse_path(rest);
  if (path.error != PathError::None) return fail(path_error(path.error, false));
  if (path.null_path) return fail(path_error(PathError::Syntax, false));
  std::string_view params;
  if (!split_after_path(rest, path.consumed, params)) {
    return fail(bad_params("Syntax: RCPT TO:<address> [parameters]"));
  }

  RcptParams rp;
  rp.forward_path = std::string(path.mailbox);
  unsigned seen = 0;
  while (!params.empty()) {
    Param p;
    if (!next_param(params, p)) return fail(bad_params("Bad parameter syntax"));
    std::string_view k = p.keyword;
    if (iequals(k, "NOTIFY")) {
      if (!offered.dsn) return fail(unsupported(k));
      if (!first_use(seen, kNotify)) return fail(duplicate());
      Reply bad = bad_params("Bad NOTIFY value");
      if (!p.has_value) return fail(bad);
      std::uint8_t bits = 0;
      std::string_view list = p.value;
      while (true) {
        std::size_t comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        if (iequals(item, "NEVER")) bits |= model::kNotifyNever;
        else if (iequals(item, "SUCCESS")) bits |= model::kNotifySuccess;
        else if (iequals(item, "FAILURE")) bits |= model::kNotifyFailure;
        else if (iequals(item, "DELAY")) bits |= model::kNotifyDelay;
        else return fail(bad);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
      if ((bits & model::kNotifyNever) && bits != model::kNotifyNever) {
        return fail(bad_params("NOTIFY=NEVER cannot be combined with other values"));
      }
      rp.notify = bits;
    } else if (iequals(k, "ORCPT")) {
      if (!offered.dsn) return fail(unsupported(k));
      if (!first_use(seen, kOrcpt)) return fail(duplicate());
      if (!p.has_value) return fail(bad_params("Bad ORCPT value"));
      auto orcpt = parse_orcpt(p.value, smtputf8_transaction);
      if (!orcpt) return fail(orcpt.error());
      rp.orcpt = std::move(*orcpt);
    } else {
      return fail(unsupported(k));
    }
  }
  if (path.non_ascii && !smtputf8_transaction) return fail(needs_smtputf8());
  return rp;
}

}  // namespace secmx::smtp
