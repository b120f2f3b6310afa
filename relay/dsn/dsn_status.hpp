// dsn_status.hpp - enhanced status codes (RFC 3463, 5248) as a DSN needs them.
//
// Pure; any thread. The delivery code (relay/delivery/outcome.*) decides the code for each
// recipient; this file only checks it agrees with the DSN being written, supplies one when
// a reply carried none, and says in words what a code means for the human-readable part.
#pragma once

#include <string>
#include <string_view>

#include "relay/dsn/dsn.hpp"

namespace secmx::dsn {

// "class.subject.detail": class 2, 4 or 5; subject and detail 1-3 digits, no leading 0s.
bool valid_status(std::string_view status);

// The status to write for `event`: the given one when valid and of the event's class
// (failure 5, delay 4, delivered/relayed 2); a valid one of the other failure class is
// moved to it (4.7.10 in a failure report is 5.7.10); anything else is X.0.0.
std::string normalize_status(Event event, std::string_view status);

// A sensible enhanced code for a reply that had none, from its basic code (RFC 3463 and
// common practice): 421 -> 4.4.2, 450 -> 4.2.0, 451 -> 4.3.0, 452 -> 4.3.1,
// 550 -> 5.0.0 (ambiguous: mailbox or policy), 551 -> 5.1.6, 552 -> 5.2.2, 553 -> 5.1.3,
// 554 -> 5.0.0, other 2xx/4xx/5xx -> X.0.0.
std::string status_for_reply_code(int code);

// Short English for a code: "encryption needed", "no such domain", "delivery time
// expired", ...; falls back on the subject ("mailbox status") and the class.
std::string status_text(std::string_view status);

}  // namespace secmx::dsn
