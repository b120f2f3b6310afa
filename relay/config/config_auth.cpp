// config_auth.cpp - the [smtp.auth] section: clients that log in (docs/admin.md).
//
// Part of load_config(): same thread, same rules. The users file is read and parsed here,
// so a SIGHUP reload, which loads the whole configuration again, reads it again too, and
// `--check` names its bad lines as "users-file:line: ...".

#include "relay/config/auth_users.hpp"
#include "relay/config/config_reader.hpp"

namespace secmx::config::detail {

void read_smtp_auth(const Section& smtp, SmtpAuthConfig& out) {
  Section s = smtp.sub("auth");
  s.check_keys({"users_file", "max_failures", "lockout", "max_session_failures",
                "failure_delay", "max_failure_delay", "max_verifications",
                "max_pending_verifications",
                // sender authorization, read by read_sender_login() (config_smtp_listen.cpp)
                "senders_file", "sender_login"});
  s.u32("max_failures", out.max_failures, 1, 1000);
  s.duration("lockout", out.lockout, std::chrono::seconds(1));
  s.u32("max_session_failures", out.max_session_failures, 1, 100);
  s.duration("failure_delay", out.failure_delay, Duration(0));
  s.duration("max_failure_delay", out.max_failure_delay, Duration(0));
  if (out.max_failure_delay < out.failure_delay) {
    s.fail(s.node("max_failure_delay") ? "max_failure_delay" : "failure_delay",
           "max_failure_delay must be at least failure_delay");
  }
  if (out.max_failure_delay > std::chrono::minutes(1)) {
    // The client waits for its 535 this long; beyond a minute it times out instead.
    s.fail("max_failure_delay", "must be at most 1m");
  }
  s.u32("max_verifications", out.max_verifications, 1, 64);
  s.u32("max_pending_verifications", out.max_pending_verifications, 0, 100000);

  if (!s.path("users_file", out.users_file) || out.users_file.empty()) {
    if (s.node("users_file")) s.fail("users_file", "must not be empty");
    out.users_file.clear();
    return;
  }
  std::string text;
  if (auto why = read_text_file(out.users_file, text)) {
    s.fail("users_file", "cannot read '" + out.users_file + "': " + *why);
    return;
  }
  for (auto& issue : parse_users(text, out.users_file, out.users)) {
    s.reader().add_elsewhere(std::move(issue));
  }
}

}  // namespace secmx::config::detail
