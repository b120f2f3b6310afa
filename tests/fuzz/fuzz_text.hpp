// fuzz_text.hpp - the properties of text that several fuzz targets check alike.
//
// An error message meant for a log line is one short printable line; a DNS TXT policy
// record (MTA-STS, TLS-RPT) is recognised by its version tag followed by ';'. Both are
// stated here once, independently of the parsers they check. Test code only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace secmx::fuzz {

// One printable ASCII line of at most 120 bytes: what the parsers promise their errors are.
inline bool printable_line(std::string_view s) {
  if (s.empty() || s.size() > 120) return false;
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// RFC 8461 3.1 / RFC 8460 3: a record of the kind begins with its exact version tag, then
// optional blanks and ';'. Records that do not are ignored by selection, not errors.
inline bool begins_with_version(std::string_view record, std::string_view tag) {
  if (!record.starts_with(tag)) return false;
  std::size_t i = tag.size();
  while (i < record.size() && (record[i] == ' ' || record[i] == '\t')) ++i;
  return i < record.size() && record[i] == ';';
}

// The input cut at '\n' into the records of one RRset.
inline std::vector<std::string_view> split_lines(std::string_view in) {
  std::vector<std::string_view> lines;
  while (!in.empty()) {
    std::size_t nl = in.find('\n');
    lines.push_back(in.substr(0, nl));
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  }
  return lines;
}

}  // namespace secmx::fuzz
