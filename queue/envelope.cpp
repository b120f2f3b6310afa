#include "queue/envelope.hpp"

namespace secmx::queue {

const char* to_string(RcptPolicy p) {
  switch (p) {
    case RcptPolicy::BES: return "BES";
    case RcptPolicy::SOS: return "SOS";
    case RcptPolicy::HOLD: return "HOLD";
  }
  return "?";
}

const char* to_string(RcptState s) {
  switch (s) {
    case RcptState::Pending: return "pending";
    case RcptState::Held: return "held";
    case RcptState::Delivered: return "delivered";
    case RcptState::Failed: return "failed";
  }
  return "?";
}

const char* to_string(RcptTls t) {
  switch (t) {
    case RcptTls::None: return "none";
    case RcptTls::Encrypt: return "encrypt";
    case RcptTls::Verify: return "verify";
  }
  return "?";
}

std::vector<const char*> notify_names(std::uint8_t notify) {
  std::vector<const char*> out;
  if (notify & kNotifyNever) out.push_back("NEVER");
  if (notify & kNotifySuccess) out.push_back("SUCCESS");
  if (notify & kNotifyFailure) out.push_back("FAILURE");
  if (notify & kNotifyDelay) out.push_back("DELAY");
  return out;
}

}  // namespace secmx::queue
