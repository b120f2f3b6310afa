// policy_probe.hpp - "which policy would this message get?": the admin API's
// POST /api/v1/policy/test, answered by the running policy engine without queueing
// anything.
//
// Pure: builds policy::MessageFacts from the request and asks PolicyEngine::decide(),
// the same call the SMTP server makes at the end of DATA. Thread-agnostic (engines are
// immutable and thread-safe).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "relay/common/result.hpp"
#include "relay/policy/policy_engine.hpp"

namespace secmx::admin {

// Request: {"sender": "a@b.example", "recipients": ["r@c.example"] (or "recipient": "..."),
//           "headers": ["Subject: [SEC=OFFICIAL]", ...] (or one string of header lines),
//           "requiretls": false, "client_address": "127.0.0.1", "auth_user": ""}
// Answer:  {"policy": "SOS", "tls": "encrypt", "rule": "rule=3(...)",
//           "decisions": [{"recipient", "policy", "tls", "rule", "reject_text"}]}
// where the top-level fields repeat the first recipient's decision. From a RuleEngine (the
// daemon's) also how it read the message, as `secmx-relay --explain --json` says it:
//   "classification": {"level", "unknown", "unknown_why", "markings": [{"source", "text",
//                      "level", "error", "ver", "caveats"}]}, "subject", "header_fields",
//   "marking_invalid" (why an EPMS marking was invalid, "" when none was), and per
//   decision "step" (rule, default, requiretls, ...) and "rule_line".
// Error: a readable reason when the request is malformed (400).
Result<nlohmann::json, std::string> policy_test(const policy::PolicyEngine& engine,
                                                const nlohmann::json& request);

}  // namespace secmx::admin
