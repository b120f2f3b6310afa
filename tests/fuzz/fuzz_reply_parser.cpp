// fuzz_reply_parser.cpp - libFuzzer target for ReplyParser (replies from a peer).
//
// The input is split into lines at LF, as a transport would, and fed one by one.
// Invariants: a completed reply has a code of 200..599, at least one line, an enhanced
// code of its own class when any, and formats back into lines the parser accepts.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "relay/smtp/reply_parser.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace secmx::smtp;

namespace {

void check_reply(const ParsedReply& r) {
  FUZZ_CHECK(r.code >= 200 && r.code <= 599);
  FUZZ_CHECK(!r.lines.empty());
  FUZZ_CHECK(r.enhanced.empty() || r.enhanced[0] == static_cast<char>('0' + r.code / 100));
  // Rendering it again gives a reply the parser accepts with the same code.
  std::string text;
  for (std::size_t i = 0; i < r.lines.size(); ++i) text += (i ? "\n" : "") + r.lines[i];
  std::string wire = Reply{r.code, r.enhanced, text}.format();
  ReplyParser again;
  ReplyStatus s = ReplyStatus::Error;
  std::size_t start = 0;
  while (start < wire.size()) {
    std::size_t end = wire.find("\r\n", start);
    FUZZ_CHECK(end != std::string::npos);
    s = again.feed(std::string_view(wire).substr(start, end - start));
    start = end + 2;
    if (start < wire.size()) FUZZ_CHECK(s == ReplyStatus::NeedMore);
  }
  FUZZ_CHECK(s == ReplyStatus::Complete);
  FUZZ_CHECK(again.take().code == r.code);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ReplyParser parser(16);
  while (!in.empty()) {
    std::size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    if (parser.feed(line) == ReplyStatus::Complete) check_reply(parser.take());
  }
  return 0;
}
