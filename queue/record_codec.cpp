// record_codec.cpp - encode/decode of envelope records (layout in record_codec.hpp).
//
// Hot path: one size estimate, one buffer resize, direct stores through a pointer. The
// decoder checks the version and checksum first, then every length against what is left
// before allocating, so corrupt input costs at most its own size.
#include "queue/record_codec.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace secmx::queue {
namespace {

constexpr std::uint8_t kFlagSmtputf8 = 1;
constexpr std::uint8_t kFlagRequiretls = 2;
constexpr std::uint8_t kFlagHeld = 4;
constexpr std::uint8_t kFlagDelayNotified = 8;
constexpr std::uint8_t kFlagTlsReport = 16;
constexpr std::uint8_t kKnownFlags =
    kFlagSmtputf8 | kFlagRequiretls | kFlagHeld | kFlagDelayNotified | kFlagTlsReport;
constexpr std::uint8_t kKnownNotify = kNotifySuccess | kNotifyFailure | kNotifyDelay | kNotifyNever;

constexpr std::size_t kHeaderSize = 4 + 8 + 8 + 8;  // version..next_attempt_us
constexpr std::size_t kTrailerSize = 4;
// 4 enum bytes + attempts varint + 6 empty strings (a version 1 recipient; later versions
// only add to it): lets the decoder bound the count.
constexpr std::size_t kMinRecipientSize = 4 + 1 + 6;
constexpr std::size_t kMaxVarint = 10;
// time_us + 8 empty strings: lets the decoder bound a history's count.
constexpr std::size_t kMinAttemptSize = 8 + 8;

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
constexpr std::array<std::array<std::uint32_t, 256>, 8> make_crc_tables() {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  }
  return t;
}
constexpr auto kCrc = make_crc_tables();

