// audit_verify.cpp - see audit_verify.hpp.
#include "relay/audit/audit_verify.hpp"

#include <cstdint>
#include <filesystem>

#include "queue/envelope_json.hpp"
#include "relay/audit/audit_key.hpp"
#include "relay/audit/audit_scan.hpp"

namespace secmx::audit {

namespace {

using nlohmann::json;
using queue::AuditEntry;

constexpr std::size_t kCheckpointPage = 1024;

// The checkpoints in seq order, read a page at a time as the walk over the links needs them.
class CheckpointFeed {
 public:
  CheckpointFeed(queue::Store& store, std::uint64_t from) : store_(store), next_(from) {}

  // The next checkpoint with seq <= `upto` (nullopt: none left below it).
  Result<std::optional<AuditEntry>, queue::Error> next(std::uint64_t upto) {
    if (pos_ == buf_.size() && !done_) {
      auto page = store_.audit_checkpoints(next_, kCheckpointPage);
      if (!page) return fail(page.error());
      buf_ = std::move(*page);
      pos_ = 0;
      done_ = buf_.size() < kCheckpointPage;
      if (!buf_.empty()) next_ = buf_.back().seq + 1;
    }
    if (pos_ == buf_.size() || buf_[pos_].seq > upto) return std::optional<AuditEntry>();
    return std::optional<AuditEntry>(std::move(buf_[pos_++]));
  }

 private:
  queue::Store& store_;
  std::uint64_t next_;
  std::vector<AuditEntry> buf_;
  std::size_t pos_ = 0;
  bool done_ = false;
};

// The newest checkpoint's seq (0: none), by doubling past the first and halving back.
Result<std::uint64_t, queue::Error> newest_checkpoint(queue::Store& store) {
  auto at = [&store](std::uint64_t seq) -> Result<std::uint64_t, queue::Error> {
    auto one = store.audit_checkpoints(seq, 1);
    if (!one) return fail(one.error());
    return one->empty() ? std::uint64_t{0} : one->front().seq;
  };
  auto first = at(0);
  if (!first || *first == 0) return first;
  std::uint64_t last = *first, step = 1;
  for (;;) {
    auto p = at(last + step);
    if (!p) return p;
    if (*p == 0) break;
    last = *p;
    step *= 2;
  }
  for (; step > 0; step /= 2) {
    auto p = at(last + step);
    if (!p) return p;
    if (*p != 0) last = *p;
  }
  return last;
}

}  // namespace

Result<VerifyReport, queue::Error> verify(queue::Store& store, const std::optional<std::string>& key,
                                          std::optional<std::int64_t> from_us,
                                          std::optional<std::int64_t> to_us) {
  VerifyReport r;
  r.key_used = key.has_value();
  r.from_us = from_us;
  r.to_us = to_us;
  auto range = stored_range(store);
  if (!range) return fail(range.error());
  auto newest = newest_checkpoint(store);
  if (!newest) return fail(newest.error());
  r.last_checkpoint_seq = *newest;
  if (!*range) return r;  // an empty chain: nothing to break
  r.head_seq = (*range)->last;
  r.head_covered = r.last_checkpoint_seq >= r.head_seq;

  std::uint64_t start = (*range)->first;
  if (from_us) {
    auto at = first_seq_at(store, *from_us);
    if (!at) return fail(at.error());
    if (!*at) return r;
    start = **at;
  }
  // Pruning keeps a checkpointed record first; a chain that starts later without one lost
  // its beginning some other way.
  if (start == (*range)->first && start != 1) {
    auto cp = store.audit_checkpoints(start, 1);
    if (!cp) return fail(cp.error());
    if (cp->empty() || cp->front().seq != start) {
      r.first_break = queue::audit::Break{
          1, "records 1 to " + std::to_string(start - 1) + " are missing and no checkpoint covers record " +
                 std::to_string(start) + " (pruning always leaves one)"};
      return r;
    }
  }

  queue::audit::ChainVerifier verifier(key.value_or(std::string()));
  CheckpointFeed feed(store, start);
  std::optional<queue::Error> failed;
  bool cut_by_range = false;
  auto feed_upto = [&](std::uint64_t upto) {
    for (;;) {
      auto cp = feed.next(upto);
      if (!cp) {
        failed = cp.error();
        return false;
      }
      if (!*cp) return true;
      if (key) {
        verifier.add_checkpoint((*cp)->seq, (*cp)->stored);
      } else {
        ++r.checkpoints;
      }
    }
  };
  auto walked = walk_links(store, start, [&](std::uint64_t seq, const std::optional<queue::audit::Link>& link,
                                             std::string_view stored) {
    if (seq > r.head_seq) return false;  // appended since verify began
    if (to_us && link && link->time_us >= *to_us) {
      cut_by_range = true;
      return false;
    }
    if (r.records > 0 && !feed_upto(seq - 1)) return false;
    verifier.add_link(seq, stored);
    if (verifier.first_break()) return false;
    if (r.records == 0) {
      r.first_seq = seq;
      r.first_time_us = link ? link->time_us : 0;
    }
    ++r.records;
    r.last_seq = seq;
    r.last_time_us = link ? link->time_us : 0;
    return true;
  });
  if (!walked) return fail(walked.error());
  if (failed) return fail(*failed);
  if (!verifier.first_break() && r.records > 0) {
    if (!feed_upto(r.last_seq)) return fail(*failed);
  }
  // A checkpoint past the chain's end vouches for records someone cut off. The links are
  // read again after the checkpoints, so one written beside new records is not taken for it.
  if (!verifier.first_break() && !cut_by_range && r.records > 0) {
    auto beyond = feed.next(UINT64_MAX);
    if (!beyond) return fail(beyond.error());
    if (*beyond) {
      auto now = stored_range(store);
      if (!now) return fail(now.error());
      if (!*now || (*beyond)->seq > (*now)->last) {
        if (key) {
          verifier.add_checkpoint((*beyond)->seq, (*beyond)->stored);
        } else {
          r.first_break = queue::audit::Break{
              r.last_seq + 1, "a checkpoint at " + std::to_string((*beyond)->seq) +
                                  " covers records that are missing (the chain ends at " +
                                  std::to_string(r.last_seq) + ")"};
        }
      }
    }
  }
  if (key) r.checkpoints = verifier.checkpoints();
  if (!r.first_break) r.first_break = verifier.first_break();
  return r;
}

Result<std::optional<std::string>, std::string> read_key_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<std::string>();
  // The writer's own reader (audit_key.hpp): the same bytes the checkpoints were made with.
  auto key = read_audit_key(path);
  if (!key) return fail(key.error());
  return std::optional<std::string>(std::move(*key));
}

