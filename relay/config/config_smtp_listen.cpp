// config_smtp_listen.cpp - the listeners of [smtp] (the `listen` short form and the
// [[smtp.listener]] tables) and the sender authorization keys of [smtp.auth]
// (senders_file, sender_login), with the senders file itself.
//
// Runs inside load_config(), after the [smtp] TLS files are read (check_listeners() needs
// to know whether a certificate is configured). Problems are Issues at the key's line; a
// problem inside the senders file is reported at the senders_file key, naming the
// senders file's own line ("smtp.auth.senders_file: etc/senders:3: ..."), so --check
// shows both where the file is named and where it is wrong.
#include <map>

#include "relay/common/ascii.hpp"
#include "relay/config/config_reader.hpp"
#include "relay/config/line_file.hpp"

namespace secmx::config {

const char* to_string(ListenerTls t) {
  switch (t) {
    case ListenerTls::StartTls: return "starttls";
    case ListenerTls::Implicit: return "implicit";
  }
  return "?";
}

const char* to_string(ListenerAuth a) {
  switch (a) {
    case ListenerAuth::None: return "none";
    case ListenerAuth::Optional: return "optional";
    case ListenerAuth::Required: return "required";
  }
  return "?";
}

const SenderOwner* SenderLoginConfig::owner(std::string_view user) const {
  for (const auto& o : owners) {
    if (o.user == user) return &o;
  }
  return nullptr;
}

namespace detail {
namespace {

constexpr std::string_view kAddressForm = "\"ip:port\" or \"[ipv6]:port\"";

bool has_space_or_control(std::string_view s) {
  for (unsigned char c : s) {
    if (c <= ' ' || c == 0x7f) return true;
  }
  return false;
}

// What a sender pattern may look like (policy::SenderPattern reads it): "@domain",
// "local@domain", or a glob. A bare word would silently match nothing.
bool valid_sender_pattern(std::string_view p) {
  if (p.empty() || has_space_or_control(p) || p.find(',') != std::string_view::npos) return false;
  const bool glob = p.find_first_of("*?") != std::string_view::npos;
  const auto at = p.rfind('@');
  if (glob) return true;
  return at != std::string_view::npos && at + 1 < p.size();
}

std::optional<std::vector<Cidr>> read_networks(const Section& s, std::string_view key) {
  std::vector<Section::Item> items;
  if (!s.strings(key, items)) return std::nullopt;
  std::vector<Cidr> nets;
  for (auto& it : items) {
    if (auto c = parse_cidr(it.value)) {
      nets.push_back(*c);
    } else {
      s.reader().add(it.line, s.name(key) + ": invalid CIDR '" + it.value + "'");
    }
  }
  return nets;
}

void read_listener_table(const Section& t, Listener& l) {
  t.check_keys({"address", "tls", "auth", "relay_networks", "sender_login"});
  std::string text;
  if (t.string("address", text)) {
    if (auto ep = parse_endpoint(text, std::nullopt)) {
      l.address = *ep;
    } else {
      t.fail("address", "invalid address '" + text + "' (expected " + std::string(kAddressForm) + ")");
    }
  } else if (!t.node("address")) {
    t.reader().add(l.line, t.path() + ": address is required");
  }
  if (t.string("tls", text)) {
    std::string v = ascii_lowercase(text);
    if (v == "starttls") {
      l.tls = ListenerTls::StartTls;
    } else if (v == "implicit") {
      l.tls = ListenerTls::Implicit;
    } else {
      t.fail("tls", "unknown value '" + text + "' (expected \"starttls\" or \"implicit\")");
    }
  }
  if (t.string("auth", text)) {
    std::string v = ascii_lowercase(text);
    if (v == "none") {
      l.auth = ListenerAuth::None;
    } else if (v == "optional") {
      l.auth = ListenerAuth::Optional;
    } else if (v == "required") {
      l.auth = ListenerAuth::Required;
    } else {
      t.fail("auth", "unknown value '" + text + "' (expected \"none\", \"optional\" or \"required\")");
    }
  }
  l.relay_networks = read_networks(t, "relay_networks");
  t.boolean("sender_login", l.sender_login);
}

// "user: pattern, pattern" per line; '#' starts a comment line. Problems go to `s` at
// the senders_file key.
void read_senders_file(const Section& auth, SenderLoginConfig& out) {
  const std::string& path = out.senders_file;
  std::string text;
  if (auto why = read_text_file(path, text)) {
    auth.fail("senders_file", "cannot read '" + path + "': " + *why);
    return;
  }
  std::map<std::string, std::uint32_t> seen;  // user -> line
  for_each_entry(text, [&](std::uint32_t line_no, std::string_view line) {
    auto bad = [&](const std::string& why) {
      auth.fail("senders_file", path + ":" + std::to_string(line_no) + ": " + why);
    };
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      bad("expected \"user: pattern, pattern\"");
      return;
    }
    std::string_view user = trim_blanks(line.substr(0, colon));
    if (user.empty() || has_space_or_control(user)) {
      bad("invalid user name '" + std::string(user) + "'");
      return;
    }
    if (auto it = seen.find(std::string(user)); it != seen.end()) {
      bad("user '" + std::string(user) + "' already listed at line " + std::to_string(it->second));
      return;
    }
    SenderOwner owner{line_no, std::string(user), {}};
    std::string_view rest = line.substr(colon + 1);
    bool ok = true;
    while (true) {
      const auto comma = rest.find(',');
      std::string_view p = trim_blanks(rest.substr(0, comma));
      if (!valid_sender_pattern(p)) {
        bad("invalid pattern '" + std::string(p) +
            "' (expected \"user@domain\", \"@domain\" or a glob such as \"*@domain\")");
        ok = false;
      } else {
        owner.patterns.emplace_back(p);
      }
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    if (!ok) return;
    seen.emplace(owner.user, line_no);
    out.owners.push_back(std::move(owner));
  });
}

}  // namespace

void read_listeners(const Section& s, SmtpConfig& out) {
  std::vector<Listener> all;
  std::vector<Section::Item> items;
  if (s.strings("listen", items)) {
    if (items.empty()) s.fail("listen", "must not be empty");
    for (auto& it : items) {
      if (auto ep = parse_endpoint(it.value, std::nullopt)) {
        Listener l;
        l.line = it.line;
        l.address = *ep;
        all.push_back(std::move(l));
      } else {
        s.reader().add(it.line, s.name("listen") + ": invalid address '" + it.value +
                                    "' (expected " + std::string(kAddressForm) + ")");
      }
    }
  }
  if (const toml::node* tables = s.node("listener")) {
    if (!tables->is_array_of_tables()) {
      s.fail("listener", "expected an array of tables ([[smtp.listener]])");
    } else {
      for (const toml::node& n : *tables->as_array()) {
        Listener l;
        l.line = line_of(n);
        read_listener_table(Section(s.reader(), n.as_table(), s.name("listener")), l);
        if (l.address.port != 0) all.push_back(std::move(l));
      }
    }
  }
  // Two listeners on one address could not both bind; say so here, not at start-up.
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (all[i].address == all[j].address) {
        s.reader().add(all[i].line, s.name("listener") + ": address " +
                                        all[i].address.to_string() + " already listed at line " +
                                        std::to_string(all[j].line));
        break;
      }
    }
  }
  if (s.node("listen") || s.node("listener")) out.listeners = std::move(all);
}

