// lmdb_audit.hpp - the audit trail's two LMDB databases, written inside the caller's
// transaction (so a record commits with the change it describes, or not at all):
//   audit    : 8-byte big-endian seq -> stored link (audit_chain.hpp encode_link)
//   audit_cp : 8-byte big-endian seq -> stored checkpoint of the link with that seq
// Private to queue/ (lmdb_store.cpp). Loop-agnostic; a write transaction stays on its thread.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "queue/store.hpp"

namespace secmx::queue::lmdb_audit {

struct Dbs {
  MDB_dbi links = 0;
  MDB_dbi checkpoints = 0;
};

// Invalid when a record is one no store may hold (a payload over 64 KiB). Checked before
// any write, so that a refused record refuses its change and nothing else.
Status<Error> check(std::span<const AuditRecord> records);

// Chains `records` after the current head (seq 1 and kGenesis on an empty chain).
Status<Error> append(MDB_txn* txn, Dbs dbs, std::span<const AuditRecord> records);

// Up to `limit` entries of `dbi` with seq >= from, in order.
Result<std::vector<AuditEntry>, Error> read(MDB_txn* txn, MDB_dbi dbi, std::uint64_t from,
                                            std::size_t limit);

// See Store::checkpoint_audit.
Result<std::optional<AuditEntry>, Error> checkpoint(MDB_txn* txn, Dbs dbs, std::string_view key,
                                                    std::int64_t now_us);

// See Store::prune_audit.
Result<std::size_t, Error> prune(MDB_txn* txn, Dbs dbs, std::int64_t before_us,
                                 std::size_t limit);

}  // namespace secmx::queue::lmdb_audit
