// sts_fetch.cpp - the policy fetch over cpp-httplib's SSLClient, and its run on libuv's
// thread pool; see sts_fetch.hpp.
#include "relay/sts/sts_fetch.hpp"

#include <httplib.h>
#include <openssl/x509.h>

#include <mutex>
#include <optional>
#include <unordered_set>

#include "relay/common/ascii.hpp"
#include "relay/common/log.hpp"

namespace secmx::sts {
namespace {

constexpr const char* kPath = "/.well-known/mta-sts.txt";

FetchResult failure(StsFailure f, std::string detail) {
  return fail(FetchFailure{f, std::move(detail)});
}

// "text/plain", "text/plain; charset=utf-8", "Text/Plain" (media types ignore case).
bool is_text_plain(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  return ascii_lowercase(type) == "text/plain";
}

std::string seconds_text(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// Hands the abort function out while the client lives, and takes it back before it dies.
class Abortable {
 public:
  Abortable(std::function<void(std::function<void()>)>& register_fn, httplib::SSLClient& cli)
      : register_(register_fn) {
    if (register_) register_([&cli] { cli.stop(); });
  }
  ~Abortable() {
    if (register_) register_({});
  }
  Abortable(const Abortable&) = delete;
  Abortable& operator=(const Abortable&) = delete;

 private:
  std::function<void(std::function<void()>)>& register_;
};

}  // namespace

std::string policy_host(const std::string& domain) { return "mta-sts." + domain; }

FetchResult fetch_policy(const std::string& domain, const dns::IpAddress& address,
                         const FetchOptions& options,
                         std::function<void(std::function<void()>)> on_abortable) {
  const std::string host = policy_host(domain);
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  httplib::SSLClient cli(host, options.port);
  // The connection goes to the address our own resolver found; SNI and the certificate
  // check still use the host name.
  cli.set_hostname_addr_map({{host, address.to_string()}});
  if (!options.ca_file.empty()) cli.set_ca_cert_path(options.ca_file);
  cli.enable_server_certificate_verification(true);
  cli.set_follow_location(false);  // RFC 8461 §3.3: redirects are not followed
  cli.set_keep_alive(false);
  cli.set_decompress(false);  // no compression bomb: the size limit is on what we read
  cli.set_connection_timeout(options.timeout);
  cli.set_read_timeout(options.timeout);
  cli.set_write_timeout(options.timeout);

  int status = 0;
  std::string content_type;
  std::string body;
  bool too_large = false, late = false;
  httplib::Result res = [&] {
    Abortable abortable(on_abortable, cli);
    return cli.Get(
        kPath, httplib::Headers{{"Accept-Encoding", "identity"}},
        [&](const httplib::Response& r) {
          status = r.status;
          content_type = r.get_header_value("Content-Type");
          return status == 200 && is_text_plain(content_type);
        },
        [&](const char* data, std::size_t len) {
          if (std::chrono::steady_clock::now() > deadline) {
            late = true;
            return false;
          }
          if (body.size() + len > options.max_bytes) {
            too_large = true;
            return false;
          }
          body.append(data, len);
          return true;
        });
  }();

  if (!res) {
    httplib::Error err = res.error();
    if (err == httplib::Error::SSLServerVerification) {
      long v = cli.get_openssl_verify_result();
      if (v != X509_V_OK) {
        return failure(StsFailure::WebPki, std::string("certificate of ") + host +
                                               " not valid: " + X509_verify_cert_error_string(v));
      }
      return failure(StsFailure::WebPki, "certificate does not name " + host);
    }
    if (status != 0 && status != 200) {
      std::string what = "HTTP " + std::to_string(status);
      if (status >= 300 && status < 400) what += " (redirects are not followed)";
      return failure(StsFailure::FetchError, what);
    }
    if (status == 200 && !is_text_plain(content_type)) {
      return failure(StsFailure::FetchError,
                     "Content-Type " + log::escape(content_type, 60) + " is not text/plain");
    }
    if (too_large) {
      return failure(StsFailure::FetchError,
                     "policy larger than " + std::to_string(options.max_bytes) + " bytes");
    }
    if (late || std::chrono::steady_clock::now() >= deadline) {
      return failure(StsFailure::FetchError, "timed out after " + seconds_text(options.timeout));
    }
    return failure(StsFailure::FetchError,
                   "https://" + host + kPath + ": " + httplib::to_string(err));
  }
  auto policy = parse_sts_policy(body);
  if (!policy) return failure(StsFailure::Invalid, policy.error());
  return std::move(*policy);
}

// --- on a loop -------------------------------------------------------------------

struct PolicyFetcher::Job {
  uv_work_t work{};
  uv_timer_t timer{};
  std::string domain;
  dns::IpAddress address;
  FetchOptions options;
  std::function<void(FetchResult)> done;
  std::shared_ptr<bool> alive;  // the fetcher's
  std::unordered_set<Job*>* registry = nullptr;