json verify_json(const VerifyReport& r) {
  auto time = [](std::optional<std::int64_t> t) { return t ? json(queue::iso_time(*t)) : json(nullptr); };
  json j{{"ok", r.ok()},
         {"records", r.records},
         {"checkpoints", r.checkpoints},
         {"key", r.key_used},
         {"from", time(r.from_us)},
         {"to", time(r.to_us)},
         {"first_seq", r.records ? json(r.first_seq) : json(nullptr)},
         {"last_seq", r.records ? json(r.last_seq) : json(nullptr)},
         {"first_time", r.records ? time(r.first_time_us) : json(nullptr)},
         {"last_time", r.records ? time(r.last_time_us) : json(nullptr)},
         {"head_seq", r.head_seq},
         {"last_checkpoint_seq", r.last_checkpoint_seq ? json(r.last_checkpoint_seq) : json(nullptr)},
         {"head_covered", r.head_covered},
         {"break", r.first_break ? json{{"seq", r.first_break->seq}, {"what", r.first_break->what}}
                                 : json(nullptr)}};
  std::string note;
  if (!r.key_used) {
    note = "no key: checkpoints not checked";
  } else if (r.head_seq > 0 && !r.head_covered) {
    note = "records " + std::to_string(r.last_checkpoint_seq + 1) + " to " + std::to_string(r.head_seq) +
           " are newer than the last checkpoint: only the chain vouches for them";
  }
  j["note"] = note;
  return j;
}

}  // namespace secmx::audit
