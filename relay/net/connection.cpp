// connection.cpp - see connection.hpp. The two uv handles (tcp, timer) are closed
// together; on_closed() fires when the second close callback has run, so the owner can
// free the memory that embeds them.
#include "relay/net/connection.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace secmx::net {
namespace {
// Reads are consumed synchronously in the read callback, so one buffer per loop thread
// serves every connection on it.
thread_local char t_read_buffer[64 * 1024];
}  // namespace

std::string ip_string(const sockaddr* addr) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, buf, sizeof buf);
  } else if (addr->sa_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(addr);
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
      inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof buf);
    }
  }
  return buf;
}

Connection::Connection(uv_loop_t* loop, ConnectionHandler* handler)
    : loop_(loop), handler_(handler) {
  uv_tcp_init(loop_, &tcp_);
  uv_timer_init(loop_, &timer_);
  tcp_.data = this;
  timer_.data = this;
  open_handles_ = 2;
}

int Connection::accept(uv_stream_t* listener) {
  int rc = uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_));
  if (rc == 0) {
    uv_tcp_nodelay(&tcp_, 1);
    record_peer();
  }
  return rc;
}

int Connection::connect(const sockaddr* addr, void (*on_connected)(Connection*, int)) {
  on_connected_ = on_connected;
  connect_req_.data = this;
  std::memcpy(&peer_, addr,
              addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
  peer_ip_ = ip_string(addr);
  peer_port_ = ntohs(addr->sa_family == AF_INET6
                         ? reinterpret_cast<const sockaddr_in6*>(addr)->sin6_port
                         : reinterpret_cast<const sockaddr_in*>(addr)->sin_port);
  return uv_tcp_connect(&connect_req_, &tcp_, addr, &Connection::on_connect_cb);
}

void Connection::on_connect_cb(uv_connect_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  // close() during the connect cancels it (UV_ECANCELED): the owner has moved on.
  if (self->closing_) return;
  if (status == 0) uv_tcp_nodelay(&self->tcp_, 1);
  if (self->on_connected_) self->on_connected_(self, status);
}

std::string Connection::local_ip() const {
  sockaddr_storage local{};
  int len = sizeof local;
  if (uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&local), &len) != 0) return {};
  return ip_string(reinterpret_cast<const sockaddr*>(&local));
}

void Connection::record_peer() {
  int len = sizeof peer_;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&peer_), &len) == 0) {
    const auto* addr = reinterpret_cast<const sockaddr*>(&peer_);
    peer_ip_ = ip_string(addr);
    peer_port_ = ntohs(addr->sa_family == AF_INET6
                           ? reinterpret_cast<const sockaddr_in6*>(addr)->sin6_port
                           : reinterpret_cast<const sockaddr_in*>(addr)->sin_port);
  }
}

void Connection::start_reading() {
  if (reading_ || closing_) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Connection::on_alloc,
                    &Connection::on_read_cb) == 0) {
    reading_ = true;
  }
}

void Connection::stop_reading() {
  if (!reading_) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
}

void Connection::on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  buf->base = t_read_buffer;
  buf->len = sizeof t_read_buffer;
}

void Connection::on_read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(stream->data);
  if (self->closing_) return;
  if (nread > 0) {
    std::string_view data(buf->base, static_cast<size_t>(nread));
    if (self->tls_) {
      self->handle_ciphertext(data);
    } else {
      self->handler_->on_read(data);
    }
  } else if (nread < 0) {
    self->stop_reading();
    self->fail(nread == UV_EOF ? "connection closed by peer" : uv_strerror(static_cast<int>(nread)));
  }
}

void Connection::handle_ciphertext(std::string_view data) {
  tls_->feed_encrypted(data);
  if (!tls_->handshake_done()) {
    auto progress = tls_->handshake();
    pump_tls_output();
    if (progress == tls::TlsSession::Progress::Failed) {
      tls_reported_ = true;
      handler_->on_tls_done(false, tls_->error());
      return;
    }
    if (progress == tls::TlsSession::Progress::NeedMore) return;
    tls_reported_ = true;
    handler_->on_tls_done(true, {});
    if (closing_) return;
  }
  plain_.clear();
  auto progress = tls_->read_plain(plain_);
  pump_tls_output();
  if (!plain_.empty()) handler_->on_read(plain_);
  if (closing_) return;
  if (progress == tls::TlsSession::Progress::Failed) {
    fail(tls_->error());
  } else if (tls_->peer_closed()) {
    fail("TLS close_notify from peer");
  }
}

void Connection::pump_tls_output() {
  if (tls_ && tls_->has_encrypted()) {
    tls_->take_encrypted(pending_);
    flush();
  }
}

