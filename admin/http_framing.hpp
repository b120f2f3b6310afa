// http_framing.hpp - the admin API's HTTP/1.1 request framing, decided before cpp-httplib
// sees a byte: request line, headers and body checked against hard limits.
//
// Pure: no I/O, no allocation beyond the input it is given and one request's output.
// frame_request() looks at the bytes read from a connection so far and says: read more,
// refuse (the HTTP status to answer, then close), or here is one complete request. The
// caller (admin/bounded_http_server) reads at most a few KiB past any limit before asking
// again, so a connection never holds more than the limits below plus one read.
//
// A complete request comes back normalized for cpp-httplib: the request line and header
// lines as sent, except that Content-Length, Transfer-Encoding, Expect and
// Content-Encoding are dropped and one "Content-Length: N" is added, followed by the
// decoded body. So cpp-httplib only ever reads a Content-Length body within the limit:
// it never de-chunks, never decompresses, never reads to end of stream.
//
// Refusals (all close the connection): 400 malformed (bare LF, obs-fold, control bytes,
// both Content-Length and Transfer-Encoding, bad chunk framing, a target not starting
// with '/'), 413 body over max_body however framed (or chunk framing over
// max_chunked_wire), 414 request line over max_request_line, 415 a Content-Encoding other
// than identity, 417 an Expect other than 100-continue, 431 a header line, the header
// section or the header count over its limit, 501 an unknown method or transfer coding.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace secmx::admin {

struct HttpLimits {
  std::size_t max_request_line = 4096;        // "GET /path?query HTTP/1.1\r\n"; 414 beyond
  std::size_t max_header_line = 8192;         // one header line with its CRLF; 431 beyond
  std::size_t max_header_bytes = 16 * 1024;   // every header line together; 431 beyond
  std::size_t max_headers = 64;               // header lines; 431 beyond
  std::size_t max_body = 64 * 1024;           // decoded body, however framed; 413 beyond
  std::size_t max_chunked_wire = 256 * 1024;  // a chunked body on the wire, framing included
  std::size_t max_chunk_line = 1024;          // "<hex size>[;ext]\r\n" and trailer lines
};

struct FrameError {
  int status = 400;
  std::string code;  // "bad_request", "payload_too_large", "uri_too_long", ...
  std::string text;  // words for a human; no request bytes in it
};

enum class FrameState { NeedMore, Done, Error };

struct FrameResult {
  FrameState state = FrameState::NeedMore;
  // NeedMore: the head is complete, a body is expected and the client asked for
  // "Expect: 100-continue" (the caller answers "100 Continue" once, then reads on).
  bool expect_continue = false;
  // Done:
  std::size_t consumed = 0;  // bytes of the input this request took (the rest is the next)
  std::string request;       // normalized request for cpp-httplib, see above
  std::string method;        // as sent (a known method)
  std::string target;        // as sent (starts with '/'), not decoded
  std::size_t body_size = 0;
  // Error:
  FrameError error;
};

// Frames the first request in `in`. Deterministic: the same bytes give the same answer
// however they were split across reads.
FrameResult frame_request(std::string_view in, const HttpLimits& limits = {});

}  // namespace secmx::admin
