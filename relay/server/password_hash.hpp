// password_hash.hpp - checking and making crypt(3) password hashes (libxcrypt).
//
// verify_password() blocks for as long as the hash's cost says (yescrypt and bcrypt are
// slow on purpose): call it off the event loop (auth_service.hpp runs it on libuv's
// thread pool). It is thread-safe (crypt_rn with its own scratch space, wiped after) and
// compares in constant time. Neither function logs anything.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace secmx::server {

// True when `password` hashes to `hash` (a "$y$", "$2b$", "$6$" ... crypt string).
bool verify_password(std::string_view password, const std::string& hash);

// A new yescrypt hash of `password` with a random salt at libxcrypt's default cost;
// nullopt when the system's crypt(3) cannot make one or the password holds a NUL.
std::optional<std::string> make_password_hash(std::string_view password);

}  // namespace secmx::server
