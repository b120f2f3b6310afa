// audit_key.hpp - the key of the audit trail's checkpoints (audit.key_file): made on the
// first start, refused when others can read it.
//
// The key is the file's first line without surrounding white space (64 hex digits as made
// here; any other secret an operator puts there works too), used as the HMAC-SHA-256 key
// of queue/audit_chain.hpp's checkpoints as it is written. Whoever verifies the chain
// reads it with the same function. Plain file I/O; thread-agnostic.
#pragma once

#include <optional>
#include <string>

#include "relay/common/privileges.hpp"
#include "relay/common/result.hpp"

namespace secmx::audit {

struct AuditKey {
  std::string key;
  bool created = false;  // made by this call (the log says so)
};

// Creates the file when nothing is at `path` (relay/tls/secret_file.hpp: 32 random bytes,
// mode 0600, owned by `owner` when given), then reads it. Error: why it cannot be made or
// read, or "etc/audit.key: readable by group or others (chmod 600 it)".
Result<AuditKey, std::string> prepare_audit_key(const std::string& path,
                                                const std::optional<privileges::Account>& owner);

// Reads an existing key file (same checks, nothing created): for verifying.
Result<std::string, std::string> read_audit_key(const std::string& path);

}  // namespace secmx::audit
