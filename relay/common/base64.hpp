// base64.hpp - base64 decoding (RFC 4648 4, the standard alphabet, no white space) for
// the two places where base64 arrives from outside: SASL responses, which must be exact,
// and RFC 2047 'B' encoded-words, read as mailers write them.
//
// Pure, header only, any thread; linear in the input, nothing allocated beyond `out`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "relay/common/ascii.hpp"

namespace secmx {

enum class Base64Padding {
  // A multiple of four characters, padded, the bits under the padding zero: one text per
  // value (SASL, RFC 4954 4).
  Required,
  // Padding may be left out and the bits under it are ignored: writers that do either are
  // common enough in headers to accept.
  Optional,
};

// `in` decoded into `out` (replacing what it held); false on anything that is not base64
// under the rule given: a foreign character, data after the padding, more than two '=', or
// a lone 6-bit tail (length 1 mod 4, which no encoder writes). The empty string decodes
// to nothing.
inline bool base64_decode(std::string_view in, std::string& out,
                          Base64Padding padding = Base64Padding::Required) {
  const bool exact = padding == Base64Padding::Required;
  out.clear();
  if (exact && in.size() % 4 != 0) return false;
  out.reserve(in.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;  // decoded bits in acc not yet written out
  std::size_t pad = 0;
  for (char c : in) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad > 0) return false;  // data after padding
    int v = base64_digit_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if (pad > 2 || bits == 6) return false;
  // Bits under the padding must be zero, or two texts would decode alike.
  return !exact || (acc & ((1u << bits) - 1)) == 0;
}

}  // namespace secmx
