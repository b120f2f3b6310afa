// fuzz_command.cpp - libFuzzer target for parse_command over one command line.
//
// Invariants: the views point into the line; a recognised verb names itself; the
// argument has no leading or trailing space.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "relay/smtp/command.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace secmx::smtp;

namespace {

bool within(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  Command cmd = parse_command(line);
  FUZZ_CHECK(within(cmd.verb_text, line));
  FUZZ_CHECK(within(cmd.arg, line));
  FUZZ_CHECK(cmd.verb_text.find(' ') == std::string_view::npos);
  FUZZ_CHECK(cmd.arg.empty() || (cmd.arg.front() != ' ' && cmd.arg.back() != ' '));
  if (cmd.verb != Verb::Unknown) FUZZ_CHECK(iequals(cmd.verb_text, to_string(cmd.verb)));
  return 0;
}
