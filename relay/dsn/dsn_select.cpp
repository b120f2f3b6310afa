// dsn_select.cpp - see dsn_select.hpp.
#include "relay/dsn/dsn_select.hpp"

#include <algorithm>
#include <utility>

#include "relay/common/log.hpp"
#include "relay/common/log_lines.hpp"

namespace secmx::dsn {

std::vector<queue::NewMessage> select_dsns(const model::Envelope& before,
                                           model::Envelope& after, std::string_view body,
                                           const std::vector<std::size_t>& relayed_idx,
                                           const Options& options,
                                           std::chrono::milliseconds max_lifetime,
                                           model::IdGenerator& ids, std::int64_t now,
                                           std::vector<Selected>* selected) {
  std::vector<queue::NewMessage> out;
  std::vector<std::size_t> failed, delivered, relayed, pending;
  for (std::size_t i = 0; i < after.recipients.size() && i < before.recipients.size(); ++i) {
    auto was = before.recipients[i].state;
    auto is = after.recipients[i].state;
    if (is == model::RcptState::Failed && was != model::RcptState::Failed) {
      failed.push_back(i);
    } else if (is == model::RcptState::Delivered && was != model::RcptState::Delivered) {
      bool r = std::find(relayed_idx.begin(), relayed_idx.end(), i) != relayed_idx.end();
      (r ? relayed : delivered).push_back(i);
    } else if (is == model::RcptState::Pending) {
      pending.push_back(i);
    }
  }
  static const auto dsn_log = log::logger("dsn");
  auto emit = [&](Event event, const std::vector<std::size_t>& candidates) {
    if (candidates.empty()) return;
    auto report = recipients_to_report(after, event, candidates, true);
    if (report.empty()) return;
    std::vector<RcptReport> reports;
    for (std::size_t i : report) {
      const auto& r = after.recipients[i];
      RcptReport rr;
      rr.index = i;
      rr.status = r.last_status;
      rr.diagnostic = r.last_reply;
      rr.remote_mta = r.remote_mta;
      rr.last_attempt_us = now;
      if (event == Event::Delay) {
        rr.will_retry_until_us =
            after.arrival_us +
            std::chrono::duration_cast<std::chrono::microseconds>(max_lifetime).count();
      }
      reports.push_back(std::move(rr));
    }
    auto built = build(after, body, event, reports, options, now);
    if (!built) return;
    built->message.envelope.id = ids.next();
    dsn_log->info("{}", log::notification_line(after.id.to_string(), to_string(event),
                                               built->message.envelope.id.to_string(),
                                               reports.size()));
    out.push_back(std::move(built->message));
    if (selected) selected->push_back(Selected{event, std::move(report)});
  };
  emit(Event::Failure, failed);
  emit(Event::Delivered, delivered);
  emit(Event::Relayed, relayed);
  auto warn_us =
      std::chrono::duration_cast<std::chrono::microseconds>(options.delay_warning).count();
  if (!after.delay_notified && warn_us > 0 && !pending.empty() &&
      now - after.arrival_us >= warn_us) {
    after.delay_notified = true;  // one delay warning per message, whoever it reaches
    emit(Event::Delay, pending);
  }
  return out;
}

}  // namespace secmx::dsn
