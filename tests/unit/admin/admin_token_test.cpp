// admin_token_test.cpp - token file loading and the bearer check.
#include "admin/admin_token.hpp"

#include <gtest/gtest.h>

#include <fstream>

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

}  // namespace
}  // namespace secmx::admin
