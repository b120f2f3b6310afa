// connection.hpp - one TCP connection on a libuv loop, plaintext or TLS.
//
// A Connection owns its uv_tcp_t and an idle timer, and (after start_tls) a TlsSession
// that it drives over memory BIOs: the handler only ever sees plaintext. Output is
// coalesced: write() appends, flush() sends with uv_try_write first and at most one
// uv_write in flight. STARTTLS swaps the transport in place: bytes written before
// start_tls() go out in plaintext, everything after is encrypted.
//
// Ownership: the owner (e.g. an SMTP session) embeds the Connection; close() closes both
// uv handles and, once libuv has released them, calls handler->on_closed() exactly once,
// after which the owner may free itself. Loop-thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "relay/tls/tls_session.hpp"

namespace secmx::net {

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  virtual void on_read(std::string_view plaintext) = 0;
  // The peer closed, the network failed or the TLS layer failed: reason in words.
  virtual void on_eof(std::string_view reason) = 0;
  virtual void on_tls_done(bool ok, std::string_view error) = 0;
  virtual void on_timeout() = 0;
  virtual void on_closed() = 0;  // last call; the owner may delete itself now
  // Everything written so far has been handed to the kernel (after a write that had to
  // wait); a sender of bulk data writes its next block here. Never called from inside
  // write() or flush().
  virtual void on_drained() {}
};

class Connection {
 public:
  Connection(uv_loop_t* loop, ConnectionHandler* handler);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Server side: accept a pending connection from `listener`. Returns a uv error code.
  int accept(uv_stream_t* listener);
  // Client side: connect to `addr`; on_connected(status) is called once, unless close()
  // comes first.
  int connect(const sockaddr* addr, void (*on_connected)(Connection*, int status));

  void start_reading();
  void stop_reading();

  void write(std::string_view plaintext);
  void flush();
  std::size_t pending_bytes() const { return pending_.size() + in_flight_.size(); }

  // Begins TLS after what has been written so far; the result comes to on_tls_done()
  // (at once, from inside this call, when the session cannot even be created).
  // sni, verify (client side): the SNI name and what the peer's certificate must satisfy
  // (tls::TlsSession::create). resume (client side): a session to offer for resumption;
  // borrowed.
  void start_tls(std::shared_ptr<tls::TlsContext> context, tls::Role role,
                 const std::string& sni = {}, const tls::PeerVerify& verify = {},
                 SSL_SESSION* resume = nullptr);
  bool tls_active() const { return tls_ && tls_->handshake_done(); }
  const tls::TlsSession* tls() const { return tls_.get(); }
  tls::TlsSession* tls() { return tls_.get(); }

  // Restart the idle timer: on_timeout() after `ms` without a call to this; 0 stops it.
  void set_timeout(std::uint64_t ms);

  // Close after flushing what was written (graceful) or at once (abort).
  void close(bool graceful = true);
  bool closing() const { return closing_; }

  const std::string& peer_ip() const { return peer_ip_; }
  std::string local_ip() const;  // our address of the connection; "" when not connected
  std::uint16_t peer_port() const { return peer_port_; }
  const sockaddr* peer_addr() const { return reinterpret_cast<const sockaddr*>(&peer_); }

  void* user = nullptr;  // for client-side connect callbacks

 private:
  static void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf);
  static void on_read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write_cb(uv_write_t* req, int status);
  static void on_timer_cb(uv_timer_t* timer);
  static void on_close_cb(uv_handle_t* handle);
  static void on_connect_cb(uv_connect_t* req, int status);

  void handle_ciphertext(std::string_view data);
  void pump_tls_output();
  void fail(std::string_view reason);
  void finish_close();
  void record_peer();

  uv_loop_t* loop_;
  ConnectionHandler* handler_;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  uv_write_t write_req_{};
  uv_connect_t connect_req_{};
  void (*on_connected_)(Connection*, int) = nullptr;
  std::unique_ptr<tls::TlsSession> tls_;
  std::string pending_;     // bytes to send, not yet handed to libuv
  std::string in_flight_;   // bytes of the one uv_write in flight
  std::string plain_;       // scratch: plaintext decrypted in one read
  sockaddr_storage peer_{};
  std::string peer_ip_;
  std::uint16_t peer_port_ = 0;
  int open_handles_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_when_flushed_ = false;
  bool eof_reported_ = false;
  bool tls_reported_ = false;
};

// "192.0.2.1" / "2001:db8::1" for a sockaddr; IPv4-mapped IPv6 shown as IPv4.
std::string ip_string(const sockaddr* addr);

}  // namespace secmx::net
