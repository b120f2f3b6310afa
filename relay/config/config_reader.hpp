// config_reader.hpp - internal to relay/config: typed, issue-collecting access to TOML.
//
// A Reader owns the list of issues for one file; a Section is a view of one TOML table
// under a dotted path ("smtp", "policy.rule"). Every getter leaves its output untouched
// (so the default in config.hpp stands) when the key is absent or wrong, and records an
// Issue at the offending line instead of stopping: load_config() reports everything.
// Sections borrow the toml::table they view; they live only during load_config().
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/common/ascii.hpp"
#include "relay/common/hostname.hpp"
#include "relay/config/config.hpp"

namespace secmx::config::detail {

class Reader {
 public:
  explicit Reader(std::string file);
  void add(std::uint32_t line, std::string message);
  // An issue in a file the config names (the users file): reported after this file's.
  void add_elsewhere(Issue issue);
  bool has_issues() const { return !issues_.empty(); }
  std::vector<Issue> take();  // sorted by line; stable, so same-line issues keep order
  // A warning is not an issue: the file still loads (Config::warnings).
  void warn(std::uint32_t line, std::string message);
  std::vector<Issue> take_warnings();  // sorted like take()
  const std::string& file() const { return file_; }
  // The directory relative paths in the file are taken against (config_paths.hpp).
  const std::string& dir() const { return dir_; }

 private:
  std::string file_;
  std::string dir_;
  std::vector<Issue> issues_;
  std::vector<Issue> warnings_;
};

std::uint32_t line_of(const toml::node& n);

class Section {
 public:
  // `t` may be null: the table is absent and every getter sees no keys.
  Section(Reader& r, const toml::table* t, std::string path);

  const toml::table* table() const { return t_; }
  const std::string& path() const { return path_; }
  std::string name(std::string_view key) const;  // "smtp" + "listen" -> "smtp.listen"
  const toml::node* node(std::string_view key) const;
  std::uint32_t line(std::string_view key) const;  // 0 when absent
  // Records "<path>.<key>: <message>" at the key's line.
  void fail(std::string_view key, std::string_view message) const;
  void fail_at(const toml::node& at, std::string_view key, std::string_view message) const;
  Reader& reader() const { return r_; }

  // "unknown key 'smtp.lisen'" for every key not listed.
  void check_keys(std::initializer_list<std::string_view> known) const;
  // A sub-table; absent -> Section over nothing; not a table -> issue, and nothing.
  Section sub(std::string_view key) const;

  // Getters: true when the key was present and valid (out assigned).
  bool string(std::string_view key, std::string& out) const;
  // A file or directory: string(), then a relative value is resolved against the config
  // file's directory (an empty one stays empty).
  bool path(std::string_view key, std::string& out) const;
  bool boolean(std::string_view key, bool& out) const;
  bool integer(std::string_view key, std::int64_t& out, std::int64_t lo, std::int64_t hi) const;
  bool u32(std::string_view key, std::uint32_t& out, std::uint32_t lo, std::uint32_t hi) const;
  bool u16(std::string_view key, std::uint16_t& out, std::uint16_t lo, std::uint16_t hi) const;
  bool size(std::string_view key, std::uint64_t& out, std::uint64_t lo) const;
  bool duration(std::string_view key, Duration& out, Duration lo) const;
  // Array of strings; with `allow_single`, a lone string counts as a one-element array.
  // Each element comes with its own line so callers can point at the bad one.
  struct Item {
    std::string value;
    std::uint32_t line;
  };
  bool strings(std::string_view key, std::vector<Item>& out, bool allow_single = false) const;

 private:
  Reader& r_;
  const toml::table* t_;
  std::string path_;
};

// Value grammars shared by the section readers (config_values.cpp).
// "ip:port" / "[v6]:port"; when default_port is set the port may be left out and a bare
// IPv6 address is accepted too.
std::optional<Endpoint> parse_endpoint(std::string_view text,
                                       std::optional<std::uint16_t> default_port);
bool known_classification(std::string_view level);
// Text sent in an SMTP reply (the banner, a REJECT reason): one line of printable ASCII of
// at most kMaxReplyText bytes, so that "220 <hostname> <text>" stays within RFC 5321's
// 512-octet reply line. Returns what is wrong with it, or "" when it is fine.
inline constexpr std::size_t kMaxReplyText = 200;
std::string reply_text_problem(std::string_view text);

// A plain "local@domain" (no <>, no display name, ASCII): an address the relay itself
// puts in an envelope ([dsn] postmaster, [tlsrpt] from), so anything else would only fail
// when the first message is sent.
bool valid_address(std::string_view address);

// The whole file into `out`; on failure strerror's text (a directory is refused).
std::optional<std::string> read_text_file(const std::string& path, std::string& out);

// Listeners and sender authorization (config_smtp_listen.cpp): [smtp] listen and
// [[smtp.listener]]; [smtp.auth] senders_file and sender_login with the senders file;
// then what the listeners need of the rest ([smtp] tls_cert, [smtp.auth] users_file).
void read_listeners(const Section& smtp, SmtpConfig& out);
void read_sender_login(const Section& smtp, SmtpConfig& out);
void check_listeners(const Section& smtp, const SmtpConfig& out);

// Section readers for the policy and routing part of the tree (config_policy.cpp).
void read_policy(const Section& root, PolicyConfig& out);
void read_routes(const Section& root, std::vector<Route>& out);
// --check: a route that can carry reports on SOS mail neither over TLS nor as trusted.
void warn_sos_routes(Reader& rd, const PolicyConfig& policy, const std::vector<Route>& routes);

// TLS keys of [smtp] and [delivery] (config_tls.cpp): tls_min_protocol, tls12_ciphers,
// tls13_suites (each cipher string checked by OpenSSL), and [delivery] ca_system.
void read_tls_protocol(const Section& s, tls::ProtocolSettings& out);
void read_ca_system(const Section& s, DeliveryConfig& out);

// [smtp.auth] (config_auth.cpp): its keys and the users file it names, parsed here.
void read_smtp_auth(const Section& smtp, SmtpAuthConfig& out);

// [tlsrpt] (config_tlsrpt.cpp); `hostname` is the default organization.
void read_tlsrpt(const Section& root, const std::string& hostname, TlsRptConfig& out);

// [audit] (config_audit.cpp).
void read_audit(const Section& root, AuditConfig& out);

}  // namespace secmx::config::detail
