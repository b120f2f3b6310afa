// connection_cache.hpp - idle SMTP client connections and TLS sessions, per worker.
//
// After a transaction the peer's connection may carry the next message to the same
// host (Postfix's connection cache): it waits here for `idle_time`, then is QUIT. A
// cached connection remembers how its TLS was negotiated, so an attempt only takes one
// that satisfies its own TLS requirement and its receiver's binding. TLS sessions are kept
// per host name for resumption on the next connection.
//
// Both are keyed by what the peer's certificate was checked against as well
// (tls::PeerVerify: names, DANE records): a connection or session verified one way is
// never handed to an attempt that would have checked it another way (other TLSA records,
// another name), so "verified" always means verified for the taker's own terms.
//
// Thread affinity: one cache per worker loop, used on that loop's thread only. A failure
// in the idle timer's sweep is logged and tried again at the next tick.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "relay/client/smtp_client.hpp"
#include "relay/delivery/tls_decision.hpp"
#include "relay/tls/ssl_session_ptr.hpp"

namespace spdlog {
class logger;
}

namespace secmx::delivery {

struct CachedConnection {
  std::unique_ptr<client::SmtpClient> client;
  TlsObservation tls;  // how this connection's TLS went, for the next attempt's decision
  std::string method;  // discovery method it was found by (for logs)
};

class ConnectionCache {
 public:
  ConnectionCache(uv_loop_t* loop, std::chrono::milliseconds idle_time, std::size_t per_key);
  ~ConnectionCache();
  ConnectionCache(const ConnectionCache&) = delete;
  ConnectionCache& operator=(const ConnectionCache&) = delete;

  // "host|ip|port|<verify key>"
  static std::string key(const std::string& host, const std::string& ip, std::uint16_t port,
                         const tls::PeerVerify& verify);

  // Keeps the connection if the cache is enabled and has room; otherwise retires it.
  void put(const std::string& key, CachedConnection conn);
  // QUIT and forget: the client is freed once its connection is gone.
  void retire(std::unique_ptr<client::SmtpClient> client);
  // A usable idle connection whose TLS satisfies `requirement` and `binding`, or nullopt.
  std::optional<CachedConnection> take(const std::string& key, model::TlsLevel requirement,
                                       Binding binding);

  // TLS resumption. A TLS 1.3 session (ticket) is good for one resumption only, and
  // parallel connections to one host each need their own: the cache keeps a few per host,
  // and take_session() hands one out (null if none). After each handshake the session it
  // ended with is remembered again if it can still resume. A resumed session skips the
  // certificate check, so sessions are kept per host *and* PeerVerify.
  tls::SslSessionPtr take_session(const std::string& host, const tls::PeerVerify& verify);
  void remember_session(const std::string& host, const tls::PeerVerify& verify,
                        tls::SslSessionPtr session);

  // QUIT everything idle and stop the timer; connections being closed finish on the loop.
  void close_all();

 private:
  struct Entry {
    CachedConnection conn;
    std::chrono::steady_clock::time_point expires;
  };
  static void on_timer(uv_timer_t* t);
  void sweep(bool all);

  uv_loop_t* loop_;
  std::chrono::milliseconds idle_time_;
  std::size_t per_key_;
  std::shared_ptr<spdlog::logger> log_;
  uv_timer_t* timer_ = nullptr;  // heap: freed in its close callback
  std::map<std::string, std::vector<Entry>> idle_;
  std::map<std::string, std::deque<tls::SslSessionPtr>> sessions_;
  // Clients being QUIT: kept alive until their connection is gone.
  struct Closing {
    std::unique_ptr<client::SmtpClient> client;
    std::shared_ptr<bool> closed;
  };
  std::vector<Closing> closing_;
};

}  // namespace secmx::delivery
