// config_paths_test.cpp - relative paths in a config file are taken against the file's own
// directory, once, in load_config(); the working directory never matters.
#include "relay/config/config_paths.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/unit/config/config_file.hpp"

namespace secmx::config {
namespace {

namespace fs = std::filesystem;
using test_support::ConfigFile;

// Runs `f` with the working directory set to `dir`, then puts the old one back.
template <class F>
auto in_directory(const fs::path& dir, F f) {
  fs::path old = fs::current_path();
  fs::current_path(dir);
  auto r = f();
  fs::current_path(old);
  return r;
}

std::string dir_of(const ConfigFile& f) { return fs::path(f.path()).parent_path().string(); }

void touch(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << "placeholder\n";
}

const char* kEveryPathKey = R"(
[smtp]
tls_cert = "tls/cert.pem"
tls_key = "./tls/key.pem"
[queue]
path = "../var/queue"
[delivery]
ca_file = "tls/ca.pem"
[admin]
token_file = "admin.token"
[log]
file = "log/relay.log"
)";

TEST(ConfigPaths, EveryPathKeyResolvesAgainstTheConfigFilesDirectory) {
  ConfigFile f(kEveryPathKey);
  const std::string d = dir_of(f);
  for (const char* name : {"/tls/cert.pem", "/tls/key.pem", "/tls/ca.pem"}) touch(d + name);

  // From "/", where none of these relative names exists.
  auto r = in_directory("/", [&] { return load_config(f.path()); });
  ASSERT_TRUE(r.ok()) << f.issues().front();
  EXPECT_EQ(r->smtp.tls_cert, d + "/tls/cert.pem");
  EXPECT_EQ(r->smtp.tls_key, d + "/tls/key.pem");  // "./" normalised away
  EXPECT_EQ(r->queue.path, fs::path(d).parent_path().string() + "/var/queue");
  EXPECT_EQ(r->delivery.ca_file, d + "/tls/ca.pem");
  EXPECT_EQ(r->admin.token_file, d + "/admin.token");
  EXPECT_EQ(r->log.file, d + "/log/relay.log");
}

TEST(ConfigPaths, AfterLoadingEveryPathIsAbsoluteOrEmpty) {
  ConfigFile f(kEveryPathKey);
  const std::string d = dir_of(f);
  for (const char* name : {"/tls/cert.pem", "/tls/key.pem", "/tls/ca.pem"}) touch(d + name);
  auto r = load_config(f.path());
  ASSERT_TRUE(r.ok());
  const Config& loaded = *r;
  auto paths = path_settings(loaded);
  ASSERT_EQ(paths.size(), 13u);
  for (const auto& [key, value] : paths) {
    EXPECT_TRUE(value.empty() || fs::path(value).is_absolute()) << key << " = " << value;
  }
  // Nothing set: the defaults that name files resolve too, and "" (none) stays "".
  ConfigFile empty("");
  auto e = load_config(empty.path());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->queue.path, dir_of(empty) + "/var/queue");
  EXPECT_EQ(e->admin.token_file, dir_of(empty) + "/etc/admin.token");
  EXPECT_EQ(e->smtp.tls_cert, "");
  EXPECT_EQ(e->delivery.ca_file, "");
  EXPECT_EQ(e->log.file, "");
}

TEST(ConfigPaths, AbsolutePathsAreKeptAsWritten) {
  ConfigFile f("[queue]\npath = \"/srv/secmx/queue\"\n[admin]\ntoken_file = \"/run/secmx/token\"\n");
  auto r = load_config(f.path());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->queue.path, "/srv/secmx/queue");
  EXPECT_EQ(r->admin.token_file, "/run/secmx/token");
}

TEST(ConfigPaths, AConfigNamedRelativelyIsTakenFromTheWorkingDirectoryOfTheLoad) {
  ConfigFile f("[queue]\npath = \"q\"\n");
  const std::string d = dir_of(f);
  fs::path parent = fs::path(d).parent_path();
  std::string relative_name = (fs::path(d).filename() / "relay.toml").string();
  auto r = in_directory(parent, [&] { return load_config(relative_name); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->queue.path, d + "/q");
  EXPECT_EQ(r->source_file, relative_name);  // messages still name the file as given
}

TEST(ConfigPaths, AnUnreadableFileIsReportedWithItsResolvedPath) {
  ConfigFile f("[smtp]\ntls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\"\n");
  touch(dir_of(f) + "/tls/key.pem");
  auto issues = f.issues();
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0], f.path() + ":3: cannot read tls_cert '" + dir_of(f) +
                           "/tls/cert.pem': No such file or directory");
}

TEST(ConfigPaths, ResolvePathLeavesEmptyAndAbsoluteAlone) {
  EXPECT_EQ(resolve_path("/etc/secmx", ""), "");
  EXPECT_EQ(resolve_path("/etc/secmx", "/var/q"), "/var/q");
  EXPECT_EQ(resolve_path("/etc/secmx", "../var/q"), "/etc/var/q");
  EXPECT_EQ(resolve_path("/etc/secmx", "a/./b"), "/etc/secmx/a/b");
  EXPECT_EQ(config_dir("/etc/secmx/relay.toml"), "/etc/secmx");
  EXPECT_EQ(in_directory("/tmp", [] { return config_dir("x/../relay.toml"); }), "/tmp");
}

}  // namespace
}  // namespace secmx::config