  std::mutex mutex;  // guards abort and timed_out: the pool thread and the loop meet here
  std::function<void()> abort;
  bool timed_out = false;
  std::optional<FetchResult> result;

  void cut_off() {
    std::lock_guard lock(mutex);
    timed_out = true;
    if (abort) abort();
  }
};

PolicyFetcher::PolicyFetcher(uv_loop_t* loop, dns::Resolver& resolver,
                             std::function<FetchOptions()> options)
    : loop_(loop), resolver_(resolver), options_(std::move(options)) {}

PolicyFetcher::~PolicyFetcher() {
  *alive_ = false;
  // The jobs free themselves once the pool hands them back; make that soon.
  for (Job* job : jobs_) {
    job->registry = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&job->work));
    job->cut_off();
  }
  jobs_.clear();
}

void PolicyFetcher::fetch(const std::string& domain, std::function<void(FetchResult)> done) {
  std::string host = policy_host(domain);
  resolver_.lookup_a(host, [this, alive = alive_, domain, done = std::move(done)](
                               dns::AddressAnswer a) mutable {
    if (!*alive) return;
    resolved(domain, a, std::move(done), false);
  });
}

void PolicyFetcher::resolved(const std::string& domain, const dns::AddressAnswer& a,
                             std::function<void(FetchResult)> done, bool tried_aaaa) {
  if (a.ok()) {
    start_work(domain, a.records.front(), std::move(done));
    return;
  }
  if (!tried_aaaa && a.status != dns::LookupStatus::Temporary) {
    resolver_.lookup_aaaa(policy_host(domain), [this, alive = alive_, domain,
                                                done = std::move(done)](dns::AddressAnswer b) mutable {
      if (!*alive) return;
      resolved(domain, b, std::move(done), true);
    });
    return;
  }
  std::string why = a.status == dns::LookupStatus::Temporary
                        ? "lookup failed (" + a.error + ")"
                        : std::string("has no address");
  done(failure(StsFailure::FetchError, policy_host(domain) + " " + why));
}

void PolicyFetcher::start_work(const std::string& domain, const dns::IpAddress& address,
                               std::function<void(FetchResult)> done) {
  auto* job = new Job;
  job->domain = domain;
  job->address = address;
  job->options = options_();
  job->done = std::move(done);
  job->alive = alive_;
  job->registry = &jobs_;
  job->work.data = job;
  job->timer.data = job;
  uv_timer_init(loop_, &job->timer);
  uv_timer_start(
      &job->timer, [](uv_timer_t* t) { static_cast<Job*>(t->data)->cut_off(); },
      static_cast<std::uint64_t>(job->options.timeout.count()), 0);
  jobs_.insert(job);
  int rc = uv_queue_work(
      loop_, &job->work,
      [](uv_work_t* w) {
        auto* j = static_cast<Job*>(w->data);
        j->result = fetch_policy(j->domain, j->address, j->options,
                                 [j](std::function<void()> abort) {
                                   std::lock_guard lock(j->mutex);
                                   j->abort = std::move(abort);
                                   if (j->abort && j->timed_out) j->abort();
                                 });
      },
      [](uv_work_t* w, int status) {
        auto* j = static_cast<Job*>(w->data);
        uv_timer_stop(&j->timer);
        std::function<void(FetchResult)> done;
        if (*j->alive && j->registry) {
          j->registry->erase(j);
          done = std::move(j->done);
        }
        std::optional<FetchResult> result = std::move(j->result);
        bool timed_out = j->timed_out;
        std::chrono::milliseconds timeout = j->options.timeout;
        uv_close(reinterpret_cast<uv_handle_t*>(&j->timer),
                 [](uv_handle_t* h) { delete static_cast<Job*>(h->data); });
        if (!done || status == UV_ECANCELED) return;
        if (!result || (timed_out && !result->ok())) {
          done(failure(StsFailure::FetchError, "timed out after " + seconds_text(timeout)));
          return;
        }
        done(std::move(*result));
      });
  if (rc != 0) {
    jobs_.erase(job);
    std::function<void(FetchResult)> failed = std::move(job->done);
    uv_close(reinterpret_cast<uv_handle_t*>(&job->timer),
             [](uv_handle_t* h) { delete static_cast<Job*>(h->data); });
    // Not from inside fetch(): the contract promises a later loop turn.
    resolver_.post([failed = std::move(failed), rc, alive = alive_] {
      if (*alive) {
        failed(failure(StsFailure::FetchError, std::string("uv_queue_work: ") + uv_strerror(rc)));
      }
    });
  }
}

FetchFn PolicyFetcher::as_function() {
  return [this](const std::string& domain, std::function<void(FetchResult)> done) {
    fetch(domain, std::move(done));
  };
}

}  // namespace secmx::sts
