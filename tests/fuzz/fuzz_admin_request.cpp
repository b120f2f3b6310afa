// fuzz_admin_request.cpp - libFuzzer target for the admin API's request path without
// sockets: admin/http_framing (what reaches cpp-httplib) and admin/api_routes (404/405).
//
// The first 4 bytes choose small limits (so that every limit's edge is reachable within
// -max_len), the rest is what a client sent. Invariants:
// - a framed request is within the limits, consumed no more than it was given, starts with
//   its request line, carries exactly one Content-Length equal to its body, and frames
//   again to itself (idempotent);
// - a prefix of the input never gets an answer the whole input contradicts: a prefix
//   shorter than a framed request reads on, and a refused prefix means a refused whole;
// - a refusal is one of the documented statuses and its text holds no request byte;
// - the route of a framed request is coherent: 405 names methods that do match.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "admin/api_routes.hpp"
#include "admin/http_framing.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace secmx::admin;

namespace {

bool printable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

void check_refusal(const FrameError& e) {
  const int s = e.status;
  FUZZ_CHECK(s == 400 || s == 413 || s == 414 || s == 415 || s == 417 || s == 431 || s == 501);
  FUZZ_CHECK(!e.code.empty() && printable(e.code) && printable(e.text));
}

std::size_t count(std::string_view hay, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

void check_route(const FrameResult& r) {
  std::string_view path = r.target;
  path = path.substr(0, path.find('?'));
  auto m = match_route(r.method, path);
  switch (m.kind) {
    case RouteMatch::Kind::Found:
      FUZZ_CHECK(m.allow.empty());
      FUZZ_CHECK((m.endpoint == Endpoint::QueueOp) == !m.op.empty());
      break;
    case RouteMatch::Kind::NotFound:
      FUZZ_CHECK(m.allow.empty());
      // No method at all takes this path.
      for (const char* other : {"GET", "POST", "DELETE"}) {
        FUZZ_CHECK(match_route(other, path).kind == RouteMatch::Kind::NotFound);
      }
      break;
    case RouteMatch::Kind::MethodNotAllowed: {
      FUZZ_CHECK(!m.allow.empty());
      std::string_view allow = m.allow;
      for (;;) {
        auto comma = allow.find(", ");
        auto method = allow.substr(0, comma);
        FUZZ_CHECK(method != r.method);
        FUZZ_CHECK(match_route(method, path).kind == RouteMatch::Kind::Found);
        if (comma == std::string_view::npos) break;
        allow.remove_prefix(comma + 2);
      }
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  HttpLimits lim;
  lim.max_request_line = 16 + data[0];
  lim.max_header_line = 8 + data[1] % 128;
  lim.max_header_bytes = 8 + data[1];
  lim.max_headers = 1 + data[2] % 16;
  lim.max_body = data[3];
  lim.max_chunked_wire = 4 * lim.max_body + 8;
  lim.max_chunk_line = 4 + data[2] % 64;
  std::string_view in(reinterpret_cast<const char*>(data + 4), size - 4);

  auto whole = frame_request(in, lim);
  if (whole.state == FrameState::Error) check_refusal(whole.error);

  if (whole.state == FrameState::Done) {
    const auto& req = whole.request;
    FUZZ_CHECK(whole.consumed > 0 && whole.consumed <= in.size());
    FUZZ_CHECK(whole.body_size <= lim.max_body);
    FUZZ_CHECK(req.rfind(whole.method + " " + whole.target + " HTTP/1.", 0) == 0);
    FUZZ_CHECK(req.size() <= lim.max_request_line + lim.max_header_bytes + 32 + whole.body_size);
    auto end = req.find("\r\n\r\n");
    FUZZ_CHECK(end != std::string::npos && req.size() - (end + 4) == whole.body_size);
    std::string_view head(req.data(), end + 2);
    FUZZ_CHECK(count(head, "\r\nContent-Length: ") == 1);
    FUZZ_CHECK(head.find("\r\nContent-Length: " + std::to_string(whole.body_size) + "\r\n") !=
               std::string_view::npos);
    for (unsigned char c : head) FUZZ_CHECK(c != 0 && c != 0x7f);

    // Idempotent (the added Content-Length line may take one more header slot).
    HttpLimits again = lim;
    again.max_headers += 1;
    again.max_header_bytes += 32;
    again.max_header_line = std::max<std::size_t>(again.max_header_line, 32);
    auto twice = frame_request(req, again);
    FUZZ_CHECK(twice.state == FrameState::Done);
    FUZZ_CHECK(twice.consumed == req.size() && twice.request == req);

    check_route(whole);
  }

  // Prefixes: one cut chosen by the input.
  std::size_t cut = in.empty() ? 0 : (data[0] * 131u + data[3]) % in.size();
  auto part = frame_request(in.substr(0, cut), lim);
  if (whole.state == FrameState::Done && cut < whole.consumed) FUZZ_CHECK(part.state == FrameState::NeedMore);
  if (part.state == FrameState::Error) FUZZ_CHECK(whole.state == FrameState::Error);
  if (part.state == FrameState::Done) {
    FUZZ_CHECK(whole.state == FrameState::Done && whole.consumed == part.consumed &&
               whole.request == part.request);
  }
  return 0;
}
