// content_model.hpp - a slow, obviously-correct model of DataReader and ChunkChecker.
//
// Used by the fuzz targets and the unit tests as the oracle in differential checks: it
// reads the whole input one byte at a time with no state carried between calls, so it
// shares no code or structure with the fast scanner in relay/smtp/data_reader.cpp.
// Header-only, test code only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "relay/smtp/data_reader.hpp"

namespace secmx::smtp::model {

struct Outcome {
  std::string out;
  ContentFlags flags;
  std::uint64_t size = 0;
  std::size_t consumed = 0;
  bool done = false;
};

inline bool same_flags(const ContentFlags& a, const ContentFlags& b) {
  return a.bare_lf == b.bare_lf && a.bare_cr == b.bare_cr &&
         a.line_too_long == b.line_too_long && a.too_big == b.too_big &&
         a.eight_bit == b.eight_bit && a.nul == b.nul;
}

// dotted: DATA (dot-stuffing, end marker) or BDAT (neither). A CR at the very end of the
// input is still undecided, so it is not flagged; for BDAT, finish() flags it (`last`).
inline Outcome reference(std::string_view in, std::uint64_t max_size, std::size_t max_line,
                         bool dotted, bool last = false) {
  Outcome r;
  std::string content;
  std::size_t line = 0;
  bool at_start = true;
  auto add = [&](char c) {
    content += c;
    if (static_cast<unsigned char>(c) >= 0x80) r.flags.eight_bit = true;
    if (c == '\0') r.flags.nul = true;
    ++line;
    if (max_line != 0 && line > max_line) r.flags.line_too_long = true;
  };
  std::size_t i = 0;
  while (i < in.size()) {
    if (dotted && at_start && in.substr(i, 3) == ".\r\n") {
      r.done = true;
      i += 3;
      break;
    }
    if (dotted && at_start && in.substr(i) == ".\r") {
      i += 2;  // the reader holds this CR back until it sees what follows
      break;
    }
    if (dotted && at_start && in[i] == '.') {
      at_start = false;
      ++i;
      continue;
    }
    at_start = false;
    char c = in[i];
    add(c);
    ++i;
    if (c == '\r') {
      if (i < in.size() && in[i] == '\n') {
        add('\n');
        ++i;
        line = 0;
        at_start = true;
      } else if (i < in.size() || last) {
        r.flags.bare_cr = true;
      }
    } else if (c == '\n') {
      r.flags.bare_lf = true;
      line = 0;
    }
  }
  r.consumed = i;
  r.size = content.size();
  if (max_size != 0 && content.size() > max_size) {
    r.flags.too_big = true;
    content.resize(max_size);
  }
  r.out = content;
  return r;
}

// Where to cut the input into the pieces a reader is fed: up to 8 cut points derived
// from `seed`, sorted, then the end of the input.
inline std::vector<std::size_t> cut_points(std::size_t size, unsigned seed) {
  std::vector<std::size_t> ends;
  unsigned s = seed | 1;
  for (int k = 0; k < 8 && size > 0; ++k) {
    s = s * 1103515245u + 12345u;
    ends.push_back((s >> 8) % (size + 1));
  }
  std::sort(ends.begin(), ends.end());
  ends.push_back(size);
  return ends;
}

}  // namespace secmx::smtp::model
