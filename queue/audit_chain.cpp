// audit_chain.cpp - see audit_chain.hpp.
#include "queue/audit_chain.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include "relay/tls/hex.hpp"

namespace secmx::queue::audit {
namespace {

constexpr std::uint8_t kLinkVersion = 1;
constexpr std::uint8_t kCheckpointVersion = 1;
constexpr std::size_t kLinkHeader = 1 + 8 + 8 + 32 + 4;
constexpr std::size_t kCheckpointSize = 1 + 8 + 8 + 32 + 32;
constexpr std::string_view kMacLabel = "secmx-audit-checkpoint-1";

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

void put_digest(std::string& out, const Digest& d) {
  out.append(reinterpret_cast<const char*>(d.data()), d.size());
}

// Reads fixed-size fields from the front of a record whose size was checked first.
class Cursor {
 public:
  explicit Cursor(std::string_view in) : in_(in) {}
  std::uint64_t u64() { return unsigned_le(8); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(unsigned_le(4)); }
  std::uint8_t u8() { return static_cast<std::uint8_t>(unsigned_le(1)); }
  Digest digest() {
    Digest d{};
    std::memcpy(d.data(), in_.data() + pos_, d.size());
    pos_ += d.size();
    return d;
  }
  std::string_view rest() const { return in_.substr(pos_); }

 private:
  std::uint64_t unsigned_le(int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) {
      v |= std::uint64_t{static_cast<unsigned char>(in_[pos_ + i])} << (8 * i);
    }
    pos_ += n;
    return v;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
};

std::string short_hex(const Digest& d) { return tls::lower_hex(d.data(), 8); }

}  // namespace

std::string encode_link(const Link& link) {
  std::string out;
  out.reserve(kLinkHeader + link.payload.size());
  out += static_cast<char>(kLinkVersion);
  put_u64(out, link.seq);
  put_u64(out, static_cast<std::uint64_t>(link.time_us));
  put_digest(out, link.prev);
  put_u32(out, static_cast<std::uint32_t>(link.payload.size()));
  out += link.payload;
  return out;
}

Result<Link, std::string> decode_link(std::string_view stored) {
  if (stored.size() < kLinkHeader) return fail(std::string("record shorter than its header"));
  Cursor c(stored);
  if (c.u8() != kLinkVersion) return fail(std::string("unknown record version"));
  Link link;
  link.seq = c.u64();
  link.time_us = static_cast<std::int64_t>(c.u64());
  link.prev = c.digest();
  std::uint32_t len = c.u32();
  if (c.rest().size() != len) return fail(std::string("record length does not match its payload"));
  link.payload = std::string(c.rest());
  return link;
}

Digest link_digest(std::string_view stored) {
  Digest d{};
  unsigned int len = 0;
  // SHA-256 over a buffer in memory cannot fail short of a broken library.
  if (EVP_Digest(stored.data(), stored.size(), d.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != d.size()) {
    std::abort();
  }
  return d;
}

Digest checkpoint_mac(std::string_view key, std::uint64_t seq, std::int64_t time_us,
                      const Digest& head) {
  std::string data(kMacLabel);
  put_u64(data, seq);
  put_u64(data, static_cast<std::uint64_t>(time_us));
  put_digest(data, head);
  Digest mac{};
  std::size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(),
                mac.size(), &len) == nullptr ||
      len != mac.size()) {
    std::abort();
  }
  return mac;
}

Checkpoint make_checkpoint(std::string_view key, std::uint64_t seq, std::int64_t time_us,
                           const Digest& head) {
  return Checkpoint{seq, time_us, head, checkpoint_mac(key, seq, time_us, head)};
}

std::string encode_checkpoint(const Checkpoint& checkpoint) {
  std::string out;
  out.reserve(kCheckpointSize);
  out += static_cast<char>(kCheckpointVersion);
  put_u64(out, checkpoint.seq);
  put_u64(out, static_cast<std::uint64_t>(checkpoint.time_us));
  put_digest(out, checkpoint.head);
  put_digest(out, checkpoint.mac);
  return out;
}

Result<Checkpoint, std::string> decode_checkpoint(std::string_view stored) {
  if (stored.size() != kCheckpointSize) return fail(std::string("checkpoint of the wrong size"));
  Cursor c(stored);
  if (c.u8() != kCheckpointVersion) return fail(std::string("unknown checkpoint version"));
  Checkpoint cp;
  cp.seq = c.u64();
  cp.time_us = static_cast<std::int64_t>(c.u64());
  cp.head = c.digest();
  cp.mac = c.digest();
  return cp;
}

ChainVerifier::ChainVerifier(std::string key, std::optional<Digest> anchor)
    : key_(std::move(key)), expect_prev_(anchor) {}

void ChainVerifier::fail(std::uint64_t seq, std::string what) {
  if (!break_) break_ = Break{seq, std::move(what)};
}

void ChainVerifier::add_link(std::uint64_t key_seq, std::string_view stored) {
  if (break_) return;
  auto link = decode_link(stored);
  if (!link.ok()) return fail(key_seq, "record " + std::to_string(key_seq) + " unreadable: " + link.error());
  if (link->seq != key_seq) {
    return fail(key_seq, "record stored under " + std::to_string(key_seq) + " says it is " +
                             std::to_string(link->seq));
  }
  if (links_ > 0 && key_seq != last_seq_ + 1) {
    return fail(last_seq_ + 1, "records " + std::to_string(last_seq_ + 1) + " to " +
                                   std::to_string(key_seq - 1) + " are missing");
  }
  if (links_ == 0 && key_seq == 1 && !expect_prev_) expect_prev_ = kGenesis;
  if (expect_prev_ && link->prev != *expect_prev_) {
    return fail(key_seq, "record " + std::to_string(key_seq) +
                             " does not follow the record before it (prev " + short_hex(link->prev) +
                             "..., expected " + short_hex(*expect_prev_) + "...)");
  }
  last_digest_ = link_digest(stored);
  expect_prev_ = last_digest_;
  last_seq_ = key_seq;
  ++links_;
}

void ChainVerifier::add_checkpoint(std::uint64_t key_seq, std::string_view stored) {
  if (break_) return;
  auto cp = decode_checkpoint(stored);
  if (!cp.ok()) {
    return fail(key_seq, "checkpoint at " + std::to_string(key_seq) + " unreadable: " + cp.error());
  }
  const Digest mac = checkpoint_mac(key_, cp->seq, cp->time_us, cp->head);
  if (cp->seq != key_seq || CRYPTO_memcmp(mac.data(), cp->mac.data(), mac.size()) != 0) {
    return fail(key_seq, "checkpoint at " + std::to_string(key_seq) +
                             " is not authentic (wrong key, or altered)");
  }
  if (links_ == 0 || cp->seq > last_seq_) {
    return fail(links_ == 0 ? cp->seq : last_seq_ + 1,
                "checkpoint at " + std::to_string(cp->seq) + " covers records that are missing" +
                    (links_ == 0 ? "" : " (the chain ends at " + std::to_string(last_seq_) + ")"));
  }
  if (cp->seq < last_seq_) {
    return fail(cp->seq, "checkpoint at " + std::to_string(cp->seq) + " given out of order");
  }
  if (cp->head != last_digest_) {
    return fail(cp->seq, "record " + std::to_string(cp->seq) +
                             " differs from what the checkpoint signed (the chain was rewritten)");
  }
  ++checkpoints_;
}

}  // namespace secmx::queue::audit
