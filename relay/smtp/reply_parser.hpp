// reply_parser.hpp - assembling a peer's reply from its lines (SMTP client side).
//
// ReplyParser takes one line at a time, without its CRLF, as the transport splits them,
// and says whether the reply needs more lines, is complete, or is malformed (then the
// connection cannot be trusted to stay in step and should be dropped). After Complete
// or Error the next feed() starts a new reply. Pure, single-threaded value type.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "relay/smtp/reply.hpp"

namespace secmx::smtp {

enum class ReplyStatus { NeedMore, Complete, Error };

class ReplyParser {
 public:
  // A reply with more lines than max_lines is an Error (a hostile peer could otherwise
  // make us buffer without end).
  explicit ReplyParser(std::size_t max_lines = 1000) : max_lines_(max_lines) {}

  ReplyStatus feed(std::string_view line);

  // The reply, after feed() returned Complete; moved out, so call once per reply.
  ParsedReply take() { return std::move(reply_); }
  // Why feed() returned Error, for the log.
  const std::string& error() const { return error_; }

  // Drops a partly assembled reply.
  void reset();

 private:
  ReplyStatus fail(std::string why);

  std::size_t max_lines_;
  bool in_progress_ = false;
  bool has_enhanced_ = false;
  ParsedReply reply_;
  std::string error_;
};

}  // namespace secmx::smtp
