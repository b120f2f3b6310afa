// smtp_server.hpp - the inbound SMTP listener: accepts connections, enforces connection
// limits, owns the sessions of its loop and routes queue-commit results back to them.
//
// One SmtpServer per libuv loop; every method runs on that loop's thread except the
// commit writer's completions (which log the message's queued line, count it and hand the
// result over with post_commit_result()). The server owns its sessions (unique_ptr, keyed
// by session id) and frees each in session_closed(), the session's last call. Sessions
// are found again by their id, so a commit result for a session that has gone away is
// dropped harmlessly (the message is stored; the client, who saw no 250, will send it
// again). Accepting and handing out commit results run under common::guard like every
// session callback: an exception fails that one connection, never the process.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "queue/commit_writer.hpp"
#include "relay/common/result.hpp"
#include "relay/config/config.hpp"
#include "relay/policy/policy_engine.hpp"
#include "relay/server/auth_service.hpp"
#include "relay/server/session_host.hpp"
#include "relay/tls/tls_context.hpp"

namespace secmx::server {

class SmtpSession;

class SmtpServer final : public SessionHost {
 public:
  SmtpServer(uv_loop_t* loop, ServerDeps deps);
  ~SmtpServer();
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  // Binds and listens on every configured listener ([smtp] listeners); each session knows
  // the one it came in on. Error: "127.0.0.1:25: address in use".
  Status<std::string> listen();
  // Stops accepting and closes every session; the loop ends once they are gone.
  void shutdown();
  // SIGHUP: settings, policy rules and STARTTLS certificate for every session from its
  // next command on (a session already in TLS keeps its connection). The listeners, the
  // writer and the callbacks stay as they are: the writer thread reads those.
  void reload(std::shared_ptr<const config::Config> config,
              std::shared_ptr<const policy::PolicyEngine> policy,
              std::shared_ptr<tls::TlsContext> tls);

  // SessionHost. submit(): queued_lines are logged when the commit succeeds
  // ("<QUEUEID>: not queued: ..." when it fails), on the writer thread, whether or not the
  // session is still there.
  const ServerDeps& deps() const override { return deps_; }
  ServerCounters& counters() override { return counters_; }
  void submit(std::uint64_t session_id, queue::NewMessage message,
              std::vector<log::Line> queued_lines) override;
  void session_closed(SmtpSession& session) override;  // frees it
  void authenticate(std::uint64_t session_id, std::string user, std::string password) override;

  std::size_t active_sessions() const { return sessions_.size(); }

 private:
  struct Listener;
  static void on_connection(uv_stream_t* listener, int status);
  static void on_async(uv_async_t* handle);
  void accept_session(uv_stream_t* listener, std::size_t index, std::uint64_t id);
  void fail_session(std::uint64_t id);
  void post_commit_result(std::uint64_t session_id, Status<queue::Error> result);
  void deliver_commit_results();

  uv_loop_t* loop_;
  ServerDeps deps_;
  std::vector<Listener*> listeners_;
  std::unordered_map<std::uint64_t, std::unique_ptr<SmtpSession>> sessions_;
  std::unordered_map<std::string, std::uint32_t> per_client_;
  std::uint64_t next_session_id_ = 1;
  ServerCounters counters_;
  bool shutting_down_ = false;
  AuthService auth_;

  uv_async_t async_{};
  std::mutex results_mutex_;
  bool async_closed_ = false;  // guarded by results_mutex_
  std::vector<std::pair<std::uint64_t, Status<queue::Error>>> results_;
  std::vector<std::pair<std::uint64_t, Status<queue::Error>>> results_swap_;
};

}  // namespace secmx::server
