// dsn_text.hpp - the human-readable part of a DSN and its Subject (internal to relay/dsn).
//
// Pure; any thread. Everything passed in is already cleaned for the DSN's character set
// (dsn_format.hpp clean()); the text returned has CRLF line endings and short lines.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "relay/dsn/dsn.hpp"

namespace secmx::dsn::text {

struct Recipient {
  std::string address;
  std::string status;      // normalised enhanced code
  std::string diagnostic;  // "smtp; 550 ..." or our own words
  std::string remote_mta;  // "mx1.example.org[192.0.2.5]:25" or ""
  std::string tls;         // the last attempt's evidence (format::tls_evidence()) or ""
  bool sos = false;        // the recipient was under SOS
  std::string reason;      // why it got its policy, as stored ("rule=3(classification=...)")
  std::int64_t will_retry_until_us = 0;
};

struct Context {
  Event event = Event::Failure;
  std::string hostname;
  bool postmaster_copy = false;  // a bounce of mail from <>, sent to the postmaster
  bool returned_full = false;    // the whole message is attached, not only its headers
  std::string not_full_reason;   // why a FULL return became headers; "" when it did not
};

// Whether `r` failed because no receiver took it over TLS: our own 5.7.10 (decide.hpp
// exhausted()), told in words of its own and named in the subject.
bool secure_delivery_failed(const Recipient& r);

// "Undelivered Mail: secure delivery was not possible" for a failure report on any
// recipient secure_delivery_failed() (`secure_failed`); otherwise per event.
std::string subject(Event event, bool postmaster_copy, bool secure_failed = false);

// The notification text, with one paragraph per recipient. For a secure delivery that
// was not possible it says whether the receivers refused TLS (5.7.10) or could not be
// reached (with the status of the last attempt, e.g. 4.4.1), lists each host tried with
// what became of it, and names what required encryption (required_by()).
std::string human_text(const Context& ctx, const std::vector<Recipient>& recipients);

// What required encryption, in words, from the policy reason as stored: the marking and
// the rule ("the message is marked RESTRICTED (policy rule 3)"), REQUIRETLS, the default
// policy, an unrecognised marking, or the mail a report is about. "" for no reason.
std::string required_by(std::string_view policy_reason);

// How a host listed in our SOS diagnostic ended, from its reason: it refused TLS (no
// STARTTLS, a failed handshake, a certificate not verified; status 5.7.10), or it could not
// be used at all: not reached (4.4.1: no answer; 4.4.2: the connection broke; RFC 3463) or
// it refused the connection with a reply (that reply's status).
struct HostEnd {
  bool refused_tls = false;
  bool replied = false;  // not reached: the host answered, with a refusal
  std::string status;
};
HostEnd host_end(std::string_view reason);

// Our own SOS diagnostic ("no secure (TLS) receiver: H1: why; H2: why") as
// (host, reason) pairs; empty when it does not have that shape. Reasons may themselves
// hold "; ", so a piece joins the previous one unless it starts with "name[address]:port: ".
std::vector<std::pair<std::string, std::string>> split_hosts(std::string_view diagnostic);

}  // namespace secmx::dsn::text
