// peer_verify.cpp - verify_key(): a digest of what a PeerVerify asks of a certificate.
//
// The digest input is a length-prefixed encoding, so that no two different PeerVerify
// values (names running into each other, data running into the next record) can encode
// alike. Records are sorted first: their order says nothing about the check.
#include "relay/tls/peer_verify.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <tuple>
#include <vector>

#include "relay/common/ascii.hpp"
#include "relay/tls/hex.hpp"

namespace secmx::tls {
namespace {

constexpr std::size_t kKeyBytes = 16;

void put_length(std::string& out, std::size_t n) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out += static_cast<char>((n >> shift) & 0xff);
  }
}

std::string canonical_name(const std::string& name) {
  std::string out = ascii_lowercase(name);
  if (out.size() > 1 && out.back() == '.') out.pop_back();
  return out;
}

}  // namespace

std::string verify_key(const PeerVerify& verify) {
  std::string input = "names";
  put_length(input, verify.names.size());
  for (const std::string& name : verify.names) {
    std::string n = canonical_name(name);
    put_length(input, n.size());
    input += n;
  }
  std::vector<DaneRecord> records = verify.tlsa;
  std::sort(records.begin(), records.end(), [](const DaneRecord& a, const DaneRecord& b) {
    return std::tie(a.usage, a.selector, a.matching_type, a.data) <
           std::tie(b.usage, b.selector, b.matching_type, b.data);
  });
  input += "tlsa";
  put_length(input, records.size());
  for (const DaneRecord& r : records) {
    input += static_cast<char>(r.usage);
    input += static_cast<char>(r.selector);
    input += static_cast<char>(r.matching_type);
    put_length(input, r.data.size());
    input.append(r.data.begin(), r.data.end());
  }

  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (EVP_Digest(input.data(), input.size(), md.data(), &md_len, EVP_sha256(), nullptr) != 1 ||
      md_len < kKeyBytes) {
    // Without SHA-256 OpenSSL could not do TLS at all. A session remembered under an
    // empty key is never taken for verified (session_auth.hpp).
    return {};
  }
  return lower_hex(md.data(), kKeyBytes);
}

}  // namespace secmx::tls
