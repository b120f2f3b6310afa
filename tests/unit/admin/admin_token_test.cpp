// admin_token_test.cpp - token file loading and the bearer check.
#include "admin/admin_token.hpp"

#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "relay/config/admin_tokens.hpp"
#include "tests/unit/admin/admin_test_util.hpp"

namespace secmx::admin {
namespace {

TEST(AdminToken, LoadsFirstLineTrimmed) {
  test::TempDir dir;
  auto path = dir.sub("token");
  std::ofstream(path) << "  s3cret-token \nsecond line\n";
  auto t = AdminToken::load(path);
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_TRUE(t->check("s3cret-token"));
  EXPECT_FALSE(t->check("second line"));
  EXPECT_FALSE(t->check("s3cret-toke"));
  EXPECT_FALSE(t->check(""));
}

TEST(AdminToken, MissingOrEmptyFileIsAnError) {
  test::TempDir dir;
  auto missing = AdminToken::load(dir.sub("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("nope"), std::string::npos);
  std::ofstream(dir.sub("empty")) << "   \n";
  auto empty = AdminToken::load(dir.sub("empty"));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().find("empty"), std::string::npos);
}

TEST(AdminToken, BearerHeader) {
  auto t = AdminToken::from_string("abc123");
  EXPECT_TRUE(t.check_header("Bearer abc123"));
  EXPECT_TRUE(t.check_header("bearer abc123"));
  EXPECT_FALSE(t.check_header("Basic abc123"));
  EXPECT_FALSE(t.check_header("Bearer "));
  EXPECT_FALSE(t.check_header("Bearer abc1234"));
  EXPECT_FALSE(t.check_header(""));
  EXPECT_FALSE(t.check_header("abc123"));
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(AdminTokenCreate, MakesAFreshPrivateTokenThatLoads) {
  test::TempDir dir;
  auto path = dir.sub("admin.token");
  mode_t old_umask = ::umask(0277);  // would leave 0400: the mode must not depend on it
  auto made = AdminToken::create_if_missing(path, std::nullopt);
  ::umask(old_umask);
  ASSERT_TRUE(made.ok()) << made.error();
  EXPECT_TRUE(*made);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());

  std::string text = read_all(path);
  ASSERT_EQ(text.size(), 65u) << text;  // 32 random bytes as hex, and a newline
  EXPECT_EQ(text.find_first_not_of("0123456789abcdef"), 64u);
  auto t = AdminToken::load(path);
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_TRUE(t->check(text.substr(0, 64)));

  // A second file gets a different token.
  auto other = dir.sub("other.token");
  ASSERT_TRUE(AdminToken::create_if_missing(other, std::nullopt).ok());
  EXPECT_NE(read_all(other), text);
}

TEST(AdminTokenCreate, NeverTouchesWhatIsThere) {
  test::TempDir dir;
  auto path = dir.sub("admin.token");
  std::ofstream(path) << "chosen-by-the-operator\n";
  auto made = AdminToken::create_if_missing(path, std::nullopt);
  ASSERT_TRUE(made.ok()) << made.error();
  EXPECT_FALSE(*made);
  EXPECT_EQ(read_all(path), "chosen-by-the-operator\n");

  // A link, even one to nothing, is not followed: nothing appears at its target.
  auto link = dir.sub("link.token");
  std::filesystem::create_symlink(dir.sub("target"), link);
  auto via_link = AdminToken::create_if_missing(link, std::nullopt);
  ASSERT_TRUE(via_link.ok()) << via_link.error();
  EXPECT_FALSE(*via_link);
  EXPECT_FALSE(std::filesystem::exists(dir.sub("target")));
}

TEST(AdminTokenCreate, AMissingDirectoryIsAnErrorNamingThePath) {
  test::TempDir dir;
  auto path = dir.sub("no/such/dir/admin.token");
  auto made = AdminToken::create_if_missing(path, std::nullopt);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.error(), "cannot create admin token " + path + ": No such file or directory");
}

TEST(AdminTokenCreate, StartedAsRootTheFileBelongsToTheRunAccount) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  test::TempDir dir;
  auto path = dir.sub("admin.token");
  privileges::Account who{"nobody", "nogroup", 65534, 65534};
  auto made = AdminToken::create_if_missing(path, who);
  ASSERT_TRUE(made.ok()) << made.error();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}


// --- TokenSet: the operators' tokens -------------------------------------------------

config::AdminConfig operators_config(const test::TempDir& dir, std::vector<std::string> lines) {
  config::AdminConfig admin;
  admin.token_file = dir.sub("admin.token");
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  EXPECT_TRUE(config::parse_admin_tokens(text, "tokens", admin.operators).empty());
  return admin;
}

TEST(TokenSet, EachTokenNamesItsOperatorAndTheSingleTokenIsAdmin) {
  test::TempDir dir;
  std::ofstream(dir.sub("admin.token")) << "the-admin-token\n";
  auto alice = new_operator_token("alice");
  auto bob = new_operator_token("bob");
  ASSERT_TRUE(alice.ok() && bob.ok());
  auto set = TokenSet::from_config(operators_config(dir, {alice->line, bob->line}));
  EXPECT_EQ(set.size(), 3u);
  EXPECT_TRUE(set.token_file_problem().empty());
  EXPECT_EQ(set.match(alice->token), "alice");
  EXPECT_EQ(set.match(bob->token), "bob");
  EXPECT_EQ(set.match("the-admin-token"), "admin");
  EXPECT_EQ(set.match_header("Bearer " + bob->token), "bob");
  EXPECT_EQ(set.match_header("bearer  " + alice->token + " "), "alice");
  EXPECT_EQ(set.match(""), std::nullopt);
  EXPECT_EQ(set.match(alice->token + "0"), std::nullopt);
  EXPECT_EQ(set.match(alice->line), std::nullopt) << "the hash is not the token";
  EXPECT_EQ(set.match_header("Basic " + alice->token), std::nullopt);
}

TEST(TokenSet, WithoutTheTokenFileTheNamedOperatorsStillWork) {
  test::TempDir dir;  // no admin.token in it
  auto alice = new_operator_token("alice");
  ASSERT_TRUE(alice.ok());
  auto set = TokenSet::from_config(operators_config(dir, {alice->line}));
  EXPECT_NE(set.token_file_problem().find("admin.token"), std::string::npos);
  EXPECT_EQ(set.size(), 1u);
  EXPECT_EQ(set.match(alice->token), "alice");
}

// The time a check takes must not tell whether or which operator matched: every entry is
// compared, in constant time, whatever the answer.
int g_compares = 0;
int counting_compare(const void* a, const void* b, std::size_t n) {
  ++g_compares;
  return CRYPTO_memcmp(a, b, n);
}

TEST(TokenSet, ComparesEveryEntryWhateverMatches) {
  TokenSet set;
  std::vector<NewOperatorToken> made;
  for (const char* name : {"a", "b", "c", "d"}) {
    auto t = new_operator_token(name);
    ASSERT_TRUE(t.ok());
    std::vector<config::OperatorToken> parsed;
    ASSERT_TRUE(config::parse_admin_tokens(t->line, "x", parsed).empty());
    set.add(parsed[0].name, parsed[0].digest);
    made.push_back(*t);
  }
  for (const auto& presented : {made[0].token, made[3].token, std::string("nobody")}) {
    g_compares = 0;
    set.match(presented, &counting_compare);
    EXPECT_EQ(g_compares, 4) << presented;
  }
  EXPECT_EQ(set.match(made[2].token, &counting_compare), "c");
}

TEST(TokenSet, NewTokensAreRandomAndTheirLinesParse) {
  auto a = new_operator_token("ops.night-1");
  auto b = new_operator_token("ops.night-1");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->token.size(), 64u);
  EXPECT_NE(a->token, b->token);
  EXPECT_EQ(a->line.rfind("ops.night-1:", 0), 0u);
  EXPECT_EQ(a->line.size(), std::string("ops.night-1:").size() + 64);
  EXPECT_FALSE(new_operator_token("bad name").ok());
  EXPECT_FALSE(new_operator_token("admin").ok());
}

}  // namespace
}  // namespace secmx::admin
