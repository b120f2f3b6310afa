// extensions.hpp - what the server offers after EHLO, defined once.
//
// One table (extensions.cpp) lists the keywords in the order the EHLO reply sends them,
// when each is offered (always, only before TLS, only under TLS) and which MAIL/RCPT
// parameter check of smtp::Offered it switches on. The EHLO text and the Offered used to
// check MAIL and RCPT are both derived from it, so what is advertised and what is accepted
// cannot drift apart. After HELO (or before any greeting) nothing is offered. Pure; no I/O.
#pragma once

#include <cstdint>
#include <string>

#include "relay/smtp/params.hpp"

namespace secmx::server {

// What the offer depends on, as the session sees it when it answers EHLO or checks a
// command.
struct OfferContext {
  bool esmtp = false;          // the client said EHLO
  bool tls_configured = false; // a certificate is loaded: STARTTLS can be offered
  bool tls_active = false;     // the session runs under TLS
  std::uint64_t max_message_size = 0;
  bool auth_configured = false;  // [smtp.auth] users_file: AUTH can be offered under TLS
};

// The keyword lines of the EHLO reply, each preceded by '\n' ("\nPIPELINING\nSIZE 10..."),
// to follow the hostname line. Empty when ctx.esmtp is false.
std::string ehlo_keywords(const OfferContext& ctx);

// The parameter checks that match the offer: everything off after HELO.
smtp::Offered offered(const OfferContext& ctx);

}  // namespace secmx::server
