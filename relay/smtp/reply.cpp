// reply.cpp - rendering a Reply in its wire form (RFC 5321 4.2, RFC 2034).
//
// Pure. Every line of a multi-line reply carries the code and, when set, the enhanced
// code (RFC 2034 3 asks for it on each line). Text comes partly from peers and config, so
// CR and LF inside a line are dropped here: a reply must never be able to inject a line.
#include "relay/smtp/reply.hpp"

#include <string>
#include <string_view>

namespace secmx::smtp {

namespace {

void append_clean(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c != '\r' && c != '\n') out += c;
  }
}

void append_line(std::string& out, std::string_view code, std::string_view enhanced,
                 std::string_view text, bool last) {
  out += code;
  if (last && enhanced.empty() && text.empty()) {
    out += "\r\n";  // RFC 5321 4.2: the SP comes only with a text
    return;
  }
  out += last ? ' ' : '-';
  if (!enhanced.empty()) {
    append_clean(out, enhanced);
    if (!text.empty()) out += ' ';
  }
  append_clean(out, text);
  out += "\r\n";
}

}  // namespace

std::string Reply::format() const {
  std::string out;
  out.reserve(text.size() + 16);
  append_reply(out, code, enhanced, text);
  return out;
}

void append_reply(std::string& out, int code, std::string_view enhanced, std::string_view text) {
  // A code that is not three digits would break the peer's parser; it is a programming
  // error, but the wire must stay well-formed, so it becomes a local error.
  char code_buf[3] = {'4', '5', '1'};
  if (code >= 200 && code <= 599) {
    code_buf[0] = static_cast<char>('0' + code / 100);
    code_buf[1] = static_cast<char>('0' + code / 10 % 10);
    code_buf[2] = static_cast<char>('0' + code % 10);
  }
  const std::string_view code_text(code_buf, sizeof code_buf);
  std::string_view rest = text;
  // A trailing '\n' would otherwise produce an empty last line.
  if (rest.size() > 1 && rest.back() == '\n') rest.remove_suffix(1);

  while (true) {
    std::size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) {
      append_line(out, code_text, enhanced, rest, true);
      break;
    }
    append_line(out, code_text, enhanced, rest.substr(0, nl), false);
    rest.remove_prefix(nl + 1);
  }
}

}  // namespace secmx::smtp
