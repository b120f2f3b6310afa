// config.cpp - load_config(): read one TOML file into the typed Config (see config.hpp).
//
// Runs once at start-up (and on reload) on the calling thread. The file is parsed by
// toml++; a syntax error is the only issue reported, since the tree is unusable after it.
// Otherwise every table is walked with the known keys for it, every value checked for
// type and range, and every issue collected before returning, sorted by line. The only
// outside state consulted: gethostname() for the default hostname and the readability of
// the TLS certificate and key files. Relative paths, written or default, are resolved once
// here against the config file's directory (config_paths.hpp): the Config returned holds
// absolute paths only.
#include "relay/config/config.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "relay/common/privileges.hpp"
#include "relay/config/admin_tokens.hpp"
#include "relay/config/config_paths.hpp"
#include "relay/config/config_reader.hpp"
#include "relay/tls/cert_pair.hpp"

namespace secmx::config {

namespace detail {
// Whole file into `out`; on failure strerror's text. A directory is refused explicitly,
// since reading one could otherwise pass for an empty (all-defaults) config.
std::optional<std::string> read_text_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::string(std::strerror(errno));
  struct stat st {};
  int err = ::fstat(fd, &st) != 0 ? errno : (S_ISDIR(st.st_mode) ? EISDIR : 0);
  char buf[8192];
  while (err == 0) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno != EINTR) err = errno;
      continue;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (err != 0) return std::string(std::strerror(err));
  return std::nullopt;
}
}  // namespace detail

