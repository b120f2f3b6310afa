// ticket_keys.cpp - rotating session-ticket keys and OpenSSL's callback over them (see
// ticket_keys.hpp).
//
// The callback follows SSL_CTX_set_tlsext_ticket_key_evp_cb(3): sealing returns 1 after
// setting up AES-256-CBC and HMAC-SHA256 under the current key; opening returns 1 for the
// current key, 2 for the previous one and for any TLS 1.3 ticket (valid, and the client is
// sent a fresh ticket under the current key) and 0 for an unknown name (a full handshake). -1 only when the cipher
// or MAC cannot be set up, which OpenSSL also answers with a full handshake.
#include "relay/tls/ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <stdexcept>

namespace secmx::tls {
namespace {

TicketKey fresh_key() {
  TicketKey k;
  if (RAND_bytes(k.name.data(), static_cast<int>(k.name.size())) != 1 ||
      RAND_bytes(k.aes.data(), static_cast<int>(k.aes.size())) != 1 ||
      RAND_bytes(k.hmac.data(), static_cast<int>(k.hmac.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed making a session-ticket key");
  }
  return k;
}

int keys_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool set_mac(EVP_MAC_CTX* mac, TicketKey& key) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  return EVP_MAC_init(mac, key.hmac.data(), key.hmac.size(), params) == 1;
}

int ticket_cb(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
              EVP_MAC_CTX* mac, int enc) {
  auto* keys =
      static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keys_index()));
  if (keys == nullptr) return -1;
  if (enc == 1) {
    TicketKey key = keys->sealing();
    const int iv_len = EVP_CIPHER_get_iv_length(EVP_aes_256_cbc());
    if (RAND_bytes(iv, iv_len) != 1) return -1;
    std::copy(key.name.begin(), key.name.end(), key_name);
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) {
      return -1;
    }
    return set_mac(mac, key) ? 1 : -1;
  }
  auto found = keys->opening(key_name);
  if (!found) return 0;
  if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, found->key.aes.data(), iv) != 1 ||
      !set_mac(mac, found->key)) {
    return -1;
  }
  // TLS 1.3 clients use a ticket once, so a resumption must hand out a new one: without
  // "renew" OpenSSL sends none after a resumed TLS 1.3 handshake and the client's next
  // connection is a full handshake.
  return found->current && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
}

}  // namespace

TicketKeys::TicketKeys(std::chrono::seconds lifetime, Clock::time_point now)
    : lifetime_(lifetime), since_(now), current_(fresh_key()) {}

void TicketKeys::rotate_if_due(Clock::time_point now) {
  if (now - since_ < lifetime_) return;
  // Long idle (more than two lifetimes): the current key is retired as well.
  if (now - since_ >= 2 * lifetime_) {
    previous_.reset();
  } else {
    previous_ = current_;
  }
  current_ = fresh_key();
  since_ = now;
}

void TicketKeys::rotate(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  previous_ = current_;
  current_ = fresh_key();
  since_ = now;
}

TicketKey TicketKeys::sealing(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  rotate_if_due(now);
  return current_;
}

std::optional<TicketKeys::Found> TicketKeys::opening(const unsigned char* name,
                                                     Clock::time_point now) {
  std::lock_guard lock(mutex_);
  rotate_if_due(now);
  if (std::equal(current_.name.begin(), current_.name.end(), name)) {
    return Found{current_, true};
  }
  if (previous_ && std::equal(previous_->name.begin(), previous_->name.end(), name)) {
    return Found{*previous_, false};
  }
  return std::nullopt;
}

bool TicketKeys::install(SSL_CTX* ctx, TicketKeys* keys) {
  if (keys_index() < 0 || SSL_CTX_set_ex_data(ctx, keys_index(), keys) != 1) return false;
  return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) == 1;
}

}  // namespace secmx::tls
