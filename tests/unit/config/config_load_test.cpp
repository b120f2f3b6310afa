// config_load_test.cpp - load_config(): each kind of error at its exact "file:line",
// several errors together, the DESIGN §8 example, defaults, and every file under etc/.
#include <gtest/gtest.h>
#include <re2/re2.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "relay/config/config.hpp"
#include "tests/unit/temp_dir.hpp"
#include "tests/unit/tls/test_pki.hpp"

namespace secmx::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using secmx::test::TempDir;

// Replaces every "{D}" in s with the temp dir.
std::string subst(std::string s, const std::string& dir) {
  for (auto pos = s.find("{D}"); pos != std::string::npos; pos = s.find("{D}", pos)) {
    s.replace(pos, 3, dir);
  }
  return s;
}

std::vector<std::string> issues_of(const std::string& file) {
  auto r = load_config(file);
  if (r.ok()) return {};
  std::vector<std::string> out;
  for (const auto& i : r.error()) out.push_back(i.to_string());
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

struct ErrorCase {
  const char* name;
  std::string toml;
  std::vector<std::string> want;  // "line: message"; the file name is prefixed by the test
};

std::string bad_regex_error() {
  RE2 re("(abc", RE2::Quiet);
  return re.error();
}

const std::vector<ErrorCase>& error_cases() {
  static const std::vector<ErrorCase> cases = {
      {"unknown top-level key",
       "hostname = \"a.example\"\nhostnme = \"x\"\n",
       {"2: unknown key 'hostnme'"}},
      {"unknown key in a table",
       "[smtp]\n\nlisen = [\"127.0.0.1:25\"]\n",
       {"3: unknown key 'smtp.lisen'"}},
      {"unknown table", "[smtpd]\nlisten = []\n", {"1: unknown key 'smtpd'"}},
      {"unknown key in a rule",
       "[[policy.rule]]\nsender = \"a@b.example\"\npolicy = \"SOS\"\n\n[[policy.rule]]\n"
       "sender = \"c@d.example\"\nsendr = \"x\"\npolicy = \"BES\"\n",
       {"7: unknown key 'policy.rule.sendr'"}},
      {"unknown key in a route",
       "[[route]]\ndomain = \"a.example\"\nhost = \"[10.0.0.5]:25\"\nport = 25\n",
       {"4: unknown key 'route.port'"}},
      {"wrong type integer",
       "[smtp]\nmax_recipients = \"many\"\n",
       {"2: smtp.max_recipients: expected an integer"}},
      {"wrong type boolean",
       "[smtp]\nrequire_tls = \"yes\"\n",
       {"2: smtp.require_tls: expected a boolean (true or false)"}},
      {"wrong type string", "hostname = 5\n", {"1: hostname: expected a string"}},
      {"wrong type array",
       "[smtp]\nlisten = \"127.0.0.1:25\"\n",
       {"2: smtp.listen: expected an array of strings"}},
      {"wrong type array element",
       "[policy]\ndiscovery = [\n  \"srv\",\n  5,\n]\n",
       {"4: policy.discovery: expected an array of strings"}},
      {"table expected", "smtp = 5\n", {"1: smtp: expected a table"}},
      {"rules not tables",
       "[policy]\nrule = [\"x\"]\n",
       {"2: policy.rule: expected an array of tables ([[policy.rule]])"}},
      {"out of range",
       "[smtp]\nmax_line_length = 100\n",
       {"2: smtp.max_line_length: must be between 512 and 65536"}},
      {"workers range",
       "[delivery]\nworkers = 65\n",
       {"2: delivery.workers: must be between 1 and 64"}},
      {"bad CIDR",
       "[smtp]\nrelay_networks = [\n  \"127.0.0.0/8\",\n  \"10.0.0.0/33\",\n]\n",
       {"4: smtp.relay_networks: invalid CIDR '10.0.0.0/33'"}},
      {"bad listen",
       "[smtp]\nlisten = [\"localhost:25\", \"127.0.0.1:0\", \"[::1]\"]\n",
       {"2: smtp.listen: invalid address 'localhost:25' (expected \"ip:port\" or \"[ipv6]:port\")",
        "2: smtp.listen: invalid address '127.0.0.1:0' (expected \"ip:port\" or \"[ipv6]:port\")",
        "2: smtp.listen: invalid address '[::1]' (expected \"ip:port\" or \"[ipv6]:port\")"}},
      {"bad dns server",
       "[dns]\nservers = [\"8.8.8.8\", \"[::1]:53\", \"dns.example\"]\n",
       {"2: dns.servers: invalid address 'dns.example' (expected \"ip\", \"ip:port\", "
        "\"[ipv6]\" or \"[ipv6]:port\")"}},
      {"bad admin listen",
       "[admin]\nlisten = \"127.0.0.1\"\n",
       {"2: admin.listen: invalid address '127.0.0.1' (expected \"ip:port\" or \"[ipv6]:port\")"}},
      {"unreadable cert",
       "[smtp]\ntls_cert = \"{D}/missing-cert.pem\"\ntls_key = \"{D}/missing-key.pem\"\n",
       {"2: cannot read tls_cert '{D}/missing-cert.pem': No such file or directory",
        "3: cannot read tls_key '{D}/missing-key.pem': No such file or directory"}},
      {"cert is a directory",
       "[smtp]\ntls_cert = \"{D}\"\ntls_key = \"{D}/key.pem\"\n",
       {"2: cannot read tls_cert '{D}': Is a directory"}},
      {"cert without key",
       "[smtp]\ntls_cert = \"{D}/cert.pem\"\n",
       {"2: smtp.tls_cert: tls_key must be set too (both or neither)"}},
      {"require_tls without cert",
       "[smtp]\nrequire_tls = true\n",
       {"2: smtp.require_tls: needs tls_cert and tls_key (STARTTLS must be offered)"}},
      {"bad size",
       "[smtp]\nmax_message_size = \"50XB\"\n",
       {"2: smtp.max_message_size: invalid size '50XB' (expected bytes or a unit: \"50MiB\", "
        "\"10MB\")"}},
      {"negative size",
       "[smtp]\nmax_message_size = -1\n",
       {"2: smtp.max_message_size: invalid size -1"}},
      {"size of wrong type",
       "[queue]\nmap_size = 1.5\n",
       {"2: queue.map_size: expected a size (an integer or a string like \"50MiB\")"}},
      {"size too small",
       "[queue]\nmap_size = \"4KiB\"\n",
       {"2: queue.map_size: must be at least 1048576 bytes"}},
      {"bad duration",
       "[delivery]\nmax_lifetime = \"5x\"\n",
       {"2: delivery.max_lifetime: invalid duration '5x' (expected e.g. \"250ms\", \"90s\", "
        "\"5m\", \"1h\", \"5d\")"}},
      {"duration of wrong type",
       "[smtp]\ncommand_timeout = 300\n",
       {"2: smtp.command_timeout: expected a duration (a string like \"90s\" or \"5m\")"}},
      {"zero timeout",
       "[smtp]\ndata_timeout = \"0s\"\n",
       {"2: smtp.data_timeout: must be greater than zero"}},
      {"bad retry element",
       "[delivery]\nretry = [\n  \"1m\",\n  \"soon\",\n  \"0s\",\n]\n",
       {"4: delivery.retry: invalid duration 'soon'",
        "5: delivery.retry: each interval must be greater than zero"}},
      {"empty retry",
       "[delivery]\nretry = []\n",
       {"2: delivery.retry: must list at least one interval"}},
      {"sos lifetime beyond max",
       "[delivery]\nmax_lifetime = \"1h\"\nsos_lifetime = \"2h\"\n",
       {"3: delivery.sos_lifetime: sos_lifetime must not exceed max_lifetime"}},
      {"attempt history of zero",
       "[delivery]\nattempt_history = 0\n",
       {"2: delivery.attempt_history: must be between 1 and 1000"}},
      {"attempt history too long",
       "[delivery]\n\nattempt_history = 1001\n",
       {"3: delivery.attempt_history: must be between 1 and 1000"}},
      {"bad regex",
       "[[policy.rule]]\nheader = \"X-Spam-Flag\"\nmatch = \"(abc\"\npolicy = \"REJECT\"\n",
       {"3: policy.rule.match: invalid regular expression: " + bad_regex_error()}},
      {"unknown classification level",
       "[[policy.rule]]\nclassification = [\n  \"SECRET\",\n  \"TOPSECRET\",\n]\npolicy = "
       "\"HOLD\"\n",
       {"4: unknown classification level 'TOPSECRET'"}},
      {"unknown action",
       "[[policy.rule]]\nsender = \"@a.example\"\npolicy = \"BOUNCE\"\n",
       {"3: policy.rule.policy: unknown action 'BOUNCE' (expected BES, SOS, HOLD or REJECT)"}},
      {"default not BES or SOS",
       "[policy]\ndefault = \"HOLD\"\n",
       {"2: policy.default: must be \"BES\" or \"SOS\", not 'HOLD'"}},
      {"unknown_marking BES",
       "[policy]\nunknown_marking = \"bes\"\n",
       {"2: policy.unknown_marking: must be \"SOS\", \"HOLD\" or \"REJECT\", not 'bes' (an "
        "unreadable marking may never go BES)"}},
      {"unknown_marking BES in any case",
       "[policy]\n\nunknown_marking = \"bEs\"\n",
       {"3: policy.unknown_marking: must be \"SOS\", \"HOLD\" or \"REJECT\", not 'bEs' (an "
        "unreadable marking may never go BES)"}},
      {"unknown_marking unknown word",
       "[policy]\nunknown_marking = \"bounce\"\n",
       {"2: policy.unknown_marking: must be \"SOS\", \"HOLD\" or \"REJECT\", not 'bounce' (an "
        "unreadable marking may never go BES)"}},
      {"bad tls level",
       "[policy]\nsos_tls = \"dane\"\n",
       {"2: policy.sos_tls: unknown TLS level 'dane' (expected \"encrypt\" or \"verify\")"}},
      {"bad tls_required_no",
       "[policy]\ntls_required_no = \"yes\"\n",
       {"2: policy.tls_required_no: must be \"honor\" or \"ignore\", not 'yes'"}},
      {"bad discovery",
       "[policy]\ndiscovery = [\"srv\", \"mx\", \"srv\"]\n",
       {"2: policy.discovery: unknown method 'mx' (expected \"srv\", \"mx51966\" or \"name\")",
        "2: policy.discovery: 'srv' listed twice"}},
      {"rule without action",
       "[policy]\ndefault = \"BES\"\n\n[[policy.rule]]\nsender = \"@a.example\"\n",
       {"4: policy.rule: a rule needs 'policy' (BES, SOS, HOLD or REJECT)"}},
      {"rule without condition",
       "[[policy.rule]]\npolicy = \"SOS\"\ntls = \"verify\"\n",
       {"1: policy.rule: a rule needs a condition (sender, header and match, classification "
        "or recipient_domain)"}},
      {"header without match",
       "[[policy.rule]]\nheader = \"X-A\"\npolicy = \"SOS\"\n",
       {"2: policy.rule.header: needs 'match' (an RE2 pattern over the header's value)"}},
      {"match without header",
       "[[policy.rule]]\nmatch = \"x\"\npolicy = \"SOS\"\n",
       {"2: policy.rule.match: needs 'header' (the header the pattern applies to)"}},
      {"tls on a BES rule",
       "[[policy.rule]]\nsender = \"@a.example\"\npolicy = \"BES\"\ntls = \"verify\"\n",
       {"4: policy.rule.tls: applies only to policy SOS"}},
      {"reason with a line break",
       "[[policy.rule]]\nsender = \"@a.example\"\npolicy = \"REJECT\"\nreason = \"no\\r\\n250 "
       "ok\"\n",
       {"4: policy.rule.reason: must be one line of printable ASCII (it is sent in the SMTP "
        "reply)"}},
      {"reason too long for a reply line",
       "[[policy.rule]]\nsender = \"@a.example\"\npolicy = \"REJECT\"\nreason = \"" +
           std::string(201, 'x') + "\"\n",
       {"4: policy.rule.reason: is 201 bytes; at most 200 fit in an SMTP reply line"}},
      {"banner too long for a reply line",
       "[smtp]\nbanner = \"" + std::string(100'000, 'b') + "\"\n",
       {"2: smtp.banner: is 100000 bytes; at most 200 fit in an SMTP reply line"}},
      {"banner with a line break",
       "[smtp]\nbanner = \"ok\\r\\n250 forged\"\n",
       {"2: smtp.banner: must be one line of printable ASCII (it is sent in the SMTP reply)"}},
      {"bad recipient domain",
       "[[policy.rule]]\nrecipient_domain = \"*.example\"\npolicy = \"SOS\"\n",
       {"2: policy.rule.recipient_domain: invalid domain '*.example'"}},
      {"bad route host",
       "[[route]]\ndomain = \"a.example\"\nhost = \"[10.0.0.5:25\"\n",
       {"3: route.host: invalid next hop '[10.0.0.5:25' (expected \"name\", \"name:port\", "
        "\"[ip]\", \"[ip]:port\" or \"[IPv6:ip]:port\")"}},
      {"route host: a name in brackets",
       "[[route]]\ndomain = \"a.example\"\nhost = \"[mx.a.example]:25\"\n",
       {"3: route.host: invalid next hop '[mx.a.example]:25' (expected \"name\", \"name:port\", "
        "\"[ip]\", \"[ip]:port\" or \"[IPv6:ip]:port\")"}},
      {"duplicate route",
       "[[route]]\ndomain = \"a.example\"\nhost = \"mx.a.example\"\n\n"
       "[[route]]\ndomain = \"A.example\"\nhost = \"[10.0.0.5]\"\n",
       {"6: route.domain: 'A.example' is already routed at line 2"}},
      {"route domain IDNA refuses",
       "[[route]]\ndomain = \"\xe2\x98\x95.example\"\nhost = \"[10.0.0.5]\"\n",
       {"2: route.domain: invalid domain '\xe2\x98\x95.example'"}},
      {"one internationalized domain routed twice, in both forms",
       "[[route]]\ndomain = \"b\xc3\xbc" "cher.example\"\nhost = \"[10.0.0.5]\"\n\n"
       "[[route]]\ndomain = \"xn--bcher-kva.example\"\nhost = \"[10.0.0.6]\"\n",
       {"6: route.domain: 'xn--bcher-kva.example' is already routed at line 2"}},
      {"rule recipient_domain IDNA refuses",
       "[[policy.rule]]\nrecipient_domain = \"\xe2\x98\x95.example\"\npolicy = \"SOS\"\n",
       {"2: policy.rule.recipient_domain: invalid domain '\xe2\x98\x95.example'"}},
      {"route without host",
       "[[route]]\ndomain = \"a.example\"\n",
       {"1: route: a route needs 'host'"}},
      {"bad log level",
       "[log]\nlevel = \"verbose\"\n",
       {"2: log.level: unknown level 'verbose' (expected trace, debug, info, warn, error or "
        "critical)"}},
      {"bad log format",
       "[log]\nformat = \"syslog\"\n",
       {"2: log.format: unknown format 'syslog' (expected \"secmx\" or \"postfix\")"}},
      {"bad hostname",
       "hostname = \"relay_1.example\"\n",
       {"1: hostname: invalid host name 'relay_1.example'"}},
      {"per-client above total",
       "[smtp]\nmax_connections = 10\nmax_connections_per_client = 20\n",
       {"3: smtp.max_connections_per_client: max_connections_per_client (20) exceeds "
        "max_connections (10)"}},
      {"empty listen", "[smtp]\nlisten = []\n", {"2: smtp.listen: must not be empty"}},
  };
  return cases;
}

TEST(LoadConfig, EachErrorAtItsLine) {
  TempDir dir;
  const std::string d = dir.path();
  dir.write("key.pem", "key");
  dir.write("cert.pem", "cert");
  for (const auto& c : error_cases()) {
    std::string file = dir.write("t.toml", subst(c.toml, d));
    std::vector<std::string> want;
    for (const auto& w : c.want) want.push_back(file + ":" + subst(w, d));
    EXPECT_EQ(join(issues_of(file)), join(want)) << c.name;
  }
}

TEST(LoadConfig, SyntaxErrorIsOneIssueAtItsLine) {
  TempDir dir;
  std::string file = dir.write("t.toml", "[smtp]\nlisten = [\"127.0.0.1:2525\"\nmax_errors = 3\n");
  auto r = load_config(file);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].file, file);
  EXPECT_EQ(r.error()[0].line, 3u);
  EXPECT_FALSE(r.error()[0].message.empty());

  file = dir.write("dup.toml", "[smtp]\nmax_errors = 3\nmax_errors = 4\n");
  r = load_config(file);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].line, 3u);
}

