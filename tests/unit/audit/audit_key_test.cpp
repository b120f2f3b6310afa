// audit_key_test.cpp - the checkpoint key file: made once (0600, 64 hex digits), read back
// unchanged, refused when others can read it or when it is empty.
#include "relay/audit/audit_key.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/unit/temp_dir.hpp"

namespace secmx::audit {
namespace {

TEST(AuditKey, MadeOnceThenReadBack) {
  test::TempDir dir;
  const std::string path = dir.sub("audit.key");
  auto first = prepare_audit_key(path, std::nullopt);
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->key.size(), 64u);
  EXPECT_EQ(first->key.find_first_not_of("0123456789abcdef"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = prepare_audit_key(path, std::nullopt);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->key, first->key);
  EXPECT_EQ(read_audit_key(path).value(), first->key);
}

TEST(AuditKey, RefusedWhenGroupOrOthersCanReadIt) {
  test::TempDir dir;
  const std::string path = dir.sub("audit.key");
  ASSERT_TRUE(prepare_audit_key(path, std::nullopt).ok());
  for (mode_t mode : {0640, 0604}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto r = prepare_audit_key(path, std::nullopt);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("readable by group or others"), std::string::npos) << r.error();
    EXPECT_NE(r.error().find(path), std::string::npos) << r.error();
  }
}

TEST(AuditKey, AnEmptyFileIsNoKey) {
  test::TempDir dir;
  const std::string path = dir.write("audit.key", "\n");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto r = read_audit_key(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("empty"), std::string::npos) << r.error();
}

TEST(AuditKey, AMissingDirectoryIsAClearError) {
  test::TempDir dir;
  auto r = prepare_audit_key(dir.sub("no/such/audit.key"), std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("cannot create audit key"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace secmx::audit
