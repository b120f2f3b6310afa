// lmdb_store.cpp - the LMDB implementation of Store.
//
// One environment per queue directory with six named databases:
//   meta     : 8-byte big-endian id -> envelope record (record_codec.hpp)
//   body     : 8-byte big-endian id -> message bytes
//   sched    : 8-byte big-endian biased next_attempt_us + 8-byte id -> empty, only for
//              messages that are not held; due_after() walks it from the scheduler's
//              last key (or the start) and stops at the first key in the future;
//              scheduled() pages through it (a flush).
//   counters : caller's key -> 8-byte big-endian count + the payload of the first add
//              (CounterAdd); read by prefix in key order, pruned below a bound.
//   audit, audit_cp : the audit trail's chained records and checkpoints (lmdb_audit.hpp),
//              appended in the transaction of the insert or change they describe.
// Thread-safe: writers are serialised by LMDB's own lock (a write transaction never leaves
// the calling thread), readers use pooled MDB_NOTLS read transactions.
//
// Durability: MDB_NOMETASYNC. A commit writes its pages, fdatasyncs them, then writes the
// meta page (the commit record) without a second sync; that meta page becomes durable
// with the next fdatasync of the file - the next commit's or sync()'s. LMDB keeps the
// database intact either way (a power cut can only undo commits not yet followed by a
// sync); the CommitWriter answers 250 only once a later sync has happened, so nothing
// acknowledged can be undone, and a busy queue pays one fdatasync per commit instead of
// LMDB's default two (fdatasync, then an O_DSYNC meta write). synced_commits() counts the
// commits that did their fdatasync, so that the writer can tell. MDB_NOSYNC and WRITEMAP
// are never set (WRITEMAP would turn a full disk into SIGBUS). A failed
// transaction leaves everything committed before it untouched. MDB_MAP_FULL, MDB_TXN_FULL,
// ENOSPC and EDQUOT are Error::Kind::Full; an unreadable record is Corrupt.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "queue/lmdb_audit.hpp"
#include "queue/lmdb_txn.hpp"
#include "queue/lmdb_values.hpp"
#include "queue/record_codec.hpp"
#include "queue/store.hpp"
#include "relay/common/log.hpp"

namespace secmx::queue {
namespace {

using lmdb::as_val;
using lmdb::as_view;

constexpr unsigned kMaxDbs = 6;  // meta, body, sched, counters, audit, audit_cp
constexpr std::size_t kSchedKeySize = 16;
constexpr std::size_t kCountSize = 8;
constexpr std::size_t kMaxCounterKey = 511;  // LMDB's default maximum key size
constexpr std::size_t kMaxCounterPayload = 64 * 1024;

// Times are signed; flipping the sign bit makes big-endian byte order match numeric order.
using SchedKey = std::array<unsigned char, kSchedKeySize>;

SchedKey sched_key(std::int64_t next_attempt_us, QueueId id) {
  SchedKey key{};
  std::uint64_t t = static_cast<std::uint64_t>(next_attempt_us) ^ (1ull << 63);
  for (int i = 0; i < 8; ++i)
    key[static_cast<std::size_t>(i)] = static_cast<unsigned char>(t >> ((7 - i) * 8));
  auto idk = id.to_key();
  std::memcpy(key.data() + 8, idk.data(), 8);
  return key;
}

std::int64_t sched_time(const unsigned char* key) {
  std::uint64_t t = 0;
  for (int i = 0; i < 8; ++i) t = (t << 8) | key[i];
  return static_cast<std::int64_t>(t ^ (1ull << 63));
}

std::string counter_value(std::uint64_t count, std::string_view payload) {
  std::string v(kCountSize, '\0');
  for (std::size_t i = 0; i < kCountSize; ++i)
    v[i] = static_cast<char>(count >> ((kCountSize - 1 - i) * 8));
  v.append(payload);
  return v;
}

std::uint64_t counter_count(std::string_view value) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < kCountSize; ++i) n = (n << 8) | static_cast<unsigned char>(value[i]);
  return n;
}

Status<Error> check_counter(const CounterAdd& add) {
  if (add.key.empty() || add.key.size() > kMaxCounterKey)
    return fail(Error{Error::Kind::Invalid, "counter key must be 1..511 bytes"});
  if (add.payload.size() > kMaxCounterPayload)
    return fail(Error{Error::Kind::Invalid, "counter payload over 64 KiB"});
  return Ok{};
}

// mkdir -p with 0700 for every directory it creates; returns those created, whose
// entries in their parents must be made durable too.
Result<std::vector<std::string>, Error> make_dirs(const std::string& path) {
  std::vector<std::string> created;
  for (std::size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0700) == 0) {
      created.push_back(prefix);
    } else if (errno != EEXIST) {
      return fail(Error{Error::Kind::Io, "mkdir " + prefix + ": " + std::strerror(errno)});
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail(Error{Error::Kind::Io, path + ": not a directory"});
  }
  return created;
}

