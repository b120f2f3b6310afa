// queue_flush.cpp - see queue_flush.hpp.
#include "relay/delivery/queue_flush.hpp"

#include <mutex>
#include <optional>
#include <unordered_set>
#include <utility>

#include "relay/audit/operator_records.hpp"
#include "relay/common/callback_guard.hpp"
#include "relay/common/clock.hpp"
#include "relay/common/log.hpp"
#include "relay/delivery/operator_action.hpp"

namespace secmx::delivery {
namespace {

constexpr std::size_t kIndexPage = 1000;

}  // namespace

Result<std::vector<model::QueueId>, queue::Error> flush_candidates(queue::Store& store,
                                                                  const std::string& domain) {
  std::vector<model::QueueId> out;
  // A message rescheduled between pages shows twice. Only the candidates are remembered:
  // a domain's flush walks an index of a million entries to find a few.
  std::unordered_set<std::uint64_t> seen;
  auto add = [&](model::QueueId id) {
    if (seen.insert(id.value).second) out.push_back(id);
  };
  std::optional<queue::ScheduleEntry> after;
  for (;;) {
    auto page = store.scheduled(after, kIndexPage);
    if (!page) return fail(page.error());
    for (const auto& entry : *page) {
      after = entry;
      if (seen.count(entry.id.value)) continue;
      if (domain.empty() && entry.next_attempt_us != model::kNeverDue) {
        add(entry.id);
        continue;
      }
      auto env = store.load(entry.id);
      if (!env) {
        add(entry.id);  // the loop reads it again and answers what it finds
      } else if (env->has_value() && flush_wanted(**env, domain)) {
        add(entry.id);
      }
    }
    if (page->size() < kIndexPage) break;
  }
  return out;
}

// What the run and its commit answers (writer thread) share. The answer is given once: when
// every candidate is handled and every write is back, or at once by abandon().
struct FlushRun::Tally : std::enable_shared_from_this<FlushRun::Tally> {
  std::mutex mutex;
  std::size_t made_due = 0;
  std::size_t outstanding = 0;
  bool all_submitted = false;
  bool answered = false;
  std::optional<queue::Error> first_error;
  FlushDone done;
  std::function<void()> written;  // a batch is written (the last: after `done`)
  // The audit record, written before the answer when `writer` is set (step(): audit on).
  queue::CommitWriter* writer = nullptr;
  std::string domain;
  Operator by;
  std::shared_ptr<spdlog::logger> log;

  void note_error(const queue::Error& error) {
    std::lock_guard lock(mutex);
    if (!first_error) first_error = error;
  }
  void submitting() {
    std::lock_guard lock(mutex);
    ++made_due;
    ++outstanding;
  }
  void write_back(const Status<queue::Error>& st) {
    bool more = false;
    {
      std::lock_guard lock(mutex);
      // Gone meanwhile (deleted, or delivered and removed): nothing left to flush.
      if (!st.ok() && !first_error && st.error().kind != queue::Error::Kind::NotFound) {
        first_error = st.error();
      }
      --outstanding;
      more = outstanding == 0 && !all_submitted;
    }
    if (more && written) written();
    answer_if_complete();
  }
  void all_in() {
    {
      std::lock_guard lock(mutex);
      all_submitted = true;
    }
    answer_if_complete();
  }
  void answer_if_complete(std::optional<queue::Error> forced = std::nullopt) {
    std::optional<Result<std::size_t, queue::Error>> result;
    queue::CommitWriter* record_by = nullptr;
    {
      std::lock_guard lock(mutex);
      record_by = writer;
      if (answered) return;
      if (!forced && (!all_submitted || outstanding > 0)) return;
      answered = true;
      if (forced) {
        result.emplace(fail(*forced));
      } else if (first_error) {
        result.emplace(fail(*first_error));
      } else {
        result.emplace(made_due);
      }
    }
    if (record_by && result->ok()) {
      std::size_t n = **result;
      auto record = audit::flush_all_record(unix_now_us(), {by.name, by.client}, domain, n);
      // On the writer's thread when called from a commit answer: submit_audit only queues.
      record_by->submit_audit({std::move(record)}, [self = shared_from_this(), n](Status<queue::Error> st) {
        if (!st.ok()) self->log->error("flush: audit record not written: {}", st.error().message);
        self->done(n);
        if (self->written) self->written();
      });
      return;
    }
    done(std::move(*result));
    if (written) written();
  }
};

FlushRun::FlushRun(std::string domain, std::vector<model::QueueId> candidates, FlushDone done,
                   std::function<void()> written, std::shared_ptr<spdlog::logger> log, Operator by)
    : candidates_(std::move(candidates)), tally_(std::make_shared<Tally>()) {
  tally_->done = std::move(done);
  tally_->written = std::move(written);
  tally_->domain = std::move(domain);
  tally_->by = std::move(by);
  tally_->log = std::move(log);
}

bool FlushRun::waiting() const {
  std::lock_guard lock(tally_->mutex);
  return tally_->outstanding > 0;
}

bool FlushRun::step(queue::Store& store, queue::CommitWriter& writer,
                    const std::function<bool(model::QueueId)>& in_flight, std::size_t batch,
                    bool audit) {
  // One batch in the writer at a time: its queue is shared with new mail, which must not
  // wait behind a whole flush.
  if (waiting()) return false;
  const std::string& domain = tally_->domain;  // set once, in the constructor
  const auto& logger = tally_->log;
  auto now = unix_now_us();
  for (std::size_t n = 0; n < batch && next_ < candidates_.size(); ++n) {
    model::QueueId id = candidates_[next_++];
    if (in_flight(id)) continue;  // being delivered: due again by its own outcome
    auto loaded = store.load(id);
    if (!loaded) {
      logger->error("{}: cannot load for flush: {}", id.to_string(), loaded.error().message);
      tally_->note_error(loaded.error());
      continue;
    }
    if (!loaded->has_value()) continue;  // gone since the candidates were read
    model::Envelope env = std::move(**loaded);
    if (!flush_wanted(env, domain)) continue;
    apply_op(QueueOp::Flush, env, now);
    queue::Change change;
    change.envelope = std::move(env);
    tally_->submitting();
    writer.submit_change(std::move(change),
                         [tally = tally_, id](Status<queue::Error> st) {
                           common::guard(*tally->log, id.to_string() + ":", "scheduler.flush_written",
                                         [&] { tally->write_back(st); }, [] {});
                         });
  }
  if (next_ < candidates_.size()) return false;
  std::size_t made_due;
  {
    std::lock_guard lock(tally_->mutex);
    made_due = tally_->made_due;
  }
  logger->info("flush of {} message(s){} by the operator", made_due,
               domain.empty() ? "" : " for " + log::escape(domain, 100));
  {
    std::lock_guard lock(tally_->mutex);
    tally_->writer = audit ? &writer : nullptr;
  }
  tally_->all_in();
  return true;
}

void FlushRun::abandon(queue::Error error) { tally_->answer_if_complete(std::move(error)); }

}  // namespace secmx::delivery
