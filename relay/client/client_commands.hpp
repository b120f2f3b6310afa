// client_commands.hpp - the MAIL FROM and RCPT TO lines the client sends, with the ESMTP
// parameters the peer's extensions allow (RFC 1870 SIZE, 6152/3030 BODY, 6531 SMTPUTF8,
// 3461 RET/ENVID/NOTIFY/ORCPT, 8689 REQUIRETLS).
//
// Pure: no I/O. The local checks (message_check.hpp) run first, so these functions can
// assume the message may be sent to this peer at all. Each returns one command line
// with its CRLF.
#pragma once

#include <cstdint>
#include <string>

#include "relay/client/smtp_client.hpp"
#include "relay/model/envelope.hpp"

namespace secmx::client {

// size: the message size to declare (the stored body). smtputf8: say SMTPUTF8 (the
// message asked for it and the peer offers it).
std::string mail_command(const model::Envelope& envelope, std::uint64_t size,
                         const Extensions& ext);
std::string rcpt_command(const model::Recipient& recipient, const Extensions& ext);

// "NOTIFY=SUCCESS,FAILURE" parameter value for the bits, "" when unset.
std::string notify_value(std::uint8_t notify);
// "rfc822;a+2Bb@example" from the stored "rfc822;a+b@example"; "" when malformed.
std::string orcpt_value(const std::string& stored);

}  // namespace secmx::client