namespace {

using detail::Reader;
using detail::Section;

// nullopt when `path` is a file we can open for reading; otherwise strerror's text.
std::optional<std::string> unreadable(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::string(std::strerror(errno));
  struct stat st {};
  int err = ::fstat(fd, &st) != 0 ? errno : (S_ISDIR(st.st_mode) ? EISDIR : 0);
  ::close(fd);
  if (err != 0) return std::string(std::strerror(err));
  return std::nullopt;
}

std::string default_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

void read_endpoints(const Section& s, std::string_view key, std::vector<Endpoint>& out,
                    std::optional<std::uint16_t> default_port, std::string_view expected) {
  std::vector<Section::Item> items;
  if (!s.strings(key, items)) return;
  std::vector<Endpoint> eps;
  for (auto& it : items) {
    if (auto ep = detail::parse_endpoint(it.value, default_port)) {
      eps.push_back(*ep);
    } else {
      s.reader().add(it.line, s.name(key) + ": invalid address '" + it.value + "' (expected " +
                                  std::string(expected) + ")");
    }
  }
  out = std::move(eps);
}

// A certificate key and its private key key: one without the other is a half-configured
// pair; refuse rather than guess. Both must be readable.
void read_pair(const Section& s, std::string_view cert_key, std::string& cert,
               std::string_view key_key, std::string& key) {
  s.path(cert_key, cert);
  s.path(key_key, key);
  if (!cert.empty() && key.empty()) {
    s.fail(cert_key, std::string(key_key) + " must be set too (both or neither)");
  } else if (cert.empty() && !key.empty()) {
    s.fail(key_key, std::string(cert_key) + " must be set too (both or neither)");
  }
  for (std::string_view k : {cert_key, key_key}) {
    const std::string& file = k == cert_key ? cert : key;
    if (file.empty()) continue;
    if (auto why = unreadable(file)) {
      s.reader().add(s.line(k), "cannot read " + std::string(k) + " '" + file + "': " + *why);
    }
  }
}

void read_tls_files(const Section& s, SmtpConfig& out) {
  read_pair(s, "tls_cert", out.tls_cert, "tls_key", out.tls_key);
  std::string& ecert = out.tls.ecdsa_cert;
  std::string& ekey = out.tls.ecdsa_key;
  read_pair(s, "tls_ecdsa_cert", ecert, "tls_ecdsa_key", ekey);
  if (ecert.empty() || ekey.empty()) return;
  if (out.tls_cert.empty()) {
    s.fail("tls_ecdsa_cert", "needs tls_cert and tls_key (the ECDSA pair is served beside them)");
  }
  // The start would refuse these; --check names the line now. Unreadable files were
  // reported above.
  if (unreadable(ecert) || unreadable(ekey)) return;
  auto pair = tls::load_cert_pair(ecert, ekey, tls::KeyKind::Ec);
  if (!pair) {
    const tls::PairError& bad = pair.error();
    if (bad.about == tls::PairProblem::Key) {
      s.fail("tls_ecdsa_key", bad.message);
    } else if (bad.about == tls::PairProblem::KeyKind) {
      s.fail("tls_ecdsa_cert", bad.message + "; tls_cert holds the RSA one");
    } else {
      s.fail("tls_ecdsa_cert", bad.message);
    }
  }
}

void read_smtp(const Section& root, SmtpConfig& out) {
  Section s = root.sub("smtp");
  s.check_keys({"listen", "listener", "auth", "relay_networks", "tls_cert", "tls_key",
                "max_message_size", "max_recipients", "max_line_length", "max_connections",
                "max_connections_per_client", "max_errors", "command_timeout", "data_timeout",
                "require_tls", "banner", "tls_min_protocol", "tls12_ciphers", "tls13_suites",
                "tls_ecdsa_cert", "tls_ecdsa_key", "tls_ticket_lifetime"});
  detail::read_listeners(s, out);

  std::vector<Section::Item> items;
  if (s.strings("relay_networks", items)) {
    for (auto& it : items) {
      if (auto c = parse_cidr(it.value)) {
        out.relay_networks.push_back(*c);
      } else {
        s.reader().add(it.line, s.name("relay_networks") + ": invalid CIDR '" + it.value + "'");
      }
    }
  } else if (!s.node("relay_networks")) {
    out.relay_networks = {*parse_cidr("127.0.0.0/8"), *parse_cidr("::1/128")};
  }

  read_tls_files(s, out);
  // Listeners and sender authorization ([smtp.auth] senders_file, sender_login).
  detail::read_sender_login(s, out);
  detail::check_listeners(s, out);
  detail::read_tls_protocol(s, out.tls.protocol);
  Duration ticket_lifetime = out.tls.ticket_lifetime;
  // TLS 1.3 caps a ticket's lifetime at 7 days (RFC 8446 4.6.1); OpenSSL counts seconds.
  if (s.duration("tls_ticket_lifetime", ticket_lifetime, std::chrono::seconds(1))) {
    if (ticket_lifetime > std::chrono::hours(24 * 7)) {
      s.fail("tls_ticket_lifetime", "must be at most 7d (TLS 1.3 allows no longer ticket)");
    } else {
      out.tls.ticket_lifetime = std::chrono::duration_cast<std::chrono::seconds>(ticket_lifetime);
    }
  }
  s.size("max_message_size", out.max_message_size, 1);
  s.u32("max_recipients", out.max_recipients, 1, 1'000'000);
  // Below 512 even a legal RFC 5321 command line could be refused (4.5.3.1.4).
  s.u32("max_line_length", out.max_line_length, 512, 65536);
  s.u32("max_connections", out.max_connections, 1, 1'000'000);
  s.u32("max_connections_per_client", out.max_connections_per_client, 1, 1'000'000);
  if (out.max_connections_per_client > out.max_connections) {
    s.fail(s.node("max_connections_per_client") ? "max_connections_per_client" : "max_connections",
           "max_connections_per_client (" + std::to_string(out.max_connections_per_client) +
               ") exceeds max_connections (" + std::to_string(out.max_connections) + ")");
  }
  s.u32("max_errors", out.max_errors, 1, 1000);
  s.duration("command_timeout", out.command_timeout, Duration(1));
  s.duration("data_timeout", out.data_timeout, Duration(1));
  s.boolean("require_tls", out.require_tls);
  if (out.require_tls && out.tls_cert.empty()) {
    s.fail("require_tls", "needs tls_cert and tls_key (STARTTLS must be offered)");
  }
  if (s.string("banner", out.banner)) {
    if (auto why = detail::reply_text_problem(out.banner); !why.empty()) {
      s.fail("banner", why);
      out.banner.clear();
    }
  }
  detail::read_smtp_auth(s, out.auth);
  if (out.auth.enabled() && out.tls_cert.empty()) {
    s.fail("auth", "smtp.auth.users_file needs tls_cert and tls_key: AUTH is offered under TLS only");
  }
}

void read_queue(const Section& root, QueueConfig& out) {
  Section s = root.sub("queue");
  s.check_keys({"path", "map_size", "commit_interval", "max_batch"});
  if (s.path("path", out.path) && out.path.empty()) s.fail("path", "must not be empty");
  s.size("map_size", out.map_size, 1ull << 20);
  s.duration("commit_interval", out.commit_interval, Duration(0));
  s.u32("max_batch", out.max_batch, 1, 100'000);
}

// 127.0.0.0/8, ::1 and ::ffff:127.x.y.z: the resolver runs on this host.
bool loopback_address(const std::string& host) {
  unsigned char a[16] = {};
  if (inet_pton(AF_INET, host.c_str(), a) == 1) return a[0] == 127;
  if (inet_pton(AF_INET6, host.c_str(), a) != 1) return false;
  static const unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a, kLoopback6, 16) == 0 ||
         (std::memcmp(a, kMapped, 12) == 0 && a[12] == 127);
}

void read_dns(const Section& root, DnsConfig& out) {
  Section s = root.sub("dns");
  s.check_keys({"servers", "dnssec"});
  read_endpoints(s, "servers", out.servers, 53,
                 "\"ip\", \"ip:port\", \"[ipv6]\" or \"[ipv6]:port\"");
  s.boolean("dnssec", out.dnssec);
  if (!out.dnssec) return;
  // The AD bit is only as trustworthy as the path to the resolver that set it: anyone on
  // a network path can flip it in an unsigned UDP reply.
  if (out.servers.empty()) {
    s.reader().warn(s.line("dnssec"),
                    "warning: dns.dnssec: dns.servers is empty, so the AD bit would come from "
                    "the resolvers in /etc/resolv.conf; list a validating resolver on loopback");
  }
  for (const Endpoint& ep : out.servers) {
    if (loopback_address(ep.host)) continue;
    s.reader().warn(s.line("servers"),
                    "warning: dns.dnssec: server " + ep.to_string() +
                        " is not on loopback: the AD bit is only as trustworthy as the path "
                        "to the resolver (run a validating resolver on this host)");
  }
}

void read_delivery(const Section& root, DeliveryConfig& out) {
  Section s = root.sub("delivery");
  s.check_keys({"workers", "port", "retry", "max_lifetime", "sos_lifetime",
                "destination_concurrency", "max_connections", "connect_timeout",
                "command_timeout", "connection_cache_time", "ca_file", "pause", "ca_system",
                "tls_min_protocol", "tls12_ciphers", "tls13_suites", "attempt_history"});
  s.boolean("pause", out.pause);
  s.u32("attempt_history", out.attempt_history, 1, 1000);
  s.u32("workers", out.workers, 1, 64);
  s.u32("destination_concurrency", out.destination_concurrency, 1, 1000);
  s.u32("max_connections", out.max_connections, 1, 100000);
  s.duration("connect_timeout", out.connect_timeout, Duration(1));
  s.duration("command_timeout", out.command_timeout, Duration(1));
  s.duration("connection_cache_time", out.connection_cache_time, Duration(0));
  if (s.path("ca_file", out.ca_file) && !out.ca_file.empty()) {
    if (auto why = unreadable(out.ca_file)) s.fail("ca_file", *why);
  }
  detail::read_ca_system(s, out);
  detail::read_tls_protocol(s, out.tls);
  s.u16("port", out.port, 1, 65535);

  std::vector<Section::Item> items;
  if (s.strings("retry", items)) {
    if (items.empty()) s.fail("retry", "must list at least one interval");
    std::vector<Duration> retry;
    for (auto& it : items) {
      auto d = parse_duration(it.value);
      if (!d) {
        s.reader().add(it.line, s.name("retry") + ": invalid duration '" + it.value + "'");
      } else if (d->count() <= 0) {
        s.reader().add(it.line, s.name("retry") + ": each interval must be greater than zero");
      } else {
        retry.push_back(*d);
      }
    }
    out.retry = std::move(retry);
  }
  s.duration("max_lifetime", out.max_lifetime, Duration(1));
  s.duration("sos_lifetime", out.sos_lifetime, Duration(1));
  if (out.sos_lifetime > out.max_lifetime) {
    s.fail(s.node("sos_lifetime") ? "sos_lifetime" : "max_lifetime",
           "sos_lifetime must not exceed max_lifetime");
  }
}

void read_admin(const Section& root, AdminConfig& out) {
  Section s = root.sub("admin");
  s.check_keys({"listen", "token_file", "tokens_file"});
  std::string text;
  if (s.string("listen", text)) {
    if (auto ep = detail::parse_endpoint(text, std::nullopt)) {
      out.listen = *ep;
    } else {
      s.fail("listen", "invalid address '" + text + "' (expected \"ip:port\" or \"[ipv6]:port\")");
    }
  }
  if (s.path("token_file", out.token_file) && out.token_file.empty()) {
    s.fail("token_file", "must not be empty");
  }
  detail::read_admin_tokens(s, out);
}

void read_log(const Section& root, LogConfig& out) {
  Section s = root.sub("log");
  s.check_keys({"level", "file", "format"});
  std::string text;
  if (s.string("level", text)) {
    std::string l = ascii_lowercase(text);
    if (l == "trace" || l == "debug" || l == "info" || l == "warn" || l == "error" ||
        l == "critical") {
      out.level = l;
    } else {
      s.fail("level",
             "unknown level '" + text + "' (expected trace, debug, info, warn, error or critical)");
    }
  }
  s.path("file", out.file);
  if (s.string("format", text)) {
    std::string f = ascii_lowercase(text);
    if (f == "secmx" || f == "postfix") {
      out.format = f;
    } else {
      s.fail("format", "unknown format '" + text + "' (expected \"secmx\" or \"postfix\")");
    }
  }
}

void read_dsn(const Section& root, DsnConfig& out) {
  Section s = root.sub("dsn");
  s.check_keys({"delay_warning", "return_size_limit", "sos_ret", "postmaster"});
  s.duration("delay_warning", out.delay_warning, Duration(0));
  // Below 1KiB not even the header section of a typical message fits.
  s.size("return_size_limit", out.return_size_limit, 1024);
  std::string text;
  if (s.string("sos_ret", text)) {
    std::string l = ascii_lowercase(text);
    if (l == "hdrs") {
      out.sos_ret = DsnRet::Hdrs;
    } else if (l == "full") {
      out.sos_ret = DsnRet::Full;
    } else {
      s.fail("sos_ret", "unknown value '" + text + "' (expected \"HDRS\" or \"FULL\")");
    }
  }
  if (s.string("postmaster", out.postmaster) && !out.postmaster.empty() &&
      !detail::valid_address(out.postmaster)) {
    s.fail("postmaster", "invalid address '" + out.postmaster +
                             "' (expected \"local@domain\", or \"\" to drop bounces of <> mail)");
    out.postmaster.clear();
  }
}

void read_mta_sts(const Section& root, MtaStsConfig& out) {
  Section s = root.sub("mta_sts");
  s.check_keys({"enabled", "fetch_timeout", "max_policy_size", "refresh_interval"});
  s.boolean("enabled", out.enabled);
  constexpr Duration kMaxFetchTimeout = std::chrono::minutes(5);
  if (s.duration("fetch_timeout", out.fetch_timeout, std::chrono::seconds(1)) &&
      out.fetch_timeout > kMaxFetchTimeout) {
    s.fail("fetch_timeout", "must be at most 5m (a delivery waits for it)");
    out.fetch_timeout = kMaxFetchTimeout;
  }
  constexpr std::uint64_t kMaxPolicy = 64ull << 10;  // RFC 8461 §3.3
  if (s.size("max_policy_size", out.max_policy_size, 1024) && out.max_policy_size > kMaxPolicy) {
    s.fail("max_policy_size", "must be at most 64KiB (RFC 8461 §3.3)");
    out.max_policy_size = kMaxPolicy;
  }
  s.duration("refresh_interval", out.refresh_interval, std::chrono::seconds(1));
}

// `user`/`group`: the account must exist when the config is checked, so a typo is a
// file:line error from --check rather than a failed start as root.
void read_run_as(const Section& root, Config& cfg) {
  if (root.string("user", cfg.user) && !cfg.user.empty()) {
    if (auto who = privileges::lookup_user(cfg.user); !who) root.fail("user", who.error());
  }
  if (root.string("group", cfg.group) && !cfg.group.empty()) {
    if (cfg.user.empty()) {
      root.fail("group", "needs user too (group only says which group the user runs with)");
    } else if (auto g = privileges::lookup_group(cfg.group); !g) {
      root.fail("group", g.error());
    }
  }
}

}  // namespace

