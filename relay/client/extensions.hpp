// extensions.hpp - what a peer's EHLO reply offers (RFC 5321 4.1.1.1 and the extension
// RFCs: 2920 PIPELINING, 1870 SIZE, 6152 8BITMIME, 6531 SMTPUTF8, 3461 DSN, 3207
// STARTTLS, 8689 REQUIRETLS, 3030 CHUNKING/BINARYMIME, 2034 ENHANCEDSTATUSCODES).
//
// Pure: no I/O, no state. Keywords are matched without regard to case; unknown keywords
// and malformed parameters are ignored (a SIZE whose value is not a number counts as
// SIZE offered without a limit), since a peer's odd line must not stop delivery.
#pragma once

#include "relay/client/smtp_client.hpp"
#include "relay/smtp/reply.hpp"

namespace secmx::client {

// reply: a positive EHLO reply; its first line (the peer's name) is skipped.
Extensions parse_ehlo(const smtp::ParsedReply& reply);

}  // namespace secmx::client
