// queue_id.hpp - queue identifiers: unique, sortable by arrival, short in logs.
//
// A QueueId is 64 bits: milliseconds since the Unix epoch in the high 44 bits and a
// sequence number in the low 20. Its text form is 16 upper-case hex digits, so text order
// = numeric order = arrival order. The big-endian 8-byte form is the LMDB key.
// IdGenerator is thread-safe and never goes backwards, also across a restart when seeded
// with the largest id already stored, and across a clock step backwards.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace secmx::model {

struct QueueId {
  std::uint64_t value = 0;
  auto operator<=>(const QueueId&) const = default;

  std::string to_string() const;
  std::array<unsigned char, 8> to_key() const;
  static std::optional<QueueId> parse(std::string_view text);
  static QueueId from_key(const void* data, std::size_t size);  // size must be 8
};

class IdGenerator {
 public:
  explicit IdGenerator(QueueId last_used = {});
  QueueId next();  // thread-safe

 private:
  std::atomic<std::uint64_t> last_;
};

}  // namespace secmx::model