void Connection::write(std::string_view plaintext) {
  if (closing_) return;
  if (tls_ && tls_->handshake_done()) {
    if (tls_->write_plain(plaintext) == tls::TlsSession::Progress::Failed) {
      fail(tls_->error());
      return;
    }
    tls_->take_encrypted(pending_);
  } else {
    pending_.append(plaintext);
  }
}

void Connection::flush() {
  if (writing_ || pending_.empty() || uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) {
    return;
  }
  // Most replies fit the socket buffer: try_write avoids a request and a callback.
  uv_buf_t buf = uv_buf_init(pending_.data(), static_cast<unsigned>(pending_.size()));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1);
  if (n > 0) pending_.erase(0, static_cast<size_t>(n));
  if (n < 0 && n != UV_EAGAIN) {
    pending_.clear();
    fail(uv_strerror(n));
    return;
  }
  if (pending_.empty()) {
    if (close_when_flushed_) finish_close();
    return;
  }
  in_flight_.swap(pending_);
  pending_.clear();
  buf = uv_buf_init(in_flight_.data(), static_cast<unsigned>(in_flight_.size()));
  write_req_.data = this;
  writing_ = true;
  int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1,
                    &Connection::on_write_cb);
  if (rc != 0) {
    writing_ = false;
    in_flight_.clear();
    fail(uv_strerror(rc));
  }
}

void Connection::on_write_cb(uv_write_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  self->writing_ = false;
  self->in_flight_.clear();
  if (status < 0) {
    self->pending_.clear();
    if (self->close_when_flushed_) {
      self->finish_close();
    } else {
      self->fail(uv_strerror(status));
    }
    return;
  }
  if (!self->pending_.empty()) {
    self->flush();
  } else if (self->close_when_flushed_) {
    self->finish_close();
    return;
  }
  // flush() may have sent the rest with uv_try_write, so test again rather than trust
  // the branch taken above.
  if (!self->closing_ && !self->writing_ && self->pending_.empty()) {
    self->handler_->on_drained();
  }
}

void Connection::start_tls(std::shared_ptr<tls::TlsContext> context, tls::Role role,
                           const std::string& sni, const tls::PeerVerify& verify,
                           SSL_SESSION* resume) {
  auto created = tls::TlsSession::create(std::move(context), role, sni, verify);
  if (!created) {
    tls_reported_ = true;
    handler_->on_tls_done(false, created.error().message);
    return;
  }
  tls_ = std::move(created.value());
  if (role == tls::Role::Client) {
    tls_->set_session(resume);
    // The client speaks first: produce the ClientHello now.
    if (tls_->handshake() == tls::TlsSession::Progress::Failed) {
      tls_reported_ = true;
      handler_->on_tls_done(false, tls_->error());
      return;
    }
    pump_tls_output();
  }
}

void Connection::set_timeout(std::uint64_t ms) {
  if (closing_) return;
  if (ms == 0) {
    uv_timer_stop(&timer_);
  } else {
    uv_timer_start(&timer_, &Connection::on_timer_cb, ms, 0);
  }
}

void Connection::on_timer_cb(uv_timer_t* timer) {
  auto* self = static_cast<Connection*>(timer->data);
  if (!self->closing_) self->handler_->on_timeout();
}

void Connection::fail(std::string_view reason) {
  if (closing_ || eof_reported_) return;
  eof_reported_ = true;
  handler_->on_eof(reason);
  close(false);
}

void Connection::close(bool graceful) {
  if (closing_) return;
  closing_ = true;
  stop_reading();
  uv_timer_stop(&timer_);
  if (graceful && tls_ && tls_->handshake_done() && !tls_->failed()) {
    tls_->shutdown();
    tls_->take_encrypted(pending_);
  }
  if (graceful && (writing_ || !pending_.empty())) {
    close_when_flushed_ = true;
    if (!writing_) flush();
    // A peer that never reads must not keep us: the timer closes regardless.
    if (close_when_flushed_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) {
      uv_timer_start(&timer_, [](uv_timer_t* t) {
        static_cast<Connection*>(t->data)->finish_close();
      }, 10000, 0);
    }
    return;
  }
  finish_close();
}

void Connection::finish_close() {
  close_when_flushed_ = false;
  auto* tcp = reinterpret_cast<uv_handle_t*>(&tcp_);
  auto* timer = reinterpret_cast<uv_handle_t*>(&timer_);
  if (!uv_is_closing(tcp)) uv_close(tcp, &Connection::on_close_cb);
  if (!uv_is_closing(timer)) uv_close(timer, &Connection::on_close_cb);
}

void Connection::on_close_cb(uv_handle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  if (--self->open_handles_ == 0) self->handler_->on_closed();
}

}  // namespace secmx::net
