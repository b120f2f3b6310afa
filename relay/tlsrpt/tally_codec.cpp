// tally_codec.cpp - TLS-RPT counts as counter keys and payloads; see tally_codec.hpp.
//
// Digests: the first 8 bytes of SHA-256 over a canonical encoding (a tag byte, then each
// field as a 4-byte big-endian length and its bytes, lists prefixed by their length), so
// that no two different values encode alike. 64 bits keep a day's rows apart; the key is
// only an address, the payload holds the value itself and decode checks one against the
// other.
//
// Payload, version 1 (varint = LEB128, str = varint length + bytes):
//   u8 version=1, u8 policy type, str domain, varint n, n x str policy-string,
//   varint m, m x str mx-host, u8 failed (0/1), [failed: u8 result type,
//   str sending-mta-ip, receiving-mx-hostname, receiving-mx-helo, receiving-ip,
//   additional-information, failure-reason-code]
#include "relay/tlsrpt/tally_codec.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdint>

namespace secmx::tlsrpt {
namespace {

constexpr unsigned char kPayloadVersion = 1;
constexpr std::size_t kMaxDomain = 253;
constexpr std::size_t kMaxPayload = 64 * 1024;  // queue::CounterAdd's limit
constexpr std::size_t kDigestHex = 16;
constexpr std::size_t kDayLength = 10;  // "YYYY-MM-DD"
constexpr std::string_view kOk = "ok";

// ---- canonical encoding and digests

void put_field(std::string& out, std::string_view s) {
  auto n = static_cast<std::uint32_t>(s.size());
  for (int i = 3; i >= 0; --i) out += static_cast<char>((n >> (i * 8)) & 0xFF);
  out.append(s);
}

void put_list(std::string& out, const std::vector<std::string>& list) {
  put_field(out, std::to_string(list.size()));
  for (const auto& s : list) put_field(out, s);
}

std::string canonical(const PolicyKey& p) {
  std::string out = "P";
  put_field(out, to_string(p.type));
  put_field(out, p.domain);
  put_list(out, p.strings);
  put_list(out, p.mx_host);
  return out;
}

std::string canonical(const FailureDetail& f) {
  std::string out = "F";
  put_field(out, to_string(f.result));
  for (const std::string* s : {&f.sending_mta_ip, &f.receiving_mx_hostname, &f.receiving_mx_helo,
                               &f.receiving_ip, &f.additional_information,
                               &f.failure_reason_code}) {
    put_field(out, *s);
  }
  return out;
}

// 16 lower-case hex digits of SHA-256; "" only if OpenSSL fails (out of memory).
std::string digest16(const std::string& bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len < kDigestHex / 2) {
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(kDigestHex);
  for (std::size_t i = 0; i < kDigestHex / 2; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0x0F];
  }
  return out;
}

// ---- payload

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void put_str(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

std::string encode_payload(const PolicyKey& p, const std::optional<FailureDetail>& f) {
  std::string out;
  out += static_cast<char>(kPayloadVersion);
  out += static_cast<char>(p.type);
  put_str(out, p.domain);
  put_varint(out, p.strings.size());
  for (const auto& s : p.strings) put_str(out, s);
  put_varint(out, p.mx_host.size());
  for (const auto& s : p.mx_host) put_str(out, s);
  out += static_cast<char>(f ? 1 : 0);
  if (f) {
    out += static_cast<char>(f->result);
    put_str(out, f->sending_mta_ip);
    put_str(out, f->receiving_mx_hostname);
    put_str(out, f->receiving_mx_helo);
    put_str(out, f->receiving_ip);
    put_str(out, f->additional_information);
    put_str(out, f->failure_reason_code);
  }
  return out;
}

// Reads what encode_payload() wrote; every length is checked against what is left before
// anything is copied, so a corrupt payload costs at most its own size.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }

  std::uint8_t u8() {
    if (!ok_ || pos_ >= in_.size()) return bad();
    return static_cast<std::uint8_t>(in_[pos_++]);
  }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t b = u8();
      if (!ok_) return 0;
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    return bad();
  }
  void str(std::string& out) {
    std::uint64_t n = varint();
    if (!ok_ || n > in_.size() - pos_) {
      bad();
      return;
    }
    out.assign(in_.substr(pos_, static_cast<std::size_t>(n)));
    pos_ += static_cast<std::size_t>(n);
  }
  void list(std::vector<std::string>& out) {
    std::uint64_t n = varint();
    // Each string takes at least its length byte: a count past that is a lie.
    if (!ok_ || n > in_.size() - pos_) {
      bad();
      return;
    }
    out.resize(static_cast<std::size_t>(n));
    for (auto& s : out) str(s);
  }

