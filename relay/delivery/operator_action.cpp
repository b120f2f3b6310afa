// operator_action.cpp - see operator_action.hpp.
#include "relay/delivery/operator_action.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "relay/common/callback_guard.hpp"
#include "relay/common/clock.hpp"
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

void run_action(QueueOp op, model::QueueId id, const std::string& reason,
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
  std::vector<model::Policy> bounced;  // the recipients this bounce makes final
  if (op == QueueOp::Bounce) {
    for (std::size_t i = 0; i < env.recipients.size() && i < before.recipients.size(); ++i) {
      if (model::is_open(before.recipients[i]) &&
          env.recipients[i].state == model::RcptState::Failed) {
        bounced.push_back(env.recipients[i].policy);
      }
    }
    auto body = ctx.store.load_body(id);
    if (!body) return done(fail(body.error()));
    change.inserts = dsn::select_dsns(before, env, *body, {}, ctx.dsn_options, ctx.max_lifetime,
                                      ctx.ids, now);
    change.kind = queue::Change::Kind::Remove;  // every recipient is final now
  }
  ctx.log->info("{}: {} by the operator", id.to_string(), to_string(op));
  change.envelope = std::move(env);
  // The commit answer runs on the writer's thread: an exception must not reach the writer.
  ctx.writer.submit_change(
      std::move(change), [log = ctx.log, metrics = ctx.metrics, bounced = std::move(bounced), id,
                          done = std::move(done),
                          written = std::move(written)](Status<queue::Error> st) {
        common::guard(*log, id.to_string() + ":", "scheduler.action_written", [&] {
          if (st.ok() && metrics) {
            for (auto policy : bounced) metrics->bounced.inc(policy);
          }
          done(std::move(st));
          written();
        }, [] {});
      });
}

}  // namespace secmx::delivery
