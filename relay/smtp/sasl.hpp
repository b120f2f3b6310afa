// sasl.hpp - the server side of an SMTP AUTH exchange (RFC 4954) for the PLAIN (RFC 4616)
// and LOGIN mechanisms, without a socket.
//
// The session feeds the AUTH argument to start() and each line the client sends after a
// 334 to respond(); every step says what to do next: send a 334 challenge, check the
// credentials it carries, or answer with an error reply (the exchange is then over).
// Nothing here knows whether TLS is active or whether the credentials are good: the
// session decides that. The decoded password lives only in the Credentials step; the
// caller wipes it when done. Pure code, no I/O, so it is unit-tested and fuzzed
// (tests/fuzz/fuzz_sasl.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "relay/smtp/reply.hpp"

namespace secmx::smtp {

enum class SaslMechanism : std::uint8_t { None, Plain, Login };
const char* to_string(SaslMechanism m);  // "PLAIN", "LOGIN", "none"

// RFC 4954 4: a server must accept responses of at least 12288 octets.
inline constexpr std::size_t kMaxSaslLine = 12288;
// What a decoded user name or password may hold; longer is refused as malformed.
inline constexpr std::size_t kMaxSaslUser = 255;
inline constexpr std::size_t kMaxSaslPassword = 1024;

struct SaslStep {
  enum class Kind : std::uint8_t { Challenge, Credentials, Error };
  Kind kind = Kind::Error;
  std::string challenge;  // Challenge: the base64 text after "334 " (may be empty)
  std::string user;       // Credentials: the authentication identity
  std::string password;   // Credentials
  Reply error;            // Error: the reply to send
};

class SaslExchange {
 public:
  // "PLAIN", "PLAIN dXNlcg...", "LOGIN", "LOGIN dXNlcg==", "PLAIN =" (empty initial
  // response, RFC 4954 4). Mechanism names are case-insensitive.
  SaslStep start(std::string_view arg);
  // One client line after a 334 (without CRLF). "*" cancels.
  SaslStep respond(std::string_view line);
  SaslMechanism mechanism() const { return mechanism_; }

 private:
  enum class Expect : std::uint8_t { Nothing, PlainResponse, LoginUser, LoginPassword };
  SaslStep on_response(std::string_view decoded);
  SaslStep plain(std::string_view message);
  SaslStep fail(Reply r);

  SaslMechanism mechanism_ = SaslMechanism::None;
  Expect expect_ = Expect::Nothing;
  std::string login_user_;
};

}  // namespace secmx::smtp
