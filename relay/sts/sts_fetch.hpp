// sts_fetch.hpp - the HTTPS half of MTA-STS (RFC 8461 §3.3): GET
// https://mta-sts.D/.well-known/mta-sts.txt, strictly.
//
// PKIX: the chain must lead to `ca_file` or (unless !ca_system) the system store, and the
// certificate must name mta-sts.D (a failure is sts-webpki-invalid). No redirects (a 3xx is
// a fetch error, as is any status but 200), Content-Type text/plain (parameters allowed), a body
// of at most max_bytes (reading stops there), the whole fetch within `timeout`. A body that
// arrives is parsed (parse_sts_policy): an invalid one is sts-policy-invalid. The failure
// detail is one line of our own words (status, reason), never the peer's text.
//
// fetch_policy() is the blocking fetch; any thread. PolicyFetcher runs it for a loop:
// mta-sts.D is resolved by the loop's own Resolver (A, then AAAA), so the relay's DNS
// servers decide where the fetch goes and no system resolver is asked; then the blocking
// GET runs on libuv's thread pool (uv_queue_work) while a timer on the loop cuts it off at
// `timeout`; the result comes back on the loop. Thread affinity: PolicyFetcher is created,
// used and destroyed on its loop's thread. Destruction cancels fetches in flight (their
// callbacks are dropped); the loop must run on until the thread pool hands them back.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "relay/common/result.hpp"
#include "relay/dns/dns_types.hpp"
#include "relay/sts/https_call.hpp"
#include "relay/sts/sts_policy.hpp"
#include "relay/sts/sts_state.hpp"

namespace secmx::sts {

struct FetchOptions {
  std::string ca_file;    // PEM bundle trusted besides the system store; empty: none
  bool ca_system = true;  // false: ca_file alone
  std::chrono::milliseconds timeout{10000};
  std::size_t max_bytes = kMaxPolicyBytes;
  std::uint16_t port = 443;
};

struct FetchFailure {
  StsFailure failure = StsFailure::FetchError;  // FetchError, WebPki or Invalid
  std::string detail;
};

using FetchResult = Result<StsPolicy, FetchFailure>;

// "mta-sts." + domain.
std::string policy_host(const std::string& domain);

// Blocking. `stop`, when given, is set to a function that aborts the fetch from another
// thread (it is how the loop's timer enforces the whole-fetch limit).
FetchResult fetch_policy(const std::string& domain, const dns::IpAddress& address,
                         const FetchOptions& options,
                         std::function<void(std::function<void()>)> on_abortable = {});

// The asynchronous fetch StsSource uses (sts_source.hpp): done(result) is called exactly
// once, on the loop thread, from a later loop turn - unless the fetcher is destroyed first.
using FetchFn = std::function<void(const std::string& domain, std::function<void(FetchResult)> done)>;

class PolicyFetcher {
 public:
  // `options` is asked at each fetch (the config may have been reloaded).
  PolicyFetcher(uv_loop_t* loop, dns::Resolver& resolver, std::function<FetchOptions()> options);
  ~PolicyFetcher();
  PolicyFetcher(const PolicyFetcher&) = delete;
  PolicyFetcher& operator=(const PolicyFetcher&) = delete;

  void fetch(const std::string& domain, std::function<void(FetchResult)> done);
  FetchFn as_function();  // valid while the fetcher lives

 private:
  void start_work(const std::string& domain, const dns::IpAddress& address,
                  std::function<void(FetchResult)> done);

  HttpsCaller caller_;  // resolution and the run on the thread pool (https_call.hpp)
  std::function<FetchOptions()> options_;
};

}  // namespace secmx::sts