TEST(LoadConfig, MissingFileIsAFileLevelIssue) {
  TempDir dir;
  std::string file = dir.sub("nope.toml");
  EXPECT_EQ(join(issues_of(file)), file + ": cannot read: No such file or directory\n");
  const std::string d = dir.path();
  EXPECT_EQ(join(issues_of(d)), d + ": cannot read: Is a directory\n");
}

TEST(LoadConfig, ReportsEveryIssueInLineOrder) {
  TempDir dir;
  // Keys out of alphabetical order, errors spread over several tables: the issues must come
  // back all together and in file order, not in the order of toml++'s sorted tables.
  std::string file = dir.write("t.toml",
                               "zeta = 1\n"                           // 1
                               "alpha = 2\n"                          // 2
                               "[smtp]\n"                             // 3
                               "max_recipients = \"x\"\n"             // 4
                               "bogus = true\n"                       // 5
                               "relay_networks = [\"1.2.3.4/40\"]\n"  // 6
                               "[delivery]\n"                         // 7
                               "workers = 0\n"                        // 8
                               "[[policy.rule]]\n"                    // 9
                               "header = \"X-A\"\n"                   // 10
                               "match = \"[\"\n"                      // 11
                               "policy = \"NOPE\"\n");                // 12
  auto got = issues_of(file);
  std::vector<std::uint32_t> lines;
  auto r = load_config(file);
  ASSERT_FALSE(r.ok());
  for (const auto& i : r.error()) lines.push_back(i.line);
  EXPECT_EQ(lines, (std::vector<std::uint32_t>{1, 2, 4, 5, 6, 8, 11, 12})) << join(got);
  EXPECT_EQ(got.front(), file + ":1: unknown key 'zeta'");
  EXPECT_EQ(
      got.back(),
      file + ":12: policy.rule.policy: unknown action 'NOPE' (expected BES, SOS, HOLD or REJECT)");
}

