// line_file_test.cpp - for_each_entry(): which lines are entries, their numbers as the
// file counts them, and what is trimmed.
#include "relay/config/line_file.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace secmx::config {
namespace {

using Entries = std::vector<std::pair<std::uint32_t, std::string>>;

Entries entries(std::string_view text) {
  Entries out;
  for_each_entry(text, [&](std::uint32_t n, std::string_view line) { out.emplace_back(n, line); });
  return out;
}

TEST(LineFile, EntriesKeepTheFilesLineNumbers) {
  EXPECT_EQ(entries("# operators\n\nalice:1\r\n  \t\n\tbob:2  \r\n# end\ncarol:3"),
            (Entries{{3, "alice:1"}, {5, "bob:2"}, {7, "carol:3"}}));
}

TEST(LineFile, CommentsOnlyAtTheStartOfAnEntry) {
  EXPECT_EQ(entries("  # indented comment\nname:#not a comment\n"),
            (Entries{{2, "name:#not a comment"}}));
}

TEST(LineFile, NothingInEmptyOrBlankText) {
  EXPECT_EQ(entries(""), Entries{});
  EXPECT_EQ(entries("\n\r\n \n"), Entries{});
}

TEST(LineFile, TrimBlanks) {
  EXPECT_EQ(trim_blanks(" \t\ra b\r\t "), "a b");
  EXPECT_EQ(trim_blanks("\r\n"), "\n");  // a newline is no blank
}

}  // namespace
}  // namespace secmx::config
