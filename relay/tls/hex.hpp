// hex.hpp - bytes as lower-case hex, the form digests take in logs, records and JSON
// (certificate fingerprints, cache keys). Pure, header-only.
#pragma once

#include <cstddef>
#include <string>

namespace secmx::tls {

inline std::string lower_hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0x0f];
  }
  return out;
}

}  // namespace secmx::tls