// The example from DESIGN §8, with the certificate paths pointed at real files.
const char* kDesignExample = R"(hostname = "relay.agency.example"

[smtp]
listen = ["127.0.0.1:2525"]
relay_networks = ["127.0.0.0/8"]
tls_cert = "{D}/etc/tls/cert.pem"
tls_key  = "{D}/etc/tls/key.pem"
max_message_size = "50MiB"

[queue]
path = "var/queue"

[dns]
servers = []            # "ip" or "ip:port"; empty: the system resolver configuration

[delivery]
workers = 2
port = 25               # destination port when MX/implicit (SRV carries its own)
retry = ["1m", "5m", "15m", "1h", "4h"]
max_lifetime = "5d"
sos_lifetime = "1h"

[policy]
default = "BES"
discovery = ["srv", "mx51966", "name"]
sos_tls = "encrypt"
subject_markers = ["[IN-CONFIDENCE]", "[SENSITIVE]", "[RESTRICTED]"]
unknown_marking = "SOS"  # unparseable marking or unknown level
tls_required_no = "honor"

[[policy.rule]]
sender = "*@secure.agency.example"
policy = "SOS"

[[policy.rule]]
classification = ["IN-CONFIDENCE", "SENSITIVE", "RESTRICTED"]
policy = "SOS"

