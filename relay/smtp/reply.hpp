// reply.hpp - SMTP replies (RFC 5321 4.2) with enhanced status codes (RFC 3463).
//
// A Reply is a value: code, enhanced status ("" when none) and text, whose '\n'-separated
// lines become a multi-line reply. format() renders the wire form with CRLFs. Pure code,
// no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace secmx::smtp {

struct Reply {
  int code = 0;
  std::string enhanced;  // "2.1.0"; omitted from the wire when empty
  std::string text;      // lines separated by '\n'

  std::string format() const;  // "250-2.1.0 first\r\n250 2.1.0 last\r\n"
  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }
};

// Appends the wire form of Reply{code, enhanced, text} to `out`, as format() renders it,
// without building the Reply: the server's replies are written straight into its output.
void append_reply(std::string& out, int code, std::string_view enhanced, std::string_view text);

// A reply parsed from a peer (the SMTP client side): all lines joined with '\n'.
struct ParsedReply {
  int code = 0;
  std::string enhanced;   // taken from the first line when present
  std::vector<std::string> lines;  // text of each line, code and enhanced code removed
};

}  // namespace secmx::smtp
