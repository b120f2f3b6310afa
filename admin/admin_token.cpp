// admin_token.cpp - bearer token creation, load and constant-time check.
#include "admin/admin_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "relay/common/log.hpp"
#include "relay/config/admin_tokens.hpp"
#include "relay/tls/hex.hpp"
#include "relay/tls/secret_file.hpp"

namespace secmx::admin {

namespace {

std::array<unsigned char, 32> sha256(std::string_view data) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::strchr(" \t\r\n", s.front())) s.remove_prefix(1);
  while (!s.empty() && std::strchr(" \t\r\n", s.back())) s.remove_suffix(1);
  return s;
}

constexpr std::size_t kTokenBytes = 32;

// The token of an Authorization header "Bearer <token>" (scheme case-insensitive).
std::optional<std::string_view> bearer(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return std::nullopt;
  }
  return trim(authorization.substr(kScheme.size()));
}

}  // namespace

Result<bool, std::string> AdminToken::create_if_missing(
    const std::string& path, const std::optional<privileges::Account>& owner) {
  return tls::create_secret_file(path, owner, "admin token");
}

Result<AdminToken, std::string> AdminToken::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(path + ": " + std::strerror(errno));
  std::string line;
  std::getline(in, line);
  auto token = trim(line);
  if (token.empty()) return fail(path + ": empty");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 0004) != 0) {
    log::logger("admin")->warn("token file {} is readable by everyone: chmod 600 it", path);
  }
  return from_string(token);
}

AdminToken AdminToken::from_string(std::string_view token) {
  AdminToken t;
  t.digest_ = sha256(token);
  return t;
}

bool AdminToken::check(std::string_view presented) const {
  if (presented.empty()) return false;
  auto d = sha256(presented);
  return CRYPTO_memcmp(d.data(), digest_.data(), d.size()) == 0;
}

bool AdminToken::check_header(std::string_view authorization) const {
  auto token = bearer(authorization);
  return token && check(*token);
}

TokenSet TokenSet::from_config(const config::AdminConfig& admin) {
  TokenSet set;
  if (auto single = AdminToken::load(admin.token_file)) {
    set.add(std::string(config::kTokenFileOperator), single->digest());
  } else {
    set.token_file_problem_ = single.error();
  }
  for (const auto& op : admin.operators) set.add(op.name, op.digest);
  return set;
}

void TokenSet::add(std::string name, const std::array<unsigned char, 32>& digest) {
  entries_.push_back(config::OperatorToken{std::move(name), digest});
}

std::optional<std::string> TokenSet::match(std::string_view presented, Compare compare) const {
  if (presented.empty()) return std::nullopt;
  if (!compare) compare = &CRYPTO_memcmp;
  auto d = sha256(presented);
  // Every entry is compared, whichever matched: the time taken depends only on how many
  // operators there are. Distinct digests (the config refuses a repeated one) match at
  // most once; should the token_file's token equal a named one, "admin" (first) wins.
  const config::OperatorToken* found = nullptr;
  for (const auto& e : entries_) {
    bool same = compare(d.data(), e.digest.data(), d.size()) == 0;
    if (same && !found) found = &e;
  }
  if (!found) return std::nullopt;
  return found->name;
}

std::optional<std::string> TokenSet::match_header(std::string_view authorization) const {
  auto token = bearer(authorization);
  if (!token) return std::nullopt;
  return match(*token);
}

Result<NewOperatorToken, std::string> new_operator_token(std::string_view name) {
  if (!config::valid_operator_name(name)) {
    return fail(std::string("operator name must be 1 to 64 of A-Z a-z 0-9 . _ -"));
  }
  if (name == config::kTokenFileOperator) {
    return fail(std::string("'admin' is the operator of [admin] token_file; choose another name"));
  }
  unsigned char raw[kTokenBytes];
  if (RAND_bytes(raw, sizeof raw) != 1) return fail(std::string("no random bytes from OpenSSL"));
  NewOperatorToken out;
  out.token = tls::lower_hex(raw, sizeof raw);
  OPENSSL_cleanse(raw, sizeof raw);
  auto d = sha256(out.token);
  out.line = std::string(name) + ":" + tls::lower_hex(d.data(), d.size());
  return out;
}

}  // namespace secmx::admin
