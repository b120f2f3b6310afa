// command_test.cpp - parse_command: verbs in any case, arguments, unknown lines.
#include "relay/smtp/command.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace secmx::smtp {
namespace {

struct CommandCase {
  std::string line;
  Verb verb;
  std::string verb_text;
  std::string arg;
};

TEST(ParseCommand, Table) {
  const std::vector<CommandCase> cases = {
      {"HELO client.example", Verb::Helo, "HELO", "client.example"},
      {"EHLO client.example", Verb::Ehlo, "EHLO", "client.example"},
      {"ehlo client.example", Verb::Ehlo, "ehlo", "client.example"},
      {"EhLo [192.0.2.1]", Verb::Ehlo, "EhLo", "[192.0.2.1]"},
      {"MAIL FROM:<a@b>", Verb::Mail, "MAIL", "FROM:<a@b>"},
      {"mail from:<a@b> SIZE=10", Verb::Mail, "mail", "from:<a@b> SIZE=10"},
      {"MAIL FROM: <a@b>", Verb::Mail, "MAIL", "FROM: <a@b>"},
      {"MAIL  FROM:<a@b>", Verb::Mail, "MAIL", "FROM:<a@b>"},
      {"RCPT TO:<a@b>", Verb::Rcpt, "RCPT", "TO:<a@b>"},
      {"RCPT TO:<a@b>   ", Verb::Rcpt, "RCPT", "TO:<a@b>"},
      {"DATA", Verb::Data, "DATA", ""},
      {"data", Verb::Data, "data", ""},
      {"DATA ", Verb::Data, "DATA", ""},
      {"DATA\t", Verb::Data, "DATA", ""},
      {"DATA now", Verb::Data, "DATA", "now"},
      {"BDAT 100 LAST", Verb::Bdat, "BDAT", "100 LAST"},
      {"BDAT 0", Verb::Bdat, "BDAT", "0"},
      {"RSET", Verb::Rset, "RSET", ""},
      {"NOOP", Verb::Noop, "NOOP", ""},
      {"NOOP anything at all", Verb::Noop, "NOOP", "anything at all"},
      {"QUIT", Verb::Quit, "QUIT", ""},
      {"QUIT now", Verb::Quit, "QUIT", "now"},
      {"VRFY user", Verb::Vrfy, "VRFY", "user"},
      {"EXPN list", Verb::Expn, "EXPN", "list"},
      {"HELP", Verb::Help, "HELP", ""},
      {"HELP MAIL", Verb::Help, "HELP", "MAIL"},
      {"STARTTLS", Verb::Starttls, "STARTTLS", ""},
      {"starttls", Verb::Starttls, "starttls", ""},
      {"STARTTLS extra", Verb::Starttls, "STARTTLS", "extra"},
      {"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=", Verb::Auth, "AUTH", "PLAIN dGVzdAB0ZXN0AHRlc3Q="},
      // Unknown: misspelt, glued, prefixed, empty, starting with a space.
      {"", Verb::Unknown, "", ""},
      {"   ", Verb::Unknown, "", ""},
      {" HELO x", Verb::Unknown, "", "HELO x"},
      {"HELOx", Verb::Unknown, "HELOx", ""},
      {"MAILFROM:<a@b>", Verb::Unknown, "MAILFROM:<a@b>", ""},
      {"MAIL:FROM", Verb::Unknown, "MAIL:FROM", ""},
      {"DAT", Verb::Unknown, "DAT", ""},
      {"DATAX", Verb::Unknown, "DATAX", ""},
      {"STARTTL", Verb::Unknown, "STARTTL", ""},
      {"GET / HTTP/1.1", Verb::Unknown, "GET", "/ HTTP/1.1"},
      {"HELO\tclient", Verb::Unknown, "HELO\tclient", ""},
      {std::string("DATA\0", 5), Verb::Unknown, std::string("DATA\0", 5), ""},
      {"D\xc3\xa4TA", Verb::Unknown, "D\xc3\xa4TA", ""},
  };
  for (const auto& c : cases) {
    Command cmd = parse_command(c.line);
    EXPECT_EQ(cmd.verb, c.verb) << c.line;
    EXPECT_EQ(cmd.verb_text, c.verb_text) << c.line;
    EXPECT_EQ(cmd.arg, c.arg) << c.line;
  }
}

TEST(ParseCommand, ViewsPointIntoTheLine) {
  std::string line = "RCPT TO:<a@b>";
  Command cmd = parse_command(line);
  EXPECT_EQ(cmd.verb_text.data(), line.data());
  EXPECT_EQ(cmd.arg.data(), line.data() + 5);
}

TEST(VerbToString, AllVerbs) {
  EXPECT_STREQ(to_string(Verb::Helo), "HELO");
  EXPECT_STREQ(to_string(Verb::Starttls), "STARTTLS");
  EXPECT_STREQ(to_string(Verb::Auth), "AUTH");
  EXPECT_STREQ(to_string(Verb::Unknown), "UNKNOWN");
  // Each known verb parses back from its own name.
  for (Verb v : {Verb::Helo, Verb::Ehlo, Verb::Mail, Verb::Rcpt, Verb::Data, Verb::Bdat,
                 Verb::Rset, Verb::Noop, Verb::Quit, Verb::Vrfy, Verb::Expn, Verb::Help,
                 Verb::Starttls, Verb::Auth}) {
    EXPECT_EQ(parse_command(to_string(v)).verb, v) << to_string(v);
  }
}

}  // namespace
}  // namespace secmx::smtp
