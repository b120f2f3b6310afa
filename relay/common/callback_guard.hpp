// callback_guard.hpp - the one rule for exceptions at libuv callback boundaries.
//
// libuv is C: an exception must never unwind through it. Every callback that runs our
// code enters through guard(): an exception is caught there, logged once with the id of
// the session or message it happened in (`id` is a "key=value" field such as
// "session=12" or "queue_id=0A1B..."), and `fail` is called so that the owner ends that
// one connection or attempt cleanly (a 421, a deferral). The process stays up and every
// other session goes on. `fail` itself must not throw; if it does, that is logged too.
//
// inject_fault(point) is how the tests prove the rule: when the environment variable
// SECMX_TEST_INJECT_THROW names `point` (e.g. "server.read" or "server.read:2" for the
// first two times), that call throws. Read once, at the first call; costs one branch
// otherwise.
#pragma once

#include <spdlog/spdlog.h>

#include <exception>
#include <string_view>
#include <utility>

#include "relay/common/log.hpp"

namespace secmx::common {

// Throws std::runtime_error("injected fault at <point>") when the tests asked for it.
void inject_fault(std::string_view point);

template <class Fn, class Fail>
bool guard(spdlog::logger& log, std::string_view id, std::string_view where, Fn&& fn,
           Fail&& fail) noexcept {
  const char* what = nullptr;
  std::string text;
  try {
    std::forward<Fn>(fn)();
    return true;
  } catch (const std::exception& e) {
    text = e.what();
  } catch (...) {
    what = "unknown exception";
  }
  try {
    log.error("{} event=exception where={} what={}", id, where,
              log::escape(what != nullptr ? std::string_view(what) : std::string_view(text)));
    std::forward<Fail>(fail)();
  } catch (...) {
    // Nothing more can be done safely here; the next line at least says so.
    try {
      log.critical("{} event=exception where={} what=\"failure handler threw\"", id, where);
    } catch (...) {
    }
  }
  return false;
}

}  // namespace secmx::common