// LMDB fsyncs its files but not the directory that names them: without this a crash soon
// after the very first acknowledgement could lose the new data file's directory entry.
Status<Error> fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(Error{Error::Kind::Io, "open " + dir + ": " + std::strerror(errno)});
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) return fail(Error{Error::Kind::Io, "fsync " + dir + ": " + std::strerror(saved)});
  return Ok{};
}

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class LmdbStore final : public Store {
 public:
  static Result<std::unique_ptr<Store>, Error> open(const StoreOptions& options);

  std::vector<Status<Error>> insert_batch(std::span<NewMessage> batch) override;
  Result<std::optional<Envelope>, Error> load(QueueId id) override;
  Result<std::string, Error> load_body(QueueId id) override;
  Status<Error> update(const Envelope& envelope) override;
  Status<Error> remove(QueueId id) override;
  std::vector<Status<Error>> apply_batch(std::span<const Change> changes) override;
  Result<std::vector<ScheduleEntry>, Error> due_after(std::optional<ScheduleEntry> after,
                                                      std::int64_t now_us,
                                                      std::size_t limit) override;
  Result<std::vector<ScheduleEntry>, Error> scheduled(std::optional<ScheduleEntry> after,
                                                      std::size_t limit) override;
  Result<std::vector<Envelope>, Error> list(QueueId after, std::size_t limit) override;
  Result<StoreStats, Error> stats() override;
  QueueId last_id() override;
  Status<Error> add_counters(std::span<const CounterAdd> adds) override;
  Result<std::vector<CounterEntry>, Error> counters(std::string_view prefix,
                                                    std::size_t limit) override;
  Result<std::size_t, Error> erase_counters_below(std::string_view prefix, std::string_view bound,
                                                  std::size_t limit) override;
  Status<Error> append_audit(std::span<const AuditRecord> records) override;
  Result<std::vector<AuditEntry>, Error> audit_links(std::uint64_t from,
                                                     std::size_t limit) override;
  Result<std::vector<AuditEntry>, Error> audit_checkpoints(std::uint64_t from,
                                                           std::size_t limit) override;
  Result<std::optional<AuditEntry>, Error> checkpoint_audit(std::string_view key,
                                                            std::int64_t now_us) override;
  Result<std::size_t, Error> prune_audit(std::int64_t before_us, std::size_t limit) override;
  std::uint64_t synced_commits() const override {
    return synced_commits_.load(std::memory_order_acquire);
  }
  Status<Error> sync() override;

 private:
  // Commits and counts a commit that synced the file (every write path goes through here).
  int commit(lmdb::WriteTxn& txn) {
    int rc = txn.commit();
    if (rc == 0) synced_commits_.fetch_add(1, std::memory_order_acq_rel);
    return rc;
  }

  LmdbStore(lmdb::Env env, MDB_dbi meta, MDB_dbi body, MDB_dbi sched, MDB_dbi counters,
            lmdb_audit::Dbs audit)
      : env_(std::move(env)),
        readers_(env_.get()),
        meta_(meta),
        body_(body),
        sched_(sched),
        counters_(counters),
        audit_(audit),
        log_(log::logger("queue")) {}

  using Outcomes = std::vector<Status<Error>>;
  void insert_group(std::span<NewMessage> batch, const std::vector<std::string>& records,
                    std::span<const std::size_t> group, Outcomes& out);
  Status<Error> try_insert(std::span<NewMessage> batch, const std::vector<std::string>& records,
                           std::span<const std::size_t> group, Outcomes& out);
  Status<Error> drop_sched(MDB_txn* txn, QueueId id, const Envelope* stored);
  // The schedule index after `after`, in order, up to `limit` entries, stopping at the
  // first entry due later than `until` (if given): due_after() and scheduled().
  Result<std::vector<ScheduleEntry>, Error> walk_sched(std::optional<ScheduleEntry> after,
                                                       std::optional<std::int64_t> until,
                                                       std::size_t limit);
  Status<Error> update_in(MDB_txn* txn, const Envelope& envelope);
  Status<Error> remove_in(MDB_txn* txn, QueueId id);
  Status<Error> insert_in(MDB_txn* txn, const NewMessage& message);
  Status<Error> insert_record(MDB_txn* txn, const NewMessage& message, const std::string& record);
  Status<Error> apply_in(MDB_txn* txn, const Change& change);
  Status<Error> add_counter_in(MDB_txn* txn, const CounterAdd& add);
  Status<Error> try_apply(std::span<const Change> changes, std::span<const std::size_t> group);
  Result<Envelope, Error> decode_checked(QueueId id, const MDB_val& value);

  // Declaration order matters: the pool's transactions must end before the env closes.
  lmdb::Env env_;
  lmdb::ReadTxnPool readers_;
  MDB_dbi meta_;
  MDB_dbi body_;
  MDB_dbi sched_;
  MDB_dbi counters_;
  lmdb_audit::Dbs audit_;
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<std::uint64_t> synced_commits_{0};
};

