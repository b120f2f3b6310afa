// notify.cpp - recipients_to_report(): RFC 3461 NOTIFY and the <> rule (see dsn.hpp).
//
// Pure; any thread.
#include <algorithm>

#include "relay/dsn/dsn.hpp"

namespace secmx::dsn {

const char* to_string(Event e) {
  switch (e) {
    case Event::Failure:
      return "failed";
    case Event::Delay:
      return "delayed";
    case Event::Delivered:
      return "delivered";
    case Event::Relayed:
      return "relayed";
  }
  return "?";
}

namespace {

bool wants(std::uint8_t notify, Event event, bool delay_by_default) {
  if (notify & model::kNotifyNever) return false;
  bool unset =
      (notify & (model::kNotifySuccess | model::kNotifyFailure | model::kNotifyDelay)) == 0;
  switch (event) {
    case Event::Failure:
      return unset || (notify & model::kNotifyFailure);
    case Event::Delay:
      return unset ? delay_by_default : (notify & model::kNotifyDelay) != 0;
    // RFC 3461 4.1: "relayed" answers a SUCCESS request the next hop cannot honour.
    case Event::Delivered:
    case Event::Relayed:
      return (notify & model::kNotifySuccess) != 0;
  }
  return false;
}

}  // namespace

std::vector<std::size_t> recipients_to_report(const model::Envelope& env, Event event,
                                              const std::vector<std::size_t>& candidates,
                                              bool delay_by_default) {
  std::vector<std::size_t> out;
  // Mail from <> is itself a notification: never tell anyone it was delayed or delivered,
  // and let build() route a failure to the postmaster (or drop it). RFC 3461 6.2.
  if (env.sender.empty() && event != Event::Failure) return out;
  for (std::size_t i : candidates) {
    if (i >= env.recipients.size()) continue;
    if (std::find(out.begin(), out.end(), i) != out.end()) continue;
    if (wants(env.recipients[i].notify, event, delay_by_default)) out.push_back(i);
  }
  return out;
}

}  // namespace secmx::dsn