std::uint32_t crc32c_portable(std::uint32_t c, const unsigned char* p, std::size_t n) {
  while (n >= 8) {
    std::uint32_t lo =
        c ^ (static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
             static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24);
    c = kCrc[7][lo & 0xFF] ^ kCrc[6][(lo >> 8) & 0xFF] ^ kCrc[5][(lo >> 16) & 0xFF] ^
        kCrc[4][lo >> 24] ^ kCrc[3][p[4]] ^ kCrc[2][p[5]] ^ kCrc[1][p[6]] ^ kCrc[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = kCrc[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
// SSE4.2 has a CRC-32C instruction: the checksum then costs next to nothing per record.
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::uint32_t c,
                                                             const unsigned char* p,
                                                             std::size_t n) {
  std::uint64_t c64 = c;
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c64 = __builtin_ia32_crc32di(c64, v);
    p += 8;
    n -= 8;
  }
  c = static_cast<std::uint32_t>(c64);
  while (n-- > 0) c = __builtin_ia32_crc32qi(c, *p++);
  return c;
}

// Before its initialiser runs (another file's static constructor) this reads false and the
// portable path answers, which gives the same checksum.
const bool kHaveSse42 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2") != 0;
}();
#endif

// ---- encoding --------------------------------------------------------------------------

struct Writer {
  unsigned char* p;

  void u8(std::uint8_t v) { *p++ = v; }
  void fixed64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) *p++ = static_cast<unsigned char>(v >> (8 * i));
  }
  void fixed32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) *p++ = static_cast<unsigned char>(v >> (8 * i));
  }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      *p++ = static_cast<unsigned char>(v | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<unsigned char>(v);
  }
  void str(const std::string& s) {
    varint(s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
};

std::size_t bound(const std::string& s) { return kMaxVarint + s.size(); }

std::size_t size_bound(const Envelope& e) {
  std::size_t n = kHeaderSize + 2 * kMaxVarint + kMaxVarint + kTrailerSize;
  n += bound(e.sender) + bound(e.envid) + bound(e.client_address) + bound(e.client_helo) +
       bound(e.auth_user) + bound(e.tls_protocol) + bound(e.tls_cipher) + bound(e.message_id) +
       bound(e.classification);
  for (const Recipient& r : e.recipients) {
    n += 4 + kMaxVarint + bound(r.address) + bound(r.orcpt) + bound(r.policy_reason) +
         bound(r.last_status) + bound(r.last_reply) + bound(r.remote_mta) + bound(r.last_tls) +
         kMaxVarint + bound(r.last_cert_sha256) + bound(r.last_dnssec) + 2 * kMaxVarint;
    for (const model::Attempt& a : r.history) {
      n += 8 + bound(a.host) + bound(a.address) + bound(a.method) + bound(a.tls) +
           bound(a.cert_sha256) + bound(a.dnssec) + bound(a.status) + bound(a.reply);
    }
  }
  return n;
}

Error invalid(std::string what) { return Error{Error::Kind::Invalid, "envelope: " + what}; }

// ---- decoding --------------------------------------------------------------------------

class Reader {
 public:
  Reader(const unsigned char* begin, const unsigned char* end)
      : begin_(begin), p_(begin), end_(end) {}

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  bool at_end() const { return p_ == end_; }

  std::uint8_t u8() {
    if (!need(1)) return 0;
    return *p_++;
  }
  std::uint64_t fixed64() {
    if (!need(8)) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p_[i]) << (8 * i);
    p_ += 8;
    return v;
  }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!need(1)) return 0;
      std::uint8_t b = *p_++;
      // The tenth byte may only carry the top bit of a 64-bit value.
      if (shift == 63 && b > 1) {
        fail("varint overflow");
        return 0;
      }
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint overflow");
    return 0;
  }
  std::uint32_t varint32() {
    std::uint64_t v = varint();
    if (v > UINT32_MAX) {
      fail("value exceeds 32 bits");
      return 0;
    }
    return static_cast<std::uint32_t>(v);
  }
  void str(std::string& out) {
    std::uint64_t n = varint();
    if (failed()) return;
    if (n > remaining()) return fail("string length past end");
    out.assign(reinterpret_cast<const char*>(p_), static_cast<std::size_t>(n));
    p_ += n;
  }
  // An enum byte that must be <= max.
  std::uint8_t enum8(std::uint8_t max, const char* what) {
    std::uint8_t v = u8();
    if (!failed() && v > max) fail(std::string(what) + " out of range");
    return v;
  }

  void fail(std::string what) {
    if (error_.empty()) error_ = what + " at offset " + std::to_string(p_ - begin_);
  }

 private:
  bool need(std::size_t n) {
    if (failed()) return false;
    if (remaining() < n) {
      fail("truncated");
      return false;
    }
    return true;
  }

  const unsigned char* begin_;
  const unsigned char* p_;
  const unsigned char* end_;
  std::string error_;
};

Error corrupt(const std::string& what) { return Error{Error::Kind::Corrupt, "record: " + what}; }

}  // namespace

std::uint32_t record_checksum(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
#if defined(__x86_64__)
  if (kHaveSse42) return crc32c_sse42(0xFFFFFFFFu, p, bytes.size()) ^ 0xFFFFFFFFu;
#endif
  return crc32c_portable(0xFFFFFFFFu, p, bytes.size()) ^ 0xFFFFFFFFu;
}

std::uint32_t record_checksum_portable(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  return crc32c_portable(0xFFFFFFFFu, p, bytes.size()) ^ 0xFFFFFFFFu;
}

