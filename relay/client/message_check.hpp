// message_check.hpp - may this message go to this peer at all? Checked before MAIL.
//
// Pure: (message, peer extensions) -> nothing, or the refusal to report as if the peer
// had given it: 552 5.3.4 when the message exceeds the peer's SIZE, 550 5.6.7 when it
// needs SMTPUTF8 and the peer lacks it (RFC 6531 3.2 forbids downgrading), 554 5.6.3
// when a BINARYMIME body meets a peer without CHUNKING and BINARYMIME (RFC 3030: no
// conversion). An 8BITMIME body to a peer without 8BITMIME is let through, as Postfix
// and most MTAs do; the result notes it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "relay/client/smtp_client.hpp"

namespace secmx::client {

struct LocalRefusal {
  int code = 0;
  std::string enhanced;
  std::string text;
};

std::optional<LocalRefusal> check_message(const MessageSpec& spec, const Extensions& ext);

// True when the message asked for SMTPUTF8 and really has UTF-8 where only SMTPUTF8
// allows it: the sender, a recipient of this transaction, or the header section.
bool needs_smtputf8(const MessageSpec& spec);

// The header section of a stored message (up to the first empty line).
std::string_view header_section(std::string_view message);

}  // namespace secmx::client
