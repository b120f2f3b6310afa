// command.cpp - parse_command: one command line into verb and argument (RFC 5321 4.1).
//
// Pure and allocation-free; the views point into the caller's line. Only a space
// separates the verb from its argument (RFC 5321 4.1.1); a line that starts with a space
// names no verb. Whether a verb may take an argument is the server's decision.
#include "relay/smtp/command.hpp"
#include "relay/common/ascii.hpp"

#include <array>
#include <string_view>

namespace secmx::smtp {

namespace {

struct VerbName {
  Verb verb;
  std::string_view name;
};

constexpr std::array<VerbName, 14> kVerbs{{
    {Verb::Helo, "HELO"},
    {Verb::Ehlo, "EHLO"},
    {Verb::Mail, "MAIL"},
    {Verb::Rcpt, "RCPT"},
    {Verb::Data, "DATA"},
    {Verb::Bdat, "BDAT"},
    {Verb::Rset, "RSET"},
    {Verb::Noop, "NOOP"},
    {Verb::Quit, "QUIT"},
    {Verb::Vrfy, "VRFY"},
    {Verb::Expn, "EXPN"},
    {Verb::Help, "HELP"},
    {Verb::Starttls, "STARTTLS"},
    {Verb::Auth, "AUTH"},
}};

}  // namespace

const char* to_string(Verb v) {
  for (const auto& entry : kVerbs) {
    if (entry.verb == v) return entry.name.data();
  }
  return "UNKNOWN";
}

Command parse_command(std::string_view line) {
  Command cmd;
  // Trailing blanks carry no meaning, and some clients send them after DATA or QUIT.
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  std::size_t sp = line.find(' ');
  cmd.verb_text = line.substr(0, sp);
  if (sp != std::string_view::npos) {
    std::string_view arg = line.substr(sp);
    while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
    cmd.arg = arg;
  }
  if (cmd.verb_text.empty()) return cmd;  // empty line, or one that starts with a space
  for (const auto& entry : kVerbs) {
    if (iequals(cmd.verb_text, entry.name)) {
      cmd.verb = entry.verb;
      break;
    }
  }
  return cmd;
}

}  // namespace secmx::smtp
