// data_reader.hpp - message content as it arrives after DATA or in BDAT chunks.
//
// DataReader consumes the bytes after "354" (dot-stuffed, ended by CRLF.CRLF), appends the
// unstuffed content to an output string, and stops exactly at the end marker so that the
// bytes after it (pipelined commands) are left to the caller. ChunkChecker checks BDAT
// content, which is not dot-stuffed, across chunk boundaries. Both check what RFC 5321 and
// the SMTP smuggling advisories (2023) require of a relay: a bare CR or a bare LF makes the
// message unacceptable (the only end marker is CRLF.CRLF, so "\n.\n" ends nothing); lines
// longer than max_line (counting CRLF) are flagged; past max_size the content is no longer
// stored but still consumed, and flagged. A NUL byte is flagged too (without BINARYMIME
// it is not allowed, and a next hop that strips it could find an end marker). Once flagged, reading still goes on to the real
// end marker so that the session stays in step with the client. A limit of 0 means none.
// Pure; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace secmx::smtp {

struct ContentFlags {
  bool bare_lf = false;
  bool bare_cr = false;
  bool line_too_long = false;
  bool too_big = false;
  bool eight_bit = false;   // a byte >= 0x80 was seen
  bool nul = false;         // a NUL byte was seen (RFC 5321 2.3.8; no BINARYMIME here)
  bool any() const { return bare_lf || bare_cr || line_too_long || too_big || nul; }
};

class DataReader {
 public:
  DataReader(std::uint64_t max_size, std::size_t max_line);

  // Consumes from `in`, appending content to `out` (CRLFs kept, leading dots removed).
  // Returns how many bytes of `in` were consumed; when done() is true afterwards, the
  // rest of `in` belongs to the next command.
  std::size_t feed(std::string_view in, std::string& out);
  bool done() const { return done_; }
  const ContentFlags& flags() const { return flags_; }
  std::uint64_t size() const { return size_; }  // content bytes seen (stored or not)

 private:
  std::uint64_t max_size_;
  std::size_t max_line_;
  std::uint64_t size_ = 0;
  std::size_t line_len_ = 0;
  int state_ = 0;       // position within the end-marker / line-start automaton
  bool done_ = false;
  ContentFlags flags_;
};

class ChunkChecker {
 public:
  ChunkChecker(std::uint64_t max_size, std::size_t max_line);

  // Appends `chunk` to `out` unless the size limit has been passed; updates flags.
  void feed(std::string_view chunk, std::string& out);
  // After the LAST chunk: a trailing bare CR is flagged here.
  void finish();
  const ContentFlags& flags() const { return flags_; }
  std::uint64_t size() const { return size_; }

 private:
  std::uint64_t max_size_;
  std::size_t max_line_;
  std::uint64_t size_ = 0;
  std::size_t line_len_ = 0;
  bool prev_cr_ = false;
  ContentFlags flags_;
};

}  // namespace secmx::smtp
