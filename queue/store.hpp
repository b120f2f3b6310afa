// store.hpp - the durable queue store: the seam between the relay and its storage.
//
// A Store only persists; scheduling and ready queues live in delivery/. Every call is
// synchronous and may block on disk: call it from the commit writer thread or from a
// worker thread, never from an SMTP event loop. Implementations are thread-safe (LMDB:
// one write transaction at a time, readers in parallel).
//
// Failure: every call returns an Error whose kind says whether it is the store being
// full (answer 452 4.3.1 and keep what was committed), an I/O error, or corrupt data.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "relay/common/result.hpp"
#include "relay/model/envelope.hpp"

namespace secmx::queue {

// The message model (relay/model/envelope.hpp) under the short names the store code uses.
// Code outside queue/ names it model::...
using model::BodyType;
using model::Envelope;
using model::IdGenerator;
using model::kNeverDue;
using model::kNotifyDelay;
using model::kNotifyFailure;
using model::kNotifyNever;
using model::kNotifySuccess;
using model::kNotifyUnset;
using model::QueueId;
using model::RcptState;
using model::Recipient;
using model::Ret;

struct Error {
  enum class Kind { Full, Io, Corrupt, NotFound, Invalid };
  Kind kind = Kind::Io;
  std::string message;

  bool temporary() const { return kind == Kind::Full || kind == Kind::Io; }
};

// An audit record to append to the chain (audit_chain.hpp) in the same transaction as
// the change it describes: nothing is acknowledged without its record, and no record
// describes a change that did not commit. The store knows nothing of what payloads mean.
struct AuditRecord {
  std::int64_t time_us = 0;  // when the event happened (Unix epoch, microseconds)
  std::string payload;       // the record (JSON text), at most 64 KiB
};

// A stored audit link or checkpoint as it is kept: its sequence number and stored bytes
// (decode and verify with audit_chain.hpp).
struct AuditEntry {
  std::uint64_t seq = 0;
  std::string stored;
};

// A message on its way into the store. Envelope::id is already assigned.
struct NewMessage {
  Envelope envelope;
  std::string body;   // the full message as it will be delivered (Received: included)
  std::vector<AuditRecord> audit;  // appended in the same transaction (its accept record)
};

// A durable counter to add to (TLS-RPT's session counts, tally_codec.hpp): the store keeps
// key -> (u64 count, payload) in its own database and knows nothing of what keys mean.
// Adding to a key that exists adds `n` and keeps the stored payload; a new key stores `n`
// and `payload`. Keys are 1..511 bytes (LMDB's limit); payloads at most 64 KiB.
struct CounterAdd {
  std::string key;
  std::string payload;
  std::uint64_t n = 1;
};

struct CounterEntry {
  std::string key;
  std::uint64_t count = 0;
  std::string payload;
};

// A change to messages already stored, applied with others in one transaction:
// rewrite an envelope (outcomes, hold/release, next attempt) or remove a message, and
// optionally insert a new message in the same transaction (a DSN is queued atomically
// with the recipients it reports on becoming final), and add to counters in the same
// transaction (the TLS-RPT counts of the attempt whose outcomes the change records: a
// crash loses counts only with the outcome they came with).
struct Change {
  enum class Kind { Update, Remove };
  Kind kind = Kind::Update;
  Envelope envelope;                    // Update: the new envelope; Remove: only .id is used
  std::vector<NewMessage> inserts;      // queued in the same transaction (DSNs)
  std::vector<CounterAdd> counters;     // added in the same transaction
  std::vector<AuditRecord> audit;       // appended in the same transaction
};

// One entry of the schedule index: a message not held, and when it is next due.
struct ScheduleEntry {
  std::int64_t next_attempt_us = 0;  // kNeverDue: nothing to try until something changes
  QueueId id{};
};

struct StoreOptions {
  std::string path;                      // directory, created 0700 if missing
  std::uint64_t map_size = 4ull << 30;
};

struct StoreStats {
  std::uint64_t messages = 0;
  std::uint64_t held = 0;
  std::int64_t oldest_arrival_us = 0;    // 0 when empty
};

class Store {
 public:
  virtual ~Store() = default;

  // All of `batch` in one transaction (durable as described at sync()). Returns one status
  // per message, in order: when the whole batch cannot be committed (e.g. the map is
  // full) the implementation retries smaller groups so that one large message does not
  // fail the small ones beside it.
  virtual std::vector<Status<Error>> insert_batch(std::span<NewMessage> batch) = 0;

  virtual Result<std::optional<Envelope>, Error> load(QueueId id) = 0;
  virtual Result<std::string, Error> load_body(QueueId id) = 0;

  // Replace a stored envelope (recipient outcomes, hold/release, next attempt time) and
  // keep the schedule index in step with it.
  virtual Status<Error> update(const Envelope& envelope) = 0;
  virtual Status<Error> remove(QueueId id) = 0;

