// line_file.hpp - the files of one entry per line that the config names: the operators'
// tokens ([admin] tokens_file), the SMTP users ([smtp.auth] users_file) and the senders
// each user may use ([smtp.auth] senders_file).
//
// Lines end in LF or CRLF; blanks, tabs and CRs around an entry do not count; an empty
// line, or one whose first other character is '#', is no entry. for_each_entry() walks
// the text once, in order, and hands each entry over with its line number in the file
// (from 1), for issues as "file:line". Pure, header only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace secmx::config {

// `s` without the blanks, tabs and CRs at either end.
constexpr std::string_view trim_blanks(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

// Calls each(std::uint32_t line_number, std::string_view entry) for every entry line.
template <class Each>
void for_each_entry(std::string_view text, Each&& each) {
  std::uint32_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = trim_blanks(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    each(line_no, line);
  }
}

}  // namespace secmx::config
