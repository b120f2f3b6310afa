// auth_limiter.hpp - brute-force protection for SMTP AUTH: failed logins counted per
// client address and per user name.
//
// A key (an address, a user name) is locked once it has max_failures failures, each
// within `lockout` of the one before; it unlocks `lockout` after its last failure, when
// its count is forgotten too. Each failure earns a delay before the 535, doubling with
// the count. Both maps are bounded (max_entries each): when one is full, forgotten entries
// go first, then the one whose last failure is oldest, so a flood of addresses can cost
// memory only up to the bound. Pure: time comes in as an argument. Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace secmx::server {

struct LimiterSettings {
  std::uint32_t max_failures = 5;
  std::uint64_t lockout_ms = 15 * 60 * 1000;
  std::uint64_t delay_ms = 1000;      // after the first failure
  std::uint64_t max_delay_ms = 16000;
};

class AuthLimiter {
 public:
  explicit AuthLimiter(std::size_t max_entries = 10000) : max_entries_(max_entries) {}

  // Either the address or the user name is locked at now_ms.
  bool locked(std::string_view address, std::string_view user, const LimiterSettings& s,
              std::uint64_t now_ms);
  // Counts a failure for both; returns the delay before answering it.
  std::uint64_t record_failure(std::string_view address, std::string_view user,
                               const LimiterSettings& s, std::uint64_t now_ms);
  // A good login forgets the user name's failures (not the address's: one known password
  // must not reset the count of an address trying others).
  void record_success(std::string_view user);

  std::size_t addresses() const { return by_address_.size(); }
  std::size_t users() const { return by_user_.size(); }

 private:
  struct Entry {
    std::uint32_t failures = 0;
    std::uint64_t last_ms = 0;
  };
  using Map = std::unordered_map<std::string, Entry>;
  std::uint32_t count(Map& m, std::string_view key, const LimiterSettings& s, std::uint64_t now_ms);
  std::uint32_t add(Map& m, std::string_view key, const LimiterSettings& s, std::uint64_t now_ms);
  void make_room(Map& m, const LimiterSettings& s, std::uint64_t now_ms);

  std::size_t max_entries_;
  Map by_address_;
  Map by_user_;
};

}  // namespace secmx::server
