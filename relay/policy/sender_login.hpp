// sender_login.hpp - sender authorization: may an authenticated user use this MAIL FROM?
//
// Like Postfix's smtpd_sender_login_maps with reject_sender_login_mismatch, read from the
// [smtp.auth] senders_file (config::SenderLoginConfig): a user may use the senders that
// one of the patterns on the user's line matches ("user@domain", "@domain", globs; see
// address_match.hpp: domains compare case-insensitively, local parts exactly). A user
// without a line owns no sender. The null sender is always allowed: it is what the user's
// own MTA sends its bounces and DSNs with, and it claims no address (Postfix does the
// same). Pure, thread-agnostic.
#pragma once

#include <string_view>

#include "relay/config/config.hpp"

namespace secmx::policy {

bool sender_owned(const config::SenderLoginConfig& logins, std::string_view user,
                  std::string_view sender);

}  // namespace secmx::policy
