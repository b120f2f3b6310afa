// reply_test.cpp - Reply::format() wire form and ReplyParser over peers' replies.
#include "relay/smtp/reply.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/smtp/reply_parser.hpp"

namespace secmx::smtp {
namespace {

struct FormatCase {
  Reply reply;
  std::string wire;
};

TEST(ReplyFormat, Table) {
  const std::vector<FormatCase> cases = {
      {{250, "2.1.0", "Ok"}, "250 2.1.0 Ok\r\n"},
      {{250, "", "Ok"}, "250 Ok\r\n"},
      {{354, "", "End data with <CR><LF>.<CR><LF>"}, "354 End data with <CR><LF>.<CR><LF>\r\n"},
      {{250, "", "relay.example\nPIPELINING\nSIZE 100"},
       "250-relay.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n"},
      {{550, "5.7.1", "first\nsecond\nthird"},
       "550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n"},
      {{250, "2.0.0", ""}, "250 2.0.0\r\n"},
      {{250, "", ""}, "250\r\n"},
      {{250, "", "a\n"}, "250 a\r\n"},
      {{250, "", "\n"}, "250-\r\n250\r\n"},
      {{250, "2.0.0", "trailing\n"}, "250 2.0.0 trailing\r\n"},
      {{250, "2.0.0", "a\n\nb"}, "250-2.0.0 a\r\n250-2.0.0\r\n250 2.0.0 b\r\n"},
      // CR and LF never reach the wire inside a line.
      {{550, "5.0.0", "evil\r\n250 ok"}, "550-5.0.0 evil\r\n550 5.0.0 250 ok\r\n"},
      {{550, "5.0.0", "a\rb"}, "550 5.0.0 ab\r\n"},
      {{550, "5.0.0\r\n", "x"}, "550 5.0.0 x\r\n"},
      // A code out of range is a bug; the wire stays well-formed.
      {{0, "", "oops"}, "451 oops\r\n"},
      {{1000, "", "oops"}, "451 oops\r\n"},
  };
  for (const auto& c : cases) EXPECT_EQ(c.reply.format(), c.wire) << c.reply.text;
  // append_reply() renders the same, after whatever the output already holds.
  for (const auto& c : cases) {
    std::string out = "220 before\r\n";
    append_reply(out, c.reply.code, c.reply.enhanced, c.reply.text);
    EXPECT_EQ(out, "220 before\r\n" + c.wire) << c.reply.text;
  }
}

TEST(ReplyFormat, EveryLineEndsWithCrlfAndHasNoOtherCrOrLf) {
  Reply r{421, "4.3.2", "x\ry\n\r\nz\n\n\r"};
  std::string wire = r.format();
  std::size_t start = 0;
  while (start < wire.size()) {
    std::size_t end = wire.find("\r\n", start);
    ASSERT_NE(end, std::string::npos);
    std::string line = wire.substr(start, end - start);
    EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos);
    EXPECT_EQ(line.substr(0, 3), "421");
    start = end + 2;
  }
}

TEST(ReplyClass, Predicates) {
  EXPECT_TRUE((Reply{250, "", ""}.positive()));
  EXPECT_TRUE((Reply{354, "", ""}.positive()));
  EXPECT_TRUE((Reply{421, "", ""}.transient()));
  EXPECT_TRUE((Reply{554, "", ""}.permanent()));
  EXPECT_FALSE((Reply{450, "", ""}.permanent()));
}

// Feeds lines; the last must complete the reply, the others ask for more.
ParsedReply parse_ok(const std::vector<std::string>& lines) {
  ReplyParser p;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    ReplyStatus s = p.feed(lines[i]);
    if (i + 1 < lines.size()) {
      EXPECT_EQ(s, ReplyStatus::NeedMore) << lines[i];
    } else {
      EXPECT_EQ(s, ReplyStatus::Complete) << lines[i] << " " << p.error();
    }
  }
  return p.take();
}

