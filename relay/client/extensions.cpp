// extensions.cpp - parse_ehlo(): EHLO reply lines into Extensions. Pure.
#include "relay/client/extensions.hpp"
#include "relay/common/ascii.hpp"

#include <charconv>
#include <string>
#include <string_view>

namespace secmx::client {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

Extensions parse_ehlo(const smtp::ParsedReply& reply) {
  Extensions ext;
  ext.esmtp = true;
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {
    std::string_view line = trim(reply.lines[i]);
    std::size_t sp = line.find(' ');
    std::string_view keyword = line.substr(0, sp);
    std::string_view param = sp == std::string_view::npos ? std::string_view{}
                                                           : trim(line.substr(sp + 1));
    if (iequals(keyword, "PIPELINING")) {
      ext.pipelining = true;
    } else if (iequals(keyword, "STARTTLS")) {
      ext.starttls = true;
    } else if (iequals(keyword, "8BITMIME")) {
      ext.eightbitmime = true;
    } else if (iequals(keyword, "SMTPUTF8")) {
      ext.smtputf8 = true;
    } else if (iequals(keyword, "DSN")) {
      ext.dsn = true;
    } else if (iequals(keyword, "REQUIRETLS")) {
      ext.requiretls = true;
    } else if (iequals(keyword, "CHUNKING")) {
      ext.chunking = true;
    } else if (iequals(keyword, "BINARYMIME")) {
      ext.binarymime = true;
    } else if (iequals(keyword, "ENHANCEDSTATUSCODES")) {
      ext.enhanced = true;
    } else if (iequals(keyword, "SIZE")) {
      ext.size_offered = true;
      std::uint64_t limit = 0;
      auto [end, ec] = std::from_chars(param.data(), param.data() + param.size(), limit);
      if (ec == std::errc{} && end == param.data() + param.size()) ext.size = limit;
    }
  }
  return ext;
}

}  // namespace secmx::client
