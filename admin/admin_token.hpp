// admin_token.hpp - the admin API's bearer token: read from admin.token_file, checked in
// constant time.
//
// A token is the first line of the file with surrounding whitespace removed; an empty
// one is refused (an empty token would let any "Bearer " header in). Checking hashes both
// sides with SHA-256 and compares the digests with CRYPTO_memcmp, so neither the content
// nor the length of the configured token leaks through timing. Immutable after load;
// check() is safe from any thread.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "relay/common/result.hpp"

namespace secmx::admin {

class AdminToken {
 public:
  // Error: "etc/admin.token: No such file or directory", "etc/admin.token: empty".
  static Result<AdminToken, std::string> load(const std::string& path);
  static AdminToken from_string(std::string_view token);  // tests; must not be empty

  // `authorization`: the whole Authorization header value, "Bearer <token>".
  bool check_header(std::string_view authorization) const;
  bool check(std::string_view presented) const;

 private:
  std::array<unsigned char, 32> digest_{};
};

}  // namespace secmx::admin
