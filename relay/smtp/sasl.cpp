// sasl.cpp - see sasl.hpp. Reply texts follow Postfix's where an operator would compare.
#include "relay/smtp/sasl.hpp"

#include <openssl/crypto.h>

#include "relay/common/ascii.hpp"
#include "relay/common/base64.hpp"

namespace secmx::smtp {
namespace {

// Decoded credentials do not outlive their use in freed heap memory.
void wipe(std::string& secret) { OPENSSL_cleanse(secret.data(), secret.size()); }

// "Username:" and "Password:", as every LOGIN client expects them.
constexpr std::string_view kLoginUserPrompt = "VXNlcm5hbWU6";
constexpr std::string_view kLoginPasswordPrompt = "UGFzc3dvcmQ6";

SaslStep challenge(std::string_view text) {
  SaslStep s;
  s.kind = SaslStep::Kind::Challenge;
  s.challenge = std::string(text);
  return s;
}

Reply malformed() { return {501, "5.5.2", "Error: invalid authentication message"}; }

}  // namespace

const char* to_string(SaslMechanism m) {
  switch (m) {
    case SaslMechanism::Plain: return "PLAIN";
    case SaslMechanism::Login: return "LOGIN";
    case SaslMechanism::None: break;
  }
  return "none";
}

SaslStep SaslExchange::fail(Reply r) {
  expect_ = Expect::Nothing;
  login_user_.clear();
  SaslStep s;
  s.kind = SaslStep::Kind::Error;
  s.error = std::move(r);
  return s;
}

SaslStep SaslExchange::start(std::string_view arg) {
  mechanism_ = SaslMechanism::None;
  expect_ = Expect::Nothing;
  login_user_.clear();
  std::size_t sp = arg.find(' ');
  std::string_view mech = arg.substr(0, sp);
  std::string_view initial;
  bool has_initial = false;
  if (sp != std::string_view::npos) {
    initial = arg.substr(sp + 1);
    has_initial = true;
    if (initial.empty() || initial.find(' ') != std::string_view::npos) {
      return fail({501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"});
    }
  }
  if (mech.empty()) return fail({501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"});
  if (iequals(mech, "PLAIN")) {
    mechanism_ = SaslMechanism::Plain;
    expect_ = Expect::PlainResponse;
    if (!has_initial) return challenge("");
  } else if (iequals(mech, "LOGIN")) {
    mechanism_ = SaslMechanism::Login;
    expect_ = Expect::LoginUser;
    if (!has_initial) return challenge(kLoginUserPrompt);
  } else {
    return fail({504, "5.5.4", "Error: unsupported authentication mechanism"});
  }
  // RFC 4954 4: "=" is an initial response of zero length; "*" is no response at all
  // here, only a cancel after a challenge.
  return respond(initial == "=" ? std::string_view() : initial);
}

SaslStep SaslExchange::respond(std::string_view line) {
  if (expect_ == Expect::Nothing) return fail({503, "5.5.1", "Error: no authentication in progress"});
  if (line == "*") return fail({501, "5.0.0", "Error: authentication aborted"});
  std::string decoded;
  if (line.size() > kMaxSaslLine || !base64_decode(line, decoded)) {
    wipe(decoded);
    return fail({501, "5.5.2", "Error: cannot decode response"});
  }
  SaslStep step = on_response(decoded);
  wipe(decoded);  // user NUL password: only the Credentials step keeps (its own copy of) them
  return step;
}

SaslStep SaslExchange::on_response(std::string_view decoded) {
  switch (expect_) {
    case Expect::PlainResponse:
      expect_ = Expect::Nothing;
      return plain(decoded);
    case Expect::LoginUser:
      if (decoded.empty() || decoded.size() > kMaxSaslUser ||
          decoded.find('\0') != std::string_view::npos) {
        return fail(malformed());
      }
      login_user_ = std::string(decoded);
      expect_ = Expect::LoginPassword;
      return challenge(kLoginPasswordPrompt);
    case Expect::LoginPassword: {
      if (decoded.size() > kMaxSaslPassword || decoded.find('\0') != std::string_view::npos) {
        return fail(malformed());
      }
      SaslStep s;
      s.kind = SaslStep::Kind::Credentials;
      s.user = std::move(login_user_);
      s.password = std::string(decoded);
      login_user_.clear();
      expect_ = Expect::Nothing;
      return s;
    }
    case Expect::Nothing: break;
  }
  return fail({503, "5.5.1", "Error: no authentication in progress"});
}

// RFC 4616 2: [authzid] NUL authcid NUL passwd. Acting for someone else (an authzid that
// is not the authcid) is not something a relay grants.
SaslStep SaslExchange::plain(std::string_view message) {
  std::size_t a = message.find('\0');
  if (a == std::string_view::npos) return fail(malformed());
  std::size_t b = message.find('\0', a + 1);
  if (b == std::string_view::npos) return fail(malformed());
  std::string_view authzid = message.substr(0, a);
  std::string_view authcid = message.substr(a + 1, b - a - 1);
  std::string_view password = message.substr(b + 1);
  if (authcid.empty() || authcid.size() > kMaxSaslUser || password.size() > kMaxSaslPassword ||
      password.find('\0') != std::string_view::npos) {
    return fail(malformed());
  }
  if (!authzid.empty() && authzid != authcid) {
    return fail({535, "5.7.8", "Error: authentication failed: authorization identity refused"});
  }
  SaslStep s;
  s.kind = SaslStep::Kind::Credentials;
  s.user = std::string(authcid);
  s.password = std::string(password);
  return s;
}

}  // namespace secmx::smtp
