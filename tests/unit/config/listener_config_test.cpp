// listener_config_test.cpp - [smtp] listen (short form) and [[smtp.listener]] tables, the
// [smtp.auth] sender authorization keys and the senders file: what loads, and every
// refusal with the file and line --check names.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/config/config.hpp"
#include "tests/unit/config/config_file.hpp"
#include "tests/unit/temp_dir.hpp"

namespace secmx::config {
namespace {

using test_support::ConfigFile;

// Files the listeners point at: a certificate and key (only their readability is checked
// at load), a users file and a senders file.
class ListenerConfig : public ::testing::Test {
 protected:
  ListenerConfig()
      : cert_(files_.write("cert.pem", "x")),
        key_(files_.write("key.pem", "x")),
        users_(files_.write("users", "")),
        senders_(files_.write("senders", "app: @agency.example\n")) {}

  std::string tls() const {
    return "tls_cert = \"" + cert_ + "\"\ntls_key = \"" + key_ + "\"\n";
  }
  std::string auth(const std::string& senders) const {
    return "[smtp.auth]\nusers_file = \"" + users_ + "\"\nsenders_file = \"" + senders + "\"\n";
  }
  // issues() of `text`, each with the config file's path cut off: "line: message".
  static std::vector<std::string> issues(const std::string& text) {
    ConfigFile f(text);
    std::vector<std::string> out;
    for (auto& i : f.issues()) {
      EXPECT_EQ(i.rfind(f.path() + ":", 0), 0u) << i;
      out.push_back(i.substr(f.path().size() + 1));
    }
    return out;
  }
  // Every file in the same directory, so that the paths it resolves (the default queue
  // directory) are the same from one load to the next, as on a reload.
  Config load(const std::string& text) {
    const std::string path = files_.write("relay.toml", "hostname = \"relay.example\"\n" + text);
    auto r = load_config(path);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error()[0].to_string());
    return r.ok() ? r.value() : Config{};
  }

