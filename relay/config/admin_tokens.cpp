// admin_tokens.cpp - see admin_tokens.hpp.
//
// Part of load_config(): the tokens file is read here, so a reload, which loads the whole
// configuration again, reads it again too, and refuses a file with a bad line.
#include "relay/config/admin_tokens.hpp"

#include <algorithm>
#include <cstdint>

#include "relay/common/ascii.hpp"
#include "relay/config/config_reader.hpp"
#include "relay/config/line_file.hpp"

namespace secmx::config {
namespace {

bool parse_digest(std::string_view hex, std::array<unsigned char, 32>& out) {
  if (hex.size() != 2 * out.size()) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = hex_digit_value(hex[2 * i]), lo = hex_digit_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

bool valid_operator_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

std::vector<Issue> parse_admin_tokens(std::string_view text, const std::string& file,
                                      std::vector<OperatorToken>& out) {
  std::vector<Issue> issues;
  for_each_entry(text, [&](std::uint32_t line_no, std::string_view line) {
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      issues.push_back({file, line_no, "expected \"name:sha256-hex-of-token\""});
      return;
    }
    std::string name(line.substr(0, colon));
    if (!valid_operator_name(name)) {
      issues.push_back({file, line_no, "operator name must be 1 to 64 of A-Z a-z 0-9 . _ -"});
      return;
    }
    if (name == kTokenFileOperator) {
      issues.push_back({file, line_no, "operator name 'admin' is the token of [admin] token_file"});
      return;
    }
    OperatorToken entry{name, {}};
    if (!parse_digest(line.substr(colon + 1), entry.digest)) {
      issues.push_back({file, line_no, "operator '" + name +
                                           "': expected the token's SHA-256 as 64 hex digits "
                                           "(secmxctl token add " + name + ")"});
      return;
    }
    auto same_name = [&](const OperatorToken& t) { return t.name == name; };
    auto same_hash = [&](const OperatorToken& t) { return t.digest == entry.digest; };
    if (std::any_of(out.begin(), out.end(), same_name)) {
      issues.push_back({file, line_no, "operator '" + name + "' listed twice"});
      return;
    }
    if (auto it = std::find_if(out.begin(), out.end(), same_hash); it != out.end()) {
      issues.push_back({file, line_no, "operator '" + name + "' has the same token as '" +
                                           it->name + "'"});
      return;
    }
    out.push_back(std::move(entry));
  });
  return issues;
}

}  // namespace secmx::config

namespace secmx::config::detail {

void read_admin_tokens(const Section& s, AdminConfig& out) {
  if (!s.path("tokens_file", out.tokens_file) || out.tokens_file.empty()) {
    if (s.node("tokens_file")) s.fail("tokens_file", "must not be empty");
    out.tokens_file.clear();
    return;
  }
  std::string text;
  if (auto why = read_text_file(out.tokens_file, text)) {
    s.fail("tokens_file", "cannot read '" + out.tokens_file + "': " + *why);
    return;
  }
  for (auto& issue : parse_admin_tokens(text, out.tokens_file, out.operators)) {
    s.reader().add_elsewhere(std::move(issue));
  }
}

}  // namespace secmx::config::detail
