// sender_login.cpp - see sender_login.hpp.
#include "relay/policy/sender_login.hpp"

#include "relay/policy/address_match.hpp"

namespace secmx::policy {

bool sender_owned(const config::SenderLoginConfig& logins, std::string_view user,
                  std::string_view sender) {
  if (sender.empty()) return true;
  const config::SenderOwner* owner = logins.owner(user);
  if (owner == nullptr) return false;
  for (const auto& p : owner->patterns) {
    if (SenderPattern(p).matches(sender)) return true;
  }
  return false;
}

}  // namespace secmx::policy
