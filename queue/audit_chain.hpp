// audit_chain.hpp - the tamper evidence of the audit trail: a hash chain over its records
// and keyed checkpoints of the chain's head.
//
// Each stored record (a Link) carries the SHA-256 of the stored bytes of the record
// before it, so changing, inserting or removing a record inside the chain breaks the
// next link. That alone does not stop someone who can write the store from rewriting the
// chain from the change onwards, nor from cutting its tail; a Checkpoint does: the head
// digest at a sequence number, authenticated with HMAC-SHA-256 under a key the relay
// reads from a file. A rewrite or a cut behind a checkpoint is found unless the key was
// also taken. What the chain does not prove: that an event which was never recorded
// happened, or that the clock was right.
//
// Pure functions over bytes and a verifier fed in sequence order; no LMDB (the store
// keeps links and checkpoints keyed by sequence number). Thread-agnostic.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "relay/common/result.hpp"

namespace secmx::queue::audit {

using Digest = std::array<unsigned char, 32>;

// The `prev` of the very first record.
inline constexpr Digest kGenesis{};

struct Link {
  std::uint64_t seq = 0;     // 1, 2, 3, ... without gaps
  std::int64_t time_us = 0;  // when the event was recorded (Unix epoch, microseconds)
  Digest prev{};             // link_digest() of the previous record's stored bytes
  std::string payload;       // the record itself (JSON text)
};

// Stored form, version 1 (integers little-endian):
//   u8 version, u64 seq, i64 time_us, 32 bytes prev, u32 payload length, payload.
std::string encode_link(const Link& link);
// Refuses (with the reason) a wrong version, a short record or trailing bytes.
Result<Link, std::string> decode_link(std::string_view stored);
// SHA-256 of a record's stored bytes: what the next record's `prev` must be.
Digest link_digest(std::string_view stored);

struct Checkpoint {
  std::uint64_t seq = 0;     // the last record it covers
  std::int64_t time_us = 0;
  Digest head{};             // link_digest() of that record
  Digest mac{};              // checkpoint_mac() of the three above
};

// HMAC-SHA-256 under `key` of "secmx-audit-checkpoint-1", seq, time_us and head.
Digest checkpoint_mac(std::string_view key, std::uint64_t seq, std::int64_t time_us,
                      const Digest& head);
Checkpoint make_checkpoint(std::string_view key, std::uint64_t seq, std::int64_t time_us,
                           const Digest& head);
// Stored form: u8 version (1), u64 seq, i64 time_us, 32 bytes head, 32 bytes mac.
std::string encode_checkpoint(const Checkpoint& checkpoint);
Result<Checkpoint, std::string> decode_checkpoint(std::string_view stored);

// Where verification first failed: the sequence number and what was wrong there.
struct Break {
  std::uint64_t seq = 0;
  std::string what;
};

// Walks a chain (or a range of it) in sequence order. Feed records and checkpoints
// merged by sequence number, a checkpoint after the record it covers. Starting in the
// middle (a range, or after retention pruned the older records) trusts the first record's
// `prev` unless `anchor` - the digest the record before the range had - is given. After
// the first break, later input is ignored: one break hides what follows it.
class ChainVerifier {
 public:
  explicit ChainVerifier(std::string key, std::optional<Digest> anchor = std::nullopt);

  // `key_seq` is the sequence number the store keeps the record under.
  void add_link(std::uint64_t key_seq, std::string_view stored);
  void add_checkpoint(std::uint64_t key_seq, std::string_view stored);

  const std::optional<Break>& first_break() const { return break_; }
  std::uint64_t links() const { return links_; }
  std::uint64_t checkpoints() const { return checkpoints_; }
  // The last record verified (0 before any).
  std::uint64_t last_seq() const { return last_seq_; }

 private:
  void fail(std::uint64_t seq, std::string what);

  std::string key_;
  std::optional<Digest> expect_prev_;
  std::uint64_t last_seq_ = 0;
  Digest last_digest_{};
  std::uint64_t links_ = 0;
  std::uint64_t checkpoints_ = 0;
  std::optional<Break> break_;
};

}  // namespace secmx::queue::audit
