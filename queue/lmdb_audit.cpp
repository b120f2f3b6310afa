// lmdb_audit.cpp - see lmdb_audit.hpp.
#include "queue/lmdb_audit.hpp"

#include <string>

#include "queue/audit_chain.hpp"
#include "queue/lmdb_txn.hpp"
#include "queue/lmdb_values.hpp"

namespace secmx::queue::lmdb_audit {
namespace {

using lmdb::as_val;
using lmdb::as_view;

constexpr std::size_t kMaxPayload = 64 * 1024;

// The last entry of `dbi`: its seq and stored bytes, or nullopt when empty.
Result<std::optional<AuditEntry>, Error> last_entry(MDB_txn* txn, MDB_dbi dbi) {
  lmdb::Cursor cursor;
  if (int rc = cursor.open(txn, dbi); rc != 0) return fail(lmdb::store_error(rc, "audit cursor"));
  MDB_val key{}, value{};
  int rc = cursor.get(&key, &value, MDB_LAST);
  if (rc == MDB_NOTFOUND) return std::optional<AuditEntry>{};
  if (rc != 0) return fail(lmdb::store_error(rc, "audit last"));
  return std::optional<AuditEntry>{AuditEntry{lmdb::u64_of_key(as_view(key)), std::string(as_view(value))}};
}

Status<Error> put(MDB_txn* txn, MDB_dbi dbi, std::uint64_t seq, const std::string& bytes,
                  std::string_view what) {
  auto k = lmdb::u64_key(seq);
  MDB_val key = as_val(k.data(), k.size());
  MDB_val value = as_val(bytes);
  if (int rc = mdb_put(txn, dbi, &key, &value, MDB_APPEND); rc != 0) {
    return fail(lmdb::store_error(rc, what));
  }
  return Ok{};
}

}  // namespace

Status<Error> check(std::span<const AuditRecord> records) {
  for (const auto& r : records) {
    if (r.payload.size() > kMaxPayload)
      return fail(Error{Error::Kind::Invalid, "audit record over 64 KiB"});
  }
  return Ok{};
}

Status<Error> append(MDB_txn* txn, Dbs dbs, std::span<const AuditRecord> records) {
  if (records.empty()) return Ok{};
  if (auto s = check(records); !s) return s;
  auto head = last_entry(txn, dbs.links);
  if (!head.ok()) return fail(head.error());
  audit::Link link;
  link.seq = *head ? (*head)->seq : 0;
  link.prev = *head ? audit::link_digest((*head)->stored) : audit::kGenesis;
  for (const auto& r : records) {
    ++link.seq;
    link.time_us = r.time_us;
    link.payload = r.payload;
    std::string stored = audit::encode_link(link);
    if (auto s = put(txn, dbs.links, link.seq, stored, "audit put"); !s) return s;
    link.prev = audit::link_digest(stored);
  }
  return Ok{};
}

Result<std::vector<AuditEntry>, Error> read(MDB_txn* txn, MDB_dbi dbi, std::uint64_t from,
                                            std::size_t limit) {
  std::vector<AuditEntry> out;
  if (limit == 0) return out;
  lmdb::Cursor cursor;
  if (int rc = cursor.open(txn, dbi); rc != 0) return fail(lmdb::store_error(rc, "audit cursor"));
  auto k = lmdb::u64_key(from);
  MDB_val key = as_val(k.data(), k.size());
  MDB_val value{};
  for (int rc = cursor.get(&key, &value, MDB_SET_RANGE); rc != MDB_NOTFOUND;
       rc = cursor.get(&key, &value, MDB_NEXT)) {
    if (rc != 0) return fail(lmdb::store_error(rc, "audit scan"));
    out.push_back(AuditEntry{lmdb::u64_of_key(as_view(key)), std::string(as_view(value))});
    if (out.size() == limit) break;
  }
  return out;
}

Result<std::optional<AuditEntry>, Error> checkpoint(MDB_txn* txn, Dbs dbs, std::string_view key,
                                                    std::int64_t now_us) {
  auto head = last_entry(txn, dbs.links);
  if (!head.ok()) return fail(head.error());
  if (!*head) return std::optional<AuditEntry>{};
  auto newest = last_entry(txn, dbs.checkpoints);
  if (!newest.ok()) return fail(newest.error());
  const std::uint64_t seq = (*head)->seq;
  if (*newest && (*newest)->seq >= seq) return std::optional<AuditEntry>{};
  std::string stored = audit::encode_checkpoint(
      audit::make_checkpoint(key, seq, now_us, audit::link_digest((*head)->stored)));
  if (auto s = put(txn, dbs.checkpoints, seq, stored, "audit checkpoint put"); !s)
    return fail(s.error());
  return std::optional<AuditEntry>{AuditEntry{seq, std::move(stored)}};
}

Result<std::size_t, Error> prune(MDB_txn* txn, Dbs dbs, std::int64_t before_us,
                                 std::size_t limit) {
  // The last record that may go: older than the bound, within the batch.
  auto old = read(txn, dbs.links, 0, limit);
  if (!old.ok()) return fail(old.error());
  std::uint64_t last_old = 0;
  for (const auto& e : *old) {
    auto link = audit::decode_link(e.stored);
    if (!link.ok() || link->time_us >= before_us) break;
    last_old = e.seq;
  }
  if (last_old == 0) return std::size_t{0};
  // Cut only at a checkpoint, so that what remains starts from an authenticated anchor.
  std::uint64_t cut = 0;
  {
    lmdb::Cursor cursor;
    if (int rc = cursor.open(txn, dbs.checkpoints); rc != 0)
      return fail(lmdb::store_error(rc, "audit cursor"));
    auto k = lmdb::u64_key(last_old + 1);
    MDB_val key = as_val(k.data(), k.size());
    MDB_val value{};
    int rc = cursor.get(&key, &value, MDB_SET_RANGE);
    rc = rc == MDB_NOTFOUND ? cursor.get(&key, &value, MDB_LAST) : cursor.get(&key, &value, MDB_PREV);
    if (rc != 0 && rc != MDB_NOTFOUND) return fail(lmdb::store_error(rc, "audit checkpoint seek"));
    if (rc == 0) cut = lmdb::u64_of_key(as_view(key));
  }
  // The checkpointed record itself stays: the chain goes on from it, and the checkpoint
  // vouches for it.
  if (cut == 0 || cut > last_old) return std::size_t{0};
  std::size_t removed = 0;
  auto erase_below = [&](MDB_dbi dbi, std::uint64_t before, std::size_t* count) -> Status<Error> {
    lmdb::Cursor cursor;
    if (int rc = cursor.open(txn, dbi); rc != 0) return fail(lmdb::store_error(rc, "audit cursor"));
    MDB_val key{}, value{};
    for (int rc = cursor.get(&key, &value, MDB_FIRST); rc != MDB_NOTFOUND;
         rc = cursor.get(&key, &value, MDB_NEXT)) {
      if (rc != 0) return fail(lmdb::store_error(rc, "audit prune scan"));
      if (lmdb::u64_of_key(as_view(key)) >= before) break;
      if (int drc = cursor.del(); drc != 0) return fail(lmdb::store_error(drc, "audit prune del"));
      if (count != nullptr) ++*count;
    }
    return Ok{};
  };
  if (auto s = erase_below(dbs.links, cut, &removed); !s) return fail(s.error());
  if (auto s = erase_below(dbs.checkpoints, cut, nullptr); !s) return fail(s.error());
  return removed;
}

}  // namespace secmx::queue::lmdb_audit
