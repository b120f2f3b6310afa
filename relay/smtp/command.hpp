// command.hpp - splitting one SMTP command line into verb and argument.
//
// Pure; no allocation. The line is given without its CRLF. Verbs are case-insensitive
// (RFC 5321 2.4); the argument is what follows the verb and one or more spaces, with
// trailing spaces removed, as a view into the line.
#pragma once

#include <string_view>

namespace secmx::smtp {

enum class Verb {
  Helo, Ehlo, Mail, Rcpt, Data, Bdat, Rset, Noop, Quit, Vrfy, Expn, Help, Starttls, Auth,
  Unknown,
};

const char* to_string(Verb v);

struct Command {
  Verb verb = Verb::Unknown;
  std::string_view verb_text;  // as sent, for the log of unknown commands
  std::string_view arg;
};

Command parse_command(std::string_view line);

}  // namespace secmx::smtp
