// client_state.hpp - the SMTP client's states and their per-state table: which timeout
// of RFC 5321 4.5.3.2 runs, the phrase for "timeout after ..." messages, and the stage
// name reported to the caller.
//
// A state names what the client waits for: in a pipelined transaction that is the
// reply at the receiving cursor (RSET, MAIL, RCPT, DATA), while commands further on
// may already have been sent. Pure.
#pragma once

#include <chrono>

#include "relay/client/smtp_client.hpp"

namespace secmx::client {

enum class State {
  Idle,          // created, not yet opened
  Connecting,
  Greeting,
  Ehlo,
  Helo,
  StartTls,      // STARTTLS sent, waiting for 220
  TlsHandshake,
  TlsEhlo,       // EHLO again, over TLS
  Ready,         // open and idle: may start a transaction
  Rset,
  Mail,
  Rcpt,
  Data,          // waiting for 354
  Body,          // sending the message (DATA body or BDAT chunk)
  Dot,           // waiting for the end-of-data (or BDAT LAST) reply
  Quit,
  Closed,        // closing or closed; nothing more happens
};

struct StateInfo {
  const char* name;    // for trace logs: "mail"
  const char* phrase;  // "after MAIL FROM": completes "timeout ..." / "connection lost ..."
  const char* stage;   // what SessionInfo/MessageResult report
  // Which ClientOptions timeout runs while in the state; null: none.
  std::chrono::milliseconds ClientOptions::*timeout;
};

const StateInfo& state_info(State state);
const char* to_string(State state);

}  // namespace secmx::client
