// dot_stuffer.cpp - DotStuffer. Pure.
#include "relay/client/dot_stuffer.hpp"

namespace secmx::client {

void DotStuffer::feed(std::string_view in, std::string& out) {
  out.reserve(out.size() + in.size() + 16);
  std::size_t from = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (line_start_ && in[i] == '.') {
      out.append(in.substr(from, i - from));
      out += '.';  // the extra dot; the original follows with the next append
      from = i;
    }
    line_start_ = in[i] == '\n';
  }
  out.append(in.substr(from));
}

void DotStuffer::finish(std::string& out) {
  if (!line_start_) out += "\r\n";
  out += ".\r\n";
  line_start_ = true;
}

std::string dot_stuff(std::string_view body) {
  DotStuffer stuffer;
  std::string out;
  stuffer.feed(body, out);
  stuffer.finish(out);
  return out;
}

}  // namespace secmx::client
