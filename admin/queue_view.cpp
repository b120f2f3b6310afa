// queue_view.cpp - filters, cursor pages and JSON for the admin queue API.
#include "admin/queue_view.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "queue/envelope_json.hpp"
#include "relay/common/ascii.hpp"
#include "relay/config/config.hpp"
#include "relay/smtp/params.hpp"

namespace secmx::admin {

namespace {

using nlohmann::json;
using model::is_open;


json next_attempt_json(const model::Envelope& env) {
  if (env.held || message_state(env) == MessageState::Done) return nullptr;
  if (env.next_attempt_us == model::kNeverDue) return nullptr;
  if (env.next_attempt_us == 0) return "now";
  return iso_time(env.next_attempt_us);
}

// One policy when every recipient has the same one, else "mixed".
std::string message_policy(const model::Envelope& env) {
  if (env.recipients.empty()) return "";
  auto p = env.recipients.front().policy;
  for (const auto& r : env.recipients) {
    if (r.policy != p) return "mixed";
  }
  return to_string(p);
}

}  // namespace

const char* to_string(MessageState s) {
  switch (s) {
    case MessageState::Queued: return "queued";
    case MessageState::Deferred: return "deferred";
    case MessageState::Held: return "held";
    case MessageState::Done: return "done";
  }
  return "?";
}

MessageState message_state(const model::Envelope& env) {
  if (env.held) return MessageState::Held;
  bool any_pending = false, any_attempt = env.attempts > 0;
  for (const auto& r : env.recipients) {
    any_pending = any_pending || is_open(r);
    any_attempt = any_attempt || r.attempts > 0;
  }
  if (!any_pending) return MessageState::Done;
  return any_attempt ? MessageState::Deferred : MessageState::Queued;
}


Result<QueueFilter, std::string> QueueFilter::parse(
    const std::multimap<std::string, std::string>& params) {
  QueueFilter f;
  for (const auto& [key, value] : params) {
    if (key == "state") {
      auto v = ascii_lowercase(value);
      if (v == "queued") f.state = MessageState::Queued;
      else if (v == "deferred") f.state = MessageState::Deferred;
      else if (v == "held") f.state = MessageState::Held;
      else if (v == "done") f.state = MessageState::Done;
      else return fail(std::string("state: expected queued, deferred, held or done"));
    } else if (key == "policy") {
      // Only what a recipient can have stored: REJECT never is.
      auto p = model::parse_policy(value);
      if (!p || *p == model::Policy::REJECT) {
        return fail(std::string("policy: expected BES, SOS or HOLD"));
      }
      f.policy = *p;
    } else if (key == "domain") {
      f.domain = ascii_lowercase(value);
      if (!f.domain.empty() && f.domain.back() == '.') f.domain.pop_back();
    } else if (key == "sender") {
      f.sender = ascii_lowercase(value);
    } else if (key == "older_than") {
      auto d = config::parse_duration(value);
      if (!d) return fail(std::string("older_than: expected a duration such as 90s, 15m, 2h, 1d"));
      f.older_than = *d;
    }
    // Other parameters (after, limit) belong to the page, not the filter.
  }
  return f;
}

bool QueueFilter::matches(const model::Envelope& env, std::int64_t now_us) const {
  if (state && message_state(env) != *state) return false;
  if (policy) {
    bool any = std::any_of(env.recipients.begin(), env.recipients.end(),
                           [&](const model::Recipient& r) { return r.policy == *policy; });
    if (!any) return false;
  }
  if (!domain.empty()) {
    bool any = std::any_of(env.recipients.begin(), env.recipients.end(),
                           [&](const model::Recipient& r) { return smtp::address_domain(r.address) == domain; });
    if (!any) return false;
  }
  if (!sender.empty()) {
    if (sender.front() == '@') {
      if (smtp::address_domain(env.sender) != sender.substr(1)) return false;
    } else if (ascii_lowercase(env.sender) != sender) {
      return false;
    }
  }
  if (older_than) {
    auto cutoff = now_us - std::chrono::duration_cast<std::chrono::microseconds>(*older_than).count();
    if (env.arrival_us > cutoff) return false;
  }
  return true;
}

Result<QueuePage, queue::Error> list_page(queue::Store& store, const QueueFilter& filter,
                                          model::QueueId after, std::size_t limit,
                                          std::int64_t now_us, std::size_t max_scan) {
  QueuePage page;
  constexpr std::size_t kChunk = 256;
  model::QueueId cursor = after;
  while (page.items.size() < limit) {
    if (page.scanned >= max_scan) {
      page.next = cursor;  // stopped early: carry on from the last one looked at
      return page;
    }
    auto chunk = store.list(cursor, kChunk);
    if (!chunk) return fail(chunk.error());
    if (chunk->empty()) return page;  // the end: no next page
    for (auto& env : *chunk) {
      ++page.scanned;
      cursor = env.id;
      if (filter.matches(env, now_us)) {
        page.items.push_back(std::move(env));
        if (page.items.size() == limit) break;
      }
    }
    if (chunk->size() < kChunk && page.items.size() < limit) return page;
  }
  page.next = cursor;
  return page;
}

json summary_json(const model::Envelope& env, std::int64_t now_us) {
  json domains = json::array();
  std::string last_status, last_reply;
  std::size_t n_pending = 0;
  for (const auto& r : env.recipients) {
    auto d = smtp::address_domain(r.address);
    if (std::find(domains.begin(), domains.end(), d) == domains.end()) domains.push_back(d);
    if (is_open(r)) {
      ++n_pending;
      if (last_status.empty() && !r.last_status.empty()) {
        last_status = r.last_status;
        last_reply = r.last_reply;
      }
    }
  }
  return json{{"id", env.id.to_string()},
              {"arrival", iso_time(env.arrival_us)},
              {"age_seconds", std::max<std::int64_t>(0, (now_us - env.arrival_us) / 1000000)},
              {"sender", env.sender},
              {"recipients", env.recipients.size()},
              {"pending", n_pending},
              {"domains", domains},
              {"state", to_string(message_state(env))},
              {"policy", message_policy(env)},
              {"size", env.body_size},
              {"attempts", env.attempts},
              {"next_attempt", next_attempt_json(env)},
              {"last_status", last_status},
              {"last_reply", last_reply}};
}

json detail_json(const model::Envelope& env, std::int64_t now_us) {
  json j = summary_json(env, now_us);
  // The model's one shape on top: its "recipients" (the list) replaces the summary's count.
  json model = queue::envelope_json(env);
  j.update(model);
  return j;
}

}  // namespace secmx::admin
