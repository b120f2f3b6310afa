// envelope.cpp - names of the message model's enums (see envelope.hpp).
#include "relay/model/envelope.hpp"

namespace secmx::model {

const char* to_string(RcptState s) {
  switch (s) {
    case RcptState::Pending: return "pending";
    case RcptState::Held: return "held";
    case RcptState::Delivered: return "delivered";
    case RcptState::Failed: return "failed";
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

}  // namespace secmx::model
