// audit_stream_test.cpp - the JSON-lines copy: one line per record, appended, and a
// reopen() after a rename (logrotate) writes to a new file by the same name.
#include "relay/audit/audit_stream.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "tests/unit/temp_dir.hpp"

namespace secmx::audit {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(AuditStream, OneLinePerRecordAppendedAndReopenedAfterARename) {
  test::TempDir dir;
  const std::string path = dir.sub("audit.jsonl");
  AuditStream stream(path);
  ASSERT_TRUE(stream.is_open());
  std::vector<queue::AuditRecord> records = {{1, "{\"a\":1}"}, {2, "{\"b\":2}"}};
  stream.append(records);
  EXPECT_EQ(slurp(path), "{\"a\":1}\n{\"b\":2}\n");
  ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);
  stream.reopen();
  std::vector<queue::AuditRecord> more = {{3, "{\"c\":3}"}};
  stream.append(more);
  EXPECT_EQ(slurp(path), "{\"c\":3}\n");
  EXPECT_EQ(slurp(path + ".1"), "{\"a\":1}\n{\"b\":2}\n");
}

TEST(AuditStream, AnUnwritablePathLeavesItClosedWithoutFailingAppends) {
  test::TempDir dir;
  AuditStream stream(dir.sub("missing/dir/audit.jsonl"));
  EXPECT_FALSE(stream.is_open());
  std::vector<queue::AuditRecord> records = {{1, "{}"}};
  stream.append(records);  // nothing to write to: ignored
}

}  // namespace
}  // namespace secmx::audit
