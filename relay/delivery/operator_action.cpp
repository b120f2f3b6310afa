// operator_action.cpp - see operator_action.hpp.
#include "relay/delivery/operator_action.hpp"

#include <algorithm>
#include <iterator>
#include <utility>
#include <vector>

#include "relay/audit/audit_record.hpp"
#include "relay/audit/operator_records.hpp"
#include "relay/audit/outcome_records.hpp"
#include "relay/common/log_lines.hpp"
#include "relay/common/callback_guard.hpp"
#include "relay/common/clock.hpp"
#include "relay/common/log.hpp"
#include "relay/delivery/attempt_log.hpp"
#include "relay/dsn/dsn_select.hpp"
#include "relay/model/reason.hpp"
#include "relay/smtp/params.hpp"

namespace secmx::delivery {
namespace {

bool any_open(const model::Envelope& env) {
  return std::any_of(env.recipients.begin(), env.recipients.end(), model::is_open);
}

}  // namespace

const char* to_string(QueueOp op) {
  switch (op) {
    case QueueOp::Hold: return "hold";
    case QueueOp::Release: return "release";
    case QueueOp::Remove: return "delete";
    case QueueOp::Flush: return "flush";
    case QueueOp::Bounce: return "bounce";
  }
  return "?";
}

bool flush_wanted(const model::Envelope& env, std::string_view domain) {
  if (env.held || !any_open(env)) return false;
  if (domain.empty()) return true;
  return std::any_of(env.recipients.begin(), env.recipients.end(), [&](const auto& r) {
    return r.state == model::RcptState::Pending && smtp::address_domain(r.address) == domain;
  });
}

bool apply_op(QueueOp op, model::Envelope& env, std::int64_t now, const std::string& reason) {
  switch (op) {
    case QueueOp::Hold:
      if (!any_open(env)) return false;
      env.held = true;
      return true;
    case QueueOp::Release:
      if (!env.held && std::none_of(env.recipients.begin(), env.recipients.end(), [](const auto& r) {
            return r.state == model::RcptState::Held;
          })) {
        return false;
      }
      env.held = false;
      for (auto& r : env.recipients) {
        if (r.state != model::RcptState::Held) continue;
        // A message held by policy was judged too sensitive to send unprompted; once the
        // operator releases it, it still never crosses the Internet in plaintext.
        r.state = model::RcptState::Pending;
        if (r.policy == model::Policy::HOLD) {
          r.policy = model::Policy::SOS;
          r.tls = model::stronger(r.tls, model::TlsLevel::Encrypt);
          model::Reason why(r.policy_reason);
          why.released = true;
          r.policy_reason = why.to_string();
        }
      }
      env.next_attempt_us = 0;
      return true;
    case QueueOp::Flush:
      if (!flush_wanted(env, {})) return false;
      env.next_attempt_us = 0;
      return true;
    case QueueOp::Bounce:
      if (!any_open(env)) return false;
      for (auto& r : env.recipients) {
        if (!model::is_open(r)) continue;
        r.state = model::RcptState::Failed;
        r.last_status = "5.0.0";
        r.last_reply = reason.empty() ? "message returned to the sender by the relay operator"
                                      : reason;
      }
      env.held = false;
      env.next_attempt_us = model::kNeverDue;
      return true;
    case QueueOp::Remove:
      return true;
  }
  (void)now;
  return false;
}

namespace {

// The recipients `op` ends: a bounce fails every open one, a delete takes every open one
// with the message. Indices into the envelope's recipients.
std::vector<std::size_t> ended_by(QueueOp op, const model::Envelope& before,
                                  const model::Envelope& after) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < before.recipients.size() && i < after.recipients.size(); ++i) {
    if (!model::is_open(before.recipients[i])) continue;
    if (op == QueueOp::Remove ||
        (op == QueueOp::Bounce && after.recipients[i].state == model::RcptState::Failed)) {
      out.push_back(i);
    }
  }
  return out;
}

bool releases_policy_hold(QueueOp op, const model::Envelope& before) {
  return op == QueueOp::Release &&
         std::any_of(before.recipients.begin(), before.recipients.end(), [](const auto& r) {
           return r.state == model::RcptState::Held && r.policy == model::Policy::HOLD;
         });
}

}  // namespace