void read_sender_login(const Section& s, SmtpConfig& out) {
  Section auth = s.sub("auth");
  SenderLoginConfig& sl = out.sender_login;
  std::string text;
  if (auth.string("sender_login", text)) {
    std::string v = ascii_lowercase(text);
    if (v == "required") {
      sl.required = true;
    } else if (v != "listener") {
      auth.fail("sender_login", "unknown value '" + text +
                                    "' (expected \"listener\" or \"required\")");
    }
  }
  if (auth.path("senders_file", sl.senders_file) && !sl.senders_file.empty()) {
    read_senders_file(auth, sl);
  }
  if (sl.required && sl.senders_file.empty()) {
    auth.fail("sender_login", "\"required\" needs senders_file (no user would own any sender)");
  }
}

void check_listeners(const Section& s, const SmtpConfig& out) {
  // Presence by name: the users file itself is read with the rest of [smtp.auth] (and a
  // [smtp.auth] that is not a table has been reported already).
  const toml::node* auth = s.node("auth");
  const toml::node* users =
      auth && auth->is_table() ? auth->as_table()->get("users_file") : nullptr;
  const bool have_users = users && users->is_string() && !users->as_string()->get().empty();
  const std::string where = s.name("listener");
  for (const Listener& l : out.listeners) {
    const std::string name = where + " " + l.address.to_string();
    Reader& rd = s.reader();
    if (l.tls == ListenerTls::Implicit && out.tls_cert.empty()) {
      rd.add(l.line, name + ": tls = \"implicit\" needs [smtp] tls_cert and tls_key");
    }
    if (l.auth == ListenerAuth::Required) {
      if (!have_users) {
        rd.add(l.line, name + ": auth = \"required\" needs [smtp.auth] users_file");
      }
      if (out.tls_cert.empty()) {
        rd.add(l.line, name + ": auth = \"required\" needs [smtp] tls_cert and tls_key "
                              "(AUTH is offered only under TLS)");
      }
    }
    if (l.sender_login) {
      if (l.auth == ListenerAuth::None) {
        rd.add(l.line, name + ": sender_login needs auth = \"optional\" or \"required\"");
      }
      if (out.sender_login.senders_file.empty()) {
        rd.add(l.line, name + ": sender_login needs [smtp.auth] senders_file");
      }
    }
  }
}

}  // namespace detail
}  // namespace secmx::config
