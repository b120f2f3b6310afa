// auth_users.cpp - see auth_users.hpp.
#include "relay/config/auth_users.hpp"

#include <cstdint>

#include "relay/config/line_file.hpp"

namespace secmx::config {
namespace {

// The crypt(3) prefixes accepted: strong, salted, and all in libxcrypt.
constexpr std::string_view kSchemes[] = {"$y$", "$2b$", "$2y$", "$2a$", "$6$"};

bool crypt_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '/' || c == '$' || c == '=' || c == ',';
}

// What is wrong with a user name, or "" when it is fine: it is compared byte for byte
// with what the client sends and appears in logs and Received headers, so printable
// ASCII or UTF-8 without spaces or ':'.
std::string name_problem(std::string_view name) {
  if (name.empty()) return "empty user name";
  if (name.size() > 255) return "user name longer than 255 bytes";
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u == 127) return "user name contains a space or control character";
  }
  return "";
}

std::string hash_problem(std::string_view hash) {
  bool known = false;
  for (auto scheme : kSchemes) {
    if (hash.substr(0, scheme.size()) == scheme) known = true;
  }
  if (!known) {
    return "password hash is not a yescrypt ($y$), bcrypt ($2b$) or sha512-crypt ($6$) "
           "hash (make one with secmx-relay --hash-password)";
  }
  for (char c : hash) {
    if (!crypt_char(c)) return "password hash contains a character crypt(3) never writes";
  }
  return "";
}

}  // namespace

std::vector<Issue> parse_users(std::string_view text, const std::string& file,
                               std::map<std::string, std::string, std::less<>>& out) {
  std::vector<Issue> issues;
  for_each_entry(text, [&](std::uint32_t line_no, std::string_view line) {
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      issues.push_back({file, line_no, "expected \"name:hash\""});
      return;
    }
    std::string_view name = line.substr(0, colon);
    std::string_view hash = line.substr(colon + 1);
    if (auto why = name_problem(name); !why.empty()) {
      issues.push_back({file, line_no, why});
      return;
    }
    if (auto why = hash_problem(hash); !why.empty()) {
      issues.push_back({file, line_no, "user '" + std::string(name) + "': " + why});
      return;
    }
    if (!out.emplace(std::string(name), std::string(hash)).second) {
      issues.push_back({file, line_no, "user '" + std::string(name) + "' listed twice"});
    }
  });
  return issues;
}

}  // namespace secmx::config
