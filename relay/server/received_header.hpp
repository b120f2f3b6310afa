// received_header.hpp - the trace header the relay prepends (RFC 5321 4.4, RFC 3848).
//
// Pure: builds the text from what the session knows. The date is the current time; it
// is cached per second per thread because formatting it per message shows in profiles.
#pragma once

#include <string>
#include <string_view>

namespace secmx::server {

struct ReceivedInfo {
  std::string_view helo;
  std::string_view client_ip;
  std::string_view hostname;
  std::string_view queue_id;
  bool esmtp = false;
  bool tls = false;
  bool authenticated = false;
  std::string_view tls_protocol;
  std::string_view tls_cipher;
  int tls_bits = 0;
};

// Appends "Received: ...\r\n" (folded lines) to out.
void append_received(const ReceivedInfo& info, std::string& out);

// RFC 5322 date-time for now, e.g. "Mon, 23 Nov 2026 09:30:00 +0000".
const std::string& rfc5322_now();

}  // namespace secmx::server
