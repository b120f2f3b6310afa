// auth_users_test.cpp - the [smtp.auth] users file: what loads, and every bad line named
// file:line without quoting its hash.
#include "relay/config/auth_users.hpp"

#include <gtest/gtest.h>

#include "relay/config/config.hpp"
#include "tests/unit/temp_dir.hpp"

namespace secmx::config {
namespace {

using Users = std::map<std::string, std::string, std::less<>>;

constexpr const char* kYes = "$y$j9T$KDF.pp5Es5215obCPpYpF1$sE10VevTSclBrVVRAUqMIt9qnPXkEQWMvYLoebLt/MB";

TEST(AuthUsersTest, ParsesNamesAndHashesSkippingCommentsAndBlankLines) {
  Users users;
  std::string text = std::string("# users\n\nscanner:") + kYes +
                     "\r\n  hr-app:$2b$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui\n"
                     "legacy:$6$salt$hash.value/xyz\n";
  auto issues = parse_users(text, "users", users);
  EXPECT_TRUE(issues.empty());
  ASSERT_EQ(users.size(), 3u);
  EXPECT_EQ(users.at("scanner"), kYes);
  EXPECT_TRUE(users.at("hr-app").starts_with("$2b$05$"));
  EXPECT_EQ(users.at("legacy"), "$6$salt$hash.value/xyz");
}

TEST(AuthUsersTest, BadLinesAreNamedByLineAndLeftOut) {
  Users users;
  std::string text = std::string("good:") + kYes + "\n" +  // 1
                     "no colon here\n" +                   // 2
                     ":" + kYes + "\n" +                   // 3 empty name
                     "plain:hunter2\n" +                   // 4 plaintext password
                     "md5:$1$salt$abc\n" +                 // 5 weak scheme
                     "good:" + kYes + "\n" +               // 6 twice
                     "sp ace:" + kYes + "\n" +             // 7
                     "odd:$y$j9T$a b\n";                   // 8 bad character
  auto issues = parse_users(text, "/etc/secmx/users", users);
  ASSERT_EQ(issues.size(), 7u);
  std::uint32_t lines[] = {2, 3, 4, 5, 6, 7, 8};
  for (std::size_t i = 0; i < issues.size(); ++i) {
    EXPECT_EQ(issues[i].file, "/etc/secmx/users");
    EXPECT_EQ(issues[i].line, lines[i]) << issues[i].message;
    // Never the password or hash itself.
    EXPECT_EQ(issues[i].message.find("hunter2"), std::string::npos);
    EXPECT_EQ(issues[i].message.find("$1$salt"), std::string::npos);
  }
  EXPECT_EQ(issues[0].to_string(), "/etc/secmx/users:2: expected \"name:hash\"");
  EXPECT_NE(issues[2].message.find("--hash-password"), std::string::npos);
  EXPECT_NE(issues[4].message.find("listed twice"), std::string::npos);
  ASSERT_EQ(users.size(), 1u);
  EXPECT_TRUE(users.contains("good"));
}

class AuthConfigTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    return dir_.write(name, text);
  }
  secmx::test::TempDir dir_;
};

TEST_F(AuthConfigTest, LoadsUsersFileAndLimits) {
  std::string users = write("users", std::string("app:") + kYes + "\n");
  std::string cert = write("cert.pem", "x");
  std::string key = write("key.pem", "x");
  std::string cfg = write("relay.toml", "[smtp]\ntls_cert = \"" + cert + "\"\ntls_key = \"" + key +
                                            "\"\n[smtp.auth]\nusers_file = \"" + users +
                                            "\"\nmax_failures = 3\nlockout = \"10m\"\n");
  auto loaded = load_config(cfg);  // certificates are only checked for readability here
  ASSERT_TRUE(loaded) << loaded.error().front().to_string();
  EXPECT_TRUE(loaded->smtp.auth.enabled());
  EXPECT_EQ(loaded->smtp.auth.users.size(), 1u);
  EXPECT_EQ(loaded->smtp.auth.max_failures, 3u);
  EXPECT_EQ(loaded->smtp.auth.lockout, std::chrono::minutes(10));
}

TEST_F(AuthConfigTest, CheckNamesBadUsersLinesAfterTheConfigsOwn) {
  std::string users = write("users", std::string("app:") + kYes + "\nbroken\n");
  std::string cfg = write("relay.toml", "[smtp.auth]\nusers_file = \"" + users +
                                            "\"\nmax_failures = 0\nbogus = 1\n");
  auto loaded = load_config(cfg);
  ASSERT_FALSE(loaded);
  std::vector<std::string> lines;
  for (const auto& i : loaded.error()) lines.push_back(i.to_string());
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines.back(), users + ":2: expected \"name:hash\"");
  bool unknown = false, no_tls = false;
  for (const auto& l : lines) {
    if (l.find("unknown key 'smtp.auth.bogus'") != std::string::npos) unknown = true;
    if (l.find("needs tls_cert") != std::string::npos) no_tls = true;
  }
  EXPECT_TRUE(unknown);
  EXPECT_TRUE(no_tls);
}

TEST_F(AuthConfigTest, UnreadableUsersFileIsAnIssue) {
  std::string cfg = write("relay.toml", "[smtp.auth]\nusers_file = \"" + dir_.path() +
                                            "/missing\"\n");
  auto loaded = load_config(cfg);
  ASSERT_FALSE(loaded);
  bool found = false;
  for (const auto& i : loaded.error()) {
    if (i.message.find("cannot read") != std::string::npos && i.file == cfg) found = true;
  }
  EXPECT_TRUE(found);
}

TEST_F(AuthConfigTest, ADirectoryIsNotAnEmptyUsersFile) {
  // Read as the config file itself is: a directory would otherwise pass for no users.
  std::string cfg = write("relay.toml", "[smtp.auth]\nusers_file = \"" + dir_.path() + "\"\n");
  auto loaded = load_config(cfg);
  ASSERT_FALSE(loaded);
  bool found = false;
  for (const auto& i : loaded.error()) {
    if (i.message.find("Is a directory") != std::string::npos) found = true;
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace secmx::config