[[policy.rule]]
classification = ["CONFIDENTIAL", "SECRET", "TOP SECRET"]
policy = "HOLD"

[[policy.rule]]
header = "X-Secmx-Policy"
match  = "(?i)^sos$"
policy = "SOS"

[[policy.rule]]
header = "X-Spam-Flag"
match  = "(?i)^yes$"
policy = "REJECT"
reason = "spam is not relayed"

[[route]]
domain = "agency.example"
host   = "[10.0.0.5]:25"

[admin]
listen = "127.0.0.1:8025"
token_file = "etc/admin.token"
)";

TEST(LoadConfig, DesignExampleLoadsWithEveryField) {
  TempDir dir;
  const std::string d = dir.path();
  dir.write("etc/tls/cert.pem", "cert");
  dir.write("etc/tls/key.pem", "key");
  std::string file = dir.write("secmx-relay.toml", subst(kDesignExample, d));
  auto r = load_config(file);
  ASSERT_TRUE(r.ok()) << join(issues_of(file));
  const Config& c = r.value();

  EXPECT_EQ(c.source_file, file);
  EXPECT_EQ(c.hostname, "relay.agency.example");

  ASSERT_EQ(c.smtp.listeners.size(), 1u);
  EXPECT_EQ(c.smtp.listeners[0].address.host, "127.0.0.1");
  EXPECT_EQ(c.smtp.listeners[0].address.port, 2525);
  ASSERT_EQ(c.smtp.relay_networks.size(), 1u);
  EXPECT_EQ(c.smtp.relay_networks[0].to_string(), "127.0.0.0/8");
  EXPECT_EQ(c.smtp.tls_cert, d + "/etc/tls/cert.pem");
  EXPECT_EQ(c.smtp.tls_key, d + "/etc/tls/key.pem");
  EXPECT_EQ(c.smtp.max_message_size, 50ull << 20);
  EXPECT_EQ(c.smtp.max_recipients, 1000u);  // not in the example: defaults
  EXPECT_EQ(c.smtp.command_timeout, 5min);

  EXPECT_EQ(c.queue.path, d + "/var/queue");  // relative: beside the config file
  EXPECT_TRUE(c.dns.servers.empty());

  EXPECT_EQ(c.delivery.workers, 2u);
  EXPECT_EQ(c.delivery.port, 25);
  EXPECT_EQ(c.delivery.retry, (std::vector<Duration>{1min, 5min, 15min, 1h, 4h}));
  EXPECT_EQ(c.delivery.max_lifetime, 24h * 5);
  EXPECT_EQ(c.delivery.sos_lifetime, 1h);
  EXPECT_EQ(c.delivery.attempt_history, 20u);  // not in the example: the default

  const PolicyConfig& p = c.policy;
  EXPECT_EQ(p.default_action, model::Policy::BES);
  EXPECT_EQ(p.discovery, (std::vector<std::string>{"srv", "mx51966", "name"}));
  EXPECT_EQ(p.sos_tls, model::TlsLevel::Encrypt);
  EXPECT_EQ(p.subject_markers,
            (std::vector<std::string>{"[IN-CONFIDENCE]", "[SENSITIVE]", "[RESTRICTED]"}));
  EXPECT_EQ(p.unknown_marking, model::Policy::SOS);
  EXPECT_TRUE(p.tls_required_no_honor);

  ASSERT_EQ(p.rules.size(), 5u);
  EXPECT_EQ(p.rules[0].line, 31u);
  EXPECT_EQ(p.rules[0].sender, "*@secure.agency.example");
  EXPECT_EQ(p.rules[0].action, model::Policy::SOS);
  EXPECT_FALSE(p.rules[0].header.has_value());
  EXPECT_FALSE(p.rules[0].tls.has_value());

  EXPECT_EQ(p.rules[1].line, 35u);
  EXPECT_EQ(p.rules[1].classification,
            (std::vector<std::string>{"IN-CONFIDENCE", "SENSITIVE", "RESTRICTED"}));
  EXPECT_EQ(p.rules[1].action, model::Policy::SOS);

  EXPECT_EQ(p.rules[2].line, 39u);
  EXPECT_EQ(p.rules[2].classification,
            (std::vector<std::string>{"CONFIDENTIAL", "SECRET", "TOP SECRET"}));
  EXPECT_EQ(p.rules[2].action, model::Policy::HOLD);

  EXPECT_EQ(p.rules[3].line, 43u);
  EXPECT_EQ(p.rules[3].header, "X-Secmx-Policy");
  EXPECT_EQ(p.rules[3].match, "(?i)^sos$");
  EXPECT_EQ(p.rules[3].action, model::Policy::SOS);

  EXPECT_EQ(p.rules[4].line, 48u);
  EXPECT_EQ(p.rules[4].header, "X-Spam-Flag");
  EXPECT_EQ(p.rules[4].match, "(?i)^yes$");
  EXPECT_EQ(p.rules[4].action, model::Policy::REJECT);
  EXPECT_EQ(p.rules[4].reason, "spam is not relayed");
  EXPECT_FALSE(p.rules[4].sender.has_value());

  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].line, 54u);
  EXPECT_EQ(c.routes[0].domain, "agency.example");
  EXPECT_EQ(c.routes[0].host, "[10.0.0.5]:25");
  EXPECT_FALSE(c.routes[0].tls.has_value());

  EXPECT_EQ(c.admin.listen.to_string(), "127.0.0.1:8025");
  EXPECT_EQ(c.admin.token_file, d + "/etc/admin.token");
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.format, "secmx");
}