Status<Error> encode_envelope(const Envelope& e, std::string& out) {
  // Refuse what decode would refuse, so that no message is ever acknowledged and then
  // found unreadable.
  if (static_cast<std::uint8_t>(e.body_type) > static_cast<std::uint8_t>(BodyType::BinaryMime)) {
    return fail(invalid("body_type out of range"));
  }
  if (static_cast<std::uint8_t>(e.ret) > static_cast<std::uint8_t>(Ret::Hdrs)) {
    return fail(invalid("ret out of range"));
  }
  for (const Recipient& r : e.recipients) {
    if ((r.notify & ~kKnownNotify) != 0) return fail(invalid("recipient notify out of range"));
    if (static_cast<std::uint8_t>(r.state) > static_cast<std::uint8_t>(RcptState::Failed)) {
      return fail(invalid("recipient state out of range"));
    }
    if (static_cast<std::uint8_t>(r.policy) > static_cast<std::uint8_t>(model::Policy::HOLD)) {
      return fail(invalid("recipient policy out of range"));
    }
    if (static_cast<std::uint8_t>(r.tls) > static_cast<std::uint8_t>(model::TlsLevel::Verify)) {
      return fail(invalid("recipient tls out of range"));
    }
  }

  out.resize(size_bound(e));
  auto* base = reinterpret_cast<unsigned char*>(out.data());
  Writer w{base};
  w.u8(kRecordVersion);
  w.u8(static_cast<std::uint8_t>((e.smtputf8 ? kFlagSmtputf8 : 0) |
                                 (e.requiretls ? kFlagRequiretls : 0) | (e.held ? kFlagHeld : 0) |
                                 (e.delay_notified ? kFlagDelayNotified : 0) |
                                 (e.tls_report ? kFlagTlsReport : 0)));
  w.u8(static_cast<std::uint8_t>(e.body_type));
  w.u8(static_cast<std::uint8_t>(e.ret));
  w.fixed64(e.id.value);
  w.fixed64(static_cast<std::uint64_t>(e.arrival_us));
  w.fixed64(static_cast<std::uint64_t>(e.next_attempt_us));
  w.varint(e.attempts);
  w.varint(e.body_size);
  w.str(e.sender);
  w.str(e.envid);
  w.str(e.client_address);
  w.str(e.client_helo);
  w.str(e.auth_user);
  w.str(e.tls_protocol);
  w.str(e.tls_cipher);
  w.str(e.message_id);
  w.str(e.classification);
  w.varint(e.recipients.size());
  for (const Recipient& r : e.recipients) {
    w.u8(r.notify);
    w.u8(static_cast<std::uint8_t>(r.state));
    w.u8(static_cast<std::uint8_t>(r.policy));
    w.u8(static_cast<std::uint8_t>(r.tls));
    w.varint(r.attempts);
    w.str(r.address);
    w.str(r.orcpt);
    w.str(r.policy_reason);
    w.str(r.last_status);
    w.str(r.last_reply);
    w.str(r.remote_mta);
    w.str(r.last_tls);
    w.varint(static_cast<std::uint64_t>(std::max<std::int64_t>(0, r.last_attempt_us)));
    w.str(r.last_cert_sha256);
    w.str(r.last_dnssec);
    w.varint(r.history_dropped);
    w.varint(r.history.size());
    for (const model::Attempt& a : r.history) {
      w.fixed64(static_cast<std::uint64_t>(a.time_us));
      w.str(a.host);
      w.str(a.address);
      w.str(a.method);
      w.str(a.tls);
      w.str(a.cert_sha256);
      w.str(a.dnssec);
      w.str(a.status);
      w.str(a.reply);
    }
  }
  auto body_len = static_cast<std::size_t>(w.p - base);
  w.fixed32(record_checksum(std::string_view(out.data(), body_len)));
  out.resize(body_len + kTrailerSize);
  return Ok{};
}

