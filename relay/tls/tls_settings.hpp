// tls_settings.hpp - what an operator may choose about TLS on each side: the lowest
// protocol, the TLS 1.2 cipher list, the TLS 1.3 suites and (client side) the trust store.
//
// Plain values: the config holds them (relay/config), TlsContext applies them. The
// defaults differ per side on purpose (docs/operator-guide.md, "TLS settings"): inbound
// peers are our own servers, so only forward-secret AEAD suites are offered (Mozilla's
// "intermediate" profile); outbound peers are the Internet's, where a refused handshake
// sends BES mail on in plaintext, so the client also offers older suites.
// check_protocol_settings() asks OpenSSL itself, on a throwaway context, so that a value it
// would refuse at start-up or reload is refused by `--check` first. No global state.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "relay/common/result.hpp"

namespace secmx::tls {

// Versions below 1.2 are not offered: `encrypt` means TLS >= 1.2 (DESIGN §4), and
// OpenSSL 3 at the distributions' security level could not negotiate them anyway.
enum class MinProtocol { Tls1_2, Tls1_3 };

// "TLSv1.2" / "TLSv1.3" (OpenSSL's and Postfix's spelling); nullopt for anything else.
std::optional<MinProtocol> parse_min_protocol(std::string_view text);
std::string_view to_string(MinProtocol p);

// Inbound: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only.
inline constexpr const char* kServerTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Outbound: forward-secret AEAD suites first, then the rest of OpenSSL's default list
// ("ALL:!COMPLEMENTOFDEFAULT" is its definition; "DEFAULT" may only open a string), so a
// receiver that only knows CBC or static RSA suites is still reached encrypted; the
// system security level (Debian: SECLEVEL=2) still removes the truly weak ones.
inline constexpr const char* kClientTls12Ciphers =
    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:"
    "ALL:!COMPLEMENTOFDEFAULT:!eNULL:!aNULL";

// All TLS 1.3 suites are AEAD with forward secrecy: OpenSSL's default set, for both sides.
inline constexpr const char* kTls13Suites =
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";

// Key exchange groups, both sides: X25519 first (the cheapest, and what modern peers send a
// key share for, so no HelloRetryRequest), then the NIST curves older peers know.
inline constexpr const char* kGroups = "X25519:P-256:P-384";

// How long one inbound session-ticket key seals new tickets; the one before it still opens
// tickets for as long again, so a ticket lives between one and two lifetimes.
inline constexpr std::chrono::seconds kTicketLifetime = std::chrono::hours(12);

struct ProtocolSettings {
  MinProtocol min_protocol = MinProtocol::Tls1_2;
  std::string tls12_ciphers;  // OpenSSL cipher-list syntax
  std::string tls13_suites;   // OpenSSL ciphersuites syntax; "" disables TLS 1.3
  bool operator==(const ProtocolSettings&) const = default;
};

struct ServerTlsSettings {
  ProtocolSettings protocol{MinProtocol::Tls1_2, kServerTls12Ciphers, kTls13Suites};
  // An ECDSA certificate served beside the main (RSA) one: OpenSSL picks per client, by the
  // signature algorithms it offers. Both "" or both set (the config sees to it).
  std::string ecdsa_cert;
  std::string ecdsa_key;
  std::chrono::seconds ticket_lifetime = kTicketLifetime;
  bool operator==(const ServerTlsSettings&) const = default;
};

struct ClientTlsSettings {
  ProtocolSettings protocol{MinProtocol::Tls1_2, kClientTls12Ciphers, kTls13Suites};
  std::string ca_file;     // PEM bundle trusted for PKIX; "" none
  bool ca_system = true;   // also trust the system store (false: ca_file alone)
  bool operator==(const ClientTlsSettings&) const = default;
};

// Which setting OpenSSL refused, and its reason.
struct SettingsError {
  enum class Field { Tls12Ciphers, Tls13Suites, MinProtocol };
  Field field;
  std::string message;
};

// Refuses a cipher list or suite list OpenSSL rejects (or that leaves nothing to
// negotiate at the chosen minimum protocol). Leaves the thread's error queue empty.
Status<SettingsError> check_protocol_settings(const ProtocolSettings& settings);

}  // namespace secmx::tls