TEST(LoadConfig, EveryOtherKeyAndSpelling) {
  TempDir dir;
  std::string file = dir.write("t.toml", R"(
[smtp]
listen = ["0.0.0.0:25", "[::1]:2525", "[::]:587"]
relay_networks = []
max_message_size = 1000000
max_recipients = 50
max_line_length = 2048
max_connections = 200
max_connections_per_client = 20
max_errors = 3
command_timeout = "90s"
data_timeout = "10m"
require_tls = false
banner = "ESMTP ready"

[queue]
path = "/srv/q"
map_size = "1GiB"
commit_interval = "250ms"
max_batch = 64

[dns]
servers = ["192.0.2.53", "192.0.2.54:5353", "[2001:db8::53]:53", "2001:db8::54"]

[delivery]
workers = 64
port = 2525
retry = ["30s"]
max_lifetime = "1h30m"
sos_lifetime = "30m"
attempt_history = 1000

[policy]
default = "sos"
discovery = []
sos_tls = "VERIFY"
unknown_marking = "hold"
tls_required_no = "ignore"

[[policy.rule]]
recipient_domain = "partner.example"
policy = "sos"
tls = "verify"

[[policy.rule]]
recipient_domain = ["a.example", "b.example."]
classification = ["official:sensitive", "OFFICIAL: Sensitive", "top-secret", "in confidence"]
sender = "@agency.example"
policy = "Hold"

[[route]]
domain = "internal.example"
host = "mail.internal.example:2525"
tls = "encrypt"

[[route]]
domain = "v6.example"
host = "[2001:db8::25]"

[[route]]
domain = "literal.example"
host = "[IPv6:2001:db8::26]:2525"

[admin]
listen = "[::1]:8080"
token_file = "/run/token"

[log]
level = "DEBUG"
file = "var/log/relay.log"
format = "Postfix"
)");
  auto r = load_config(file);
  ASSERT_TRUE(r.ok()) << join(issues_of(file));
  const Config& c = r.value();
  ASSERT_EQ(c.smtp.listeners.size(), 3u);
  EXPECT_EQ(c.smtp.listeners[1].address.host, "::1");
  EXPECT_EQ(c.smtp.listeners[1].address.to_string(), "[::1]:2525");
  EXPECT_EQ(c.smtp.listeners[2].address.to_string(), "[::]:587");
  EXPECT_TRUE(c.smtp.relay_networks.empty());  // explicitly none: only authenticated users
  EXPECT_EQ(c.smtp.max_message_size, 1000000u);
  EXPECT_EQ(c.smtp.max_recipients, 50u);
  EXPECT_EQ(c.smtp.max_line_length, 2048u);
  EXPECT_EQ(c.smtp.max_connections, 200u);
  EXPECT_EQ(c.smtp.max_connections_per_client, 20u);
  EXPECT_EQ(c.smtp.max_errors, 3u);
  EXPECT_EQ(c.smtp.command_timeout, 90s);
  EXPECT_EQ(c.smtp.data_timeout, 10min);
  EXPECT_FALSE(c.smtp.require_tls);
  EXPECT_EQ(c.smtp.banner, "ESMTP ready");
  EXPECT_EQ(c.queue.path, "/srv/q");
  EXPECT_EQ(c.queue.map_size, 1ull << 30);
  EXPECT_EQ(c.queue.commit_interval, 250ms);
  EXPECT_EQ(c.queue.max_batch, 64u);
  ASSERT_EQ(c.dns.servers.size(), 4u);
  EXPECT_EQ(c.dns.servers[0].to_string(), "192.0.2.53:53");
  EXPECT_EQ(c.dns.servers[1].to_string(), "192.0.2.54:5353");
  EXPECT_EQ(c.dns.servers[2].to_string(), "[2001:db8::53]:53");
  EXPECT_EQ(c.dns.servers[3].to_string(), "[2001:db8::54]:53");
  EXPECT_EQ(c.delivery.workers, 64u);
  EXPECT_EQ(c.delivery.port, 2525);
  EXPECT_EQ(c.delivery.retry, (std::vector<Duration>{30s}));
  EXPECT_EQ(c.delivery.max_lifetime, 90min);
  EXPECT_EQ(c.delivery.sos_lifetime, 30min);
  EXPECT_EQ(c.delivery.attempt_history, 1000u);
  EXPECT_EQ(c.policy.default_action, model::Policy::SOS);
  EXPECT_TRUE(c.policy.discovery.empty());
  EXPECT_EQ(c.policy.sos_tls, model::TlsLevel::Verify);
  EXPECT_EQ(c.policy.unknown_marking, model::Policy::HOLD);
  EXPECT_FALSE(c.policy.tls_required_no_honor);
  ASSERT_EQ(c.policy.rules.size(), 2u);
  EXPECT_EQ(c.policy.rules[0].recipient_domain, (std::vector<std::string>{"partner.example"}));
  EXPECT_EQ(c.policy.rules[0].tls, model::TlsLevel::Verify);
  EXPECT_EQ(c.policy.rules[1].recipient_domain,
            (std::vector<std::string>{"a.example", "b.example."}));
  EXPECT_EQ(c.policy.rules[1].classification.size(), 4u);
  EXPECT_EQ(c.policy.rules[1].action, model::Policy::HOLD);
  ASSERT_EQ(c.routes.size(), 3u);
  EXPECT_EQ(c.routes[0].host, "mail.internal.example:2525");
  EXPECT_EQ(c.routes[0].tls, model::TlsLevel::Encrypt);
  EXPECT_EQ(c.routes[1].host, "[2001:db8::25]");
  EXPECT_EQ(c.routes[2].host, "[IPv6:2001:db8::26]:2525");  // the RFC 5321 literal form
  EXPECT_EQ(c.admin.listen.to_string(), "[::1]:8080");
  EXPECT_EQ(c.admin.token_file, "/run/token");
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.file, dir.sub("var/log/relay.log"));
  EXPECT_EQ(c.log.format, "postfix");
}

