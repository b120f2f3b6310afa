// ctl_client.hpp - secmxctl's side of the admin API: where the relay is, the token, and
// one blocking HTTP call that maps every failure to a clear message and an exit code.
//
// Single-threaded (the CLI's main thread). Nothing here prints; the caller does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "relay/common/result.hpp"

namespace secmx::admin {

// secmxctl's exit codes (documented in docs/admin.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,        // bad arguments, unreadable config or token file
  kExitNotRunning = 2,   // cannot connect to the admin API
  kExitAuth = 3,         // 401 (wrong or missing token) or 503 no_token
  kExitNotFound = 4,     // 404: no such message
  kExitBusy = 5,         // 409: the message is being delivered, try again
  kExitFailed = 6,       // any other error answer (400, 500, 503); reload refused (422)
  // route only (ctl_format.hpp): 7 discovery failed permanently, 8 temporarily
};

struct CtlTarget {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8025;
  std::string token;
  std::string describe() const;  // "127.0.0.1:8025"
};

struct CtlError {
  int exit_code = kExitFailed;
  std::string message;
  nlohmann::json body{};  // the error answer's JSON, when there was one
};

// From the relay's config file ([admin] listen and token_file), then the overrides:
// url ("http://127.0.0.1:8025", "127.0.0.1:8025", "[::1]:8025") and token_file. A config
// file is only required when one of the two is missing; a missing default config is not
// an error when both are given.
Result<CtlTarget, CtlError> resolve_target(const std::string& config_path, bool config_explicit,
                                           const std::string& url, const std::string& token_file);

// "http://host:port" / "host:port" / "[v6]:port" -> host and port.
std::optional<std::pair<std::string, std::uint16_t>> parse_url(const std::string& url);

struct CtlResponse {
  int status = 0;
  nlohmann::json body;  // null when the body is not JSON (e.g. /metrics)
  std::string raw;
};

// One call. Transport failure -> kExitNotRunning; 401 -> kExitAuth; 404 -> kExitNotFound;
// 409 -> kExitBusy; other >= 400 -> kExitFailed; each with the server's "error" text.
Result<CtlResponse, CtlError> call(const CtlTarget& target, const std::string& method,
                                   const std::string& path, const nlohmann::json* body = nullptr,
                                   int read_timeout_s = 60);

}  // namespace secmx::admin
