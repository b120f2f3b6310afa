// admin_token.hpp - the admin API's bearer tokens: the single token of admin.token_file
// (the operator "admin") and the named operators of admin.tokens_file, checked in constant
// time; the match names the operator every admin action is logged and audited under.
//
// A token is the first line of the file with surrounding whitespace removed; an empty
// one is refused (an empty token would let any "Bearer " header in). Checking hashes both
// sides with SHA-256 and compares the digests with CRYPTO_memcmp, so neither the content
// nor the length of the configured token leaks through timing. Immutable after load;
// check() is safe from any thread.
//
// TokenSet holds every operator's token digest; match() hashes the presented token once and
// compares it with every entry (CRYPTO_memcmp, no early exit), so timing tells neither
// whether nor which entry matched. Immutable after construction; thread-safe to read.
//
// create_if_missing() makes the file on the first start (main.cpp, before any privilege
// change): a token nobody has to invent, readable only by the account the relay runs as.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include <vector>

#include "relay/common/privileges.hpp"
#include "relay/common/result.hpp"
#include "relay/config/config.hpp"

namespace secmx::admin {

class AdminToken {
 public:
  // Error: "etc/admin.token: No such file or directory", "etc/admin.token: empty".
  static Result<AdminToken, std::string> load(const std::string& path);
  static AdminToken from_string(std::string_view token);  // tests; must not be empty

  // When nothing exists at `path`: writes a new token there (32 bytes from RAND_bytes, as
  // 64 hex digits and a newline), mode 0600, flushed to disk; `owner` set (the relay was
  // started as root for another account): then owned by that account. Never replaces or
  // follows anything already at `path` (a symbolic link included). The parent directory
  // must exist. true: created; false: a file was there already.
  // Error: "cannot create admin token /etc/x/admin.token: Permission denied".
  static Result<bool, std::string> create_if_missing(
      const std::string& path, const std::optional<privileges::Account>& owner);

  // `authorization`: the whole Authorization header value, "Bearer <token>".
  bool check_header(std::string_view authorization) const;
  bool check(std::string_view presented) const;
  const std::array<unsigned char, 32>& digest() const { return digest_; }

 private:
  std::array<unsigned char, 32> digest_{};
};

class TokenSet {
 public:
  // CRYPTO_memcmp's shape; tests pass one that counts its calls.
  using Compare = int (*)(const void*, const void*, std::size_t);

  // The operators `admin` names: the token of token_file as "admin" (when it cannot be
  // read, its problem is in token_file_problem() and the others still work), then every
  // entry of tokens_file (already parsed and checked by the config).
  static TokenSet from_config(const config::AdminConfig& admin);
  void add(std::string name, const std::array<unsigned char, 32>& digest);

  // The name of the operator whose token `presented` is; nullopt for none (or empty).
  // `compare`: nullptr for CRYPTO_memcmp.
  std::optional<std::string> match(std::string_view presented, Compare compare = nullptr) const;
  // `authorization`: the whole Authorization header value, "Bearer <token>".
  std::optional<std::string> match_header(std::string_view authorization) const;

  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  // "etc/admin.token: No such file or directory"; "" when it loaded.
  const std::string& token_file_problem() const { return token_file_problem_; }

 private:
  std::vector<config::OperatorToken> entries_;
  std::string token_file_problem_;
};

// `secmxctl token add NAME`: a new random token (64 hex digits) and the tokens_file line
// that names it, "NAME:<sha256 hex of the token>". Error: a name the tokens file refuses,
// or no random bytes from OpenSSL.
struct NewOperatorToken {
  std::string token;
  std::string line;
};
Result<NewOperatorToken, std::string> new_operator_token(std::string_view name);

}  // namespace secmx::admin
