// callback_guard.cpp - see callback_guard.hpp.
#include "relay/common/callback_guard.hpp"

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace secmx::common {
namespace {

struct Injection {
  std::string point;             // empty: injection off
  std::atomic<long> remaining{0};  // throws left; -1: every time
};

Injection& injection() {
  static Injection* inj = [] {
    auto* i = new Injection;  // never freed: callbacks may run during static destruction
    const char* env = std::getenv("SECMX_TEST_INJECT_THROW");
    if (env == nullptr || *env == '\0') return i;
    std::string_view spec(env);
    long count = -1;
    if (auto colon = spec.rfind(':'); colon != std::string_view::npos) {
      long n = 0;
      auto tail = spec.substr(colon + 1);
      auto [ptr, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), n);
      if (ec == std::errc() && ptr == tail.data() + tail.size() && n > 0) {
        count = n;
        spec = spec.substr(0, colon);
      }
    }
    i->point = std::string(spec);
    i->remaining = count;
    return i;
  }();
  return *inj;
}

}  // namespace

void inject_fault(std::string_view point) {
  Injection& inj = injection();
  if (inj.point.empty() || inj.point != point) return;
  long left = inj.remaining.load();
  while (left != -1) {
    if (left == 0) return;
    if (inj.remaining.compare_exchange_weak(left, left - 1)) break;
  }
  throw std::runtime_error("injected fault at " + std::string(point));
}

}  // namespace secmx::common