  // All of `changes` in one transaction (durable as at sync()); one status per change. A change
  // whose message is gone fails alone (NotFound); when the transaction as a whole cannot
  // be committed, each change is retried on its own.
  virtual std::vector<Status<Error>> apply_batch(std::span<const Change> changes) = 0;

  // Up to `limit` entries of the schedule index that come after `after` (exclusive;
  // nullopt: from the first) and are due at `now_us`, in due order. The scheduler keeps
  // `after` as the last entry it handed out, so a wake reads only what became due since,
  // never again what it holds in flight. Reads at most `limit` + 1 index entries. The
  // default answers from scheduled(); a store may read the index directly.
  virtual Result<std::vector<ScheduleEntry>, Error> due_after(std::optional<ScheduleEntry> after,
                                                              std::int64_t now_us,
                                                              std::size_t limit) {
    auto page = scheduled(after, limit);
    if (!page) return page;
    std::erase_if(*page, [now_us](const ScheduleEntry& e) { return e.next_attempt_us > now_us; });
    return page;
  }

  // Up to `limit` entries of the schedule index (every message not held) in due order -
  // time, then id - starting after `after` (exclusive; nullopt: from the first). Reads the
  // index only, never a message record, so walking it costs nothing for held messages.
  // Each call is one consistent read; between calls an entry may move (a message
  // rescheduled), so a walk over several pages may see a message twice or not at all.
  virtual Result<std::vector<ScheduleEntry>, Error> scheduled(std::optional<ScheduleEntry> after,
                                                              std::size_t limit) = 0;

  // Envelopes in id (arrival) order, starting after `after` (exclusive), up to `limit`.
  virtual Result<std::vector<Envelope>, Error> list(QueueId after, std::size_t limit) = 0;

  virtual Result<StoreStats, Error> stats() = 0;

  // Counters (see CounterAdd). add_counters: all in one transaction, durable as at sync().
  // counters: every entry whose key starts with `prefix`, in key order, at most `limit`.
  // erase_counters_below: removes up to `limit` entries whose key sorts before `bound`
  // and starts with `prefix` (pruning old days in bounded batches); answers how many.
  virtual Status<Error> add_counters(std::span<const CounterAdd> adds) = 0;
  virtual Result<std::vector<CounterEntry>, Error> counters(std::string_view prefix,
                                                            std::size_t limit) = 0;
  virtual Result<std::size_t, Error> erase_counters_below(std::string_view prefix,
                                                          std::string_view bound,
                                                          std::size_t limit) = 0;
  virtual QueueId last_id() = 0;  // largest id stored, {} if none: seeds IdGenerator

  // The audit trail (audit_chain.hpp), in the queue's environment so that records commit
  // with the changes they describe. append_audit: records of events that change no
  // message (a reload, a refused operator action), in one transaction. audit_links /
  // audit_checkpoints: up to `limit` entries with seq >= from, in order. checkpoint_audit:
  // signs the chain's head with `key` unless the newest checkpoint already covers it
  // (nullopt then, or when the chain is empty). prune_audit: removes records older than
  // `before_us`, at most `limit`, only below a checkpointed record: that record and its
  // checkpoint stay, so what remains starts from a record the checkpoint vouches for and
  // the chain goes on from it; answers how many records went.
  virtual Status<Error> append_audit(std::span<const AuditRecord> records) = 0;
  virtual Result<std::vector<AuditEntry>, Error> audit_links(std::uint64_t from,
                                                             std::size_t limit) = 0;
  virtual Result<std::vector<AuditEntry>, Error> audit_checkpoints(std::uint64_t from,
                                                                   std::size_t limit) = 0;
  virtual Result<std::optional<AuditEntry>, Error> checkpoint_audit(std::string_view key,
                                                                    std::int64_t now_us) = 0;
  virtual Result<std::size_t, Error> prune_audit(std::int64_t before_us, std::size_t limit) = 0;

  // Durability of the committing calls above (insert_batch, update, remove, apply_batch):
  // when one returns, its data is on disk but its commit record may not be; that record
  // is made durable by the next commit that syncs the file, or by sync(). A caller that
  // must know a write survives a power cut (the CommitWriter, before it acknowledges)
  // waits for synced_commits() to grow past the value it saw after its own commit, or
  // calls sync(). Thread-safe; the counting is exact when one thread does all the writing,
  // as the CommitWriter does in the relay.
  virtual std::uint64_t synced_commits() const = 0;
  virtual Status<Error> sync() = 0;
};

// The LMDB implementation (lmdb_store.cpp).
Result<std::unique_ptr<Store>, Error> open_lmdb_store(const StoreOptions& options);

}  // namespace secmx::queue
