// auth_service.hpp - answers SMTP AUTH credentials on the loop thread without blocking
// it: the limiter (auth_limiter.hpp) first, then the password hash checked on libuv's
// thread pool, then the delay a failure earns.
//
// At most max_verifications hashes are checked at once; further requests wait in order
// (at most max_pending_verifications, beyond that they are answered Unavailable at once),
// so that slow hashes can neither stall the loop nor take every pool thread from DNS and
// file work. A user name that is not in the users file is checked against a fixed hash
// all the same, so the answer's timing does not tell which names exist. The settings are
// read from the configuration passed with each request, so a reload applies to the next.
//
// Owned by the server; loop thread only. `done` is called exactly once per request on the
// loop thread - unless shutdown() ran first, after which nothing is answered. A hash check
// still running at destruction finishes on its pool thread and is then dropped.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "relay/config/config.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/server/auth_limiter.hpp"

namespace secmx::server {

// Success: 235. Failure: 535 5.7.8, after the delay. Locked: 454 4.7.0, too many
// failures for the address or the user. Unavailable: 454 4.7.0, too many checks waiting
// or the hash could not be run. Defined with its metric, which counts each one.
using AuthOutcome = metrics::AuthResult;

class AuthService {
 public:
  using Done = std::function<void(AuthOutcome)>;

  explicit AuthService(uv_loop_t* loop);
  ~AuthService();
  AuthService(const AuthService&) = delete;
  AuthService& operator=(const AuthService&) = delete;

  void check(const config::SmtpAuthConfig& cfg, std::string address, std::string user,
             std::string password, Done done);
  void shutdown();

  std::size_t running() const { return running_; }
  std::size_t waiting() const { return waiting_.size(); }

 private:
  struct Job;
  struct Delay;
  struct Alive;
  void start_next();
  void finish(std::unique_ptr<Job> job);
  void answer_later(std::uint64_t delay_ms, AuthOutcome outcome, Done done);
  static void run_job(uv_work_t* req);
  static void after_job(uv_work_t* req, int status);

  uv_loop_t* loop_;
  std::shared_ptr<Alive> alive_;  // jobs on the pool find the service gone through it
  AuthLimiter limiter_;
  std::deque<std::unique_ptr<Job>> waiting_;
  std::uint32_t running_ = 0;
  std::uint32_t max_running_ = 2;
  Delay* delays_ = nullptr;  // intrusive list of pending delayed answers
  bool shut_down_ = false;
};

}  // namespace secmx::server
