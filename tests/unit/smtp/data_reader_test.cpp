// data_reader_test.cpp - DataReader and ChunkChecker: end marker, dot-unstuffing, bare
// CR/LF (SMTP smuggling), limits, and every split of the input across feed() calls,
// checked against the byte-at-a-time model in tests/fuzz/content_model.hpp.
#include "relay/smtp/data_reader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/content_model.hpp"

namespace secmx::smtp {
namespace {

using model::Outcome;
using model::reference;

bool operator==(const ContentFlags& a, const ContentFlags& b) { return model::same_flags(a, b); }

std::string describe(const ContentFlags& f) {
  std::string s;
  if (f.bare_lf) s += "bare_lf ";
  if (f.bare_cr) s += "bare_cr ";
  if (f.line_too_long) s += "line_too_long ";
  if (f.too_big) s += "too_big ";
  if (f.eight_bit) s += "eight_bit ";
  return s.empty() ? "none" : s;
}

std::string show(std::string_view s) {
  std::string r;
  for (unsigned char c : s) {
    if (c == '\r') r += "\\r";
    else if (c == '\n') r += "\\n";
    else if (c < 32 || c >= 127) r += "\\x" + std::to_string(c);
    else r += static_cast<char>(c);
  }
  return r;
}

Outcome run_reader(std::string_view in, const std::vector<std::size_t>& cuts,
                   std::uint64_t max_size = 0, std::size_t max_line = 0) {
  DataReader reader(max_size, max_line);
  Outcome r;
  std::size_t pos = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(in.size());
  for (std::size_t end : ends) {
    if (end < pos) continue;
    std::size_t used = reader.feed(in.substr(pos, end - pos), r.out);
    EXPECT_LE(used, end - pos);
    r.consumed = pos + used;
    if (reader.done()) {
      EXPECT_EQ(reader.feed(in.substr(r.consumed), r.out), 0u) << "consumed after done";
      break;
    }
    EXPECT_EQ(used, end - pos) << "stopped early without the end marker";
    pos = end;
  }
  r.done = reader.done();
  r.flags = reader.flags();
  r.size = reader.size();
  return r;
}

Outcome run_chunks(std::string_view in, const std::vector<std::size_t>& cuts,
                   std::uint64_t max_size = 0, std::size_t max_line = 0) {
  ChunkChecker checker(max_size, max_line);
  Outcome r;
  std::size_t pos = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(in.size());
  for (std::size_t end : ends) {
    if (end < pos) continue;
    checker.feed(in.substr(pos, end - pos), r.out);
    pos = end;
  }
  checker.finish();
  r.flags = checker.flags();
  r.size = checker.size();
  r.consumed = in.size();
  return r;
}

void expect_same(const Outcome& got, const Outcome& want, const std::string& where) {
  EXPECT_EQ(got.done, want.done) << where;
  EXPECT_EQ(got.consumed, want.consumed) << where;
  EXPECT_EQ(show(got.out), show(want.out)) << where;
  EXPECT_EQ(got.size, want.size) << where;
  EXPECT_TRUE(got.flags == want.flags)
      << where << ": got " << describe(got.flags) << ", want " << describe(want.flags);
}

// Every way of cutting `in` into two and three feeds gives the same result.
void check_all_splits(std::string_view in, const Outcome& want, std::uint64_t max_size = 0,
                      std::size_t max_line = 0) {
  expect_same(run_reader(in, {}, max_size, max_line), want, "whole [" + show(in) + "]");
  for (std::size_t a = 0; a <= in.size(); ++a) {
    expect_same(run_reader(in, {a}, max_size, max_line), want,
                "split at " + std::to_string(a) + " [" + show(in) + "]");
    for (std::size_t b = a; b <= in.size() && in.size() <= 80; ++b) {
      expect_same(run_reader(in, {a, b}, max_size, max_line), want,
                  "splits at " + std::to_string(a) + "," + std::to_string(b));
    }
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t a = 1; a < in.size(); ++a) every_byte.push_back(a);
  expect_same(run_reader(in, every_byte, max_size, max_line), want, "byte by byte");
}

Outcome expected(std::string out, std::size_t consumed, ContentFlags flags = {}) {
  Outcome o;
  o.size = out.size();
  o.out = std::move(out);
  o.consumed = consumed;
  o.done = true;
  o.flags = flags;
  return o;
}

ContentFlags with_lf() { ContentFlags f; f.bare_lf = true; return f; }
ContentFlags with_cr() { ContentFlags f; f.bare_cr = true; return f; }

TEST(DataReader, SampleMessageAtEverySplit) {
  const std::string body =
      "From: a@example.org\r\nSubject: dots\r\n\r\n"
      "..leading dot\r\n...\r\n.x\r\n..\r\nlast line\r\n";
  const std::string wire = body + ".\r\n";
  const std::string pipelined = "MAIL FROM:<next@example.org>\r\nRCPT TO:<b@c.d>\r\n";
  const std::string content =
      "From: a@example.org\r\nSubject: dots\r\n\r\n"
      ".leading dot\r\n..\r\nx\r\n.\r\nlast line\r\n";
  auto want = expected(content, wire.size());
  check_all_splits(wire + pipelined, want);
  expect_same(reference(wire + pipelined, 0, 0, true), want, "reference");
}

TEST(DataReader, EmptyMessage) {
  check_all_splits(".\r\nQUIT\r\n", expected("", 3));
}

TEST(DataReader, OneLine) {
  check_all_splits("hello\r\n.\r\n", expected("hello\r\n", 10));
}

TEST(DataReader, IncompleteInputIsNotDone) {
  for (std::string_view in : {"", "abc", "abc\r", "abc\r\n", "abc\r\n.", "abc\r\n.\r",
                              ".", ".\r", "..\r\n", "\r\n.\r"}) {
    std::string out;
    DataReader reader(0, 0);
    EXPECT_EQ(reader.feed(in, out), in.size()) << show(in);
    EXPECT_FALSE(reader.done()) << show(in);
  }
}

struct SmuggleCase {
  const char* name;
  std::string payload;  // must not end the data
  ContentFlags flags;
  std::string content;  // of payload + "MAIL FROM:<evil@x>\r\n" up to the real end
};

TEST(DataReader, SmugglingPayloadsDoNotEndData) {
  const std::string evil = "MAIL FROM:<evil@x>\r\n";
  const std::vector<SmuggleCase> cases = {
      {"CRLF . LF", "a\r\n.\n", with_lf(), "a\r\n\n"},
      {"LF . CRLF", "a\n.\r\n", with_lf(), "a\n.\r\n"},
      {"CR . CRLF", "a\r.\r\n", with_cr(), "a\r.\r\n"},
      {"LF . LF", "a\n.\n", with_lf(), "a\n.\n"},
      {"CRLF . CR x", "a\r\n.\rx\r\n", with_cr(), "a\r\n\rx\r\n"},
      {"CR . CR", "a\r.\r", with_cr(), "a\r.\r"},
      {"LF LF . CRLF", "a\n\n.\r\n", with_lf(), "a\n\n.\r\n"},
      {"CRLF LF . CRLF", "a\r\n\n.\r\n", with_lf(), "a\r\n\n.\r\n"},
      {"CRLF . CRCRLF", "a\r\n.\r\r\n", with_cr(), "a\r\n\r\r\n"},
      {"first line . LF", ".\n", with_lf(), "\n"},
      {"first line . CR x", ".\rx", with_cr(), "\rx"},
      {"LF . CRLF at start", "\n.\r\n", with_lf(), "\n.\r\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    // The payload alone never ends the data, wherever it is cut.
    for (std::size_t a = 0; a <= c.payload.size(); ++a) {
      Outcome partial = run_reader(c.payload, {a});
      EXPECT_FALSE(partial.done) << "ended by payload " << show(c.payload);
    }
    // Followed by more text and the real end, it is all content, and flagged.
    std::string wire = c.payload + evil + ".\r\n";
    auto want = expected(c.content + evil, wire.size(), c.flags);
    // A payload that ends inside a line makes "MAIL..." continue that line.
    check_all_splits(wire + "QUIT\r\n", want);
    expect_same(reference(wire + "QUIT\r\n", 0, 0, true), want, "reference");
  }
}

TEST(DataReader, BareCrBeforeRealEndStillEnds) {
  // "\r\r\n.\r\n": the first CR is bare, then a real CRLF . CRLF follows.
  check_all_splits("a\r\r\n.\r\n", expected("a\r\r\n", 7, with_cr()));
}

TEST(DataReader, SizeLimit) {
  const std::string body = "0123456789\r\n0123456789\r\n";  // 24 bytes
  ContentFlags big;
  big.too_big = true;
  Outcome want = expected(body.substr(0, 20), body.size() + 3, big);
  want.size = body.size();
  check_all_splits(body + ".\r\n", want, 20);
  check_all_splits(body + ".\r\n", expected(body, body.size() + 3), 24);
  Outcome small = expected("0", body.size() + 3, big);
  small.size = body.size();
  check_all_splits(body + ".\r\n", small, 1);
}

TEST(DataReader, LineLimitCountsCrlfButNotTheStuffingDot) {
  ContentFlags long_line;
  long_line.line_too_long = true;
  check_all_splits("12345678\r\n.\r\n", expected("12345678\r\n", 13), 0, 10);
  check_all_splits("123456789\r\n.\r\n", expected("123456789\r\n", 14, long_line), 0, 10);
  check_all_splits("..2345678\r\n.\r\n", expected(".2345678\r\n", 14), 0, 10);
  // Limits apply per line, not to the message.
  check_all_splits("1234567\r\n1234567\r\n.\r\n", expected("1234567\r\n1234567\r\n", 21), 0,
                   10);
  // A line too long without any line end yet is flagged before its end.
  DataReader reader(0, 10);
  std::string out;
  reader.feed("12345678901", out);
  EXPECT_TRUE(reader.flags().line_too_long);
}

TEST(DataReader, EightBit) {
  ContentFlags eight;
  eight.eight_bit = true;
  check_all_splits("caf\xc3\xa9\r\n.\r\n", expected("caf\xc3\xa9\r\n", 10, eight));
  EXPECT_FALSE(run_reader("cafe\r\n.\r\n", {}).flags.eight_bit);
  EXPECT_FALSE(run_reader("cafe\r\n.\r\n", {}).flags.any());  // eight_bit is not a fault
}

TEST(DataReader, NulIsFlaggedWhereverItIs) {
  using namespace std::string_literals;
  ContentFlags nul;
  nul.nul = true;
  // The probe's case: a NUL before a dot, which a NUL-stripping next hop reads as the end.
  check_all_splits("a\r\n\0.\r\nb\r\n.\r\n"s, expected("a\r\n\0.\r\nb\r\n"s, 13, nul));
  check_all_splits("x\0y\r\n.\r\n"s, expected("x\0y\r\n"s, 8, nul));
  EXPECT_TRUE(run_reader("\0\r\n.\r\n"s, {}).flags.any());
  // Past the size limit the content is not stored, but a NUL is still seen.
  EXPECT_TRUE(run_reader("0123456789\0\r\n.\r\n"s, {}, 4).flags.nul);
}

TEST(DataReader, PipelinedBytesLeftUnconsumed) {
  std::string out;
  DataReader reader(0, 0);
  std::string_view wire = "x\r\n.\r\nQUIT\r\n";
  EXPECT_EQ(reader.feed(wire, out), 6u);
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(wire.substr(6), "QUIT\r\n");
  EXPECT_EQ(reader.feed("more", out), 0u);
  EXPECT_EQ(out, "x\r\n");
}

TEST(DataReader, AppendsToExistingOutput) {
  std::string out = "Received: by us\r\n";
  DataReader reader(0, 0);
  reader.feed("body\r\n.\r\n", out);
  EXPECT_EQ(out, "Received: by us\r\nbody\r\n");
  EXPECT_EQ(reader.size(), 6u);
}

// Random inputs over the bytes that matter, cut at random places, against the model.
TEST(DataReader, RandomInputsMatchReference) {
  std::mt19937 rng(12345);
  const char alphabet[] = {'.', '\r', '\n', 'a', '\x80', '\r', '\n', '.', '\0'};
  for (int iter = 0; iter < 20000; ++iter) {
    std::size_t len = rng() % 24;
    std::string in;
    for (std::size_t i = 0; i < len; ++i) in += alphabet[rng() % sizeof alphabet];
    if (rng() % 2) in += "\r\n.\r\n";
    std::vector<std::size_t> cuts;
    for (std::size_t k = rng() % 4; k > 0; --k) cuts.push_back(rng() % (in.size() + 1));
    std::sort(cuts.begin(), cuts.end());
    std::uint64_t max_size = rng() % 3 == 0 ? rng() % 16 : 0;
    std::size_t max_line = rng() % 3 == 0 ? rng() % 8 : 0;
    Outcome want = reference(in, max_size, max_line, true);
    if (!want.done) {
      want.consumed = in.size();
    }
    expect_same(run_reader(in, cuts, max_size, max_line), want, "[" + show(in) + "]");
    if (HasFailure()) return;
  }
}

TEST(ChunkChecker, CrlfAcrossChunksIsFine) {
  Outcome r = run_chunks("line one\r\nline two\r\n", {9});
  EXPECT_FALSE(r.flags.any());
  EXPECT_EQ(r.out, "line one\r\nline two\r\n");
  EXPECT_EQ(r.size, 20u);
}

TEST(ChunkChecker, BareCrAndLf) {
  EXPECT_TRUE(run_chunks("a\rb\r\n", {}).flags.bare_cr);
  EXPECT_TRUE(run_chunks("a\r", {}).flags.bare_cr);                 // trailing, via finish()
  EXPECT_TRUE(run_chunks("a\rb", {2}).flags.bare_cr);               // CR | b
  EXPECT_TRUE(run_chunks("a\nb", {}).flags.bare_lf);
  EXPECT_TRUE(run_chunks("a\r\n\n", {3}).flags.bare_lf);
  EXPECT_FALSE(run_chunks("a\r\n", {2}).flags.any());               // CR | LF
  EXPECT_FALSE(run_chunks("a\r\n", {2, 2, 2}).flags.any());         // empty chunks between
  // Dots mean nothing in BDAT.
  Outcome dots = run_chunks("a\r\n.\r\n..\r\n", {});
  EXPECT_EQ(dots.out, "a\r\n.\r\n..\r\n");
  EXPECT_FALSE(dots.flags.any());
}

TEST(ChunkChecker, Nul) {
  using namespace std::string_literals;
  Outcome r = run_chunks("line\r\n\0.\r\n"s, {6});
  EXPECT_TRUE(r.flags.nul);
  EXPECT_TRUE(r.flags.any());
  EXPECT_FALSE(run_chunks("line\r\n.\r\n", {6}).flags.nul);
}

TEST(ChunkChecker, Limits) {
  Outcome big = run_chunks("0123456789\r\n", {5}, 8);
  EXPECT_TRUE(big.flags.too_big);
  EXPECT_EQ(big.out, "01234567");
  EXPECT_EQ(big.size, 12u);
  EXPECT_FALSE(run_chunks("0123456789\r\n", {5}, 12).flags.too_big);
  EXPECT_TRUE(run_chunks("12345678\r\n", {4}, 0, 9).flags.line_too_long);
  EXPECT_FALSE(run_chunks("12345678\r\n", {4}, 0, 10).flags.line_too_long);
  EXPECT_TRUE(run_chunks("\xff", {}).flags.eight_bit);
}

TEST(ChunkChecker, RandomInputsMatchReference) {
  std::mt19937 rng(777);
  const char alphabet[] = {'.', '\r', '\n', 'a', '\x80', '\0'};
  for (int iter = 0; iter < 20000; ++iter) {
    std::size_t len = rng() % 24;
    std::string in;
    for (std::size_t i = 0; i < len; ++i) in += alphabet[rng() % sizeof alphabet];
    std::vector<std::size_t> cuts;
    for (std::size_t k = rng() % 4; k > 0; --k) cuts.push_back(rng() % (in.size() + 1));
    std::sort(cuts.begin(), cuts.end());
    std::uint64_t max_size = rng() % 3 == 0 ? rng() % 16 : 0;
    std::size_t max_line = rng() % 3 == 0 ? rng() % 8 : 0;
    Outcome want = reference(in, max_size, max_line, false, true);
    expect_same(run_chunks(in, cuts, max_size, max_line), want, "[" + show(in) + "]");
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace secmx::smtp
