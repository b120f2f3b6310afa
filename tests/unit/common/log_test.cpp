// log_test.cpp - the log file sink's reopen (log rotation), an event's lines written
// together (log::write), and escape().
#include "relay/common/log.hpp"
#include "relay/common/log_lines.hpp"
#include "tests/unit/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <unistd.h>

namespace secmx::log {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Logging is process-wide: every test starts from a file of its own and ends on stderr.
class LogFileTest : public ::testing::Test {
 protected:
  void SetUp() override { init_logging("info", path_); }
  void TearDown() override { init_logging("info", "stderr"); }

  test::TempDir dir_{"secmx-log"};
  std::string path_ = dir_.sub("relay.log");
};

TEST_F(LogFileTest, ReopenStartsANewFileAfterTheOldOneWasRenamed) {
  auto log = logger("logtest");
  log->info("before rotation");
  fs::rename(path_, dir_.sub("relay.log.1"));
  log->info("after rename, before reopen");  // still the open file, now named .1

  ASSERT_TRUE(reopen().ok());
  log->info("after reopen");

  std::string old_file = slurp(dir_.sub("relay.log.1"));
  std::string new_file = slurp(path_);
  EXPECT_NE(old_file.find("before rotation"), std::string::npos);
  EXPECT_NE(old_file.find("after rename, before reopen"), std::string::npos);
  EXPECT_EQ(old_file.find("after reopen"), std::string::npos);
  EXPECT_NE(new_file.find("after reopen"), std::string::npos);
  EXPECT_EQ(new_file.find("before rotation"), std::string::npos);
}

// log::write() bypasses the loggers' own flush: the lines must still be in the file when
// it returns, in order, each under its module and through the escaping formatter.
TEST_F(LogFileTest, AnEventsLinesAreInTheFileInOrderWhenWriteReturns) {
  write({{"smtpd", "0193A: queued client=[192.0.2.1]:40000"},
         {"cleanup", "0193A: message-id=<a\r\nb@example.org>"}});
  std::string text = slurp(path_);  // nothing logged since: write() itself flushed
  EXPECT_TRUE(std::regex_search(
      text, std::regex(" info smtpd: 0193A: queued client=\\[192\\.0\\.2\\.1\\]:40000\n"
                       "[^\n]* info cleanup: 0193A: message-id=<a\\\\x0d\\\\x0ab@example\\.org>\n$")))
      << text;
}

TEST_F(LogFileTest, AnEventsLinesFollowTheLevel) {
  set_level("warn");
  write({{"smtpd", "hidden at warn"}});
  set_level("info");
  write({{"smtpd", "shown at info"}});
  std::string text = slurp(path_);
  EXPECT_EQ(text.find("hidden at warn"), std::string::npos) << text;
  EXPECT_NE(text.find("shown at info"), std::string::npos) << text;
}

TEST_F(LogFileTest, AFailedReopenKeepsWritingToTheOldFile) {
  auto log = logger("logtest");
  log->info("first");
  fs::rename(path_, dir_.sub("relay.log.1"));
  fs::create_directory(path_);  // the path cannot be opened as a file, not even by root

  auto reopened = reopen();
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.error().find("relay.log"), std::string::npos) << reopened.error();
  log->info("second");

  std::string old_file = slurp(dir_.sub("relay.log.1"));
  EXPECT_NE(old_file.find("first"), std::string::npos);
  EXPECT_NE(old_file.find("second"), std::string::npos);
}

TEST_F(LogFileTest, LinesReachTheFileAsTheyAreLogged) {
  logger("logtest")->info("no flush needed");
  EXPECT_NE(slurp(path_).find("info logtest: no flush needed"), std::string::npos);
}

