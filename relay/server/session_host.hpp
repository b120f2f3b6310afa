// session_host.hpp - what an inbound SMTP session needs of the server that owns it.
//
// SmtpServer implements SessionHost; the unit tests implement it with a recorder, so a
// session runs without a listener, a loop or a commit writer. deps() is read at each use:
// a reload swaps it between two commands. submit() hands a message to the commit writer;
// its answer comes back to the session as on_committed() on the loop thread, unless the
// session has gone by then (the message is stored all the same). session_closed() is the
// session's last call: the host frees it there. authenticate() checks AUTH credentials.
// Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "queue/commit_writer.hpp"
#include "relay/common/log_lines.hpp"
#include "relay/config/config.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/model/queue_id.hpp"
#include "relay/policy/policy_engine.hpp"
#include "relay/tls/tls_context.hpp"

namespace secmx::server {

class SmtpSession;

struct ServerDeps {
  std::shared_ptr<const config::Config> config;
  queue::CommitWriter* writer = nullptr;
  model::IdGenerator* ids = nullptr;
  std::shared_ptr<const policy::PolicyEngine> policy;
  std::shared_ptr<tls::TlsContext> tls;  // null: STARTTLS not offered
  // New mail is on disk: on the server's loop, once per round of commit answers that
  // stored at least one message (or on the writer thread while the server shuts down).
  std::function<void()> on_queued;
  secmx::metrics::RelayMetrics* metrics = nullptr;  // null: not counted; must outlive the server
};

struct ServerCounters {
  std::uint64_t connections = 0;
  std::uint64_t messages = 0;
  std::uint64_t rejected = 0;
};

class SessionHost {
 public:
  virtual ~SessionHost() = default;
  virtual const ServerDeps& deps() const = 0;
  virtual ServerCounters& counters() = 0;
  // queued_lines (log::queued_lines(): "<QUEUEID>: queued client=...", the message-id)
  // are logged when the commit succeeds, and only then: they say the message is on disk.
  virtual void submit(std::uint64_t session_id, queue::NewMessage message,
                      std::vector<log::Line> queued_lines) = 0;
  // Credentials from AUTH to check against [smtp.auth] (auth_service.hpp); the answer
  // comes back as session.on_auth_result() on the loop thread, unless the session has
  // gone by then. The password is wiped once checked.
  virtual void authenticate(std::uint64_t session_id, std::string user, std::string password) = 0;
  virtual void session_closed(SmtpSession& session) = 0;
};

}  // namespace secmx::server
