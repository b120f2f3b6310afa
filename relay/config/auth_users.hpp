// auth_users.hpp - the users file of [smtp.auth]: who may log in, and their password hash.
//
// One "name:hash" per line; empty lines and lines starting with '#' are skipped. The hash
// is a crypt(3) string from libxcrypt: yescrypt ("$y$", what `secmx-relay --hash-password`
// writes), bcrypt ("$2b$", "$2y$", "$2a$") or sha512-crypt ("$6$"); anything else (a
// plaintext password, DES or MD5 crypt) is refused, as is a name used twice. Problems are
// Issues "file:line: ...", for --check; they never quote the hash. Pure; no I/O.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "relay/config/config.hpp"

namespace secmx::config {

// Fills `out` from `text` (the contents of `file`); returns the problems, in line order.
// A bad line is left out; the others still load.
std::vector<Issue> parse_users(std::string_view text, const std::string& file,
                               std::map<std::string, std::string, std::less<>>& out);

}  // namespace secmx::config
