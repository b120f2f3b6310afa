#include "relay/sts/sts_policy.hpp"

#include <cstdint>
#include <optional>

#include "relay/common/ascii.hpp"
#include "relay/common/hostname.hpp"
#include "relay/smtp/address.hpp"
#include "relay/sts/sts_syntax.hpp"

namespace secmx::sts {
namespace {

// sts-policy-ext-value: no control bytes (TAB included), no space at either end,
// well-formed UTF-8. Every registered value is of this shape too, so every line is
// checked with it before its own rule.
bool is_ext_value(std::string_view s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return smtp::is_valid_utf8(s);
}

std::optional<Mode> parse_mode(std::string_view s) {
  if (s == "enforce") return Mode::Enforce;
  if (s == "testing") return Mode::Testing;
  if (s == "none") return Mode::None;
  return std::nullopt;
}

// 1*10DIGIT, at most kMaxMaxAge.
std::optional<std::chrono::seconds> parse_max_age(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (n > static_cast<std::uint64_t>(kMaxMaxAge.count())) return std::nullopt;
  return std::chrono::seconds(static_cast<std::chrono::seconds::rep>(n));
}

// ["*."] Domain, Domain as RFC 5321's LDH labels (no U-labels: §3.2 asks for A-labels),
// within DNS's length limits. Returns the pattern lower-cased, without a final dot.
std::optional<std::string> parse_mx(std::string_view s) {
  std::string_view domain = s.starts_with("*.") ? s.substr(2) : s;
  if (!valid_hostname(domain)) return std::nullopt;
  std::string out = ascii_lowercase(s);
  if (out.ends_with('.')) out.pop_back();
  return out;
}

std::string line_error(std::size_t line, std::string_view what) {
  return "line " + std::to_string(line) + ": " + std::string(what);
}

}  // namespace

const char* to_string(Mode m) {
  switch (m) {
    case Mode::Enforce: return "enforce";
    case Mode::Testing: return "testing";
    case Mode::None: return "none";
  }
  return "none";
}

Result<StsPolicy, std::string> parse_sts_policy(std::string_view body) {
  if (body.size() > kMaxPolicyBytes) {
    return fail("policy larger than " + std::to_string(kMaxPolicyBytes) + " bytes");
  }
  if (body.empty()) return fail(std::string("empty policy"));
  StsPolicy out;
  out.text = std::string(body);
  bool have_version = false, have_mode = false, have_max_age = false;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < body.size()) {
    ++line_no;
    std::size_t lf = body.find('\n', pos);
    if (lf == std::string_view::npos) lf = body.size();  // the last line needs no end
    std::string_view line = body.substr(pos, lf - pos);
    // CRLF or LF ends a line; a CR anywhere else is a control byte, refused below.
    if (lf < body.size() && line.ends_with('\r')) line.remove_suffix(1);
    pos = lf + 1;
    if (line.empty()) return fail(line_error(line_no, "empty line"));

    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return fail(line_error(line_no, "no ':' after the field name"));
    }
    std::string_view name = line.substr(0, colon);
    if (!name.empty() && is_wsp(name.front())) {
      return fail(line_error(line_no, "space before the field name"));
    }
    if (!name.empty() && is_wsp(name.back())) return fail(line_error(line_no, "space before ':'"));
    if (!is_ext_name(name)) return fail(line_error(line_no, "invalid field name"));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && is_wsp(value.front())) value.remove_prefix(1);
    while (!value.empty() && is_wsp(value.back())) value.remove_suffix(1);
    if (value.empty()) return fail(line_error(line_no, "empty value"));
    if (!is_ext_value(value)) {
      return fail(line_error(line_no, "value with a control character or invalid UTF-8"));
    }

    if (name == "version" && !have_version) {
      if (value != "STSv1") return fail(line_error(line_no, "version must be STSv1"));
      have_version = true;
    } else if (name == "mode" && !have_mode) {
      auto mode = parse_mode(value);
      if (!mode) return fail(line_error(line_no, "mode must be enforce, testing or none"));
      out.mode = *mode;
      have_mode = true;
    } else if (name == "max_age" && !have_max_age) {
      auto max_age = parse_max_age(value);
      if (!max_age) {
        return fail(line_error(line_no, "max_age must be 1 to 10 digits, at most 31557600"));
      }
      out.max_age = *max_age;
      have_max_age = true;
    } else if (name == "mx") {
      auto mx = parse_mx(value);
      if (!mx) return fail(line_error(line_no, "mx must be a host name or *. and a domain name"));
      out.mx.push_back(std::move(*mx));
    }
    // Anything else: an extension, or a repeat of a field already read; ignored.
  }
  if (!have_version) return fail(std::string("no version field (names are case-sensitive)"));
  if (!have_mode) return fail(std::string("no mode field"));
  if (!have_max_age) return fail(std::string("no max_age field"));
  if (out.mx.empty() && out.mode != Mode::None) {
    return fail(std::string("no mx field (required unless mode is none)"));
  }
  return out;
}

std::string canonical_text(const StsPolicy& policy) {
  std::string out = "version: STSv1\r\nmode: ";
  out += to_string(policy.mode);
  out += "\r\n";
  for (const std::string& mx : policy.mx) out += "mx: " + mx + "\r\n";
  out += "max_age: " + std::to_string(policy.max_age.count()) + "\r\n";
  return out;
}

}  // namespace secmx::sts