Result<Config, std::vector<Issue>> load_config(const std::string& path) {
  std::string text;
  if (auto why = detail::read_text_file(path, text)) {
    return fail(std::vector<Issue>{{path, 0, "cannot read: " + *why}});
  }

  toml::table doc;
  try {
    doc = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return fail(std::vector<Issue>{{path, e.source().begin.line, std::string(e.description())}});
  }

  Reader rd(path);
  Section root(rd, &doc, "");
  Config cfg;
  cfg.source_file = path;
  root.check_keys(
      {"hostname", "user", "group", "smtp", "queue", "dns", "delivery", "policy", "route",
       "admin", "log", "dsn", "mta_sts", "tlsrpt", "audit"});
  if (root.string("hostname", cfg.hostname) && !valid_hostname(cfg.hostname)) {
    root.fail("hostname", "invalid host name '" + cfg.hostname + "'");
  }
  if (!root.node("hostname")) cfg.hostname = default_hostname();
  read_run_as(root, cfg);
  read_smtp(root, cfg.smtp);
  read_queue(root, cfg.queue);
  read_dns(root, cfg.dns);
  read_delivery(root, cfg.delivery);
  detail::read_policy(root, cfg.policy);
  detail::read_routes(root, cfg.routes);
  detail::warn_sos_routes(rd, cfg.policy, cfg.routes);
  read_admin(root, cfg.admin);
  read_log(root, cfg.log);
  read_dsn(root, cfg.dsn);
  read_mta_sts(root, cfg.mta_sts);
  detail::read_tlsrpt(root, cfg.hostname, cfg.tlsrpt);
  detail::read_audit(root, cfg.audit);

  // The defaults of config.hpp that are relative ("var/queue") are taken like a written
  // value; what was read is absolute already, and stays as it is.
  for (const PathSetting& p : path_settings(cfg)) *p.value = resolve_path(rd.dir(), *p.value);

  if (rd.has_issues()) return fail(rd.take());
  cfg.warnings = rd.take_warnings();
  return cfg;
}

}  // namespace secmx::config
