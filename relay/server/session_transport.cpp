// session_transport.cpp - see session_transport.hpp.
#include "relay/server/session_transport.hpp"

#include <utility>

namespace secmx::server {

ConnectionTransport::ConnectionTransport(uv_loop_t* loop) : conn_(loop, this) {}

int ConnectionTransport::accept(uv_stream_t* listener) { return conn_.accept(listener); }

void ConnectionTransport::start_tls(std::shared_ptr<tls::TlsContext> context) {
  conn_.start_tls(std::move(context), tls::Role::Server);
}

tls::PeerInfo ConnectionTransport::tls_peer() const {
  return conn_.tls() != nullptr ? conn_.tls()->peer_info() : tls::PeerInfo{};
}

}  // namespace secmx::server
