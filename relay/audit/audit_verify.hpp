// audit_verify.hpp - `audit verify`: recomputes the audit trail's hash chain over a time
// range (or all of it) and checks every keyed checkpoint in it (queue/audit_chain.hpp
// ChainVerifier), reporting the first break.
//
// Reads the store in bounded pages (one read transaction per page), so it runs beside a
// live relay; records appended while it runs past the head it started with are not looked
// at. Without a key (the key file missing) the chain alone is verified: a checkpoint is
// then only seen to exist, not checked. Call from a worker or admin thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "queue/audit_chain.hpp"
#include "queue/store.hpp"
#include "relay/common/result.hpp"

namespace secmx::audit {

struct VerifyReport {
  bool key_used = false;               // false: checkpoints not checked (no key)
  std::optional<std::int64_t> from_us, to_us;  // the range asked for (none: all)
  std::uint64_t records = 0;           // records checked
  std::uint64_t checkpoints = 0;       // checkpoints checked (key_used) or seen
  std::uint64_t first_seq = 0, last_seq = 0;          // 0: no record in the range
  std::int64_t first_time_us = 0, last_time_us = 0;   // of those records
  std::uint64_t head_seq = 0;          // the chain's newest record when verify started
  std::uint64_t last_checkpoint_seq = 0;  // the newest checkpoint (0: none)
  bool head_covered = false;           // a checkpoint covers head_seq
  std::optional<queue::audit::Break> first_break;

  bool ok() const { return !first_break; }
};

// `key`: the checkpoint key (nullopt: check the chain only). `from_us`/`to_us`: the
// records with from_us <= time_us < to_us; a range that starts inside the chain trusts its
// first record's link to the one before, as a pruned chain does.
Result<VerifyReport, queue::Error> verify(queue::Store& store, const std::optional<std::string>& key,
                                          std::optional<std::int64_t> from_us,
                                          std::optional<std::int64_t> to_us);

// The key of audit.key_file as the writer reads it (audit_key.hpp read_audit_key). nullopt
// when the file does not exist; an error when it exists but cannot be read, is empty or
// is readable by others.
Result<std::optional<std::string>, std::string> read_key_file(const std::string& path);

// {"ok", "records", "checkpoints", "key": bool, "note", "from", "to", "first_seq",
//  "last_seq", "first_time", "last_time", "head_seq", "last_checkpoint_seq",
//  "head_covered", "break": {"seq", "what"} | null}; see docs/audit.md.
nlohmann::json verify_json(const VerifyReport& report);

}  // namespace secmx::audit
