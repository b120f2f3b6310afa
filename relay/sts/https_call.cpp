// https_call.cpp - the shared HTTPS client setup and its run on libuv's thread pool; see
// https_call.hpp.
#include "relay/sts/https_call.hpp"

#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <mutex>

namespace secmx::sts {

void configure_client(httplib::SSLClient& cli, const std::string& host,
                      const dns::IpAddress& address, const HttpsOptions& options) {
  // The connection goes to the address our own resolver found; SNI and the certificate
  // check still use the host name.
  cli.set_hostname_addr_map({{host, address.to_string()}});
  if (!options.ca_file.empty()) {
    // cpp-httplib loads either the file or the system store; like the SMTP client's
    // context (tls::TlsContext), ca_file adds to the system store unless told otherwise.
    cli.set_ca_cert_path(options.ca_file);
    if (options.ca_system) SSL_CTX_set_default_verify_paths(cli.ssl_context());
  }
  cli.enable_server_certificate_verification(true);
  cli.set_follow_location(false);  // a redirect is an answer, never followed
  cli.set_keep_alive(false);
  cli.set_decompress(false);  // no compression bomb: size limits are on what we read
  cli.set_connection_timeout(options.timeout);
  cli.set_read_timeout(options.timeout);
  cli.set_write_timeout(options.timeout);
}

Abortable::Abortable(const AbortRegistrar& registrar, httplib::SSLClient& cli)
    : registrar_(registrar) {
  if (registrar_) registrar_([&cli] { cli.stop(); });
}

Abortable::~Abortable() {
  if (registrar_) registrar_({});
}

std::string verify_failure(httplib::SSLClient& cli, const std::string& host) {
  long v = cli.get_openssl_verify_result();
  if (v != X509_V_OK) {
    return std::string("certificate of ") + host + " not valid: " + X509_verify_cert_error_string(v);
  }
  return "certificate does not name " + host;
}

std::string seconds_text(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// --- on a loop -------------------------------------------------------------------

struct HttpsCaller::Job {
  uv_work_t work{};
  uv_timer_t timer{};
  std::function<void(const AbortRegistrar&)> task;
  std::function<void(End)> done;
  std::shared_ptr<bool> alive;  // the caller's
  std::unordered_set<Job*>* registry = nullptr;

  std::mutex mutex;  // guards abort and timed_out: the pool thread and the loop meet here
  std::function<void()> abort;
  bool timed_out = false;

  void cut_off() {
    std::lock_guard lock(mutex);
    timed_out = true;
    if (abort) abort();
  }
};

HttpsCaller::HttpsCaller(uv_loop_t* loop, dns::Resolver& resolver)
    : loop_(loop), resolver_(resolver) {}

HttpsCaller::~HttpsCaller() {
  *alive_ = false;
  // The jobs free themselves once the pool hands them back; make that soon.
  for (Job* job : jobs_) {
    job->registry = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&job->work));
    job->cut_off();
  }
  jobs_.clear();
}

void HttpsCaller::resolve(const std::string& host,
                          std::function<void(Result<dns::IpAddress, std::string>)> done) {
  resolver_.lookup_a(host, [this, alive = alive_, host, done = std::move(done)](
                               dns::AddressAnswer a) mutable {
    if (!*alive) return;
    resolved(host, a, std::move(done), false);
  });
}

void HttpsCaller::resolved(const std::string& host, const dns::AddressAnswer& a,
                           std::function<void(Result<dns::IpAddress, std::string>)> done,
                           bool tried_aaaa) {
  if (a.ok()) {
    done(a.records.front());
    return;
  }
  if (!tried_aaaa && a.status != dns::LookupStatus::Temporary) {
    resolver_.lookup_aaaa(host, [this, alive = alive_, host,
                                 done = std::move(done)](dns::AddressAnswer b) mutable {
      if (!*alive) return;
      resolved(host, b, std::move(done), true);
    });
    return;
  }
  std::string why = a.status == dns::LookupStatus::Temporary
                        ? "lookup failed (" + a.error + ")"
                        : std::string("has no address");
  done(fail(host + " " + why));
}

void HttpsCaller::later(std::function<void()> fn) {
  resolver_.post([fn = std::move(fn), alive = alive_] {
    if (*alive) fn();
  });
}

void HttpsCaller::run(std::chrono::milliseconds timeout,
                      std::function<void(const AbortRegistrar&)> work,
                      std::function<void(End)> done) {
  auto* job = new Job;
  job->task = std::move(work);
  job->done = std::move(done);
  job->alive = alive_;
  job->registry = &jobs_;
  job->work.data = job;
  job->timer.data = job;
  uv_timer_init(loop_, &job->timer);
  uv_timer_start(
      &job->timer, [](uv_timer_t* t) { static_cast<Job*>(t->data)->cut_off(); },
      static_cast<std::uint64_t>(timeout.count()), 0);
  jobs_.insert(job);
  int rc = uv_queue_work(
      loop_, &job->work,
      [](uv_work_t* w) {
        auto* j = static_cast<Job*>(w->data);
        AbortRegistrar registrar = [j](std::function<void()> abort) {
          std::lock_guard lock(j->mutex);
          j->abort = std::move(abort);
          if (j->abort && j->timed_out) j->abort();
        };
        j->task(registrar);
      },
      [](uv_work_t* w, int status) {
        auto* j = static_cast<Job*>(w->data);
        uv_timer_stop(&j->timer);
        std::function<void(End)> done;
        if (*j->alive && j->registry) {
          j->registry->erase(j);
          done = std::move(j->done);
        }
        bool timed_out = j->timed_out;
        uv_close(reinterpret_cast<uv_handle_t*>(&j->timer),
                 [](uv_handle_t* h) { delete static_cast<Job*>(h->data); });
        if (!done || status == UV_ECANCELED) return;
        done(End{timed_out, {}});
      });
  if (rc != 0) {
    jobs_.erase(job);
    std::function<void(End)> failed = std::move(job->done);
    uv_close(reinterpret_cast<uv_handle_t*>(&job->timer),
             [](uv_handle_t* h) { delete static_cast<Job*>(h->data); });
    // Not from inside run(): the contract promises a later loop turn.
    resolver_.post([failed = std::move(failed), rc, alive = alive_] {
      if (*alive) failed(End{false, std::string("uv_queue_work: ") + uv_strerror(rc)});
    });
  }
}

}  // namespace secmx::sts