Result<std::unique_ptr<Store>, Error> LmdbStore::open(const StoreOptions& options) {
  if (options.path.empty()) return fail(Error{Error::Kind::Invalid, "queue path is empty"});
  auto created = make_dirs(options.path);
  if (!created) return fail(created.error());

  MDB_env* raw = nullptr;
  if (int rc = mdb_env_create(&raw); rc != 0) return fail(lmdb::store_error(rc, "mdb_env_create"));
  lmdb::Env env(raw);

  long page = ::sysconf(_SC_PAGESIZE);
  std::uint64_t page_size = page > 0 ? static_cast<std::uint64_t>(page) : 4096;
  std::uint64_t map_size = (options.map_size + page_size - 1) / page_size * page_size;
  if (int rc = mdb_env_set_maxdbs(env.get(), kMaxDbs); rc != 0)
    return fail(lmdb::store_error(rc, "mdb_env_set_maxdbs"));
  if (int rc = mdb_env_set_mapsize(env.get(), map_size); rc != 0)
    return fail(lmdb::store_error(rc, "mdb_env_set_mapsize"));
  // MDB_NOTLS: read transactions are pooled and used from whichever thread asks.
  // MDB_NOMETASYNC: see the top of this file.
  if (int rc = mdb_env_open(env.get(), options.path.c_str(), MDB_NOTLS | MDB_NOMETASYNC, 0600); rc != 0) {
    return fail(lmdb::store_error(rc, "mdb_env_open " + options.path));
  }
  int stale = 0;
  mdb_reader_check(env.get(), &stale);  // reader slots left by a process that crashed

  MDB_dbi meta = 0, body = 0, sched = 0, counters = 0;
  lmdb_audit::Dbs audit;
  {
    lmdb::WriteTxn txn;
    if (int rc = txn.begin(env.get()); rc != 0) return fail(lmdb::store_error(rc, "begin"));
    if (int rc = mdb_dbi_open(txn.get(), "meta", MDB_CREATE, &meta); rc != 0)
      return fail(lmdb::store_error(rc, "open meta"));
    if (int rc = mdb_dbi_open(txn.get(), "body", MDB_CREATE, &body); rc != 0)
      return fail(lmdb::store_error(rc, "open body"));
    if (int rc = mdb_dbi_open(txn.get(), "sched", MDB_CREATE, &sched); rc != 0)
      return fail(lmdb::store_error(rc, "open sched"));
    if (int rc = mdb_dbi_open(txn.get(), "counters", MDB_CREATE, &counters); rc != 0)
      return fail(lmdb::store_error(rc, "open counters"));
    if (int rc = mdb_dbi_open(txn.get(), "audit", MDB_CREATE, &audit.links); rc != 0)
      return fail(lmdb::store_error(rc, "open audit"));
    if (int rc = mdb_dbi_open(txn.get(), "audit_cp", MDB_CREATE, &audit.checkpoints); rc != 0)
      return fail(lmdb::store_error(rc, "open audit_cp"));
    if (int rc = txn.commit(); rc != 0) return fail(lmdb::store_error(rc, "commit"));
  }
  if (auto s = fsync_dir(options.path); !s) return fail(s.error());
  for (const std::string& dir : *created) {
    if (auto s = fsync_dir(parent_of(dir)); !s) return fail(s.error());
  }

  std::unique_ptr<LmdbStore> store(new LmdbStore(std::move(env), meta, body, sched, counters, audit));
  store->log_->info("store open path={} map_size={} stale_readers={}", options.path, map_size,
                    stale);
  return std::unique_ptr<Store>(std::move(store));
}

Result<Envelope, Error> LmdbStore::decode_checked(QueueId id, const MDB_val& value) {
  auto env = decode_envelope(as_view(value));
  if (!env) {
    return fail(Error{Error::Kind::Corrupt, id.to_string() + ": " + env.error().message});
  }
  if (env->id != id) {
    return fail(
        Error{Error::Kind::Corrupt, id.to_string() + ": record holds id " + env->id.to_string()});
  }
  return env;
}

std::vector<Status<Error>> LmdbStore::insert_batch(std::span<NewMessage> batch) {
  Outcomes out(batch.size(), Status<Error>(Ok{}));
  // Encode outside the write lock, once, so that a retry in smaller groups costs no more
  // encoding and a malformed envelope fails only itself.
  std::vector<std::string> records(batch.size());
  std::vector<std::size_t> group;
  group.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (auto s = encode_envelope(batch[i].envelope, records[i]); !s) {
      out[i] = fail(s.error());
      continue;
    }
    if (auto s = lmdb_audit::check(batch[i].audit); !s) {
      out[i] = fail(s.error());
      continue;
    }
    group.push_back(i);
  }
  insert_group(batch, records, group, out);
  return out;
}

void LmdbStore::insert_group(std::span<NewMessage> batch, const std::vector<std::string>& records,
                             std::span<const std::size_t> group, Outcomes& out) {
  if (group.empty()) return;
  auto status = try_insert(batch, records, group, out);
  if (status) return;
  const Error& err = status.error();
  if (err.kind == Error::Kind::Full && group.size() > 1) {
    // Halve until the message(s) that do not fit are alone; the others still go in.
    log_->debug("insert_batch full n={}, retrying in halves", group.size());
    std::size_t half = group.size() / 2;
    insert_group(batch, records, group.first(half), out);
    insert_group(batch, records, group.subspan(half), out);
    return;
  }
  for (std::size_t i : group) out[i] = fail(err);
}

