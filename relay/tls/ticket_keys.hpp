// ticket_keys.hpp - the keys that seal and open inbound TLS session tickets, rotating.
//
// One TicketKeys per server SSL_CTX, owned by its TlsContext (which frees it after the
// SSL_CTX). Keys are made in memory with RAND_bytes at construction and never written
// anywhere: a restart or a reload costs each client one full handshake. Every `lifetime`
// a new key takes over sealing and the one before it is kept to open tickets it sealed;
// the one before that is forgotten, and a ticket under it is a full handshake, never an
// error. Rotation happens lazily, on the first ticket operation after the lifetime has
// passed (steady clock), so no timer is needed.
// Thread-safe: all threads' sessions share one context, so a mutex guards the keys.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

typedef struct ssl_ctx_st SSL_CTX;

namespace secmx::tls {

struct TicketKey {
  std::array<unsigned char, 16> name{};  // sent in the clear with each ticket
  std::array<unsigned char, 32> aes{};   // AES-256-CBC
  std::array<unsigned char, 32> hmac{};  // HMAC-SHA256
};

class TicketKeys {
 public:
  using Clock = std::chrono::steady_clock;

  // Throws std::runtime_error only if RAND_bytes fails (a broken invariant).
  TicketKeys(std::chrono::seconds lifetime, Clock::time_point now = Clock::now());

  // The key to seal a new ticket with, rotating first when it is due.
  TicketKey sealing(Clock::time_point now = Clock::now());

  struct Found {
    TicketKey key;
    bool current;  // false: the previous key; the client should get a new ticket
  };
  // The key a ticket named `name` was sealed with; nullopt when it was retired (or never
  // ours).
  std::optional<Found> opening(const unsigned char* name, Clock::time_point now = Clock::now());

  // A new key takes over now (tests; a timer-free rotation is the normal path).
  void rotate(Clock::time_point now = Clock::now());

  // Hooks the keys into `ctx` (SSL_CTX_set_tlsext_ticket_key_evp_cb). `keys` must outlive
  // every use of `ctx`. Returns false when OpenSSL refuses.
  static bool install(SSL_CTX* ctx, TicketKeys* keys);

 private:
  void rotate_if_due(Clock::time_point now);  // with mutex_ held

  std::mutex mutex_;
  std::chrono::seconds lifetime_;
  Clock::time_point since_;  // when current_ took over
  TicketKey current_;
  std::optional<TicketKey> previous_;
};

}  // namespace secmx::tls
