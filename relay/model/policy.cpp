// policy.cpp - names of the policies and TLS levels (see policy.hpp).
#include "relay/model/policy.hpp"

#include "relay/common/ascii.hpp"

namespace secmx::model {

const char* to_string(Policy p) {
  switch (p) {
    case Policy::BES: return "BES";
    case Policy::SOS: return "SOS";
    case Policy::HOLD: return "HOLD";
    case Policy::REJECT: return "REJECT";
  }
  return "?";
}

const char* to_string(TlsLevel l) {
  switch (l) {
    case TlsLevel::None: return "none";
    case TlsLevel::Encrypt: return "encrypt";
    case TlsLevel::Verify: return "verify";
  }
  return "?";
}

std::optional<Policy> parse_policy(std::string_view text) {
  for (Policy p : kPolicies) {
    if (iequals(text, to_string(p))) return p;
  }
  return std::nullopt;
}

std::optional<TlsLevel> parse_tls_level(std::string_view text) {
  for (TlsLevel l : kTlsLevels) {
    if (iequals(text, to_string(l))) return l;
  }
  return std::nullopt;
}

}  // namespace secmx::model
