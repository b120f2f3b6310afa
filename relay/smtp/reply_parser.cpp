// reply_parser.cpp - ReplyParser: SMTP reply lines (RFC 5321 4.2) into a ParsedReply.
//
// Lines are "NNN-text" (more follow) or "NNN text" / "NNN" (last). Every line must carry
// the same code; the first digit must be 2..5. An enhanced status code (RFC 3463) at the
// start of the text is recognised when its class matches the reply's first digit, and
// then removed from each line that repeats it. Pure.
#include "relay/smtp/reply_parser.hpp"

#include <string>
#include <utility>

namespace secmx::smtp {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Length of "c.sss.ddd" at the start of text when it is an enhanced status code of class
// `klass` followed by a space or the end; 0 otherwise.
std::size_t enhanced_length(std::string_view text, char klass) {
  if (text.size() < 5 || text[0] != klass || text[1] != '.') return 0;
  std::size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    std::size_t start = i;
    while (i < text.size() && is_digit(text[i]) && i - start < 4) ++i;
    std::size_t digits = i - start;
    if (digits < 1 || digits > 3) return 0;
    if (part == 0) {
      if (i >= text.size() || text[i] != '.') return 0;
      ++i;
    }
  }
  if (i < text.size() && text[i] != ' ') return 0;
  return i;
}

}  // namespace

void ReplyParser::reset() {
  in_progress_ = false;
  has_enhanced_ = false;
  reply_ = ParsedReply{};
}

ReplyStatus ReplyParser::fail(std::string why) {
  error_ = std::move(why);
  reset();
  return ReplyStatus::Error;
}

ReplyStatus ReplyParser::feed(std::string_view line) {
  if (!in_progress_) {
    reset();
    error_.clear();
    in_progress_ = true;
  }
  // Tolerate a transport that splits on LF only and leaves the CR.
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

  if (line.size() < 3 || line[0] < '2' || line[0] > '5' || !is_digit(line[1]) ||
      !is_digit(line[2])) {
    return fail("malformed reply line (no reply code)");
  }
  bool last = true;
  if (line.size() > 3) {
    if (line[3] == '-') {
      last = false;
    } else if (line[3] != ' ') {
      return fail("malformed reply line (bad separator after the code)");
    }
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (reply_.lines.empty()) {
    reply_.code = code;
  } else if (code != reply_.code) {
    return fail("reply code changed within a multi-line reply");
  }
  if (reply_.lines.size() >= max_lines_) return fail("reply has too many lines");

  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
  bool first = reply_.lines.empty();
  if (first || has_enhanced_) {
    std::size_t n = enhanced_length(text, line[0]);
    if (n > 0) {
      if (first) {
        has_enhanced_ = true;
        reply_.enhanced = std::string(text.substr(0, n));
      }
      text.remove_prefix(n);
      if (!text.empty()) text.remove_prefix(1);  // the space after the code
    }
  }
  reply_.lines.emplace_back(text);

  if (!last) return ReplyStatus::NeedMore;
  in_progress_ = false;
  return ReplyStatus::Complete;
}

}  // namespace secmx::smtp
