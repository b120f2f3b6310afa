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
  std::int64_t will_retry_until_us = 0;
};

struct Context {
  Event event = Event::Failure;
  std::string hostname;
  bool postmaster_copy = false;  // a bounce of mail from <>, sent to the postmaster
  bool returned_full = false;    // the whole message is attached, not only its headers
  std::string not_full_reason;   // why a FULL return became headers; "" when it did not
};

std::string subject(Event event, bool postmaster_copy);

// The notification text, with one paragraph per recipient.
std::string human_text(const Context& ctx, const std::vector<Recipient>& recipients);

// Our own SOS diagnostic ("no secure (TLS) receiver: H1: why; H2: why") as
// (host, reason) pairs; empty when it does not have that shape. Reasons may themselves
// hold "; ", so a piece joins the previous one unless it starts with "name[address]:port: ".
std::vector<std::pair<std::string, std::string>> split_hosts(std::string_view diagnostic);

}  // namespace secmx::dsn::text
