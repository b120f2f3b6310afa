// outcome.cpp - names of the outcome values, the reply line and the retry schedule.
#include "relay/delivery/outcome.hpp"

#include <algorithm>

namespace secmx::delivery {

const char* to_string(RcptVerdict v) {
  switch (v) {
    case RcptVerdict::Delivered: return "sent";
    case RcptVerdict::Deferred: return "deferred";
    case RcptVerdict::Failed: return "bounced";
  }
  return "?";
}

const char* to_string(HostRecord::Kind k) {
  switch (k) {
    case HostRecord::Kind::Unreachable: return "unreachable";
    case HostRecord::Kind::TempRefused: return "temporary refusal";
    case HostRecord::Kind::PermRefused: return "permanent refusal";
    case HostRecord::Kind::NoTls: return "no TLS";
    case HostRecord::Kind::AuthFailed: return "not authenticated as required";
  }
  return "?";
}

std::string reply_line(int code, const std::string& enhanced, const std::string& text) {
  std::string out = std::to_string(code);
  if (!enhanced.empty()) out += " " + enhanced;
  if (!text.empty()) out += " " + text;
  return out;
}

std::int64_t next_attempt_us(std::uint32_t attempts, std::int64_t now_us,
                             const std::vector<std::chrono::milliseconds>& retry) {
  if (retry.empty()) return now_us + 300'000'000;
  std::size_t i = attempts == 0 ? 0 : std::min<std::size_t>(attempts - 1, retry.size() - 1);
  return now_us + retry[i].count() * 1000;
}

}  // namespace secmx::delivery
