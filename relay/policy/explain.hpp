// explain.hpp - "what would the relay decide for this message, and why", for operators.
//
// The same evaluation the server runs at the end of DATA (RuleEngine::evaluate), fed
// from a message file or text instead of an SMTP transaction, plus renderings: text for
// `secmx-relay --explain`, JSON for the admin API (`secmxctl policy test`). Pure: no I/O,
// no logging; callable from any thread as long as the engine is alive.
#pragma once

#include <string>
#include <vector>

#include "relay/policy/rule_engine.hpp"

namespace secmx::policy {

struct ExplainRequest {
  std::string sender;                   // envelope sender, "" for <>
  std::vector<std::string> recipients;  // envelope recipients
  bool requiretls = false;              // MAIL FROM ... REQUIRETLS
  std::string client_address;
  std::string auth_user;
  std::string message;  // the message (or only its header section); CRLF or LF line ends
};

struct Explanation {
  ExplainRequest request;  // message dropped (header_fields says what was read)
  Evaluation evaluation;
};

Explanation explain(const RuleEngine& engine, ExplainRequest request);

// Human-readable, several lines, ends with a newline. Message text is shown escaped.
std::string render_text(const Explanation& e);
// One JSON object (no trailing newline); keys documented in docs/policy.md.
std::string render_json(const Explanation& e);

}  // namespace secmx::policy