TEST(ReplyParser, SingleLine) {
  ParsedReply r = parse_ok({"250 2.1.0 Sender ok"});
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.enhanced, "2.1.0");
  EXPECT_EQ(r.lines, std::vector<std::string>{"Sender ok"});
}

TEST(ReplyParser, NoEnhancedCode) {
  ParsedReply r = parse_ok({"220 mx.example ESMTP ready"});
  EXPECT_EQ(r.code, 220);
  EXPECT_EQ(r.enhanced, "");
  EXPECT_EQ(r.lines, std::vector<std::string>{"mx.example ESMTP ready"});
}

TEST(ReplyParser, CodeOnly) {
  ParsedReply r = parse_ok({"250"});
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.lines, std::vector<std::string>{""});
  EXPECT_EQ(parse_ok({"250 "}).lines, std::vector<std::string>{""});
  ParsedReply e = parse_ok({"250 2.0.0"});
  EXPECT_EQ(e.enhanced, "2.0.0");
  EXPECT_EQ(e.lines, std::vector<std::string>{""});
}

TEST(ReplyParser, MultiLineEhlo) {
  ParsedReply r = parse_ok({"250-mx.example Hello", "250-PIPELINING", "250-SIZE 10240000",
                            "250-STARTTLS", "250-", "250 SMTPUTF8"});
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.enhanced, "");
  EXPECT_EQ(r.lines, (std::vector<std::string>{"mx.example Hello", "PIPELINING",
                                                "SIZE 10240000", "STARTTLS", "", "SMTPUTF8"}));
}

TEST(ReplyParser, MultiLineEnhancedOnEveryLine) {
  ParsedReply r = parse_ok({"550-5.7.1 Message rejected", "550-5.7.1 see https://x/y",
                            "550 5.7.1 policy"});
  EXPECT_EQ(r.code, 550);
  EXPECT_EQ(r.enhanced, "5.7.1");
  EXPECT_EQ(r.lines,
            (std::vector<std::string>{"Message rejected", "see https://x/y", "policy"}));
}

TEST(ReplyParser, EnhancedCodeRules) {
  // Class must match the reply's first digit.
  ParsedReply wrong = parse_ok({"550 2.0.0 odd"});
  EXPECT_EQ(wrong.enhanced, "");
  EXPECT_EQ(wrong.lines, std::vector<std::string>{"2.0.0 odd"});
  // Three digits at most in subject and detail; must be followed by a space or the end.
  EXPECT_EQ(parse_ok({"450 4.7.1000 x"}).enhanced, "");
  EXPECT_EQ(parse_ok({"450 4.1000.1 x"}).enhanced, "");
  EXPECT_EQ(parse_ok({"450 4.7.1x"}).enhanced, "");
  EXPECT_EQ(parse_ok({"450 4.7. x"}).enhanced, "");
  EXPECT_EQ(parse_ok({"450 4.999.999 x"}).enhanced, "4.999.999");
  EXPECT_EQ(parse_ok({"550 5.7.10 Encryption needed"}).enhanced, "5.7.10");
  // Only the first line decides whether codes are stripped.
  ParsedReply later = parse_ok({"250-hello", "250 2.0.0 x"});
  EXPECT_EQ(later.enhanced, "");
  EXPECT_EQ(later.lines, (std::vector<std::string>{"hello", "2.0.0 x"}));
  // A line without the repeated code keeps its text.
  ParsedReply mixed = parse_ok({"451-4.3.0 first", "451 second"});
  EXPECT_EQ(mixed.enhanced, "4.3.0");
  EXPECT_EQ(mixed.lines, (std::vector<std::string>{"first", "second"}));
}

TEST(ReplyParser, TrailingCrTolerated) {
  ParsedReply r = parse_ok({"250-a\r", "250 b\r"});
  EXPECT_EQ(r.lines, (std::vector<std::string>{"a", "b"}));
}

struct BadCase {
  std::vector<std::string> lines;  // the last one is the error
};

