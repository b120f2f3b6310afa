// report_post.cpp - the report POST over the shared HTTPS client; see report_post.hpp.
#include "relay/tlsrpt/report_post.hpp"

#include <httplib.h>

#include <charconv>
#include <memory>
#include <optional>

#include "relay/common/ascii.hpp"
#include "relay/common/hostname.hpp"
#include "relay/common/log.hpp"

namespace secmx::tlsrpt {

Result<HttpsUri, std::string> parse_https_uri(std::string_view uri) {
  constexpr std::string_view kScheme = "https://";
  if (uri.size() < kScheme.size() || ascii_lowercase(uri.substr(0, kScheme.size())) != kScheme) {
    return fail(std::string("not an https URI"));
  }
  std::string_view rest = uri.substr(kScheme.size());
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (tail.find('#') != std::string_view::npos) return fail(std::string("URI has a fragment"));
  if (authority.find('@') != std::string_view::npos) {
    return fail(std::string("URI has user information"));
  }
  if (!authority.empty() && authority.front() == '[') {
    return fail(std::string("IPv6 literal hosts are not supported"));
  }
  HttpsUri out;
  std::size_t colon = authority.rfind(':');
  std::string_view host = authority.substr(0, colon);
  if (colon != std::string_view::npos) {
    std::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return fail("invalid port '" + log::escape(port, 20) + "'");
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  out.host = ascii_lowercase(host);
  if (!out.host.empty() && out.host.back() == '.') out.host.pop_back();
  if (!valid_hostname(out.host)) return fail("invalid host '" + log::escape(host, 100) + "'");
  for (char c : tail) {
    if (static_cast<unsigned char>(c) <= 32 || static_cast<unsigned char>(c) >= 127) {
      return fail(std::string("URI path has characters that must be percent-encoded"));
    }
  }
  out.target = tail.empty() ? "/" : std::string(tail);
  if (out.target.front() == '?') out.target.insert(0, "/");
  return out;
}

Result<int, std::string> post_report(const HttpsUri& uri, const dns::IpAddress& address,
                                     const std::string& gzipped, const sts::HttpsOptions& options,
                                     const sts::AbortRegistrar& registrar) {
  httplib::SSLClient cli(uri.host, uri.port);
  sts::HttpsOptions o = options;
  o.port = uri.port;
  sts::configure_client(cli, uri.host, address, o);
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;

  httplib::Request req;
  req.method = "POST";
  req.path = uri.target;
  req.set_header("Content-Type", "application/tlsrpt+gzip");
  req.body = gzipped;
  int status = 0;
  std::size_t received = 0;
  req.response_handler = [&status](const httplib::Response& r) {
    status = r.status;
    return true;
  };
  // The answer's body means nothing to us: read (to keep the exchange well-formed) and drop.
  req.content_receiver = [&received](const char*, std::size_t len, std::uint64_t, std::uint64_t) {
    received += len;
    return received <= kMaxResponseBytes;
  };
  httplib::Result res = [&] {
    sts::Abortable abortable(registrar, cli);
    return cli.send(req);
  }();

  if (status >= 200 && status < 300) return status;
  if (status != 0) {
    std::string what = "HTTP " + std::to_string(status);
    if (status >= 300 && status < 400) what += " (redirects are not followed)";
    return fail(std::move(what));
  }
  if (!res && res.error() == httplib::Error::SSLServerVerification) {
    return fail(sts::verify_failure(cli, uri.host));
  }
  if (std::chrono::steady_clock::now() >= deadline) {
    return fail("timed out after " + sts::seconds_text(options.timeout));
  }
  return fail("https://" + uri.host + ": " +
              (res ? std::string("no answer") : httplib::to_string(res.error())));
}

void ReportPoster::post(const std::string& uri, std::string gzipped, sts::HttpsOptions options,
                        std::function<void(Result<int, std::string>)> done) {
  auto parsed = parse_https_uri(uri);
  if (!parsed) {
    // Keep the promise of a later loop turn even for an answer known at once.
    caller_.later([done = std::move(done), why = parsed.error()] { done(fail(why)); });
    return;
  }
  HttpsUri target = std::move(*parsed);
  std::string host = target.host;
  caller_.resolve(host, [this, target = std::move(target), gzipped = std::move(gzipped), options,
                         done = std::move(done)](Result<dns::IpAddress, std::string> a) mutable {
    if (!a) {
      done(fail(a.error()));
      return;
    }
    auto result = std::make_shared<std::optional<Result<int, std::string>>>();
    caller_.run(
        options.timeout,
        [result, target, address = *a, gzipped = std::move(gzipped),
         options](const sts::AbortRegistrar& registrar) {
          *result = post_report(target, address, gzipped, options, registrar);
        },
        [result, timeout = options.timeout, done = std::move(done)](sts::HttpsCaller::End end) {
          if (!end.start_error.empty()) return done(fail(end.start_error));
          if (!*result || (end.timed_out && !(*result)->ok())) {
            return done(fail("timed out after " + sts::seconds_text(timeout)));
          }
          done(std::move(**result));
        });
  });
}

}  // namespace secmx::tlsrpt