Status<Error> LmdbStore::try_insert(std::span<NewMessage> batch,
                                    const std::vector<std::string>& records,
                                    std::span<const std::size_t> group, Outcomes& out) {
  // Outcomes are written only once this attempt has committed: an attempt that fails and
  // is split must not leave its verdicts behind (e.g. "duplicate" for a message whose twin
  // then fails in the other half).
  std::vector<std::size_t> duplicates;
  lmdb::WriteTxn txn;
  if (int rc = txn.begin(env_.get()); rc != 0) return fail(lmdb::store_error(rc, "insert begin"));
  for (std::size_t i : group) {
    auto s = insert_record(txn.get(), batch[i], records[i]);
    if (s) continue;
    // A duplicate leaves the transaction usable; only that message is refused.
    if (s.error().kind == Error::Kind::Invalid) {
      duplicates.push_back(i);
      continue;
    }
    return s;
  }
  if (int rc = commit(txn); rc != 0) return fail(lmdb::store_error(rc, "insert commit"));
  for (std::size_t i : duplicates) {
    out[i] =
        fail(Error{Error::Kind::Invalid, "duplicate queue id " + batch[i].envelope.id.to_string()});
  }
  return Ok{};
}

Result<std::optional<Envelope>, Error> LmdbStore::load(QueueId id) {
  lmdb::ReadTxn txn;
  if (int rc = txn.begin(readers_); rc != 0) return fail(lmdb::store_error(rc, "load begin"));
  auto id_key = id.to_key();
  MDB_val key = as_val(id_key.data(), id_key.size());
  MDB_val value{};
  int rc = mdb_get(txn.get(), meta_, &key, &value);
  if (rc == MDB_NOTFOUND) return std::optional<Envelope>{};
  if (rc != 0) return fail(lmdb::store_error(rc, "load " + id.to_string()));
  auto env = decode_checked(id, value);
  if (!env) return fail(env.error());
  return std::optional<Envelope>(std::move(*env));
}

Result<std::string, Error> LmdbStore::load_body(QueueId id) {
  lmdb::ReadTxn txn;
  if (int rc = txn.begin(readers_); rc != 0) return fail(lmdb::store_error(rc, "load_body begin"));
  auto id_key = id.to_key();
  MDB_val key = as_val(id_key.data(), id_key.size());
  MDB_val value{};
  int rc = mdb_get(txn.get(), body_, &key, &value);
  if (rc == MDB_NOTFOUND)
    return fail(Error{Error::Kind::NotFound, "no body for " + id.to_string()});
  if (rc != 0) return fail(lmdb::store_error(rc, "load_body " + id.to_string()));
  return std::string(as_view(value));
}

// Removes the schedule entry of `id`. With the stored envelope the key is computed; when it
// is unknown (corrupt record) or not where it should be, the index is scanned so that no
// stale entry keeps offering a message that is gone. Both are rare repair paths.
Status<Error> LmdbStore::drop_sched(MDB_txn* txn, QueueId id, const Envelope* stored) {
  if (stored != nullptr) {
    if (stored->held) return Ok{};
    auto sk = sched_key(stored->next_attempt_us, id);
    MDB_val skey = as_val(sk.data(), sk.size());
    int rc = mdb_del(txn, sched_, &skey, nullptr);
    if (rc == 0) return Ok{};
    if (rc != MDB_NOTFOUND) return fail(lmdb::store_error(rc, "del sched " + id.to_string()));
    log_->warn("{} schedule entry missing, scanning the index", id.to_string());
  }
  auto id_key = id.to_key();
  lmdb::Cursor cursor;
  if (int rc = cursor.open(txn, sched_); rc != 0) return fail(lmdb::store_error(rc, "sched cursor"));
  MDB_val key{}, value{};
  for (int rc = cursor.get(&key, &value, MDB_FIRST); rc != MDB_NOTFOUND;
       rc = cursor.get(&key, &value, MDB_NEXT)) {
    if (rc != 0) return fail(lmdb::store_error(rc, "scan sched"));
    if (key.mv_size == kSchedKeySize &&
        std::memcmp(static_cast<const unsigned char*>(key.mv_data) + 8, id_key.data(), 8) == 0) {
      if (int drc = cursor.del(); drc != 0)
        return fail(lmdb::store_error(drc, "del sched " + id.to_string()));
    }
  }
  return Ok{};
}

