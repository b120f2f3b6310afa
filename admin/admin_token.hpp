// admin_token.hpp - the admin API's bearer token: read from admin.token_file, checked in
// constant time.
//
// A token is the first line of the file with surrounding whitespace removed; an empty
// one is refused (an empty token would let any "Bearer " header in). Checking hashes both
// sides with SHA-256 and compares the digests with CRYPTO_memcmp, so neither the content
// nor the length of the configured token leaks through timing. Immutable after load;
// check() is safe from any thread.
//
// create_if_missing() makes the file on the first start (main.cpp, before any privilege
// change): a token nobody has to invent, readable only by the account the relay runs as.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "relay/common/privileges.hpp"
#include "relay/common/result.hpp"

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

 private:
  std::array<unsigned char, 32> digest_{};
};

}  // namespace secmx::admin
