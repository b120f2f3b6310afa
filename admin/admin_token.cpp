// admin_token.cpp - bearer token creation, load and constant-time check.
#include "admin/admin_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "relay/common/log.hpp"
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
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
  }
  return check(trim(authorization.substr(kScheme.size())));
}

}  // namespace secmx::admin
