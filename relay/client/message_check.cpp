// message_check.cpp - check_message(): local refusals before MAIL FROM. Pure.
#include "relay/client/message_check.hpp"

#include <algorithm>

namespace secmx::client {
namespace {

bool has_non_ascii(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

}  // namespace

std::string_view header_section(std::string_view message) {
  if (message.starts_with("\r\n")) return {};
  std::size_t end = message.find("\r\n\r\n");
  return end == std::string_view::npos ? message : message.substr(0, end + 2);
}

bool needs_smtputf8(const MessageSpec& spec) {
  if (spec.envelope == nullptr || !spec.envelope->smtputf8) return false;
  if (has_non_ascii(spec.envelope->sender)) return true;
  for (const auto* r : spec.recipients) {
    if (r != nullptr && has_non_ascii(r->address)) return true;
  }
  return spec.body != nullptr && has_non_ascii(header_section(*spec.body));
}

std::optional<LocalRefusal> check_message(const MessageSpec& spec, const Extensions& ext) {
  std::uint64_t size = spec.body != nullptr ? spec.body->size() : 0;
  if (ext.size > 0 && size > ext.size) {
    return LocalRefusal{552, "5.3.4",
                        "message size " + std::to_string(size) +
                            " exceeds the size limit " + std::to_string(ext.size) +
                            " of the receiving host"};
  }
  if (needs_smtputf8(spec) && !ext.smtputf8) {
    return LocalRefusal{550, "5.6.7",
                        "SMTPUTF8 is required, but was not offered by the receiving host"};
  }
  if (spec.envelope != nullptr && spec.envelope->body_type == model::BodyType::BinaryMime &&
      !(ext.chunking && ext.binarymime)) {
    return LocalRefusal{554, "5.6.3",
                        "BINARYMIME message, but the receiving host does not offer "
                        "CHUNKING and BINARYMIME"};
  }
  return std::nullopt;
}

}  // namespace secmx::client