Status<Error> LmdbStore::update_in(MDB_txn* txn, const Envelope& envelope) {
  std::string record;
  if (auto s = encode_envelope(envelope, record); !s) return fail(s.error());
  const QueueId id = envelope.id;
  auto id_key = id.to_key();
  MDB_val key = as_val(id_key.data(), id_key.size());
  MDB_val old{};
  int rc = mdb_get(txn, meta_, &key, &old);
  if (rc == MDB_NOTFOUND) return fail(Error{Error::Kind::NotFound, "no message " + id.to_string()});
  if (rc != 0) return fail(lmdb::store_error(rc, "update get " + id.to_string()));
  // A corrupt old record is replaced: the caller's envelope is the better truth.
  auto stored = decode_checked(id, old);
  if (!stored)
    log_->warn("{} replacing unreadable record: {}", id.to_string(), stored.error().message);
  if (auto s = drop_sched(txn, id, stored ? &*stored : nullptr); !s) return fail(s.error());

  MDB_val meta = as_val(record.data(), record.size());
  if (rc = mdb_put(txn, meta_, &key, &meta, 0); rc != 0)
    return fail(lmdb::store_error(rc, "update put " + id.to_string()));
  if (!envelope.held) {
    auto sk = sched_key(envelope.next_attempt_us, id);
    MDB_val skey = as_val(sk.data(), sk.size());
    MDB_val empty{0, nullptr};
    if (rc = mdb_put(txn, sched_, &skey, &empty, 0); rc != 0) {
      return fail(lmdb::store_error(rc, "update sched " + id.to_string()));
    }
  }
  return Ok{};
}

Status<Error> LmdbStore::remove_in(MDB_txn* txn, QueueId id) {
  auto id_key = id.to_key();
  MDB_val key = as_val(id_key.data(), id_key.size());
  MDB_val old{};
  int rc = mdb_get(txn, meta_, &key, &old);
  if (rc == MDB_NOTFOUND) return fail(Error{Error::Kind::NotFound, "no message " + id.to_string()});
  if (rc != 0) return fail(lmdb::store_error(rc, "remove get " + id.to_string()));
  // Removal must work for a corrupt record too: that is how an operator gets rid of it.
  auto stored = decode_checked(id, old);
  if (auto s = drop_sched(txn, id, stored ? &*stored : nullptr); !s) return fail(s.error());
  if (rc = mdb_del(txn, meta_, &key, nullptr); rc != 0)
    return fail(lmdb::store_error(rc, "remove meta " + id.to_string()));
  rc = mdb_del(txn, body_, &key, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) return fail(lmdb::store_error(rc, "remove body " + id.to_string()));
  return Ok{};
}

Status<Error> LmdbStore::insert_in(MDB_txn* txn, const NewMessage& m) {
  std::string record;
  if (auto s = encode_envelope(m.envelope, record); !s) return fail(s.error());
  return insert_record(txn, m, record);
}

Status<Error> LmdbStore::insert_record(MDB_txn* txn, const NewMessage& m,
                                       const std::string& record) {
  auto id_key = m.envelope.id.to_key();
  MDB_val key = as_val(id_key.data(), id_key.size());
  MDB_val meta = as_val(record.data(), record.size());
  int rc = mdb_put(txn, meta_, &key, &meta, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST)
    return fail(Error{Error::Kind::Invalid, "duplicate queue id " + m.envelope.id.to_string()});
  if (rc != 0) return fail(lmdb::store_error(rc, "put meta " + m.envelope.id.to_string()));
  MDB_val body{m.body.size(), nullptr};
  if (rc = mdb_put(txn, body_, &key, &body, MDB_RESERVE); rc != 0)
    return fail(lmdb::store_error(rc, "put body " + m.envelope.id.to_string()));
  if (!m.body.empty()) std::memcpy(body.mv_data, m.body.data(), m.body.size());
  if (!m.envelope.held) {
    auto sk = sched_key(m.envelope.next_attempt_us, m.envelope.id);
    MDB_val skey = as_val(sk.data(), sk.size());
    MDB_val empty{0, nullptr};
    if (rc = mdb_put(txn, sched_, &skey, &empty, 0); rc != 0)
      return fail(lmdb::store_error(rc, "put sched " + m.envelope.id.to_string()));
  }
  return lmdb_audit::append(txn, audit_, m.audit);
}

Status<Error> LmdbStore::apply_in(MDB_txn* txn, const Change& change) {
  // The insert goes first: if it cannot be stored, the change must not happen either
  // (a recipient marked final without its DSN would be a lost bounce).
  if (auto s = lmdb_audit::check(change.audit); !s) return s;
  for (const auto& m : change.inserts) {
    if (auto s = insert_in(txn, m); !s) return s;
  }
  auto s = change.kind == Change::Kind::Update ? update_in(txn, change.envelope)
                                               : remove_in(txn, change.envelope.id);
  if (!s) return s;
  // The counts go with the outcome they came with, or not at all. A counter no store may
  // hold is dropped, not the change: an outcome must never wait on a statistic.
  for (const auto& add : change.counters) {
    if (auto c = check_counter(add); !c) {
      log_->warn("{}: counter dropped: {}", change.envelope.id.to_string(), c.error().message);
      continue;
    }
    if (auto c = add_counter_in(txn, add); !c) return c;
  }
  return lmdb_audit::append(txn, audit_, change.audit);
}

