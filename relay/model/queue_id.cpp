// queue_id.cpp - queue id text/key forms and the id generator.
//
// Pure value code; IdGenerator::next() is lock-free and safe from any thread. The
// generator never hands out the same value twice and never goes backwards, even when the
// wall clock steps back: it then keeps counting up from the last id it issued.
#include "relay/model/queue_id.hpp"

#include <chrono>

#include "relay/common/ascii.hpp"

namespace secmx::model {
namespace {

constexpr int kSeqBits = 20;
constexpr char kHex[] = "0123456789ABCDEF";

std::uint64_t now_ms() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
  return ms > 0 ? static_cast<std::uint64_t>(ms) : 0;
}

}  // namespace

std::string QueueId::to_string() const {
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[(value >> ((15 - i) * 4)) & 0xF];
  }
  return out;
}

std::array<unsigned char, 8> QueueId::to_key() const {
  std::array<unsigned char, 8> key{};
  for (int i = 0; i < 8; ++i) {
    key[static_cast<std::size_t>(i)] = static_cast<unsigned char>(value >> ((7 - i) * 8));
  }
  return key;
}

std::optional<QueueId> QueueId::parse(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    int d = hex_digit_value(c);  // operators type ids by hand: either case
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  return QueueId{v};
}

QueueId QueueId::from_key(const void* data, std::size_t size) {
  // A wrong size is the caller's bug or a corrupt key; give the null id rather than read
  // past the buffer. The store checks sizes itself and reports Corrupt.
  if (data == nullptr || size != 8) return QueueId{};
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return QueueId{v};
}

IdGenerator::IdGenerator(QueueId last_used) : last_(last_used.value) {}

QueueId IdGenerator::next() {
  const std::uint64_t clock = now_ms() << kSeqBits;
  std::uint64_t last = last_.load(std::memory_order_relaxed);
  std::uint64_t candidate;
  do {
    // More than 2^20 ids in one millisecond simply borrows from the next millisecond;
    // order and uniqueness are what matter, not that the id reads as the exact time.
    candidate = clock > last ? clock : last + 1;
  } while (!last_.compare_exchange_weak(last, candidate, std::memory_order_relaxed));
  return QueueId{candidate};
}

}  // namespace secmx::model
