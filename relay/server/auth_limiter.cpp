// auth_limiter.cpp - see auth_limiter.hpp.
#include "relay/server/auth_limiter.hpp"

#include <algorithm>

namespace secmx::server {

std::uint32_t AuthLimiter::count(Map& m, std::string_view key, const LimiterSettings& s,
                                 std::uint64_t now_ms) {
  auto it = m.find(std::string(key));
  if (it == m.end()) return 0;
  if (now_ms - it->second.last_ms >= s.lockout_ms) {
    m.erase(it);
    return 0;
  }
  return it->second.failures;
}

bool AuthLimiter::locked(std::string_view address, std::string_view user,
                         const LimiterSettings& s, std::uint64_t now_ms) {
  return count(by_address_, address, s, now_ms) >= s.max_failures ||
         count(by_user_, user, s, now_ms) >= s.max_failures;
}

void AuthLimiter::make_room(Map& m, const LimiterSettings& s, std::uint64_t now_ms) {
  if (m.size() < max_entries_) return;
  for (auto it = m.begin(); it != m.end();) {
    it = now_ms - it->second.last_ms >= s.lockout_ms ? m.erase(it) : std::next(it);
  }
  if (m.size() < max_entries_) return;
  auto oldest = std::min_element(m.begin(), m.end(), [](const auto& a, const auto& b) {
    return a.second.last_ms < b.second.last_ms;
  });
  m.erase(oldest);
}

std::uint32_t AuthLimiter::add(Map& m, std::string_view key, const LimiterSettings& s,
                               std::uint64_t now_ms) {
  std::uint32_t n = count(m, key, s, now_ms);
  if (n == 0) make_room(m, s, now_ms);
  Entry& e = m[std::string(key)];
  e.failures = n + 1;
  e.last_ms = now_ms;
  return e.failures;
}

std::uint64_t AuthLimiter::record_failure(std::string_view address, std::string_view user,
                                          const LimiterSettings& s, std::uint64_t now_ms) {
  std::uint32_t n = std::max(add(by_address_, address, s, now_ms), add(by_user_, user, s, now_ms));
  std::uint64_t delay = s.delay_ms;
  for (std::uint32_t i = 1; i < n && delay < s.max_delay_ms; ++i) delay *= 2;
  return std::min(delay, s.max_delay_ms);
}

void AuthLimiter::record_success(std::string_view user) { by_user_.erase(std::string(user)); }

}  // namespace secmx::server
