// secret_file.hpp - a file holding one random secret (the admin token, the audit trail's
// checkpoint key): made on the first start, read back at each start.
//
// The secret is 32 bytes from OpenSSL's RAND_bytes written as 64 lower-case hex digits
// and a newline; what it is used as is the caller's business. Plain file I/O, no state;
// thread-agnostic.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "relay/common/privileges.hpp"
#include "relay/common/result.hpp"

namespace secmx::tls {

// When nothing exists at `path`: writes a new secret there, mode 0600, flushed to disk;
// `owner` set (the relay was started as root for another account): then owned by that
// account. Never replaces or follows anything already at `path` (a symbolic link
// included). The parent directory must exist. true: created; false: a file was there.
// `what` names the file in errors: "cannot create <what> /etc/x/key: Permission denied".
Result<bool, std::string> create_secret_file(const std::string& path,
                                             const std::optional<privileges::Account>& owner,
                                             std::string_view what);

// The first line of the file at `path` without surrounding white space, refused when it
// is empty or when the file can be read by its group or by everyone (a secret others
// can read proves nothing). Error: "etc/audit.key: readable by group or others (chmod 600)".
Result<std::string, std::string> read_private_secret(const std::string& path);

}  // namespace secmx::tls
