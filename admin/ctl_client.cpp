// ctl_client.cpp - config/flag resolution and HTTP calls for secmxctl.
#include "admin/ctl_client.hpp"

#include <httplib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <toml++/toml.h>

#include "relay/config/config_paths.hpp"

namespace secmx::admin {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && std::strchr(" \t\r\n", s.back())) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::strchr(" \t\r\n", s[i])) ++i;
  return s.substr(i);
}

Result<std::string, CtlError> read_token(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(CtlError{kExitUsage, "cannot read token file " + path + ": " + std::strerror(errno)});
  std::string line;
  std::getline(in, line);
  line = trim(line);
  if (line.empty()) return fail(CtlError{kExitUsage, "token file " + path + " is empty"});
  return line;
}

}  // namespace

std::string CtlTarget::describe() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<std::pair<std::string, std::uint16_t>> parse_url(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos) return std::nullopt;  // https etc.: not served
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  std::string host, port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return std::nullopt;
      port = rest.substr(close + 2);
    }
  } else {
    auto colon = rest.rfind(':');
    if (colon != std::string::npos && rest.find(':') != colon) return std::nullopt;  // bare v6
    host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (host.empty() || host.find('/') != std::string::npos) return std::nullopt;
  std::uint16_t p = 8025;
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    unsigned long n = std::stoul(port);
    if (n == 0 || n > 65535) return std::nullopt;
    p = static_cast<std::uint16_t>(n);
  }
  return std::make_pair(host, p);
}

Result<CtlTarget, CtlError> resolve_target(const std::string& config_path, bool config_explicit,
                                           const std::string& url, const std::string& token_file) {
  CtlTarget t;
  std::string listen, cfg_token_file;
  bool need_config = url.empty() || token_file.empty();
  if (need_config || config_explicit) {
    try {
      auto tbl = toml::parse_file(config_path);
      listen = tbl["admin"]["listen"].value_or(std::string("127.0.0.1:8025"));
      // As the relay takes it: relative to the config file's directory.
      cfg_token_file = config::resolve_path(
          config::config_dir(config_path),
          tbl["admin"]["token_file"].value_or(std::string("etc/admin.token")));
    } catch (const toml::parse_error& e) {
      std::string what(e.description());
      if (!need_config) {
        // Both flags given: the config does not matter.
      } else {
        return fail(CtlError{kExitUsage, "cannot read config " + config_path + ": " + what +
                                             " (use --config, or --url and --token-file)"});
      }
    }
  }
  std::string use_url = url.empty() ? listen : url;
  auto hp = parse_url(use_url);
  if (!hp) return fail(CtlError{kExitUsage, "bad admin address \"" + use_url + "\" (expected http://HOST:PORT)"});
  t.host = hp->first;
  t.port = hp->second;
  auto token = read_token(token_file.empty() ? cfg_token_file : token_file);
  if (!token) return fail(token.error());
  t.token = std::move(*token);
  return t;
}

Result<CtlResponse, CtlError> call(const CtlTarget& target, const std::string& method,
                                   const std::string& path, const nlohmann::json* body,
                                   int read_timeout_s) {
  httplib::Client cli(target.host, target.port);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(read_timeout_s, 0);
  cli.set_write_timeout(10, 0);
  cli.set_bearer_token_auth(target.token);
  std::string payload = body ? body->dump() : std::string();
  httplib::Result r = method == "GET"      ? cli.Get(path)
                      : method == "DELETE" ? cli.Delete(path)
                                           : cli.Post(path, payload, "application/json");
  if (!r) {
    // Nothing listening (connection refused, or no answer to the connect): the relay is
    // not running, or not with this admin address. Other failures say what broke.
    if (r.error() == httplib::Error::Connection) {
      return fail(CtlError{kExitNotRunning, "secmx-relay is not running (no answer on " +
                                                target.describe() + ")"});
    }
    return fail(CtlError{kExitNotRunning, "cannot reach the relay's admin API at " +
                                              target.describe() + ": " + httplib::to_string(r.error()) +
                                              " (is secmx-relay running?)"});
  }
  CtlResponse out;
  out.status = r->status;
  out.raw = r->body;
  out.body = nlohmann::json::parse(r->body, nullptr, false);
  if (out.body.is_discarded()) out.body = nullptr;
  if (out.status < 400) return out;

  std::string text = out.body.is_object() && out.body.contains("error") && out.body["error"].is_string()
                         ? out.body["error"].get<std::string>()
                         : "HTTP " + std::to_string(out.status);
  std::string code = out.body.is_object() ? out.body.value("code", std::string()) : std::string();
  int exit_code = kExitFailed;
  if (out.status == 401) {
    exit_code = kExitAuth;
    text = "the relay refused the token (" + text + "): check --token-file / admin.token_file";
  } else if (out.status == 503 && code == "no_token") {
    exit_code = kExitAuth;
  } else if (out.status == 404) {
    exit_code = kExitNotFound;
  } else if (out.status == 409) {
    exit_code = kExitBusy;
  }
  return fail(CtlError{exit_code, text, out.body});
}

}  // namespace secmx::admin