std::string operator_status_line(QueueOp op, const model::Envelope& env,
                                 const model::Recipient& r, const Operator& by, std::int64_t now,
                                 log::Format format) {
  AttemptLine line;
  line.queue_id = env.id.to_string();
  line.recipient = r.address;
  line.relay = "none";
  line.policy = model::to_string(r.policy);
  line.reason = r.policy_reason;
  line.tls = r.last_tls.empty() ? "none" : r.last_tls;
  line.cert_sha256 = r.last_cert_sha256;
  line.dnssec = r.last_dnssec;
  line.delay_s = static_cast<double>(now - env.arrival_us) / 1e6;
  line.attempts = r.attempts;
  line.dsn = "5.0.0";
  if (op == QueueOp::Bounce) {
    line.status = "bounced";
    line.detail = "operator " + by.name + ": " + r.last_reply;
  } else {
    line.status = "deleted";
    line.detail = "operator " + by.name;
  }
  return format_attempt(line, format);
}

void run_action(QueueOp op, model::QueueId id, const std::string& reason, const Operator& by,
                const ActionContext& ctx, OpDone done, std::function<void()> written) {
  auto loaded = ctx.store.load(id);
  if (!loaded) return done(fail(loaded.error()));
  if (!loaded->has_value()) {
    return done(fail(queue::Error{queue::Error::Kind::NotFound, "no such message"}));
  }
  model::Envelope env = std::move(**loaded);
  const model::Envelope before = env;
  auto now = unix_now_us();
  queue::Change change;
  if (op == QueueOp::Remove) {
    change.kind = queue::Change::Kind::Remove;
  } else if (!apply_op(op, env, now, reason)) {
    return done(fail(queue::Error{queue::Error::Kind::Invalid,
                                  std::string("nothing to ") + to_string(op)}));
  }
  const auto ended = ended_by(op, before, env);
  std::vector<model::Policy> bounced;  // the recipients this bounce makes final
  std::vector<dsn::Selected> selected;  // what each DSN of the bounce reports
  if (op == QueueOp::Bounce) {
    for (auto i : ended) bounced.push_back(env.recipients[i].policy);
    auto body = ctx.store.load_body(id);
    if (!body) return done(fail(body.error()));
    change.inserts = dsn::select_dsns(before, env, *body, {}, ctx.dsn_options, ctx.max_lifetime,
                                      ctx.ids, now, &selected);
    change.kind = queue::Change::Kind::Remove;  // every recipient is final now
  }
  if (ctx.audit) {
    const audit::Actor actor{by.name, by.client};
    change.audit.push_back(audit::operator_record(now, env, to_string(op), actor,
                                                  op == QueueOp::Bounce ? reason : "",
                                                  releases_policy_hold(op, before)));
    // A bounce's failure DSN reports every recipient it failed (dsn_select.hpp).
    std::string dsn_id = change.inserts.empty() ? "" : change.inserts.front().envelope.id.to_string();
    for (auto i : ended) {
      change.audit.push_back(audit::outcome_record(
          now, env, env.recipients[i], op == QueueOp::Bounce ? "bounced" : "deleted", by.name,
          nullptr, op == QueueOp::Bounce ? std::string_view(dsn_id) : ""));
    }
    auto dsn = audit::dsn_records(env, audit::dsns_queued(change.inserts, selected), now);
    change.audit.insert(change.audit.end(), std::make_move_iterator(dsn.begin()),
                        std::make_move_iterator(dsn.end()));
  }
  ctx.log->info("{}: {} operator={} client=[{}]", id.to_string(), to_string(op),
                log::escape(by.name, 64), log::escape(by.client, 64));
  std::vector<std::string> status_lines;
  for (auto i : ended) status_lines.push_back(operator_status_line(op, env, env.recipients[i], by, now));
  // A bounce or delete takes the message out of the queue: its last line says so, as the
  // scheduler's does for a message whose every recipient ended by delivery.
  if (change.kind == queue::Change::Kind::Remove) status_lines.push_back(log::removed_line(id.to_string()));
  change.envelope = std::move(env);
  // The commit answer runs on the writer's thread: an exception must not reach the writer.
  ctx.writer.submit_change(
      std::move(change), [log = ctx.log, metrics = ctx.metrics, bounced = std::move(bounced), id,
                          status_lines = std::move(status_lines), done = std::move(done),
                          written = std::move(written)](Status<queue::Error> st) {
        common::guard(*log, id.to_string() + ":", "scheduler.action_written", [&] {
          if (st.ok()) {
            // Only once on disk: a line must not report an end the store never saw.
            for (const auto& line : status_lines) log->info("{}", line);
            if (metrics) {
              for (auto policy : bounced) metrics->bounced.inc(policy);
            }
          }
          done(std::move(st));
          written();
        }, [] {});
      });
}

}  // namespace secmx::delivery
