// admin_tokens_test.cpp - [admin] tokens_file: the named operators' lines, and the file's
// problems as "file:line: ..." through load_config().
#include "relay/config/admin_tokens.hpp"

#include <gtest/gtest.h>

#include "tests/unit/config/config_file.hpp"

namespace secmx::config {
namespace {

const std::string kHashA(64, 'a');
const std::string kHashB = std::string(63, '0') + "F";

TEST(AdminTokens, ParsesNamesAndDigestsSkippingCommentsAndBlankLines) {
  std::vector<OperatorToken> out;
  auto issues = parse_admin_tokens("# operators\n\nalice:" + kHashA + "\r\n  ops.bob-2_x:" + kHashB +
                                       "  \n",
                                   "tokens", out);
  EXPECT_TRUE(issues.empty());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, "alice");
  EXPECT_EQ(out[0].digest[0], 0xaa);
  EXPECT_EQ(out[1].name, "ops.bob-2_x");
  EXPECT_EQ(out[1].digest[31], 0x0f);
  EXPECT_EQ(out[1].digest[0], 0x00);
}

TEST(AdminTokens, BadLinesAreNamedByLineAndLeftOut) {
  std::vector<OperatorToken> out;
  auto issues = parse_admin_tokens("alice:" + kHashA +                      // 1
                                       "\nno-colon\n"                       // 2
                                       "bad name:" + kHashB +               // 3
                                       "\n" + std::string(65, 'n') + ":" + kHashB +  // 4
                                       "\ncarol:abc\n"                      // 5
                                       "alice:" + kHashB +                  // 6
                                       "\ndave:" + kHashA +                 // 7
                                       "\nadmin:" + kHashB +                // 8
                                       "\nerin:" + std::string(63, 'a') + "g\n",  // 9
                                   "/etc/tokens", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "alice");
  std::vector<std::string> text;
  for (const auto& i : issues) text.push_back(i.to_string());
  ASSERT_EQ(text.size(), 8u);
  EXPECT_EQ(text[0], "/etc/tokens:2: expected \"name:sha256-hex-of-token\"");
  EXPECT_EQ(text[1], "/etc/tokens:3: operator name must be 1 to 64 of A-Z a-z 0-9 . _ -");
  EXPECT_EQ(text[2], "/etc/tokens:4: operator name must be 1 to 64 of A-Z a-z 0-9 . _ -");
  EXPECT_EQ(text[3].rfind("/etc/tokens:5: operator 'carol': expected the token's SHA-256", 0), 0u);
  EXPECT_EQ(text[4], "/etc/tokens:6: operator 'alice' listed twice");
  EXPECT_EQ(text[5], "/etc/tokens:7: operator 'dave' has the same token as 'alice'");
  EXPECT_EQ(text[6], "/etc/tokens:8: operator name 'admin' is the token of [admin] token_file");
  EXPECT_EQ(text[7].rfind("/etc/tokens:9: operator 'erin'", 0), 0u);
  for (const auto& t : text) EXPECT_EQ(t.find(kHashA), std::string::npos) << "never quotes a hash";
}

TEST(AdminTokens, LoadConfigReadsTheFileAndRefusesItsBadLines) {
  secmx::test::TempDir dir;
  auto tokens = dir.write("operators", "alice:" + kHashA + "\nalice:" + kHashB + "\n");
  test_support::ConfigFile cfg("[admin]\ntokens_file = \"" + tokens + "\"\n");
  auto issues = cfg.issues();
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0], tokens + ":2: operator 'alice' listed twice");

  auto good = dir.write("good", "alice:" + kHashA + "\n");
  test_support::ConfigFile ok("[admin]\ntokens_file = \"" + good + "\"\n");
  auto loaded = load_config(ok.path());
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->admin.tokens_file, good);
  ASSERT_EQ(loaded->admin.operators.size(), 1u);
  EXPECT_EQ(loaded->admin.operators[0].name, "alice");

  test_support::ConfigFile missing("[admin]\ntokens_file = \"" + dir.path() + "/nope\"\n");
  ASSERT_EQ(missing.issues().size(), 1u);
  EXPECT_NE(missing.issues()[0].find("tokens_file: cannot read"), std::string::npos)
      << missing.issues()[0];
}

TEST(AdminTokens, OperatorNames) {
  EXPECT_TRUE(valid_operator_name("a"));
  EXPECT_TRUE(valid_operator_name(std::string(64, 'z')));
  EXPECT_FALSE(valid_operator_name(std::string(65, 'z')));
  EXPECT_FALSE(valid_operator_name(""));
  EXPECT_FALSE(valid_operator_name("a b"));
  EXPECT_FALSE(valid_operator_name("a:b"));
  EXPECT_FALSE(valid_operator_name("é"));
}

}  // namespace
}  // namespace secmx::config
