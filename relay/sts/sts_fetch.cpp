// sts_fetch.cpp - the policy fetch over cpp-httplib's SSLClient, and its run on libuv's
// thread pool (both through relay/sts/https_call); see sts_fetch.hpp.
#include "relay/sts/sts_fetch.hpp"

#include <httplib.h>

#include <memory>
#include <optional>

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

}  // namespace

std::string policy_host(const std::string& domain) { return "mta-sts." + domain; }

FetchResult fetch_policy(const std::string& domain, const dns::IpAddress& address,
                         const FetchOptions& options,
                         std::function<void(std::function<void()>)> on_abortable) {
  const std::string host = policy_host(domain);
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  httplib::SSLClient cli(host, options.port);
  // RFC 8461 §3.3: redirects are not followed (configure_client never follows them).
  configure_client(cli, host, address, {options.ca_file, options.ca_system, options.timeout, options.port});

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
      return failure(StsFailure::WebPki, verify_failure(cli, host));
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

PolicyFetcher::PolicyFetcher(uv_loop_t* loop, dns::Resolver& resolver,
                             std::function<FetchOptions()> options)
    : caller_(loop, resolver), options_(std::move(options)) {}

PolicyFetcher::~PolicyFetcher() = default;

void PolicyFetcher::fetch(const std::string& domain, std::function<void(FetchResult)> done) {
  caller_.resolve(policy_host(domain), [this, domain, done = std::move(done)](
                                           Result<dns::IpAddress, std::string> a) mutable {
    if (!a) {
      done(failure(StsFailure::FetchError, a.error()));
      return;
    }
    start_work(domain, *a, std::move(done));
  });
}

void PolicyFetcher::start_work(const std::string& domain, const dns::IpAddress& address,
                               std::function<void(FetchResult)> done) {
  FetchOptions options = options_();
  auto result = std::make_shared<std::optional<FetchResult>>();
  caller_.run(
      options.timeout,
      [result, domain, address, options](const AbortRegistrar& registrar) {
        *result = fetch_policy(domain, address, options, registrar);
      },
      [result, timeout = options.timeout, done = std::move(done)](HttpsCaller::End end) {
        if (!end.start_error.empty()) {
          done(failure(StsFailure::FetchError, end.start_error));
          return;
        }
        if (!*result || (end.timed_out && !(*result)->ok())) {
          done(failure(StsFailure::FetchError, "timed out after " + seconds_text(timeout)));
          return;
        }
        done(std::move(**result));
      });
}

FetchFn PolicyFetcher::as_function() {
  return [this](const std::string& domain, std::function<void(FetchResult)> done) {
    fetch(domain, std::move(done));
  };
}

}  // namespace secmx::sts
