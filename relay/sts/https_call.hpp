// https_call.hpp - what every HTTPS request of the relay shares (the MTA-STS policy GET,
// the TLS report POST): the host resolved by the relay's own Resolver, a cpp-httplib
// SSLClient sent to that address with SNI and PKIX for the host name (ca_file and/or the
// system store, no redirects, no keep-alive), the blocking request on libuv's thread pool
// and a loop timer as the limit on the whole request.
//
// The blocking half (configure_client, Abortable, verify_failure) runs on any thread.
// HttpsCaller is bound to one loop: created, used and destroyed on its thread. Its
// callbacks come on that thread, from a later loop turn, exactly once - unless the caller
// is destroyed first: then they are dropped, requests in flight are cut off, and the loop
// must run on until the thread pool hands them back (their memory is freed then).
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "relay/common/result.hpp"
#include "relay/dns/dns_types.hpp"

namespace httplib {
class SSLClient;
}

namespace secmx::sts {

struct HttpsOptions {
  std::string ca_file;    // PEM bundle trusted besides the system store; empty: none
  bool ca_system = true;  // false: ca_file alone (config's delivery.ca_system)
  std::chrono::milliseconds timeout{10000};
  std::uint16_t port = 443;
};

// A function that stops the request from another thread; the blocking call hands it out
// (and takes it back with an empty one) through an AbortRegistrar.
using AbortRegistrar = std::function<void(std::function<void()>)>;

// Connection to `address` (our resolver's answer), SNI and certificate name `host`, PKIX
// against options.ca_file, no redirects, no keep-alive, no decompression, every socket
// timeout at options.timeout.
void configure_client(httplib::SSLClient& cli, const std::string& host,
                      const dns::IpAddress& address, const HttpsOptions& options);

// Hands the client's stop() to `registrar` while it lives, and takes it back before the
// client dies.
class Abortable {
 public:
  Abortable(const AbortRegistrar& registrar, httplib::SSLClient& cli);
  ~Abortable();
  Abortable(const Abortable&) = delete;
  Abortable& operator=(const Abortable&) = delete;

 private:
  const AbortRegistrar& registrar_;
};

// After httplib::Error::SSLServerVerification: "certificate of HOST not valid: <X.509
// reason>" or "certificate does not name HOST".
std::string verify_failure(httplib::SSLClient& cli, const std::string& host);

// "10s", "250ms".
std::string seconds_text(std::chrono::milliseconds d);

class HttpsCaller {
 public:
  HttpsCaller(uv_loop_t* loop, dns::Resolver& resolver);
  ~HttpsCaller();
  HttpsCaller(const HttpsCaller&) = delete;
  HttpsCaller& operator=(const HttpsCaller&) = delete;

  // A then (unless that failed temporarily) AAAA; the first address found, or
  // "HOST lookup failed (timeout)" / "HOST has no address".
  void resolve(const std::string& host, std::function<void(Result<dns::IpAddress, std::string>)> done);

  // How a blocking request ended: `started_error` set when it could not be queued;
  // `timed_out` when the timer cut it off (its own result may still have arrived).
  struct End {
    bool timed_out = false;
    std::string start_error;
  };
  // work(registrar) on a thread-pool thread (it keeps its result itself); then done(end)
  // on the loop thread. The timer calls the registered abort at `timeout`.
  void run(std::chrono::milliseconds timeout, std::function<void(const AbortRegistrar&)> work,
           std::function<void(End)> done);

  // fn() on the loop thread from a later turn (dropped like the other callbacks): for an
  // answer known at once that must still come as the contract says.
  void later(std::function<void()> fn);

  struct Job;

 private:
  void resolved(const std::string& host, const dns::AddressAnswer& a,
                std::function<void(Result<dns::IpAddress, std::string>)> done, bool tried_aaaa);

  uv_loop_t* loop_;
  dns::Resolver& resolver_;
  std::unordered_set<Job*> jobs_;  // on the thread pool; each frees itself when handed back
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace secmx::sts
