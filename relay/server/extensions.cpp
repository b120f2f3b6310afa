// extensions.cpp - see extensions.hpp.
#include "relay/server/extensions.hpp"

#include <string_view>

namespace secmx::server {
namespace {

enum class When : std::uint8_t {
  Always,
  BeforeTls,  // and only when a certificate is configured (STARTTLS)
  UnderTls,   // REQUIRETLS: RFC 8689 2 offers it on TLS sessions only
  AuthUnderTls,  // AUTH: under TLS, and only when there are users to log in
};

struct Extension {
  std::string_view keyword;
  When when;
  bool smtp::Offered::*accepts;  // the parameter check it switches on; null: none
};

// In the order of the EHLO reply, which clients and tests compare byte for byte.
constexpr Extension kExtensions[] = {
    {"PIPELINING", When::Always, nullptr},
    {"SIZE", When::Always, &smtp::Offered::size},  // with the limit: "SIZE 52428800"
    {"8BITMIME", When::Always, &smtp::Offered::eightbitmime},
    {"SMTPUTF8", When::Always, &smtp::Offered::smtputf8},
    {"ENHANCEDSTATUSCODES", When::Always, nullptr},
    {"STARTTLS", When::BeforeTls, nullptr},
    // No password crosses in plaintext, so no AUTH before TLS (RFC 4954 4, 14).
    {"AUTH PLAIN LOGIN", When::AuthUnderTls, &smtp::Offered::auth},
    {"DSN", When::Always, &smtp::Offered::dsn},
    {"CHUNKING", When::Always, nullptr},  // BDAT itself is accepted from every client
    {"BINARYMIME", When::Always, &smtp::Offered::chunking},  // BODY=BINARYMIME
    {"REQUIRETLS", When::UnderTls, &smtp::Offered::requiretls},
};

bool on_offer(const Extension& e, const OfferContext& ctx) {
  if (!ctx.esmtp) return false;
  switch (e.when) {
    case When::Always: return true;
    case When::BeforeTls: return ctx.tls_configured && !ctx.tls_active;
    case When::UnderTls: return ctx.tls_active;
    case When::AuthUnderTls: return ctx.tls_active && ctx.auth_configured;
  }
  return false;
}

}  // namespace

std::string ehlo_keywords(const OfferContext& ctx) {
  std::string out;
  for (const auto& e : kExtensions) {
    if (!on_offer(e, ctx)) continue;
    out += '\n';
    out += e.keyword;
    if (e.accepts == &smtp::Offered::size) out += " " + std::to_string(ctx.max_message_size);
  }
  return out;
}

smtp::Offered offered(const OfferContext& ctx) {
  smtp::Offered o{false, false, false, false, false, false, false, 0};
  for (const auto& e : kExtensions) {
    if (e.accepts != nullptr && on_offer(e, ctx)) o.*e.accepts = true;
  }
  if (o.size) o.max_size = ctx.max_message_size;
  return o;
}

}  // namespace secmx::server
