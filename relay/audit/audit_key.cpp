// audit_key.cpp - see audit_key.hpp.
#include "relay/audit/audit_key.hpp"

#include "relay/tls/secret_file.hpp"

namespace secmx::audit {

Result<AuditKey, std::string> prepare_audit_key(const std::string& path,
                                                const std::optional<privileges::Account>& owner) {
  auto made = tls::create_secret_file(path, owner, "audit key");
  if (!made) return fail(made.error());
  auto key = tls::read_private_secret(path);
  if (!key) return fail("audit key " + key.error());
  return AuditKey{std::move(*key), *made};
}

Result<std::string, std::string> read_audit_key(const std::string& path) {
  auto key = tls::read_private_secret(path);
  if (!key) return fail("audit key " + key.error());
  return std::move(*key);
}

}  // namespace secmx::audit