// Whatever a call site passes unescaped, no raw control or non-ASCII byte reaches a line:
// a CR LF in a value cannot start a forged line, NUL and 0xff arrive as \x00 and \xff.
TEST_F(LogFileTest, RawControlAndNonAsciiBytesNeverReachTheFile) {
  using namespace std::string_literals;
  const std::string hostile = "y.example\r\n2026-01-01T00:00:00.000+00:00 info main: FORGED LINE"s +
                              "\0\x01\x1b[31m\x7f\xff\xc3\xa9\t"s;
  logger("logtest")->info("flush for {} by the operator", hostile);

  std::string text = slurp(path_);
  ASSERT_FALSE(text.empty());
  for (unsigned char c : text.substr(0, text.size() - 1)) {  // all but the line's own \n
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "raw byte 0x" << std::hex << int(c) << " in: " << text;
  }
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find("\nFORGED"), std::string::npos);
  EXPECT_NE(text.find("flush for y.example\\x0d\\x0a2026-01-01T00:00:00.000+00:00 info main: FORGED LINE"
                      "\\x00\\x01\\x1b[31m\\x7f\\xff\\xc3\\xa9\\x09 by the operator\n"),
            std::string::npos)
      << text;
}

// The formatter leaves escape()'s output alone (backslash included): never escaped twice.
TEST_F(LogFileTest, EscapedTextIsNotEscapedTwice) {
  logger("logtest")->info("domain={}", escape("a\\b\r\n\xff"));
  EXPECT_NE(slurp(path_).find("domain=a\\x5cb\\x0d\\x0a\\xff\n"), std::string::npos) << slurp(path_);
}

// The postfix shape: an RFC 3339 stamp and the host (pflogsumm's second timestamp form),
// then "secmx/<program>[pid]: ", the module under Postfix's name, warnings marked as
// Postfix marks them; format() reports the choice.
TEST(LogPostfixFormat, SyslogShapedLinesWithPostfixProgramNames) {
  test::TempDir dir{"secmx-log"};
  std::string path = dir.sub("relay.log");
  init_logging("info", path, Format::Postfix, "relay.example");
  EXPECT_EQ(format(), Format::Postfix);
  logger("delivery")->info("0193A: to=<a@example.org>, relay=none");
  logger("scheduler")->warn("0193A: event=dsn-held");
  logger("smtpd")->info("connect from unknown[192.0.2.1]");
  std::string text = slurp(path);
  init_logging("info", "stderr");
  EXPECT_EQ(format(), Format::Secmx);

  const std::string stamp = R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}[+-]\d{2}:\d{2} relay\.example )";
  const std::string pid = "\\[" + std::to_string(::getpid()) + "\\]: ";
  EXPECT_TRUE(std::regex_search(text, std::regex("(^|\n)" + stamp + "secmx/smtp" + pid +
                                                 "0193A: to=<a@example.org>, relay=none\n")))
      << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(stamp + "secmx/qmgr" + pid +
                                                 "warning: 0193A: event=dsn-held\n")))
      << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(stamp + "secmx/smtpd" + pid +
                                                 "connect from unknown\\[192\\.0\\.2\\.1\\]\n")))
      << text;
}

TEST(LogStderr, ReopenIsANoOpWhenLoggingToStderr) {
  init_logging("info", "stderr");
  EXPECT_TRUE(reopen().ok());
}

TEST(LogEscape, ControlBytesAreHexAndLongTextIsCut) {
  EXPECT_EQ(escape("a\r\nb\\"), "a\\x0d\\x0ab\\x5c");
  EXPECT_EQ(escape("abcdef", 3), "abc...");
}

TEST(LogEscape, NulDelAndNonAsciiAreHex) {
  using namespace std::string_literals;
  EXPECT_EQ(escape("\0\x7f\xff\xc3\xa9"s), "\\x00\\x7f\\xff\\xc3\\xa9");
  for (int c = 0; c < 256; ++c) {
    for (unsigned char out : escape(std::string(1, static_cast<char>(c)))) {
      EXPECT_TRUE(out >= 0x20 && out < 0x7f) << c;
    }
  }
}

}  // namespace
}  // namespace secmx::log
