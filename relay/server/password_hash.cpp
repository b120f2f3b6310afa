// password_hash.cpp - see password_hash.hpp.
#include "relay/server/password_hash.hpp"

#include <crypt.h>
#include <openssl/crypto.h>

#include <cstring>
#include <memory>

namespace secmx::server {
namespace {

// crypt_data is large (tens of KiB): on the heap, and wiped before it is freed since it
// held the password.
struct CryptScratch {
  crypt_data data{};
  ~CryptScratch() { OPENSSL_cleanse(&data, sizeof data); }
};

}  // namespace

bool verify_password(std::string_view password, const std::string& hash) {
  if (password.find('\0') != std::string_view::npos || hash.empty()) return false;
  std::string phrase(password);
  auto scratch = std::make_unique<CryptScratch>();
  const char* out = crypt_rn(phrase.c_str(), hash.c_str(), &scratch->data, sizeof scratch->data);
  OPENSSL_cleanse(phrase.data(), phrase.size());
  // A failed crypt_rn gives null or a string starting with '*', which no hash matches.
  if (out == nullptr || out[0] == '*') return false;
  std::size_t n = std::strlen(out);
  return n == hash.size() && CRYPTO_memcmp(out, hash.data(), n) == 0;
}

std::optional<std::string> make_password_hash(std::string_view password) {
  if (password.find('\0') != std::string_view::npos) return std::nullopt;
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  // Null random bytes: libxcrypt draws the salt from the system's random source.
  if (crypt_gensalt_rn("$y$", 0, nullptr, 0, setting, sizeof setting) == nullptr) {
    return std::nullopt;
  }
  std::string phrase(password);
  auto scratch = std::make_unique<CryptScratch>();
  const char* out = crypt_rn(phrase.c_str(), setting, &scratch->data, sizeof scratch->data);
  OPENSSL_cleanse(phrase.data(), phrase.size());
  if (out == nullptr || out[0] == '*') return std::nullopt;
  return std::string(out);
}

}  // namespace secmx::server
