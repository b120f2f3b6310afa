// operator_action.hpp - the operator's actions on one message (admin API): hold, release,
// flush, delete, bounce.
//
// apply_op() is the pure rule (what an action does to an envelope); run_action() carries
// it out on a message that no worker holds: it loads the message, applies the action (a
// bounce with its failure DSN, in the same change) and submits the change to the commit
// writer. It runs on the scheduler's loop, which is what keeps it away from a message in
// flight: the scheduler holds an action for such a message back until its outcome is
// written. Failure: the answer says why (NotFound, Invalid "nothing to hold", a store
// error); nothing is changed then.
//
// Every action names its operator (the admin token's name and the client's address): in
// its log line, and, when the audit trail is on, in the "operator" record written in the
// same change (relay/audit/operator_records.hpp). A bounce or a delete also logs one
// status= line per recipient it ends, in the shape of a delivery's (attempt_log.hpp), and
// records one "outcome" per such recipient with the operator as `by`.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "queue/commit_writer.hpp"
#include "relay/common/log.hpp"
#include "queue/store.hpp"
#include "relay/dsn/dsn.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/model/envelope.hpp"

namespace secmx::delivery {

enum class QueueOp { Hold, Release, Remove, Flush, Bounce };
const char* to_string(QueueOp op);  // as logged: "hold", "release", "delete", ...
using OpDone = std::function<void(Status<queue::Error>)>;

// Who asked for an action: the operator's name (admin/admin_token.hpp) and the admin
// client's address, as logged ("operator=alice client=127.0.0.1") and audited.
struct Operator {
  std::string name;
  std::string client;
};

// What an operator action does to a stored envelope (pure; Remove is not one of these).
// Returns false when the action does not apply (e.g. release of a message not held).
// `reason`: for Bounce, the words the DSN gives ("" for the default).
bool apply_op(QueueOp op, model::Envelope& envelope, std::int64_t now_us,
              const std::string& reason = {});

// Whether a flush makes `envelope` due now (apply_op(Flush) would apply): not held, some
// recipient open, and, when `domain` is not empty, a recipient pending in `domain`.
bool flush_wanted(const model::Envelope& envelope, std::string_view domain);

// The status= line of recipient `r` that an operator's bounce or delete (`op`) ended, in
// the shape of a delivery's outcome line (attempt_log.hpp), for either log format:
//   "<id>: to=<r>, relay=none, ..., dsn=5.0.0, status=bounced (operator NAME: reason)"
//   "<id>: to=<r>, relay=none, ..., dsn=5.0.0, status=deleted (operator NAME)"
std::string operator_status_line(QueueOp op, const model::Envelope& envelope,
                                 const model::Recipient& r, const Operator& by,
                                 std::int64_t now_us, log::Format format = log::format());

// What run_action() uses of the scheduler, for one call.
struct ActionContext {
  queue::Store& store;
  queue::CommitWriter& writer;
  model::IdGenerator& ids;
  const dsn::Options& dsn_options;
  std::chrono::milliseconds max_lifetime;   // dates a bounce's DSN as the delay DSN would
  std::shared_ptr<spdlog::logger> log;
  // May be null. A bounce counts its recipients in `bounced` (by policy) once written, as
  // an attempt's failures are; it is no `sos_bounces` (no receiver refused anything).
  metrics::RelayMetrics* metrics = nullptr;
  bool audit = false;  // [audit] enabled: the change carries the action's records
};

// Carries out `op` on the idle message `id` for `by`. `done` gets the outcome: at once
// when the action does not apply or the message cannot be read, else on the writer's
// thread once the change is written; `written` (thread-safe, e.g. Scheduler::kick) runs
// after it.
void run_action(QueueOp op, model::QueueId id, const std::string& reason, const Operator& by,
                const ActionContext& ctx, OpDone done, std::function<void()> written);

}  // namespace secmx::delivery