TEST(LoadConfig, InternationalizedDomainsAreKeptAsTheirALabels) {
  TempDir dir;
  std::string file = dir.write("idn.toml",
                               "[[policy.rule]]\n"
                               "recipient_domain = [\"m\xc4\x81ori.nz\", \"Partner.Example\"]\n"
                               "policy = \"SOS\"\n\n"
                               "[[route]]\n"
                               "domain = \"B\xc3\x9c" "cher.example\"\n"
                               "host = \"[10.0.0.5]\"\n");
  auto r = load_config(file);
  ASSERT_TRUE(r.ok()) << join(issues_of(file));
  ASSERT_EQ(r.value().policy.rules.size(), 1u);
  EXPECT_EQ(r.value().policy.rules[0].recipient_domain,
            (std::vector<std::string>{"xn--mori-qsa.nz", "Partner.Example"}));
  ASSERT_EQ(r.value().routes.size(), 1u);
  EXPECT_EQ(r.value().routes[0].domain, "xn--bcher-kva.example");
}

TEST(LoadConfig, DefaultsWhenKeysAreAbsent) {
  TempDir dir;
  std::string file = dir.write("empty.toml", "# nothing set\n");
  auto r = load_config(file);
  ASSERT_TRUE(r.ok()) << join(issues_of(file));
  const Config& c = r.value();
  const Config defaults;

  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(c.hostname, host);

  ASSERT_EQ(c.smtp.listeners.size(), 1u);
  EXPECT_EQ(c.smtp.listeners[0].address.to_string(), "127.0.0.1:2525");
  ASSERT_EQ(c.smtp.relay_networks.size(), 2u);
  EXPECT_EQ(c.smtp.relay_networks[0].to_string(), "127.0.0.0/8");
  EXPECT_EQ(c.smtp.relay_networks[1].to_string(), "::1/128");
  EXPECT_EQ(c.smtp.tls_cert, "");
  EXPECT_EQ(c.smtp.tls_key, "");
  EXPECT_EQ(c.smtp.max_message_size, 50ull << 20);
  EXPECT_EQ(c.smtp.max_recipients, 1000u);
  EXPECT_EQ(c.smtp.max_line_length, 1000u);
  EXPECT_EQ(c.smtp.max_connections, 1000u);
  EXPECT_EQ(c.smtp.max_connections_per_client, 100u);
  EXPECT_EQ(c.smtp.max_errors, 10u);
  EXPECT_EQ(c.smtp.command_timeout, 5min);
  EXPECT_EQ(c.smtp.data_timeout, 5min);
  EXPECT_FALSE(c.smtp.require_tls);
  EXPECT_EQ(c.smtp.banner, "");
  EXPECT_EQ(c.queue.path, dir.sub("var/queue"));  // the defaults resolve like written paths
  EXPECT_EQ(c.queue.map_size, 4ull << 30);
  EXPECT_EQ(c.queue.commit_interval, 0ms);
  EXPECT_EQ(c.queue.max_batch, 512u);
  EXPECT_TRUE(c.dns.servers.empty());
  EXPECT_EQ(c.delivery.workers, 2u);
  EXPECT_EQ(c.delivery.port, 25);
  EXPECT_EQ(c.delivery.retry, defaults.delivery.retry);
  EXPECT_EQ(c.delivery.max_lifetime, 24h * 5);
  EXPECT_EQ(c.delivery.sos_lifetime, 1h);
  EXPECT_EQ(c.policy.default_action, model::Policy::BES);
  EXPECT_EQ(c.policy.discovery, (std::vector<std::string>{"srv", "mx51966", "name"}));
  EXPECT_EQ(c.policy.sos_tls, model::TlsLevel::Encrypt);
  EXPECT_TRUE(c.policy.subject_markers.empty());
  EXPECT_EQ(c.policy.unknown_marking, model::Policy::SOS);
  EXPECT_TRUE(c.policy.tls_required_no_honor);
  EXPECT_TRUE(c.policy.rules.empty());
  EXPECT_TRUE(c.routes.empty());
  EXPECT_EQ(c.admin.listen.to_string(), "127.0.0.1:8025");
  EXPECT_EQ(c.admin.token_file, dir.sub("etc/admin.token"));
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.file, "");
}

