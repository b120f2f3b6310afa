// session_transport.hpp - what an inbound SMTP session needs of its connection.
//
// The session writes its replies, paces reading, arms its idle timer, starts TLS and asks
// who the peer is through SessionTransport, and hears back through the
// net::ConnectionHandler it binds (on_read, on_eof, on_tls_done, on_timeout, on_closed).
// The server gives each session a ConnectionTransport, a net::Connection on the loop; the
// unit tests give it a scripted fake, so that the state machine runs without sockets.
// The contract is net::Connection's: write() appends and flush() sends; close() leads to
// exactly one on_closed(), later, never from inside close(); start_tls() answers through
// on_tls_done() (from inside the call when TLS cannot even start). The transport is owned
// by its session and lives exactly as long. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "relay/net/connection.hpp"
#include "relay/tls/tls_context.hpp"
#include "relay/tls/tls_session.hpp"

namespace secmx::server {

class SessionTransport {
 public:
  virtual ~SessionTransport() = default;
  // Every event goes to `events` from now on; called once, by the owning session.
  virtual void bind(net::ConnectionHandler& events) = 0;

  virtual void start_reading() = 0;
  virtual void stop_reading() = 0;
  virtual void write(std::string_view plaintext) = 0;
  virtual void flush() = 0;
  virtual void close(bool graceful) = 0;
  // on_timeout() after `ms` without another call; 0 stops the timer.
  virtual void set_timeout(std::uint64_t ms) = 0;
  // Server side of STARTTLS, after what has been written so far.
  virtual void start_tls(std::shared_ptr<tls::TlsContext> context) = 0;
  virtual bool tls_active() const = 0;
  virtual tls::PeerInfo tls_peer() const = 0;  // meaningful once tls_active()

  virtual const std::string& peer_ip() const = 0;
  virtual std::uint16_t peer_port() const = 0;
  virtual const sockaddr* peer_addr() const = 0;
};

// A TCP connection accepted from a listener, forwarding its events to the bound session.
class ConnectionTransport final : public SessionTransport, private net::ConnectionHandler {
 public:
  explicit ConnectionTransport(uv_loop_t* loop);
  int accept(uv_stream_t* listener);  // 0 or a uv error code

  void bind(net::ConnectionHandler& events) override { events_ = &events; }
  void start_reading() override { conn_.start_reading(); }
  void stop_reading() override { conn_.stop_reading(); }
  void write(std::string_view plaintext) override { conn_.write(plaintext); }
  void flush() override { conn_.flush(); }
  void close(bool graceful) override { conn_.close(graceful); }
  void set_timeout(std::uint64_t ms) override { conn_.set_timeout(ms); }
  void start_tls(std::shared_ptr<tls::TlsContext> context) override;
  bool tls_active() const override { return conn_.tls_active(); }
  tls::PeerInfo tls_peer() const override;
  const std::string& peer_ip() const override { return conn_.peer_ip(); }
  std::uint16_t peer_port() const override { return conn_.peer_port(); }
  const sockaddr* peer_addr() const override { return conn_.peer_addr(); }

 private:
  void on_read(std::string_view plaintext) override { events_->on_read(plaintext); }
  void on_eof(std::string_view reason) override { events_->on_eof(reason); }
  void on_tls_done(bool ok, std::string_view error) override { events_->on_tls_done(ok, error); }
  void on_timeout() override { events_->on_timeout(); }
  void on_closed() override { events_->on_closed(); }

  net::ConnectionHandler* events_ = nullptr;
  net::Connection conn_;
};

}  // namespace secmx::server
