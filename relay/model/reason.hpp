// reason.hpp - why a recipient got its policy, as a typed value.
//
// The policy engine builds a Reason; the queue stores its text form in the recipient
// record ("rule=3(classification=RESTRICTED)", "default", "requiretls", ...), and logs,
// --queue-dump, the admin API and --explain print that same text. parse() reads it back.
// Text that is not one of the forms below (a record written by other code, a test's
// placeholder) is kept verbatim as Step::Other, so nothing read from a record is lost or
// altered by a round trip.
//
// Grammar of the text form:
//   reason     = base [",released"]
//   base       = "requiretls" | "default" | "tls-required-no" | "unknown-marking"
//              | "dsn" | "dsn(sos)" | "dsn(sos-full)" | "rule=" number "(" [cond *("," cond)] ")"
//   cond       = key "=" value      key: sender | header | classification | recipient_domain
// Only config text and canonical level names go into a condition, never message text, so
// the text is safe in key=value log lines. Plain value; any thread.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace secmx::model {

enum class ReasonStep : std::uint8_t {
  RequireTls,      // MAIL FROM ... REQUIRETLS          "requiretls"
  Rule,            // an operator rule                  "rule=N(...)"
  TlsRequiredNo,   // the TLS-Required: No header       "tls-required-no"
  Default,         // policy.default                    "default"
  UnknownMarking,  // raised by policy.unknown_marking  "unknown-marking"
  Dsn,             // a report the relay wrote          "dsn"
  DsnSos,          // ... on SOS or HOLD mail, headers   "dsn(sos)"
  DsnSosFull,      // ... the same, with the content    "dsn(sos-full)"
  Other,           // text of no form above, kept as it was
};

// The step's own name: "requiretls", "rule", "tls-required-no", "default",
// "unknown-marking", "dsn", "dsn(sos)", "dsn(sos-full)"; "other".
std::string_view to_string(ReasonStep s);

struct Reason {
  // One matched condition of a rule, e.g. {"classification", "RESTRICTED"}.
  struct Condition {
    std::string key;
    std::string value;
    bool operator==(const Condition&) const = default;
  };

  ReasonStep step = ReasonStep::Default;
  std::uint32_t rule = 0;        // 1-based rule number (Rule)
  std::uint32_t rule_line = 0;   // the rule's line in the config file; not in the text form
  std::vector<Condition> conditions;  // (Rule), in the order the rule engine lists them
  bool released = false;         // a HOLD an operator released (",released")
  std::string other;             // the verbatim text (Other)

  Reason() = default;
  Reason(ReasonStep s) : step(s) {}  // NOLINT: a step is a whole reason
  // Text as stored or printed: parse(), or Other with the text kept when it is no known
  // form. For values read back from records and for tests; the engine builds typed values.
  Reason(std::string_view text);  // NOLINT(google-explicit-constructor)
  Reason(const char* text) : Reason(std::string_view(text)) {}
  Reason(const std::string& text) : Reason(std::string_view(text)) {}

  static Reason for_rule(std::uint32_t number, std::uint32_t line,
                         std::vector<Condition> conditions);

  // The text form above.
  std::string to_string() const;
  // The value of the "rule=" field of the server's queued and reject log lines: for a rule
  // the text without its "rule=" ("3(classification=RESTRICTED)"), otherwise to_string()
  // (verbatim text that starts with "rule=" loses it too).
  std::string rule_field() const;

  // The text form, strictly: nullopt when `text` is none of the forms of the grammar.
  static std::optional<Reason> parse(std::string_view text);

  // Equal when the text forms are equal (rule_line is not part of the identity). One
  // overload per kind of text, so that comparing with a literal is not ambiguous.
  friend bool operator==(const Reason& a, const Reason& b) { return a.to_string() == b.to_string(); }
  friend bool operator==(const Reason& a, std::string_view text) { return a.to_string() == text; }
  friend bool operator==(const Reason& a, const std::string& text) { return a.to_string() == text; }
  friend bool operator==(const Reason& a, const char* text) { return a.to_string() == text; }
};

std::ostream& operator<<(std::ostream& out, const Reason& r);

}  // namespace secmx::model