  test::TempDir files_;
  std::string cert_, key_, users_, senders_;
};

TEST_F(ListenerConfig, WithoutListenersTheDefaultOne) {
  Config c = load("");
  ASSERT_EQ(c.smtp.listeners.size(), 1u);
  EXPECT_EQ(c.smtp.listeners[0].address.to_string(), "127.0.0.1:2525");
  EXPECT_EQ(c.smtp.listeners[0].tls, ListenerTls::StartTls);
  EXPECT_EQ(c.smtp.listeners[0].auth, ListenerAuth::Optional);
}

TEST_F(ListenerConfig, ShortFormListensWithDefaults) {
  Config c = load("[smtp]\nlisten = [\n  \"127.0.0.1:25\",\n  \"[::1]:2526\",\n]\n");
  ASSERT_EQ(c.smtp.listeners.size(), 2u);
  const Listener& l = c.smtp.listeners[1];
  EXPECT_EQ(l.address.to_string(), "[::1]:2526");
  EXPECT_EQ(l.line, 5u);
  EXPECT_EQ(l.tls, ListenerTls::StartTls);
  EXPECT_EQ(l.auth, ListenerAuth::Optional);
  EXPECT_FALSE(l.relay_networks.has_value());
  EXPECT_FALSE(l.sender_login);
  EXPECT_EQ(&c.smtp.relay_networks_of(l), &c.smtp.relay_networks);
}

TEST_F(ListenerConfig, TablesFollowTheShortFormWithTheirSettings) {
  Config c = load("[smtp]\nlisten = [\"127.0.0.1:25\"]\nrelay_networks = [\"10.1.0.0/16\"]\n" +
                  tls() + auth(senders_) +
                  "[[smtp.listener]]\naddress = \"127.0.0.1:587\"\nauth = \"REQUIRED\"\n"
                  "relay_networks = []\nsender_login = true\n"
                  "[[smtp.listener]]\naddress = \"127.0.0.1:465\"\ntls = \"implicit\"\n"
                  "relay_networks = [\"192.0.2.0/24\"]\nauth = \"none\"\n");
  ASSERT_EQ(c.smtp.listeners.size(), 3u);
  EXPECT_EQ(c.smtp.listeners[0].address.port, 25);
  const Listener& submission = c.smtp.listeners[1];
  EXPECT_EQ(submission.address.to_string(), "127.0.0.1:587");
  EXPECT_EQ(submission.line, 10u);
  EXPECT_EQ(submission.tls, ListenerTls::StartTls);
  EXPECT_EQ(submission.auth, ListenerAuth::Required);
  EXPECT_TRUE(submission.sender_login);
  ASSERT_TRUE(submission.relay_networks.has_value());
  EXPECT_TRUE(submission.relay_networks->empty());  // only logins relay here
  const Listener& smtps = c.smtp.listeners[2];
  EXPECT_EQ(smtps.tls, ListenerTls::Implicit);
  EXPECT_EQ(smtps.auth, ListenerAuth::None);
  ASSERT_EQ(c.smtp.relay_networks_of(smtps).size(), 1u);
  EXPECT_EQ(c.smtp.relay_networks_of(smtps)[0].to_string(), "192.0.2.0/24");
  EXPECT_EQ(c.smtp.relay_networks_of(c.smtp.listeners[0])[0].to_string(), "10.1.0.0/16");
  EXPECT_FALSE(c.smtp.sender_login.required);
  EXPECT_EQ(c.smtp.sender_login.senders_file, senders_);
}

TEST_F(ListenerConfig, TablesAloneReplaceTheDefault) {
  Config c = load("[[smtp.listener]]\naddress = \"127.0.0.1:2600\"\n");
  ASSERT_EQ(c.smtp.listeners.size(), 1u);
  EXPECT_EQ(c.smtp.listeners[0].address.port, 2600);
}

TEST_F(ListenerConfig, EveryTableProblemAtItsLine) {
  EXPECT_EQ(issues("[[smtp.listener]]\ntls = \"implicit\"\n"),
            (std::vector<std::string>{"2: smtp.listener: address is required"}));
  EXPECT_EQ(issues("[[smtp.listener]]\naddress = \"localhost:25\"\n"),
            (std::vector<std::string>{
                "3: smtp.listener.address: invalid address 'localhost:25' (expected \"ip:port\" "
                "or \"[ipv6]:port\")"}));
  EXPECT_EQ(issues("[[smtp.listener]]\naddress = \"127.0.0.1:25\"\ntls = \"ssl\"\n"),
            (std::vector<std::string>{
                "4: smtp.listener.tls: unknown value 'ssl' (expected \"starttls\" or \"implicit\")"}));
  EXPECT_EQ(issues("[[smtp.listener]]\naddress = \"127.0.0.1:25\"\nauth = \"yes\"\n"),
            (std::vector<std::string>{"4: smtp.listener.auth: unknown value 'yes' (expected "
                                      "\"none\", \"optional\" or \"required\")"}));
  EXPECT_EQ(issues("[[smtp.listener]]\naddress = \"127.0.0.1:25\"\nport = 25\n"),
            (std::vector<std::string>{"4: unknown key 'smtp.listener.port'"}));
  EXPECT_EQ(issues("[[smtp.listener]]\naddress = \"127.0.0.1:25\"\n"
                   "relay_networks = [\"10.0.0.0/33\"]\n"),
            (std::vector<std::string>{"4: smtp.listener.relay_networks: invalid CIDR '10.0.0.0/33'"}));
  EXPECT_EQ(issues("[[smtp.listener]]\naddress = \"127.0.0.1:25\"\nsender_login = \"yes\"\n"),
            (std::vector<std::string>{
                "4: smtp.listener.sender_login: expected a boolean (true or false)"}));
  EXPECT_EQ(issues("[smtp]\nlistener = \"127.0.0.1:25\"\n"),
            (std::vector<std::string>{
                "3: smtp.listener: expected an array of tables ([[smtp.listener]])"}));
}

TEST_F(ListenerConfig, TheSameAddressTwiceIsRefused) {
  EXPECT_EQ(issues("[smtp]\nlisten = [\"127.0.0.1:25\"]\n"
                   "[[smtp.listener]]\naddress = \"127.0.0.1:25\"\n"),
            (std::vector<std::string>{
                "4: smtp.listener: address 127.0.0.1:25 already listed at line 3"}));
}

TEST_F(ListenerConfig, WhatTheSettingsNeedOfTheRest) {
  EXPECT_EQ(issues("[[smtp.listener]]\naddress = \"127.0.0.1:465\"\ntls = \"implicit\"\n"),
            (std::vector<std::string>{"2: smtp.listener 127.0.0.1:465: tls = \"implicit\" needs "
                                      "[smtp] tls_cert and tls_key"}));
  EXPECT_EQ(issues("[smtp]\n" + tls() +
                   "[[smtp.listener]]\naddress = \"127.0.0.1:587\"\nauth = \"required\"\n"),
            (std::vector<std::string>{"5: smtp.listener 127.0.0.1:587: auth = \"required\" needs "
                                      "[smtp.auth] users_file"}));
  EXPECT_EQ(issues("[smtp.auth]\nusers_file = \"" + users_ + "\"\n" +
                   "[[smtp.listener]]\naddress = \"127.0.0.1:587\"\nauth = \"required\"\n"),
            (std::vector<std::string>{"2: smtp.auth: smtp.auth.users_file needs tls_cert and "
                                      "tls_key: AUTH is offered under TLS only",
                                      "4: smtp.listener 127.0.0.1:587: auth = \"required\" needs "
                                      "[smtp] tls_cert and tls_key (AUTH is offered only under "
                                      "TLS)"}));
  EXPECT_EQ(issues("[smtp]\n" + tls() + "[smtp.auth]\nusers_file = \"" + users_ + "\"\n" +
                   "[[smtp.listener]]\naddress = \"127.0.0.1:587\"\nsender_login = true\n"),
            (std::vector<std::string>{"7: smtp.listener 127.0.0.1:587: sender_login needs "
                                      "[smtp.auth] senders_file"}));
  EXPECT_EQ(issues("[smtp]\n" + tls() + auth(senders_) +
                   "[[smtp.listener]]\naddress = \"127.0.0.1:587\"\nsender_login = true\n"
                   "auth = \"none\"\n"),
            (std::vector<std::string>{"8: smtp.listener 127.0.0.1:587: sender_login needs auth = "
                                      "\"optional\" or \"required\""}));
}

TEST_F(ListenerConfig, SenderLoginRequiredEverywhere) {
  Config c = load("[smtp.auth]\nsender_login = \"required\"\nsenders_file = \"" + senders_ + "\"\n");
  EXPECT_TRUE(c.smtp.sender_login.required);
  EXPECT_EQ(issues("[smtp.auth]\nsender_login = \"always\"\n"),
            (std::vector<std::string>{"3: smtp.auth.sender_login: unknown value 'always' "
                                      "(expected \"listener\" or \"required\")"}));
  EXPECT_EQ(issues("[smtp.auth]\nsender_login = \"required\"\n"),
            (std::vector<std::string>{"3: smtp.auth.sender_login: \"required\" needs senders_file "
                                      "(no user would own any sender)"}));
}

TEST_F(ListenerConfig, SendersFileReadIntoOwners) {
  const std::string path = files_.write("senders.map",
                                        "# who may send as whom\n"
                                        "\n"
                                        "scanner: scanner@agency.example\n"
                                        "  hr :@hr.agency.example, *@Agency.Example ,x?y@z.example\n");
  Config c = load("[smtp.auth]\nsenders_file = \"" + path + "\"\n");
  const auto& owners = c.smtp.sender_login.owners;
  ASSERT_EQ(owners.size(), 2u);
  EXPECT_EQ(owners[0].user, "scanner");
  EXPECT_EQ(owners[0].line, 3u);
  EXPECT_EQ(owners[0].patterns, (std::vector<std::string>{"scanner@agency.example"}));
  EXPECT_EQ(owners[1].user, "hr");
  EXPECT_EQ(owners[1].patterns,
            (std::vector<std::string>{"@hr.agency.example", "*@Agency.Example", "x?y@z.example"}));
  EXPECT_EQ(c.smtp.sender_login.owner("hr"), &owners[1]);
  EXPECT_EQ(c.smtp.sender_login.owner("HR"), nullptr);  // login names are exact
}

TEST_F(ListenerConfig, SendersFileProblemsNameItsLines) {
  const std::string path = files_.write("bad.map",
                                        "ok: @agency.example\n"
                                        "no colon here\n"
                                        "bad user: @agency.example\n"
                                        "word: alice\n"
                                        "empty:\n"
                                        "ok: other@agency.example\n"
                                        "two: a@b.example,,c@d.example\n");
  const std::string at = "3: smtp.auth.senders_file: " + path + ":";
  const std::string want = "' (expected \"user@domain\", \"@domain\" or a glob such as \"*@domain\")";
  EXPECT_EQ(issues("[smtp.auth]\nsenders_file = \"" + path + "\"\n"),
            (std::vector<std::string>{
                at + "2: expected \"user: pattern, pattern\"",
                at + "3: invalid user name 'bad user'",
                at + "4: invalid pattern 'alice" + want,
                at + "5: invalid pattern '" + want,
                at + "6: user 'ok' already listed at line 1",
                at + "7: invalid pattern '" + want,
            }));
  EXPECT_EQ(issues("[smtp.auth]\nsenders_file = \"" + files_.sub("missing") + "\"\n"),
            (std::vector<std::string>{"3: smtp.auth.senders_file: cannot read '" +
                                      files_.sub("missing") + "': No such file or directory"}));
}

TEST_F(ListenerConfig, ReloadKeepsSocketsButTakesTheRest) {
  Config running = load("[[smtp.listener]]\naddress = \"127.0.0.1:2600\"\n");
  Config next = load("[[smtp.listener]]\naddress = \"127.0.0.1:2600\"\n"
                     "relay_networks = [\"192.0.2.0/24\"]\nauth = \"none\"\n");
  EXPECT_TRUE(keep_restart_only(running, next).empty());
  EXPECT_EQ(next.smtp.listeners[0].auth, ListenerAuth::None);
  ASSERT_TRUE(next.smtp.listeners[0].relay_networks.has_value());

  Config moved = load("[smtp]\n" + tls() +
                      "[[smtp.listener]]\naddress = \"127.0.0.1:2600\"\ntls = \"implicit\"\n");
  EXPECT_EQ(keep_restart_only(running, moved), (std::vector<std::string>{"smtp.listen"}));
  EXPECT_EQ(moved.smtp.listeners, running.smtp.listeners);
}

}  // namespace
}  // namespace secmx::config