TEST(ReplyParser, Malformed) {
  const std::vector<BadCase> cases = {
      {{""}},
      {{"25"}},
      {{"2500 x"}},
      {{"250x"}},
      {{"25a ok"}},
      {{"abc ok"}},
      {{"150 old"}},
      {{"650 no"}},
      {{"050 no"}},
      {{" 250 ok"}},
      {{"250\tok"}},
      {{"250-a", "251 b"}},
      {{"250-a", "550 b"}},
      {{"250-a", "250-b", "garbage"}},
      {{"250-a", ""}},
  };
  for (const auto& c : cases) {
    ReplyParser p;
    for (std::size_t i = 0; i + 1 < c.lines.size(); ++i) {
      EXPECT_EQ(p.feed(c.lines[i]), ReplyStatus::NeedMore);
    }
    EXPECT_EQ(p.feed(c.lines.back()), ReplyStatus::Error) << c.lines.back();
    EXPECT_FALSE(p.error().empty());
    // The parser starts over after an error.
    EXPECT_EQ(p.feed("221 bye"), ReplyStatus::Complete);
    EXPECT_EQ(p.take().code, 221);
  }
}

TEST(ReplyParser, TooManyLines) {
  ReplyParser p(3);
  EXPECT_EQ(p.feed("250-a"), ReplyStatus::NeedMore);
  EXPECT_EQ(p.feed("250-b"), ReplyStatus::NeedMore);
  EXPECT_EQ(p.feed("250-c"), ReplyStatus::NeedMore);
  EXPECT_EQ(p.feed("250 d"), ReplyStatus::Error);
}

TEST(ReplyParser, ConsecutiveReplies) {
  // Pipelined replies arrive back to back; each completes on its own.
  ReplyParser p;
  EXPECT_EQ(p.feed("250 2.1.0 Ok"), ReplyStatus::Complete);
  EXPECT_EQ(p.take().enhanced, "2.1.0");
  EXPECT_EQ(p.feed("550-5.1.1 no such"), ReplyStatus::NeedMore);
  EXPECT_EQ(p.feed("550 5.1.1 user"), ReplyStatus::Complete);
  ParsedReply second = p.take();
  EXPECT_EQ(second.code, 550);
  EXPECT_EQ(second.lines.size(), 2u);
  EXPECT_EQ(p.feed("354 go ahead"), ReplyStatus::Complete);
  ParsedReply third = p.take();
  EXPECT_EQ(third.code, 354);
  EXPECT_EQ(third.enhanced, "");
  EXPECT_EQ(third.lines, std::vector<std::string>{"go ahead"});
}

TEST(ReplyParser, ResetDropsPartialReply) {
  ReplyParser p;
  EXPECT_EQ(p.feed("250-partial"), ReplyStatus::NeedMore);
  p.reset();
  EXPECT_EQ(p.feed("421 4.4.2 timeout"), ReplyStatus::Complete);
  ParsedReply r = p.take();
  EXPECT_EQ(r.code, 421);
  EXPECT_EQ(r.lines, std::vector<std::string>{"timeout"});
}

TEST(ReplyParser, RoundTripsFormat) {
  const std::vector<Reply> replies = {
      {250, "2.0.0", "one"}, {550, "5.7.1", "a\nb\nc"}, {250, "", "host\nSIZE 5\n8BITMIME"}};
  for (const auto& reply : replies) {
    std::string wire = reply.format();
    ReplyParser p;
    ReplyStatus s = ReplyStatus::Error;
    std::size_t start = 0;
    while (start < wire.size()) {
      std::size_t end = wire.find("\r\n", start);
      s = p.feed(std::string_view(wire).substr(start, end - start));
      start = end + 2;
    }
    ASSERT_EQ(s, ReplyStatus::Complete);
    ParsedReply parsed = p.take();
    EXPECT_EQ(parsed.code, reply.code);
    EXPECT_EQ(parsed.enhanced, reply.enhanced);
    std::string joined;
    for (std::size_t i = 0; i < parsed.lines.size(); ++i) {
      joined += (i ? "\n" : "") + parsed.lines[i];
    }
    EXPECT_EQ(joined, reply.text);
  }
}

}  // namespace
}  // namespace secmx::smtp
