// fuzz_config.cpp - libFuzzer target for the config loader (relay/config) over arbitrary
// TOML text: toml++, then every section reader, RE2 patterns, IDNA route domains, sizes,
// durations, endpoints and CIDRs.
//
// The input is written to one temporary file per process (rewritten each run, unlinked
// from the start) and loaded with load_config(), exactly as the daemon and --check load it. Invariants:
//  - nothing is thrown out of load_config();
//  - a refusal lists at least one issue, each naming the file and a line of the input
//    ("<file>:<line>: message", 1 <= line <= the input's line count), sorted by line;
//  - a config that loads has every value within the range its reader enforces (limits,
//    timeouts, non-empty lists, lifetimes, printable banner, rule and route lines);
//  - the same text loads to the same result twice (no hidden state);
//  - parse_size and parse_duration, over the first line, round-trip their value.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "relay/config/config.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace secmx::config;

namespace {

// An unlinked temporary file, kept open and named by its descriptor, so that nothing is
// left behind however the process ends (libFuzzer does not always run atexit handlers).
const std::string& temp_path() {
  static const std::string path = [] {
    char name[] = "/tmp/secmx-fuzz-config-XXXXXX";
    int fd = ::mkstemp(name);
    FUZZ_CHECK(fd >= 0);
    ::unlink(name);
    return "/proc/self/fd/" + std::to_string(fd);
  }();
  return path;
}

void write_all(const std::string& path, std::string_view text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  FUZZ_CHECK(fd >= 0);
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    FUZZ_CHECK(n > 0);
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  ::close(fd);
}

secmx::Result<Config, std::vector<Issue>> load(const std::string& path) {
  try {
    return load_config(path);
  } catch (...) {
    FUZZ_CHECK(!"load_config threw");
  }
  std::abort();
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 32 && c <= 126; });
}

void check_config(const Config& c, const std::string& path, std::uint32_t lines) {
  FUZZ_CHECK(c.source_file == path);
  FUZZ_CHECK(!c.hostname.empty());
  FUZZ_CHECK(c.group.empty() || !c.user.empty());
  const SmtpConfig& s = c.smtp;
  FUZZ_CHECK(!s.listeners.empty());
  for (const Listener& l : s.listeners) {
    FUZZ_CHECK(!l.address.host.empty());
    FUZZ_CHECK(l.tls != ListenerTls::Implicit || !s.tls_cert.empty());
  }
  FUZZ_CHECK(s.max_message_size >= 1);
  FUZZ_CHECK(s.max_recipients >= 1 && s.max_recipients <= 1'000'000);
  FUZZ_CHECK(s.max_line_length >= 512 && s.max_line_length <= 65536);
  FUZZ_CHECK(s.max_connections >= 1 && s.max_connections <= 1'000'000);
  FUZZ_CHECK(s.max_connections_per_client >= 1 &&
             s.max_connections_per_client <= s.max_connections);
  FUZZ_CHECK(s.max_errors >= 1 && s.max_errors <= 1000);
  FUZZ_CHECK(s.command_timeout.count() >= 1 && s.data_timeout.count() >= 1);
  FUZZ_CHECK(s.tls_cert.empty() == s.tls_key.empty());
  FUZZ_CHECK(!s.require_tls || !s.tls_cert.empty());
  FUZZ_CHECK(printable(s.banner));

  FUZZ_CHECK(!c.queue.path.empty());
  FUZZ_CHECK(c.queue.map_size >= (1ull << 20));
  FUZZ_CHECK(c.queue.commit_interval.count() >= 0);
  FUZZ_CHECK(c.queue.max_batch >= 1 && c.queue.max_batch <= 100'000);
  for (const Endpoint& ep : c.dns.servers) FUZZ_CHECK(!ep.host.empty() && ep.port != 0);

  const DeliveryConfig& d = c.delivery;
  FUZZ_CHECK(d.workers >= 1 && d.workers <= 64);
  FUZZ_CHECK(d.port >= 1);
  FUZZ_CHECK(!d.retry.empty());
  for (Duration r : d.retry) FUZZ_CHECK(r.count() > 0);
  FUZZ_CHECK(d.sos_lifetime.count() >= 1 && d.sos_lifetime <= d.max_lifetime);
  FUZZ_CHECK(d.destination_concurrency >= 1 && d.destination_concurrency <= 1000);
  FUZZ_CHECK(d.max_connections >= 1 && d.max_connections <= 100000);
  FUZZ_CHECK(d.connect_timeout.count() >= 1 && d.command_timeout.count() >= 1);
  FUZZ_CHECK(d.connection_cache_time.count() >= 0);

  for (const PolicyRule& r : c.policy.rules) {
    FUZZ_CHECK(r.line >= 1 && r.line <= lines);
    FUZZ_CHECK(r.header.has_value() == r.match.has_value());
    if (r.action == secmx::model::Policy::REJECT) FUZZ_CHECK(printable(r.reason));
  }
  for (const Route& r : c.routes) {
    FUZZ_CHECK(r.line >= 1 && r.line <= lines);
    FUZZ_CHECK(!r.domain.empty() && !r.host.empty());
  }
  FUZZ_CHECK(!c.admin.listen.host.empty() && !c.admin.token_file.empty());
  const std::string& l = c.log.level;
  FUZZ_CHECK(l == "trace" || l == "debug" || l == "info" || l == "warn" || l == "error" ||
             l == "critical");
  FUZZ_CHECK(c.dsn.return_size_limit >= 1024);
  FUZZ_CHECK(c.dsn.delay_warning.count() >= 0);
  FUZZ_CHECK(c.dsn.postmaster.empty() || c.dsn.postmaster.find('@') != std::string::npos);
}

void check_issues(const std::vector<Issue>& issues, const std::string& path,
                  std::uint32_t lines) {
  FUZZ_CHECK(!issues.empty());
  std::uint32_t previous = 0;
  for (const Issue& i : issues) {
    FUZZ_CHECK(i.file == path);
    FUZZ_CHECK(i.line >= 1 && i.line <= lines);
    FUZZ_CHECK(i.line >= previous);
    previous = i.line;
    FUZZ_CHECK(!i.message.empty());
    FUZZ_CHECK(i.to_string().starts_with(path + ":" + std::to_string(i.line) + ": "));
  }
}

bool same_issues(const std::vector<Issue>& a, const std::vector<Issue>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].line != b[i].line || a[i].message != b[i].message) return false;
  }
  return true;
}

void check_values(std::string_view line) {
  if (auto n = parse_size(line)) {
    auto again = parse_size(std::to_string(*n));
    FUZZ_CHECK(again && *again == *n);
  }
  if (auto d = parse_duration(line)) {
    FUZZ_CHECK(d->count() >= 0);
    auto again = parse_duration(std::to_string(d->count()) + "ms");
    FUZZ_CHECK(again && *again == *d);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_values(text.substr(0, text.find('\n')));

  const std::string& path = temp_path();
  write_all(path, text);
  const auto lines = static_cast<std::uint32_t>(std::count(text.begin(), text.end(), '\n') + 1);

  auto first = load(path);
  auto second = load(path);
  FUZZ_CHECK(first.ok() == second.ok());
  if (first.ok()) {
    check_config(*first, path, lines);
    FUZZ_CHECK(second->policy.rules.size() == first->policy.rules.size());
    FUZZ_CHECK(second->routes.size() == first->routes.size());
  } else {
    check_issues(first.error(), path, lines);
    FUZZ_CHECK(same_issues(first.error(), second.error()));
  }
  return 0;
}
