// auth_service.cpp - see auth_service.hpp.
#include "relay/server/auth_service.hpp"

#include <openssl/crypto.h>

#include "relay/common/clock.hpp"
#include "relay/server/password_hash.hpp"

namespace secmx::server {
namespace {

// The hash an unknown user name is checked against: a yescrypt hash of a password no one
// knows, at the cost --hash-password uses, so unknown names take as long as known ones.
constexpr const char* kUnknownUserHash =
    "$y$j9T$KDF.pp5Es5215obCPpYpF1$sE10VevTSclBrVVRAUqMIt9qnPXkEQWMvYLoebLt/MB";

std::uint64_t now_ms() { return static_cast<std::uint64_t>(unix_now_us() / 1000); }

LimiterSettings limiter_settings(const config::SmtpAuthConfig& cfg) {
  LimiterSettings s;
  s.max_failures = cfg.max_failures;
  s.lockout_ms = static_cast<std::uint64_t>(cfg.lockout.count());
  s.delay_ms = static_cast<std::uint64_t>(cfg.failure_delay.count());
  s.max_delay_ms = static_cast<std::uint64_t>(cfg.max_failure_delay.count());
  return s;
}

}  // namespace

struct AuthService::Alive {
  AuthService* service;
};

struct AuthService::Job {
  uv_work_t req{};
  std::shared_ptr<Alive> alive;
  std::string address;
  std::string user;
  std::string password;  // wiped once checked
  std::string hash;
  bool known = false;    // the user is in the users file
  LimiterSettings limits;
  Done done;
  bool ok = false;       // set on the pool thread
};

struct AuthService::Delay {
  uv_timer_t timer{};
  Done done;
  AuthOutcome outcome = AuthOutcome::Failure;
  Delay* next = nullptr;
  Delay* prev = nullptr;
  AuthService* owner = nullptr;
};

AuthService::AuthService(uv_loop_t* loop)
    : loop_(loop), alive_(std::make_shared<Alive>(Alive{this})) {}

AuthService::~AuthService() {
  shutdown();
  alive_->service = nullptr;
}

void AuthService::check(const config::SmtpAuthConfig& cfg, std::string address,
                        std::string user, std::string password, Done done) {
  if (shut_down_) return;
  max_running_ = cfg.max_verifications;
  LimiterSettings limits = limiter_settings(cfg);
  if (limiter_.locked(address, user, limits, now_ms())) {
    OPENSSL_cleanse(password.data(), password.size());
    answer_later(0, AuthOutcome::Locked, std::move(done));
    return;
  }
  if (waiting_.size() >= cfg.max_pending_verifications && running_ >= max_running_) {
    OPENSSL_cleanse(password.data(), password.size());
    answer_later(0, AuthOutcome::Unavailable, std::move(done));
    return;
  }
  auto job = std::make_unique<Job>();
  job->req.data = job.get();
  job->alive = alive_;
  auto it = cfg.users.find(user);
  job->known = it != cfg.users.end();
  job->hash = job->known ? it->second : kUnknownUserHash;
  job->address = std::move(address);
  job->user = std::move(user);
  job->password = std::move(password);
  job->limits = limits;
  job->done = std::move(done);
  waiting_.push_back(std::move(job));
  start_next();
}

void AuthService::start_next() {
  while (running_ < max_running_ && !waiting_.empty()) {
    std::unique_ptr<Job> job = std::move(waiting_.front());
    waiting_.pop_front();
    if (uv_queue_work(loop_, &job->req, run_job, after_job) != 0) {
      OPENSSL_cleanse(job->password.data(), job->password.size());
      answer_later(0, AuthOutcome::Unavailable, std::move(job->done));
      continue;
    }
    ++running_;
    job.release();  // after_job owns it
  }
}

void AuthService::run_job(uv_work_t* req) {
  auto* job = static_cast<Job*>(req->data);
  bool ok = verify_password(job->password, job->hash);
  job->ok = ok && job->known;
  OPENSSL_cleanse(job->password.data(), job->password.size());
}

void AuthService::after_job(uv_work_t* req, int) {
  std::unique_ptr<Job> job(static_cast<Job*>(req->data));
  AuthService* self = job->alive->service;
  if (self == nullptr) return;
  --self->running_;
  self->finish(std::move(job));
  self->start_next();
}

void AuthService::finish(std::unique_ptr<Job> job) {
  if (shut_down_) return;
  if (job->ok) {
    limiter_.record_success(job->user);
    job->done(AuthOutcome::Success);
    return;
  }
  std::uint64_t delay = limiter_.record_failure(job->address, job->user, job->limits, now_ms());
  answer_later(delay, AuthOutcome::Failure, std::move(job->done));
}

// Always from the loop, even without a delay: an answer given inside check() would run the
// session's callback while the session is still in the call that asked (re-entering its
// input processing).
void AuthService::answer_later(std::uint64_t delay_ms, AuthOutcome outcome, Done done) {
  auto* d = new Delay;
  d->done = std::move(done);
  d->outcome = outcome;
  d->owner = this;
  uv_timer_init(loop_, &d->timer);
  d->timer.data = d;
  d->next = delays_;
  if (delays_) delays_->prev = d;
  delays_ = d;
  uv_timer_start(
      &d->timer,
      [](uv_timer_t* t) {
        auto* d = static_cast<Delay*>(t->data);
        AuthService* self = d->owner;
        if (d->prev) d->prev->next = d->next;
        else self->delays_ = d->next;
        if (d->next) d->next->prev = d->prev;
        Done done = std::move(d->done);
        AuthOutcome outcome = d->outcome;
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete static_cast<Delay*>(h->data); });
        done(outcome);
      },
      delay_ms, 0);
}

void AuthService::shutdown() {
  shut_down_ = true;
  waiting_.clear();
  while (delays_) {
    Delay* d = delays_;
    delays_ = d->next;
    uv_timer_stop(&d->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&d->timer),
             [](uv_handle_t* h) { delete static_cast<Delay*>(h->data); });
  }
}

}  // namespace secmx::server
