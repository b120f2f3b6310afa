// config.hpp - the relay's typed configuration.
//
// Loaded from one TOML file by load_config(), validated once, then immutable: the daemon
// shares it as std::shared_ptr<const Config> across threads. Every problem found is an
// Issue carrying the file and line it comes from, so `--check` can print "file:line: msg".
// Unknown keys are errors. Relative paths (written or default) are resolved against the
// config file's directory by load_config(): every path field below holds an absolute path
// (or "" where empty means "none"); the list of them is in config_paths.hpp.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/common/result.hpp"
#include "relay/config/cidr.hpp"
#include "relay/model/policy.hpp"
#include "relay/tls/tls_settings.hpp"

namespace secmx::config {

using Duration = std::chrono::milliseconds;

struct Issue {
  std::string file;
  std::uint32_t line = 0;  // 0: the file as a whole (unreadable, not TOML at all)
  std::string message;
  std::string to_string() const;  // "file:line: message" (or "file: message")
};

struct Endpoint {
  std::string host;  // literal IPv4 or IPv6 address (no brackets)
  std::uint16_t port = 0;
  std::string to_string() const;  // "127.0.0.1:2525", "[::1]:2525"
  bool operator==(const Endpoint&) const = default;
};

// One inbound listener (config_smtp_listen.cpp): an entry of [smtp] listen (the short
// form, every setting at its default) or an [[smtp.listener]] table. Which listener a
// session came in on decides its TLS start, whether it must log in, which client
// addresses may relay without login, and whether its senders are checked (sender_login).
enum class ListenerTls : std::uint8_t {
  StartTls,  // "starttls": plaintext greeting, STARTTLS offered when [smtp] tls_cert is set
  Implicit,  // "implicit": TLS from the first byte (RFC 8314 §3.3, port 465)
};
enum class ListenerAuth : std::uint8_t {
  None,      // "none": AUTH never offered here
  Optional,  // "optional": AUTH offered under TLS when [smtp.auth] users_file is set
  Required,  // "required": no MAIL without a successful AUTH (530 5.7.0), whatever the address
};
struct Listener {
  std::uint32_t line = 0;  // of the listen entry or the [[smtp.listener]] header
  Endpoint address;
  ListenerTls tls = ListenerTls::StartTls;
  ListenerAuth auth = ListenerAuth::Optional;
  std::optional<std::vector<Cidr>> relay_networks;  // nullopt: [smtp] relay_networks
  bool sender_login = false;  // an authenticated sender must own its MAIL FROM address
  bool operator==(const Listener&) const = default;
};
const char* to_string(ListenerTls t);
const char* to_string(ListenerAuth a);

// Sender authorization, like Postfix's smtpd_sender_login_maps: the [smtp.auth] keys
// senders_file and sender_login. The file, one "user: pattern, pattern" per line (patterns
// as policy rules write senders: "user@domain", "@domain" or a glob), is read with the
// config, so a SIGHUP re-reads it. policy::sender_owned() applies it.
struct SenderOwner {
  std::uint32_t line = 0;  // in senders_file
  std::string user;        // exactly as the client logs in
  std::vector<std::string> patterns;
};
struct SenderLoginConfig {
  std::string senders_file;  // empty: no user owns any sender
  bool required = false;     // sender_login = "required": on every listener, not per listener
  std::vector<SenderOwner> owners;  // one per user, in file order
  const SenderOwner* owner(std::string_view user) const;  // null: the user owns nothing
};

// [smtp.auth]: clients that log in (SMTP AUTH PLAIN/LOGIN, RFC 4954, under TLS only).
struct SmtpAuthConfig {
  std::string users_file;  // "name:crypt-hash" lines; empty: AUTH not offered
  // users_file as parsed at load (and at each SIGHUP reload): name -> crypt(3) hash.
  std::map<std::string, std::string, std::less<>> users;
  // Failed logins per client address and per user name within `lockout` before both
  // are refused 454 4.7.0 until `lockout` has passed since the last failure.
  std::uint32_t max_failures = 5;
  Duration lockout = std::chrono::minutes(15);
  std::uint32_t max_session_failures = 3;  // failed logins in one session before 421
  // Delay before a 535: failure_delay after the first failure, doubling with each one
  // counted for the address or user, at most max_failure_delay.
  Duration failure_delay = std::chrono::seconds(1);
  Duration max_failure_delay = std::chrono::seconds(16);
  // Hash checks running on libuv's thread pool at once; more wait in line (at most
  // max_pending_verifications, beyond that 454 4.7.0), so that slow hashes never take
  // the whole pool (DNS and file work share it).
  std::uint32_t max_verifications = 2;
  std::uint32_t max_pending_verifications = 100;
  bool enabled() const { return !users_file.empty(); }
};

struct SmtpConfig {
  // Both forms together, in file order ([smtp] listen first); default 127.0.0.1:2525.
  std::vector<Listener> listeners{Listener{0, {"127.0.0.1", 2525}, ListenerTls::StartTls,
                                           ListenerAuth::Optional, std::nullopt, false}};
  std::vector<Cidr> relay_networks;  // default: 127.0.0.0/8 and ::1/128
  SenderLoginConfig sender_login;
  // The networks that relay without login on `l`: its own or [smtp] relay_networks.
  const std::vector<Cidr>& relay_networks_of(const Listener& l) const {
    return l.relay_networks ? *l.relay_networks : relay_networks;
  }
  std::string tls_cert;              // empty: STARTTLS not offered
  std::string tls_key;
  // tls_min_protocol, tls12_ciphers, tls13_suites, tls_ecdsa_cert/tls_ecdsa_key (served
  // beside tls_cert), tls_ticket_lifetime (session-ticket key rotation)
  tls::ServerTlsSettings tls;
  std::uint64_t max_message_size = 50ull << 20;  // "50MiB"
  std::uint32_t max_recipients = 1000;
  std::uint32_t max_line_length = 1000;      // bytes incl. CRLF (RFC 5321 4.5.3.1.6)
  std::uint32_t max_connections = 1000;
  std::uint32_t max_connections_per_client = 100;
  std::uint32_t max_errors = 10;             // protocol errors before 421 and disconnect
  Duration command_timeout = std::chrono::minutes(5);   // RFC 5321 4.5.3.2.7
  Duration data_timeout = std::chrono::minutes(5);      // per chunk of DATA/BDAT received
  bool require_tls = false;        // refuse MAIL before STARTTLS (530 5.7.0)
  std::string banner;              // text after "220 hostname"; default "ESMTP secmx-relay"
  SmtpAuthConfig auth;
};

struct QueueConfig {
  std::string path = "var/queue";
  std::uint64_t map_size = 4ull << 30;  // "4GiB": LMDB map; a full map answers 452 4.3.1
  Duration commit_interval = Duration(0);  // extra wait to gather a batch; 0: commit at once
  std::uint32_t max_batch = 512;        // messages per group commit at most
};

struct DnsConfig {
  std::vector<Endpoint> servers;  // empty: system resolver configuration
  // Ask with the DO and AD bits and take each answer's AD bit as "secure" (DESIGN §10):
  // only sound when the servers are validating resolvers reached over a trusted path.
  bool dnssec = false;
};

struct DeliveryConfig {
  std::uint32_t workers = 2;
  std::uint16_t port = 25;
  std::vector<Duration> retry{std::chrono::minutes(1), std::chrono::minutes(5),
                              std::chrono::minutes(15), std::chrono::hours(1),
                              std::chrono::hours(4)};
  Duration max_lifetime = std::chrono::hours(24 * 5);
  Duration sos_lifetime = std::chrono::hours(1);
  std::uint32_t destination_concurrency = 20;  // connections per destination domain
  std::uint32_t max_connections = 100;         // outbound connections in all
  Duration connect_timeout = std::chrono::seconds(30);
  Duration command_timeout = std::chrono::minutes(5);  // RFC 5321 4.5.3.2 (MAIL, RCPT, ...)
  Duration connection_cache_time = std::chrono::seconds(2);  // idle reuse window
  std::string ca_file;     // CA bundle trusted for tls = "verify", besides the system store
  bool ca_system = true;   // false: ca_file alone is trusted
  tls::ProtocolSettings tls{tls::MinProtocol::Tls1_2, tls::kClientTls12Ciphers,
                            tls::kTls13Suites};  // tls_min_protocol, tls12_ciphers, tls13_suites
  // What TlsContext::create_client() takes: the fields above together.
  tls::ClientTlsSettings client_tls() const;
  bool pause = false;   // accept and queue, but deliver nothing (maintenance)
  std::uint32_t attempt_history = 20;  // attempts kept per recipient (oldest dropped)
};

struct PolicyRule {
  std::uint32_t line = 0;  // where the rule starts in the file, for "rule=N(...)" and errors
  std::optional<std::string> sender;            // exact, "@domain" or glob
  std::optional<std::string> header;            // header name ...
  std::optional<std::string> match;             // ... and an RE2 pattern over its value
  std::vector<std::string> classification;      // levels, as written
  std::vector<std::string> recipient_domain;
  model::Policy action = model::Policy::BES;
  std::optional<model::TlsLevel> tls;
  std::string reason;  // for REJECT
};

struct PolicyConfig {
  model::Policy default_action = model::Policy::BES;   // key "default"
  std::vector<std::string> discovery{"srv", "mx51966", "name"};
  model::TlsLevel sos_tls = model::TlsLevel::Encrypt;
  std::vector<std::string> subject_markers;
  model::Policy unknown_marking = model::Policy::SOS;
  bool tls_required_no_honor = true;   // key "tls_required_no": "honor" | "ignore"
  // key "uncovered_levels": "warn" | "error" - what --check and reload do about a level
  // above the baseline that no rule covers while the default is BES.
  bool uncovered_levels_error = false;
  std::vector<PolicyRule> rules;       // [[policy.rule]]
};

struct Route {
  std::uint32_t line = 0;
  std::string domain;
  std::string host;        // as written: "[10.0.0.5]:25", "mail.example:2525"
  std::optional<model::TlsLevel> tls;
  // The agency's own network (docs/dsn.md): reports on SOS and REQUIRETLS mail, which
  // carry the headers only, may go over it without TLS; nothing else is relaxed.
  bool trusted = false;
};

// One named operator of the admin API ([admin] tokens_file, relay/config/admin_tokens.hpp):
// the SHA-256 of the bearer token, never the token itself.
struct OperatorToken {
  std::string name;                       // [A-Za-z0-9._-]{1,64}, as logged and audited
  std::array<unsigned char, 32> digest{};  // SHA-256 of the token's text
};

struct AdminConfig {
  Endpoint listen{"127.0.0.1", 8025};
  std::string token_file = "etc/admin.token";  // its token is the operator "admin"
  std::string tokens_file;                     // "": no named operators
  std::vector<OperatorToken> operators;        // read from tokens_file at load
};

// [audit]: the audit trail (relay/audit, docs/audit.md) - one durable record per event
// that matters, hash-chained, with keyed checkpoints; kept after the message is gone.
struct AuditConfig {
  bool enabled = true;
  // HMAC key of the checkpoints; created when missing. Beside the config file by default:
  // a directory that exists wherever the relay is started from.
  std::string key_file = "audit.key";
  Duration retention = std::chrono::hours(24 * 400);
  Duration checkpoint_interval = std::chrono::minutes(5);  // and one on shutdown
  std::string stream_file;                  // "": no copy; else JSON lines appended for a SIEM
};

// [dsn]: delivery status notifications (relay/dsn, docs/dsn.md).
enum class DsnRet { Hdrs, Full };
struct DsnConfig {
  Duration delay_warning = std::chrono::hours(4);  // 0: no delay DSNs at all
  std::uint64_t return_size_limit = 100ull << 10;  // "100KiB": larger FULL returns send headers
  DsnRet sos_ret = DsnRet::Hdrs;  // RET for SOS failures when the sender gave none
  std::string postmaster;         // where bounces of <> mail go; empty: log and drop
};

// [mta_sts]: MTA-STS (RFC 8461, DESIGN §10) - the policy fetch, its cache and refresh.
struct MtaStsConfig {
  bool enabled = true;  // false: no domain has a policy (nothing looked up or fetched)
  Duration fetch_timeout = std::chrono::seconds(10);  // the whole HTTPS fetch, connect to body
  std::uint64_t max_policy_size = 64ull << 10;        // "64KiB", the most RFC 8461 §3.3 allows
  Duration refresh_interval = std::chrono::hours(1);  // background re-check of cached policies
};

// [tlsrpt]: TLS reporting (RFC 8460, DESIGN §10, docs/tlsrpt.md) - durable counts of
// sessions per policy domain and UTC day, and the daily report to each domain's rua.
// load_config() fills the defaults that depend on other keys: organization (the
// hostname) and contact (from), so that readers never repeat that rule.
struct TlsRptConfig {
  bool enabled = false;       // true: count sessions durably and send daily reports
  std::string from;           // report From: and envelope sender; required when enabled
  std::string organization;   // "organization-name"; default: hostname
  std::string contact;        // "contact-info"; default: from
  std::uint32_t report_hour = 1;  // 0..23 UTC: after it the previous day's reports go out
  std::vector<std::string> exclude;  // policy domains never counted nor reported on
                                     // (lower case A-labels, no final dot)
  std::uint32_t retention_days = 14;  // days of counts kept, today included
  Duration https_timeout = std::chrono::seconds(30);  // one POST, connect to response
  std::uint32_t https_retries = 3;    // tries per https rua
  // Exact, case-insensitive; a final dot is ignored.
  bool excluded(std::string_view domain) const;
};

struct LogConfig {
  std::string level = "info";
  std::string file;  // empty: stderr
  // "secmx": SecMX's own lines; "postfix": syslog-shaped lines Postfix's tools read
  // (relay/common/log.hpp). Takes effect at the next start.
  std::string format = "secmx";
};

struct Config {
  std::string source_file;
  std::string hostname;  // default: gethostname()
  std::string user;   // started as root: run as this account; empty: do not change
  std::string group;  // with user: this group instead of the user's primary group
  SmtpConfig smtp;
  QueueConfig queue;
  DnsConfig dns;
  DeliveryConfig delivery;
  PolicyConfig policy;
  std::vector<Route> routes;  // [[route]]
  AdminConfig admin;
  LogConfig log;
  DsnConfig dsn;
  MtaStsConfig mta_sts;
  TlsRptConfig tlsrpt;
  AuditConfig audit;
  // Valid but doubtful settings (e.g. dnssec with a resolver off this host): printed on
  // stderr by `--check` and at start-up, "file:line: warning: ..."; never fatal.
  std::vector<Issue> warnings;
};

// Parse and validate; on failure every issue found (not just the first), in file order.
Result<Config, std::vector<Issue>> load_config(const std::string& path);

// SIGHUP reload: settings that only a restart can change - listeners, the queue, thread
// and connection counts, resolvers, the account, the log file. For each one `next`
// changes, its name (e.g. "smtp.listen") is returned and `next` gets the running value
// back, so that the config in force is exactly what runs.
std::vector<std::string> keep_restart_only(const Config& running, Config& next);

// "50MiB", "512KB", "1000" -> bytes; "90s", "5m", "1h", "5d", "250ms" -> duration.
std::optional<std::uint64_t> parse_size(std::string_view text);
std::optional<Duration> parse_duration(std::string_view text);

}  // namespace secmx::config
