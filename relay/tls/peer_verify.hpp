// peer_verify.hpp - what a client checks of a receiver's certificate: the names it must
// carry (PKIX, RFC 6125) or the DANE TLSA records it must match (RFC 7672).
//
// A plain value handed down from delivery (which knows what the receiver published) through
// the SMTP client to the TLS session (which has OpenSSL check it). Verification never fails
// a handshake: the session reports what held (PeerInfo), and delivery decides what that
// means for the message.
//
// verify_key() names a PeerVerify for caches: a TLS session kept for resumption is only
// worth offering to a later connection that asks for the same thing (tls_session.hpp).
// Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace secmx::tls {

// One TLSA record as DANE matches it (RFC 6698 §2.1). Only usages 2 (DANE-TA) and
// 3 (DANE-EE) are usable for SMTP (RFC 7672 §3.1); delivery passes no others.
struct DaneRecord {
  std::uint8_t usage = 3;
  std::uint8_t selector = 1;       // 0 full certificate, 1 SubjectPublicKeyInfo
  std::uint8_t matching_type = 1;  // 0 exact, 1 SHA-256, 2 SHA-512
  std::vector<std::uint8_t> data;
  bool operator==(const DaneRecord&) const = default;
};

struct PeerVerify {
  // The reference identifiers, lower case without a final dot. PKIX: the certificate must
  // carry one of them (the first is also the SNI name). DANE-TA: the names RFC 7672 §3.2.2
  // allows (the TLSA base domain and the MX host name). Empty: the chain only.
  std::vector<std::string> names;
  // Usable, DNSSEC-secure TLSA records of the host. Non-empty: the peer is authenticated by
  // DANE alone - a certificate matching one record (DANE-EE without name checks) - and a
  // PKIX-valid certificate that matches none is not verified.
  std::vector<DaneRecord> tlsa;
  bool operator==(const PeerVerify&) const = default;
};

// A short stable digest (32 lower-case hex digits, 128 bits of SHA-256) of the names, in
// order (the first one is the SNI name and the TLSA base domain), and of the records in
// any order (DNS returns an RRset in any order). Names compare as TlsSession uses them:
// ASCII case and a final dot do not count. Equal keys: the same check.
std::string verify_key(const PeerVerify& verify);

}  // namespace secmx::tls
