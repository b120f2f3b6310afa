// fuzz_sasl.cpp - libFuzzer target for the AUTH exchange (relay/smtp/sasl.hpp).
//
// The input is split at '\n': the first line is the AUTH argument, each further line a
// client response. Invariants: every step is a documented one (334 with a known prompt,
// credentials within the limits, or an error reply with its enhanced code); once an
// exchange has ended, a response is refused 503; the base64 decoder only accepts the
// canonical encoding (decode then encode gives the input back).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "relay/common/base64.hpp"
#include "relay/smtp/sasl.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace secmx::smtp;

namespace {

std::string encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
             static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
             static_cast<unsigned char>(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += kAlphabet[(n >> k) & 63];
  }
  if (i < in.size()) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Whether the exchange is still waiting for a response.
bool check_step(const SaslStep& s) {
  switch (s.kind) {
    case SaslStep::Kind::Challenge:
      FUZZ_CHECK(s.challenge.empty() || s.challenge == "VXNlcm5hbWU6" ||
                 s.challenge == "UGFzc3dvcmQ6");
      return true;
    case SaslStep::Kind::Credentials:
      FUZZ_CHECK(!s.user.empty() && s.user.size() <= kMaxSaslUser);
      FUZZ_CHECK(s.user.find('\0') == std::string::npos);
      FUZZ_CHECK(s.password.size() <= kMaxSaslPassword);
      FUZZ_CHECK(s.password.find('\0') == std::string::npos);
      return false;
    case SaslStep::Kind::Error: {
      const int c = s.error.code;
      FUZZ_CHECK(c == 501 || c == 503 || c == 504 || c == 535);
      FUZZ_CHECK(s.error.enhanced.size() >= 5 && s.error.enhanced[0] == '5');
      std::string wire = s.error.format();
      FUZZ_CHECK(wire.find('\r') == wire.size() - 2);
      return false;
    }
  }
  FUZZ_CHECK(false);
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t nl = in.find('\n');
  SaslExchange x;
  bool open = check_step(x.start(in.substr(0, nl)));
  while (nl != std::string_view::npos) {
    in.remove_prefix(nl + 1);
    nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    SaslStep s = x.respond(line);
    if (!open) {
      FUZZ_CHECK(s.kind == SaslStep::Kind::Error && s.error.code == 503);
    }
    open = check_step(s);
    std::string decoded;
    if (secmx::base64_decode(line, decoded)) FUZZ_CHECK(encode(decoded) == line);
  }
  return 0;
}