Result<Envelope, Error> decode_envelope(std::string_view record) {
  if (record.empty()) return fail(corrupt("empty"));
  auto version = static_cast<std::uint8_t>(record[0]);
  if (version < 1 || version > kRecordVersion) {
    return fail(corrupt("unsupported version " + std::to_string(version)));
  }
  if (record.size() < kHeaderSize + kTrailerSize) return fail(corrupt("truncated header"));

  const std::size_t body_len = record.size() - kTrailerSize;
  const auto* bytes = reinterpret_cast<const unsigned char*>(record.data());
  std::uint32_t stored = 0;
  for (int i = 0; i < 4; ++i) stored |= static_cast<std::uint32_t>(bytes[body_len + i]) << (8 * i);
  if (stored != record_checksum(record.substr(0, body_len)))
    return fail(corrupt("checksum mismatch"));

  Reader r(bytes, bytes + body_len);
  Envelope e;
  r.u8();  // version, checked above
  std::uint8_t flags = r.u8();
  if ((flags & ~kKnownFlags) != 0) r.fail("unknown flags");
  e.smtputf8 = flags & kFlagSmtputf8;
  e.requiretls = flags & kFlagRequiretls;
  e.held = flags & kFlagHeld;
  e.delay_notified = flags & kFlagDelayNotified;
  e.tls_report = flags & kFlagTlsReport;
  e.body_type =
      static_cast<BodyType>(r.enum8(static_cast<std::uint8_t>(BodyType::BinaryMime), "body_type"));
  e.ret = static_cast<Ret>(r.enum8(static_cast<std::uint8_t>(Ret::Hdrs), "ret"));
  e.id.value = r.fixed64();
  e.arrival_us = static_cast<std::int64_t>(r.fixed64());
  e.next_attempt_us = static_cast<std::int64_t>(r.fixed64());
  e.attempts = r.varint32();
  e.body_size = r.varint();
  r.str(e.sender);
  r.str(e.envid);
  r.str(e.client_address);
  r.str(e.client_helo);
  r.str(e.auth_user);
  r.str(e.tls_protocol);
  r.str(e.tls_cipher);
  if (version >= 4) {
    r.str(e.message_id);
    r.str(e.classification);
  }
  std::uint64_t count = r.varint();
  if (!r.failed() && count > r.remaining() / kMinRecipientSize) r.fail("recipient count past end");
  if (r.failed()) return fail(corrupt(r.error()));

  e.recipients.resize(static_cast<std::size_t>(count));
  for (Recipient& rc : e.recipients) {
    rc.notify = r.u8();
    if (!r.failed() && (rc.notify & ~kKnownNotify) != 0) r.fail("recipient notify out of range");
    rc.state = static_cast<RcptState>(
        r.enum8(static_cast<std::uint8_t>(RcptState::Failed), "recipient state"));
    rc.policy = static_cast<model::Policy>(
        r.enum8(static_cast<std::uint8_t>(model::Policy::HOLD), "recipient policy"));
    rc.tls =
        static_cast<model::TlsLevel>(r.enum8(static_cast<std::uint8_t>(model::TlsLevel::Verify), "recipient tls"));
    rc.attempts = r.varint32();
    r.str(rc.address);
    r.str(rc.orcpt);
    r.str(rc.policy_reason);
    r.str(rc.last_status);
    r.str(rc.last_reply);
    r.str(rc.remote_mta);
    if (version >= 2) {
      r.str(rc.last_tls);
      rc.last_attempt_us = static_cast<std::int64_t>(r.varint());
    }
    if (version >= 3) {
      r.str(rc.last_cert_sha256);
      r.str(rc.last_dnssec);
    }
    if (version >= 4) {
      rc.history_dropped = r.varint32();
      std::uint64_t attempts = r.varint();
      if (!r.failed() && attempts > r.remaining() / kMinAttemptSize) {
        r.fail("history count past end");
      }
      if (r.failed()) return fail(corrupt(r.error()));
      rc.history.resize(static_cast<std::size_t>(attempts));
      for (model::Attempt& a : rc.history) {
        a.time_us = static_cast<std::int64_t>(r.fixed64());
        r.str(a.host);
        r.str(a.address);
        r.str(a.method);
        r.str(a.tls);
        r.str(a.cert_sha256);
        r.str(a.dnssec);
        r.str(a.status);
        r.str(a.reply);
      }
    }
    if (r.failed()) return fail(corrupt(r.error()));
  }
  if (!r.at_end()) r.fail("trailing bytes");
  if (r.failed()) return fail(corrupt(r.error()));
  return e;
}

}  // namespace secmx::queue
