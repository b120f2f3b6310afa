// data_reader.cpp - DataReader (DATA, dot-stuffed) and ChunkChecker (BDAT).
//
// Pure; this is the hot path, so content is scanned a line at a time with memchr and
// appended in whole runs. The only end marker is CRLF "." CRLF, and since the bytes after
// "354" start a line, ".\r\n" first is an empty message. Every CR and LF that is not part
// of a CRLF pair is flagged (SMTP smuggling) and kept as content, so a flagged message is
// still read to its real end. Limits of 0 mean "no limit".
#include "relay/smtp/data_reader.hpp"

#include <algorithm>
#include <cstring>

namespace secmx::smtp {

namespace {

// DataReader::state_ values. kLineStart must be 0: the reader starts at a line start.
enum : int {
  kLineStart = 0,  // at the start of a line after CRLF
  kDot = 1,        // a line started with '.', which is removed
  kDotCr = 2,      // "." CR at a line start: LF now ends the data
  kInLine = 3,     // inside a line (also after a bare LF: that is no line start)
  kCr = 4,         // a CR ended the previous feed(); it is already in the output
};

// Size, line length and flag bookkeeping shared by both classes.
struct Sink {
  std::uint64_t& size;
  std::size_t& line_len;
  ContentFlags& flags;
  std::uint64_t max_size;
  std::size_t max_line;
  std::string& out;

  void put(const char* p, std::size_t n) {
    if (!flags.eight_bit) {
      unsigned char acc = 0;  // vectorises; cheaper than a branch per byte
      for (std::size_t i = 0; i < n; ++i) acc |= static_cast<unsigned char>(p[i]);
      if (acc & 0x80) flags.eight_bit = true;
    }
    // A NUL may be stripped by a later hop, which would turn "\r\n\0.\r\n" into an end
    // of data there (smuggling); without BINARYMIME it is not allowed anyway.
    if (!flags.nul && std::memchr(p, '\0', n) != nullptr) flags.nul = true;
    line_len += n;
    if (max_line != 0 && line_len > max_line) flags.line_too_long = true;
    if (max_size == 0) {
      out.append(p, n);
    } else {
      std::uint64_t room = size < max_size ? max_size - size : 0;
      out.append(p, static_cast<std::size_t>(std::min<std::uint64_t>(n, room)));
      if (n > room) flags.too_big = true;
    }
    size += n;
  }
  void end_line() { line_len = 0; }
};

enum class Run {
  All,      // consumed everything; no line end seen
  Crlf,     // consumed through a CRLF
  BareLf,   // consumed through an LF not preceded by CR
  BareCr,   // consumed through a CR followed by something other than LF
  CrAtEnd,  // consumed everything; the last byte is a CR whose successor is unknown
};

// Scans inside a line from p, appending up to and including the first line end.
Run scan_line(const char* p, std::size_t n, Sink& sink, std::size_t& used) {
  const char* lf = static_cast<const char*>(std::memchr(p, '\n', n));
  std::size_t seg = lf ? static_cast<std::size_t>(lf - p) : n;
  const char* cr = static_cast<const char*>(std::memchr(p, '\r', seg));
  if (cr == nullptr) {
    if (lf == nullptr) {
      sink.put(p, n);
      used = n;
      return Run::All;
    }
    used = seg + 1;
    sink.put(p, used);
    sink.end_line();
    return Run::BareLf;
  }
  std::size_t c = static_cast<std::size_t>(cr - p);
  if (lf != nullptr && c + 1 == seg) {
    used = c + 2;
    sink.put(p, used);
    sink.end_line();
    return Run::Crlf;
  }
  used = c + 1;
  sink.put(p, used);
  return used == n ? Run::CrAtEnd : Run::BareCr;
}

}  // namespace

DataReader::DataReader(std::uint64_t max_size, std::size_t max_line)
    : max_size_(max_size), max_line_(max_line) {}

std::size_t DataReader::feed(std::string_view in, std::string& out) {
  Sink sink{size_, line_len_, flags_, max_size_, max_line_, out};
  const char* p = in.data();
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n && !done_) {
    switch (state_) {
      case kLineStart:
        if (p[i] == '.') {
          ++i;
          state_ = kDot;
        } else {
          state_ = kInLine;
        }
        break;
      case kDot:
        if (p[i] == '\r') {
          ++i;
          state_ = kDotCr;
        } else {
          state_ = kInLine;  // the dot was stuffing: it stays removed
        }
        break;
      case kDotCr:
        if (p[i] == '\n') {
          ++i;
          done_ = true;
        } else {
          // "." CR x: the dot was stuffing and the CR is a bare one, part of the content.
          flags_.bare_cr = true;
          sink.put("\r", 1);
          state_ = kInLine;
        }
        break;
      case kCr:
        if (p[i] == '\n') {
          sink.put("\n", 1);
          sink.end_line();
          ++i;
          state_ = kLineStart;
        } else {
          flags_.bare_cr = true;
          state_ = kInLine;
        }
        break;
      default: {  // kInLine
        std::size_t used = 0;
        switch (scan_line(p + i, n - i, sink, used)) {
          case Run::Crlf: state_ = kLineStart; break;
          case Run::BareLf: flags_.bare_lf = true; break;
          case Run::BareCr: flags_.bare_cr = true; break;
          case Run::CrAtEnd: state_ = kCr; break;
          case Run::All: break;
        }
        i += used;
        break;
      }
    }
  }
  return i;
}

ChunkChecker::ChunkChecker(std::uint64_t max_size, std::size_t max_line)
    : max_size_(max_size), max_line_(max_line) {}

void ChunkChecker::feed(std::string_view chunk, std::string& out) {
  Sink sink{size_, line_len_, flags_, max_size_, max_line_, out};
  const char* p = chunk.data();
  const std::size_t n = chunk.size();
  std::size_t i = 0;
  if (prev_cr_ && n > 0) {
    prev_cr_ = false;
    if (p[0] == '\n') {
      sink.put(p, 1);
      sink.end_line();
      i = 1;
    } else {
      flags_.bare_cr = true;
    }
  }
  while (i < n) {
    std::size_t used = 0;
    switch (scan_line(p + i, n - i, sink, used)) {
      case Run::BareLf: flags_.bare_lf = true; break;
      case Run::BareCr: flags_.bare_cr = true; break;
      case Run::CrAtEnd: prev_cr_ = true; break;
      case Run::Crlf: case Run::All: break;
    }
    i += used;
  }
}

void ChunkChecker::finish() {
  if (prev_cr_) flags_.bare_cr = true;
  prev_cr_ = false;
}

}  // namespace secmx::smtp
