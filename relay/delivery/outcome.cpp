#include "relay/delivery/outcome.hpp"

#include <algorithm>

#include "relay/model/status.hpp"

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
  }
  return "?";
}

std::string reply_line(int code, const std::string& enhanced, const std::string& text) {
  std::string out = std::to_string(code);
  if (!enhanced.empty()) out += " " + enhanced;
  if (!text.empty()) out += " " + text;
  return out;
}

RcptOutcome classify_reply(int code, const std::string& enhanced, const std::string& text,
                           const std::string& remote_mta) {
  RcptOutcome o;
  o.remote_mta = remote_mta;
  o.diagnostic = "smtp; " + reply_line(code, enhanced, text);
  // Trust the peer's enhanced code only when its class agrees with the basic code.
  char cls = code >= 500 ? '5' : code >= 400 ? '4' : '2';
  bool usable = !enhanced.empty() && enhanced[0] == cls;
  if (code >= 200 && code < 300) {
    o.verdict = RcptVerdict::Delivered;
    o.status = usable ? enhanced : "2.0.0";
  } else if (code >= 500 && code < 600) {
    o.verdict = RcptVerdict::Failed;
    o.status = usable ? enhanced : "5.0.0";
  } else {
    // 4xx, and anything malformed (a 3xx where none belongs), is worth another try.
    o.verdict = RcptVerdict::Deferred;
    o.status = usable ? enhanced : "4.0.0";
  }
  return o;
}

RcptOutcome exhausted(bool sos, const std::vector<HostRecord>& hosts, bool dns_incomplete,
                      bool sos_expired) {
  RcptOutcome o;
  std::string list;
  bool all_answered_without_tls = !hosts.empty();
  bool any_perm = false;
  for (const auto& h : hosts) {
    if (!list.empty()) list += "; ";
    list += h.host + ": " + h.detail;
    if (h.kind != HostRecord::Kind::NoTls) all_answered_without_tls = false;
    if (h.kind == HostRecord::Kind::PermRefused) any_perm = true;
  }
  if (hosts.empty()) list = "no receiving host found";

  if (sos) {
    bool final_now = (all_answered_without_tls && !dns_incomplete) || sos_expired;
    if (final_now) {
      o.verdict = RcptVerdict::Failed;
      o.status = model::kEncryptionNeeded.to_string();
      o.diagnostic = std::string(sos_expired && !all_answered_without_tls
                                     ? "no secure (TLS) receiver found within the SOS lifetime: "
                                     : "no secure (TLS) receiver: ") + list;
      return o;
    }
    o.verdict = RcptVerdict::Deferred;
    o.status = "4.7.10";
    o.diagnostic = "no secure (TLS) receiver yet: " + list;
    return o;
  }
  // BES: every host refused permanently at the session level -> final; otherwise retry.
  bool all_perm = !hosts.empty() && std::all_of(hosts.begin(), hosts.end(), [](const HostRecord& h) {
    return h.kind == HostRecord::Kind::PermRefused;
  });
  if (all_perm) {
    o.verdict = RcptVerdict::Failed;
    o.status = "5.0.0";
  } else {
    o.verdict = RcptVerdict::Deferred;
    o.status = any_perm ? "4.0.0" : "4.4.1";
  }
  o.diagnostic = list;
  return o;
}

RcptOutcome apply_lifetime(RcptOutcome outcome, std::int64_t arrival_us, std::int64_t now_us,
                           std::chrono::milliseconds max_lifetime) {
  if (outcome.verdict != RcptVerdict::Deferred) return outcome;
  if (now_us - arrival_us < max_lifetime.count() * 1000) return outcome;
  outcome.verdict = RcptVerdict::Failed;
  outcome.status = "5.4.7";
  outcome.diagnostic = "delivery time expired; last error: " + outcome.diagnostic;
  return outcome;
}

std::int64_t next_attempt_us(std::uint32_t attempts, std::int64_t now_us,
                             const std::vector<std::chrono::milliseconds>& retry) {
  if (retry.empty()) return now_us + 300'000'000;
  std::size_t i = attempts == 0 ? 0 : std::min<std::size_t>(attempts - 1, retry.size() - 1);
  return now_us + retry[i].count() * 1000;
}

}  // namespace secmx::delivery