 private:
  std::uint8_t bad() {
    ok_ = false;
    return 0;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

bool decode_payload(std::string_view in, PolicyKey& p, std::optional<FailureDetail>& f) {
  Reader r(in);
  if (r.u8() != kPayloadVersion) return false;
  std::uint8_t type = r.u8();
  if (type > static_cast<std::uint8_t>(PolicyType::NoPolicyFound)) return false;
  p.type = static_cast<PolicyType>(type);
  r.str(p.domain);
  r.list(p.strings);
  r.list(p.mx_host);
  std::uint8_t failed = r.u8();
  if (!r.ok() || failed > 1) return false;
  if (failed == 1) {
    FailureDetail d;
    std::uint8_t result = r.u8();
    if (!r.ok() || result >= kResultTypes) return false;
    d.result = static_cast<ResultType>(result);
    r.str(d.sending_mta_ip);
    r.str(d.receiving_mx_hostname);
    r.str(d.receiving_mx_helo);
    r.str(d.receiving_ip);
    r.str(d.additional_information);
    r.str(d.failure_reason_code);
    f = std::move(d);
  }
  return r.ok() && r.at_end();
}

// A domain that can stand between two '/' of a key: no separator, no blanks or controls.
bool key_safe(std::string_view domain) {
  if (domain.empty() || domain.size() > kMaxDomain) return false;
  for (char c : domain) {
    auto u = static_cast<unsigned char>(c);
    if (c == '/' || u <= 0x20 || u == 0x7F) return false;
  }
  return true;
}

bool is_hex16(std::string_view s) {
  if (s.size() != kDigestHex) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::optional<queue::CounterAdd> make_add(const std::string& day, const PolicyKey& policy,
                                          const std::optional<FailureDetail>& failure) {
  std::string policy_digest = digest16(canonical(policy));
  std::string failure_digest = failure ? digest16(canonical(*failure)) : std::string(kOk);
  if (policy_digest.empty() || failure_digest.empty()) return std::nullopt;
  queue::CounterAdd add;
  add.key = domain_prefix(day, policy.domain) + policy_digest + "/" + failure_digest;
  add.payload = encode_payload(policy, failure);
  add.n = 1;
  if (add.payload.size() > kMaxPayload) return std::nullopt;
  return add;
}

}  // namespace

std::optional<queue::CounterAdd> tally_add(const SessionResult& session) {
  if (!key_safe(session.policy.domain)) return std::nullopt;
  std::string day = utc_day(session.time_us);
  if (auto add = make_add(day, session.policy, session.failure)) return add;
  // Only a policy near MTA-STS's 64 KiB limit gets here: the session still counts, under
  // its policy without the policy-string (the report can do without the text).
  PolicyKey lean = session.policy;
  lean.strings.clear();
  return make_add(day, lean, session.failure);
}

std::string day_prefix(const std::string& day) { return "r" + day + "/"; }

std::string domain_prefix(const std::string& day, const std::string& domain) {
  return "r" + day + "/" + domain + "/";
}

Result<DecodedTally, std::string> decode_tally(const queue::CounterEntry& entry) {
  std::string_view key = entry.key;
  // "r" day "/" domain "/" 16 hex "/" ("ok" | 16 hex), read from both ends.
  if (key.size() < 1 + kDayLength + 1 || key[0] != 'r' || key[1 + kDayLength] != '/')
    return fail(std::string("tally key: not a day's row"));
  std::string day(key.substr(1, kDayLength));
  if (!day_start_us(day)) return fail(std::string("tally key: bad day"));
  std::string_view rest = key.substr(2 + kDayLength);
  auto last = rest.rfind('/');
  if (last == std::string_view::npos) return fail(std::string("tally key: no result part"));
  std::string_view result_part = rest.substr(last + 1);
  rest = rest.substr(0, last);
  if (result_part != kOk && !is_hex16(result_part))
    return fail(std::string("tally key: bad result part"));
  auto mid = rest.rfind('/');
  if (mid == std::string_view::npos || !is_hex16(rest.substr(mid + 1)))
    return fail(std::string("tally key: bad policy part"));
  std::string_view policy_part = rest.substr(mid + 1);
  std::string domain(rest.substr(0, mid));
  if (!key_safe(domain)) return fail(std::string("tally key: bad domain"));

  DecodedTally out;
  SessionResult& s = out.tally.session;
  if (!decode_payload(entry.payload, s.policy, s.failure))
    return fail(std::string("tally payload: unreadable"));
  // The payload must be what the key addresses, or a row would be counted under the
  // wrong domain, policy or result.
  if (s.policy.domain != domain) return fail(std::string("tally payload: other domain"));
  if (digest16(canonical(s.policy)) != policy_part)
    return fail(std::string("tally payload: policy does not match its key"));
  if (s.failure.has_value() == (result_part == kOk) ||
      (s.failure && digest16(canonical(*s.failure)) != result_part)) {
    return fail(std::string("tally payload: result does not match its key"));
  }
  s.time_us = *day_start_us(day);
  out.tally.count = entry.count;
  out.day = std::move(day);
  out.domain = std::move(domain);
  return out;
}

std::string sent_key(const std::string& day, const std::string& domain) {
  return "s" + day + "/" + domain;
}

std::string sent_prefix(const std::string& day) { return "s" + day + "/"; }

}  // namespace secmx::tlsrpt