TEST(LoadConfig, RelativeCertPathsResolveAgainstTheConfigFilesDirectory) {
  TempDir dir;
  dir.write("var/tls/cert.pem", "cert");
  dir.write("var/tls/key.pem", "key");
  std::string file = dir.write(
      "t.toml", "[smtp]\ntls_cert = \"var/tls/cert.pem\"\ntls_key = \"var/tls/key.pem\"\n");
  fs::path old = fs::current_path();
  fs::current_path("/");
  auto r = load_config(file);
  fs::current_path(old);
  ASSERT_TRUE(r.ok()) << join(issues_of(file));
  EXPECT_EQ(r->smtp.tls_cert, dir.sub("var/tls/cert.pem"));
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The checkout's top directory: walk up from the working directory, then from the test
// binary, until etc/secmx-relay.toml appears.
fs::path source_dir() {
  for (fs::path start : {fs::current_path(), fs::read_symlink("/proc/self/exe").parent_path()}) {
    for (fs::path p = start; !p.empty(); p = p.parent_path()) {
      if (fs::exists(p / "etc" / "secmx-relay.toml")) return p;
      if (p == p.root_path()) break;
    }
  }
  return {};
}

TEST(LoadConfig, EveryFileUnderEtcLoads) {
  fs::path src = source_dir();
  ASSERT_FALSE(src.empty()) << "etc/secmx-relay.toml not found above the working directory";
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(src / "etc")) {
    if (e.is_regular_file() && e.path().extension() == ".toml") files.push_back(e.path());
  }
  ASSERT_GE(files.size(), 3u);

  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    // The sample files name certificates that the run script or the operator creates,
    // relative to the file: stand them up beside a copy of it in a scratch tree.
    TempDir dir;
    fs::path rel = fs::relative(f, src);
    std::string copy = dir.write(rel.string(), read_text(f));
    toml::table doc = toml::parse_file(f.string());
    // The ECDSA pair is read at load (its type and match are checked): a real one.
    const auto& pki = tls::testing::test_pki();
    for (auto [key, content] : {std::pair<const char*, std::string>{"tls_cert", "placeholder"},
                                {"tls_key", "placeholder"},
                                {"tls_ecdsa_cert", read_text(pki.server_cert)},
                                {"tls_ecdsa_key", read_text(pki.server_key)}}) {
      if (auto path = doc["smtp"][key].value<std::string>()) {
        ASSERT_TRUE(fs::path(*path).is_relative())
            << "sample files must use relative certificate paths: " << *path;
        dir.write((rel.parent_path() / *path).lexically_normal().string(), content);
      }
    }
    auto r = load_config(copy);
    EXPECT_TRUE(r.ok()) << join(issues_of(copy));
  }
}

