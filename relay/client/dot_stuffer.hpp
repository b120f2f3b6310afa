// dot_stuffer.hpp - RFC 5321 4.5.2 transparency for the DATA body, block by block.
//
// The stored message is CRLF lines without dot-stuffing and without the final ".";
// feed() doubles a '.' that starts a line (remembering across blocks whether the next
// byte starts a line) and finish() ends the body with CRLF "." CRLF, adding the CRLF
// the last line may lack. Pure value type, one per transaction.
#pragma once

#include <string>
#include <string_view>

namespace secmx::client {

class DotStuffer {
 public:
  // Appends the stuffed form of `in` to `out`.
  void feed(std::string_view in, std::string& out);
  // Appends the end-of-data sequence.
  void finish(std::string& out);

 private:
  bool line_start_ = true;
};

// The whole body at once (tests, small messages).
std::string dot_stuff(std::string_view body);

}  // namespace secmx::client