Status<Error> LmdbStore::add_counter_in(MDB_txn* txn, const CounterAdd& add) {
  MDB_val key = as_val(add.key.data(), add.key.size());
  MDB_val old{};
  int rc = mdb_get(txn, counters_, &key, &old);
  if (rc != 0 && rc != MDB_NOTFOUND) return fail(lmdb::store_error(rc, "counter get"));
  std::string value;
  if (rc == 0 && old.mv_size >= kCountSize) {
    std::string_view stored = as_view(old);
    std::uint64_t count = counter_count(stored);
    // Saturates rather than wraps: a count that went round would report almost nothing.
    count = count > UINT64_MAX - add.n ? UINT64_MAX : count + add.n;
    value = counter_value(count, stored.substr(kCountSize));
  } else {
    if (rc == 0) log_->warn("counter {} unreadable, starting afresh", log::escape(add.key));
    value = counter_value(add.n, add.payload);
  }
  MDB_val v = as_val(value.data(), value.size());
  if (rc = mdb_put(txn, counters_, &key, &v, 0); rc != 0) return fail(lmdb::store_error(rc, "counter put"));
  return Ok{};
}

Status<Error> LmdbStore::update(const Envelope& envelope) {
  lmdb::WriteTxn txn;
  if (int rc = txn.begin(env_.get()); rc != 0) return fail(lmdb::store_error(rc, "update begin"));
  if (auto s = update_in(txn.get(), envelope); !s) return s;
  if (int rc = commit(txn); rc != 0) return fail(lmdb::store_error(rc, "update commit"));
  return Ok{};
}

Status<Error> LmdbStore::sync() {
  if (int rc = mdb_env_sync(env_.get(), 1); rc != 0) return fail(lmdb::store_error(rc, "sync"));
  return Ok{};
}

Status<Error> LmdbStore::remove(QueueId id) {
  lmdb::WriteTxn txn;
  if (int rc = txn.begin(env_.get()); rc != 0) return fail(lmdb::store_error(rc, "remove begin"));
  if (auto s = remove_in(txn.get(), id); !s) return s;
  if (int rc = commit(txn); rc != 0) return fail(lmdb::store_error(rc, "remove commit"));
  return Ok{};
}

