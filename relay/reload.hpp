// reload.hpp - SIGHUP: read the configuration file again and build everything a reload
// swaps in - policy engine, STARTTLS certificate, client CA store - before anything is
// swapped, so that a reload is all or nothing: a file with a mistake, a rule that does not
// compile or a certificate that does not load leaves the running relay exactly as it was.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "relay/common/result.hpp"
#include "relay/config/config.hpp"
#include "relay/policy/policy_engine.hpp"
#include "relay/tls/tls_context.hpp"

namespace secmx {

struct PreparedReload {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const policy::PolicyEngine> policy;
  std::shared_ptr<tls::TlsContext> server_tls;  // null: STARTTLS not offered
  std::shared_ptr<tls::TlsContext> client_tls;
  std::vector<std::string> restart_only;  // settings that changed but stay as they run
};

// Error: one line per problem, "file:line: message" where the config names one.
Result<PreparedReload, std::vector<std::string>> prepare_reload(const std::string& path,
                                                                 const config::Config& running);

// For the log: "rules=3 routes=2 starttls=on auth_users=4 pause=off ...".
std::string describe(const config::Config& config);

}  // namespace secmx
