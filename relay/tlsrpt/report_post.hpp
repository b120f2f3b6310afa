// report_post.hpp - a TLS report to an https: rua (RFC 8460 §5.4): POST the gzip with
// Content-Type application/tlsrpt+gzip; any 2xx is delivered, anything else is not.
//
// The HTTPS itself is the one the MTA-STS fetch uses (relay/sts/https_call.hpp): the host
// resolved by the relay's own DNS servers, PKIX for the URI's host against ca_file or the
// system store, no redirects (a 3xx is a failure: a report is not re-posted elsewhere),
// the whole POST within the timeout. What the server answers in its body is not read
// beyond kMaxResponseBytes and never logged.
//
// parse_https_uri() and post_report() are pure / blocking and run on any thread;
// ReportPoster is bound to one loop like HttpsCaller (created, used and destroyed on its
// thread; callbacks on it, from a later turn, dropped after destruction).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "relay/common/result.hpp"
#include "relay/dns/dns_types.hpp"
#include "relay/sts/https_call.hpp"

namespace secmx::tlsrpt {

inline constexpr std::size_t kMaxResponseBytes = 64 * 1024;

struct HttpsUri {
  std::string host;  // lower case, no brackets (a literal IPv6 address is refused)
  std::uint16_t port = 443;
  std::string target;  // path and query as written, "/" when empty
};

// "https://reports.example.net:8443/tlsrpt?x=1" -> host, port, target. No user info, no
// fragment; the host must be a host name or IPv4 address.
Result<HttpsUri, std::string> parse_https_uri(std::string_view uri);

// Blocking POST of `gzipped` to `uri` at `address`. The HTTP status of a 2xx answer, or
// why it failed ("HTTP 500", "certificate of HOST not valid: ...", "timed out after 30s").
Result<int, std::string> post_report(const HttpsUri& uri, const dns::IpAddress& address,
                                     const std::string& gzipped, const sts::HttpsOptions& options,
                                     const sts::AbortRegistrar& registrar = {});

class ReportPoster {
 public:
  ReportPoster(uv_loop_t* loop, dns::Resolver& resolver) : caller_(loop, resolver) {}

  // Resolve, then POST on the thread pool; done(status or why) on the loop thread.
  // options.port is ignored (the URI's port counts).
  void post(const std::string& uri, std::string gzipped, sts::HttpsOptions options,
            std::function<void(Result<int, std::string>)> done);

 private:
  sts::HttpsCaller caller_;
};

}  // namespace secmx::tlsrpt