std::vector<Status<Error>> LmdbStore::apply_batch(std::span<const Change> changes) {
  Outcomes out(changes.size(), Status<Error>(Ok{}));
  std::vector<std::size_t> all(changes.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  if (all.empty()) return out;
  auto status = try_apply(changes, all);
  if (status) return out;
  if (all.size() == 1) {
    out[0] = fail(status.error());
    return out;
  }
  log_->debug("apply_batch failed n={} ({}), retrying one by one", all.size(), status.error().message);
  for (std::size_t i : all) {
    std::size_t one[] = {i};
    if (auto s = try_apply(changes, one); !s) out[i] = fail(s.error());
  }
  return out;
}

// One transaction for the group, committed only if every change in it applied whole: a
// change that fails half-way (its DSN inserted, then its message found gone or its record
// refused) must leave no trace, or a retry would queue the DSN twice. apply_batch() then
// retries the group one change per transaction, so the others still commit.
Status<Error> LmdbStore::try_apply(std::span<const Change> changes,
                                   std::span<const std::size_t> group) {
  lmdb::WriteTxn txn;
  if (int rc = txn.begin(env_.get()); rc != 0) return fail(lmdb::store_error(rc, "apply begin"));
  for (std::size_t i : group) {
    if (auto s = apply_in(txn.get(), changes[i]); !s) return s;  // aborted with txn
  }
  if (int rc = commit(txn); rc != 0) return fail(lmdb::store_error(rc, "apply commit"));
  return Ok{};
}

Result<std::vector<ScheduleEntry>, Error> LmdbStore::due_after(std::optional<ScheduleEntry> after,
                                                               std::int64_t now_us,
                                                               std::size_t limit) {
  return walk_sched(after, now_us, limit);
}

Result<std::vector<ScheduleEntry>, Error> LmdbStore::scheduled(std::optional<ScheduleEntry> after,
                                                               std::size_t limit) {
  return walk_sched(after, std::nullopt, limit);
}

Result<std::vector<ScheduleEntry>, Error> LmdbStore::walk_sched(std::optional<ScheduleEntry> after,
                                                                std::optional<std::int64_t> until,
                                                                std::size_t limit) {
  std::vector<ScheduleEntry> out;
  if (limit == 0) return out;
  lmdb::ReadTxn txn;
  if (int rc = txn.begin(readers_); rc != 0) return fail(lmdb::store_error(rc, "scheduled begin"));
  lmdb::Cursor cursor;
  if (int rc = cursor.open(txn.get(), sched_); rc != 0)
    return fail(lmdb::store_error(rc, "scheduled cursor"));
  SchedKey start{};
  MDB_val key{}, value{};
  int rc = 0;
  if (after) {
    start = sched_key(after->next_attempt_us, after->id);
    key = as_val(start.data(), start.size());
    rc = cursor.get(&key, &value, MDB_SET_RANGE);
  } else {
    rc = cursor.get(&key, &value, MDB_FIRST);
  }
  for (; rc != MDB_NOTFOUND; rc = cursor.get(&key, &value, MDB_NEXT)) {
    if (rc != 0) return fail(lmdb::store_error(rc, "scheduled scan"));
    if (key.mv_size != kSchedKeySize)
      return fail(Error{Error::Kind::Corrupt, "schedule key of wrong size"});
    if (after && std::memcmp(key.mv_data, start.data(), kSchedKeySize) == 0) continue;
    const auto* k = static_cast<const unsigned char*>(key.mv_data);
    if (until && sched_time(k) > *until) break;
    out.push_back(ScheduleEntry{sched_time(k), QueueId::from_key(k + 8, 8)});
    if (out.size() == limit) break;
  }
  return out;
}

Result<std::vector<Envelope>, Error> LmdbStore::list(QueueId after, std::size_t limit) {
  std::vector<Envelope> out;
  if (limit == 0 || after.value == UINT64_MAX) return out;
  lmdb::ReadTxn txn;
  if (int rc = txn.begin(readers_); rc != 0) return fail(lmdb::store_error(rc, "list begin"));
  lmdb::Cursor cursor;
  if (int rc = cursor.open(txn.get(), meta_); rc != 0) return fail(lmdb::store_error(rc, "list cursor"));
  auto start = QueueId{after.value + 1}.to_key();
  MDB_val key = as_val(start.data(), start.size());
  MDB_val value{};
  for (int rc = cursor.get(&key, &value, MDB_SET_RANGE); rc != MDB_NOTFOUND;
       rc = cursor.get(&key, &value, MDB_NEXT)) {
    if (rc != 0) return fail(lmdb::store_error(rc, "list scan"));
    if (key.mv_size != 8) return fail(Error{Error::Kind::Corrupt, "meta key of wrong size"});
    auto env = decode_checked(QueueId::from_key(key.mv_data, key.mv_size), value);
    if (!env) return fail(env.error());
    out.push_back(std::move(*env));
    if (out.size() == limit) break;
  }
  return out;
}

Result<StoreStats, Error> LmdbStore::stats() {
  lmdb::ReadTxn txn;
  if (int rc = txn.begin(readers_); rc != 0) return fail(lmdb::store_error(rc, "stats begin"));
  MDB_stat meta{}, sched{};
  if (int rc = mdb_stat(txn.get(), meta_, &meta); rc != 0) return fail(lmdb::store_error(rc, "stat meta"));
  if (int rc = mdb_stat(txn.get(), sched_, &sched); rc != 0)
    return fail(lmdb::store_error(rc, "stat sched"));
  StoreStats s;
  s.messages = meta.ms_entries;
  // Exactly the messages not held have a schedule entry, so this costs no scan.
  s.held = meta.ms_entries > sched.ms_entries ? meta.ms_entries - sched.ms_entries : 0;
  if (s.messages > 0) {
    // Ids are in arrival order, so the first record is the oldest.
    lmdb::Cursor cursor;
    if (int rc = cursor.open(txn.get(), meta_); rc != 0) return fail(lmdb::store_error(rc, "stats cursor"));
    MDB_val key{}, value{};
    if (int rc = cursor.get(&key, &value, MDB_FIRST); rc != 0)
      return fail(lmdb::store_error(rc, "stats first"));
    auto env = decode_checked(QueueId::from_key(key.mv_data, key.mv_size), value);
    if (!env) return fail(env.error());
    s.oldest_arrival_us = env->arrival_us;
  }
  return s;
}

QueueId LmdbStore::last_id() {
  lmdb::ReadTxn txn;
  if (int rc = txn.begin(readers_); rc != 0) {
    log_->error("last_id: {}", lmdb::store_error(rc, "begin").message);
    return {};
  }
  lmdb::Cursor cursor;
  if (int rc = cursor.open(txn.get(), meta_); rc != 0) {
    log_->error("last_id: {}", lmdb::store_error(rc, "cursor").message);
    return {};
  }
  MDB_val key{}, value{};
  int rc = cursor.get(&key, &value, MDB_LAST);
  if (rc == MDB_NOTFOUND) return {};
  if (rc != 0) {
    log_->error("last_id: {}", lmdb::store_error(rc, "last").message);
    return {};
  }
  return QueueId::from_key(key.mv_data, key.mv_size);
}

Status<Error> LmdbStore::add_counters(std::span<const CounterAdd> adds) {
  for (const auto& add : adds) {
    if (auto s = check_counter(add); !s) return s;
  }
  if (adds.empty()) return Ok{};
  lmdb::WriteTxn txn;
  if (int rc = txn.begin(env_.get()); rc != 0) return fail(lmdb::store_error(rc, "counters begin"));
  for (const auto& add : adds) {
    if (auto s = add_counter_in(txn.get(), add); !s) return s;
  }
  if (int rc = commit(txn); rc != 0) return fail(lmdb::store_error(rc, "counters commit"));
  return Ok{};
}

Result<std::vector<CounterEntry>, Error> LmdbStore::counters(std::string_view prefix,
                                                             std::size_t limit) {
  std::vector<CounterEntry> out;
  if (limit == 0) return out;
  lmdb::ReadTxn txn;
  if (int rc = txn.begin(readers_); rc != 0) return fail(lmdb::store_error(rc, "counters begin"));
  lmdb::Cursor cursor;
  if (int rc = cursor.open(txn.get(), counters_); rc != 0)
    return fail(lmdb::store_error(rc, "counters cursor"));
  MDB_val key = as_val(prefix.data(), prefix.size());
  MDB_val value{};
  // LMDB has no empty key to seek to: an empty prefix starts at the first entry.
  int rc = cursor.get(&key, &value, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
  for (; rc != MDB_NOTFOUND; rc = cursor.get(&key, &value, MDB_NEXT)) {
    if (rc != 0) return fail(lmdb::store_error(rc, "counters scan"));
    std::string_view k = as_view(key);
    if (!k.starts_with(prefix)) break;
    if (value.mv_size < kCountSize) {
      log_->warn("counter {} unreadable, skipped", log::escape(k));
      continue;
    }
    std::string_view v = as_view(value);
    out.push_back(
        CounterEntry{std::string(k), counter_count(v), std::string(v.substr(kCountSize))});
    if (out.size() == limit) break;
  }
  return out;
}

Result<std::size_t, Error> LmdbStore::erase_counters_below(std::string_view prefix,
                                                           std::string_view bound,
                                                           std::size_t limit) {
  std::size_t erased = 0;
  if (limit == 0) return erased;
  lmdb::WriteTxn txn;
  if (int rc = txn.begin(env_.get()); rc != 0) return fail(lmdb::store_error(rc, "prune begin"));
  {
    // The cursor lives in the write transaction: it must be gone before the commit.
    lmdb::Cursor cursor;
    if (int rc = cursor.open(txn.get(), counters_); rc != 0)
      return fail(lmdb::store_error(rc, "prune cursor"));
    MDB_val key = as_val(prefix.data(), prefix.size());
    MDB_val value{};
    int rc = cursor.get(&key, &value, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
    while (rc != MDB_NOTFOUND && erased < limit) {
      if (rc != 0) return fail(lmdb::store_error(rc, "prune scan"));
      std::string_view k = as_view(key);
      if (!k.starts_with(prefix) || k >= bound) break;
      if (int drc = cursor.del(); drc != 0) return fail(lmdb::store_error(drc, "prune del"));
      ++erased;
      rc = cursor.get(&key, &value, MDB_NEXT);  // the entry after the one deleted
    }
  }
  if (erased == 0) return erased;  // nothing written: the transaction just aborts
  if (int rc = commit(txn); rc != 0) return fail(lmdb::store_error(rc, "prune commit"));
  return erased;
}

Status<Error> LmdbStore::append_audit(std::span<const AuditRecord> records) {
  if (records.empty()) return Ok{};
  lmdb::WriteTxn txn;
  if (int rc = txn.begin(env_.get()); rc != 0) return fail(lmdb::store_error(rc, "audit begin"));
  if (auto s = lmdb_audit::append(txn.get(), audit_, records); !s) return s;
  if (int rc = commit(txn); rc != 0) return fail(lmdb::store_error(rc, "audit commit"));
  return Ok{};
}

Result<std::vector<AuditEntry>, Error> LmdbStore::audit_links(std::uint64_t from,
                                                              std::size_t limit) {
  lmdb::ReadTxn txn;
  if (int rc = txn.begin(readers_); rc != 0) return fail(lmdb::store_error(rc, "audit begin"));
  return lmdb_audit::read(txn.get(), audit_.links, from, limit);
}

Result<std::vector<AuditEntry>, Error> LmdbStore::audit_checkpoints(std::uint64_t from,
                                                                    std::size_t limit) {
  lmdb::ReadTxn txn;
  if (int rc = txn.begin(readers_); rc != 0) return fail(lmdb::store_error(rc, "audit begin"));
  return lmdb_audit::read(txn.get(), audit_.checkpoints, from, limit);
}

Result<std::optional<AuditEntry>, Error> LmdbStore::checkpoint_audit(std::string_view key,
                                                                     std::int64_t now_us) {
  lmdb::WriteTxn txn;
  if (int rc = txn.begin(env_.get()); rc != 0) return fail(lmdb::store_error(rc, "audit begin"));
  auto written = lmdb_audit::checkpoint(txn.get(), audit_, key, now_us);
  if (!written.ok() || !*written) return written;  // nothing written: the transaction aborts
  if (int rc = commit(txn); rc != 0) return fail(lmdb::store_error(rc, "audit checkpoint commit"));
  return written;
}

Result<std::size_t, Error> LmdbStore::prune_audit(std::int64_t before_us, std::size_t limit) {
  lmdb::WriteTxn txn;
  if (int rc = txn.begin(env_.get()); rc != 0) return fail(lmdb::store_error(rc, "audit begin"));
  auto removed = lmdb_audit::prune(txn.get(), audit_, before_us, limit);
  if (!removed.ok() || *removed == 0) return removed;
  if (int rc = commit(txn); rc != 0) return fail(lmdb::store_error(rc, "audit prune commit"));
  return removed;
}

}  // namespace

Result<std::unique_ptr<Store>, Error> open_lmdb_store(const StoreOptions& options) {
  return LmdbStore::open(options);
}

}  // namespace secmx::queue