TEST(LoadConfig, SampleProfilesSayWhatTheyPromise) {
  fs::path src = source_dir();
  ASSERT_FALSE(src.empty());
  // Copies in a scratch checkout, beside the certificates their relative paths name.
  TempDir dir;
  dir.write("etc/examples/tls/cert.pem", "cert");
  dir.write("etc/examples/tls/key.pem", "key");
  dir.write("var/tls/cert.pem", "cert");
  dir.write("var/tls/key.pem", "key");
  dir.write("var/tls/ecdsa-cert.pem", read_text(tls::testing::test_pki().server_cert));
  dir.write("var/tls/ecdsa-key.pem", read_text(tls::testing::test_pki().server_key));
  auto copy = [&](const char* name) { return dir.write(name, read_text(src / name)); };
  auto def = load_config(copy("etc/secmx-relay.toml"));
  auto agency = load_config(copy("etc/examples/agency.toml"));
  auto bes = load_config(copy("etc/examples/bes-smarthost.toml"));
  ASSERT_TRUE(def.ok());
  ASSERT_TRUE(agency.ok());
  ASSERT_TRUE(bes.ok());

  EXPECT_EQ(def->smtp.listeners[0].address.to_string(), "127.0.0.1:2525");
  EXPECT_EQ(def->smtp.relay_networks.size(), 2u);
  // The default config keeps its data in var/ of the checkout, not beside itself in etc/.
  EXPECT_EQ(def->smtp.tls_cert, dir.sub("var/tls/cert.pem"));
  EXPECT_EQ(def->smtp.tls_key, dir.sub("var/tls/key.pem"));
  // ECDSA beside RSA in the default first-start setup (scripts/run.sh makes both).
  EXPECT_EQ(def->smtp.tls.ecdsa_cert, dir.sub("var/tls/ecdsa-cert.pem"));
  EXPECT_EQ(def->smtp.tls.ecdsa_key, dir.sub("var/tls/ecdsa-key.pem"));
  EXPECT_EQ(def->queue.path, dir.sub("var/queue"));
  EXPECT_EQ(def->admin.listen.to_string(), "127.0.0.1:8025");
  EXPECT_EQ(def->admin.token_file, dir.sub("var/admin.token"));
  EXPECT_EQ(def->policy.default_action, model::Policy::BES);
  EXPECT_TRUE(def->policy.rules.empty());

  const auto& rules = agency->policy.rules;
  auto has = [&](auto pred) { return std::any_of(rules.begin(), rules.end(), pred); };
  EXPECT_TRUE(has([](const PolicyRule& r) { return r.sender && r.action == model::Policy::SOS; }));
  EXPECT_TRUE(has([](const PolicyRule& r) {
    return !r.classification.empty() && r.action == model::Policy::SOS;
  }));
  EXPECT_TRUE(has([](const PolicyRule& r) {
    return r.action == model::Policy::HOLD &&
           std::find(r.classification.begin(), r.classification.end(), "CONFIDENTIAL") !=
               r.classification.end();
  }));
  EXPECT_TRUE(has([](const PolicyRule& r) {
    return r.header && r.action == model::Policy::REJECT && !r.reason.empty();
  }));
  // The profile names its files as installed: TLS beside it, state in /var/lib.
  EXPECT_EQ(agency->smtp.tls_cert, dir.sub("etc/examples/tls/cert.pem"));
  EXPECT_EQ(agency->queue.path, "/var/lib/secmx-relay/queue");
  EXPECT_EQ(agency->admin.token_file, "/var/lib/secmx-relay/admin.token");
  ASSERT_EQ(agency->routes.size(), 1u);
  EXPECT_EQ(agency->routes[0].host, "[10.0.0.5]:25");

  EXPECT_EQ(bes->policy.default_action, model::Policy::BES);
  EXPECT_TRUE(bes->policy.rules.empty());
}

}  // namespace
}  // namespace secmx::config
