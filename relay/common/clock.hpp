// clock.hpp - wall-clock time as the queue stores it: microseconds since the Unix epoch.
// Arrival times, next-attempt times and DSN dates all use this one representation.
#pragma once

#include <chrono>
#include <cstdint>

namespace secmx {

inline std::int64_t unix_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace secmx
