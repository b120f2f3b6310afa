// bounded_http_server.hpp - a cpp-httplib server whose connections are read and framed by
// us (admin/http_framing) before cpp-httplib parses them.
//
// Why: Debian 12's cpp-httplib 0.11.4 bounds neither a chunked body, nor a body without a
// length (read until end of stream), nor a decompressed body, nor the request line or
// header lines before it has read them whole, nor the number of header lines; its
// payload_max_length only applies to Content-Length. Here each connection's bytes are
// read in pieces of at most 16 KiB, and frame_request() refuses a request as soon as the
// bytes read prove a limit exceeded; only a complete, normalized request (Content-Length
// body within the limit) is handed to cpp-httplib's process_request(), which reads it from
// memory. So a connection holds at most the limits plus one read, whatever the client
// sends.
//
// A refused request is answered by this class ({"error", "code"} JSON, Connection: close),
// reported to the observer first, and the connection is closed after a bounded lingering
// read (2 s) so that the client sees the answer rather than a reset. The whole of a request
// (head and body) must arrive within the read timeout (408 otherwise); between requests a
// keep-alive connection waits at most the keep-alive timeout. stop() is noticed within
// 50 ms by every connection waiting for a request.
//
// Threads: process_and_close_socket() runs on cpp-httplib's request threads, one
// connection each; the observer is called there and must be thread-safe.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>

#include "admin/http_framing.hpp"

namespace secmx::admin {

class BoundedHttpServer final : public httplib::Server {
 public:
  // peer: the client's address; error: what was refused and the status answered.
  using RefusalObserver = std::function<void(const std::string& peer, const FrameError& error)>;

  BoundedHttpServer(HttpLimits limits, RefusalObserver on_refused);

 private:
  // cpp-httplib's per-connection entry point (a private virtual in 0.11.4).
  bool process_and_close_socket(socket_t sock) override;

  HttpLimits limits_;
  RefusalObserver on_refused_;
};

}  // namespace secmx::admin
