// sts_store.hpp - the durable cache of MTA-STS policies (RFC 8461 §5): domain -> the
// policy text as fetched, the TXT id it goes with and when it was fetched.
//
// Its own LMDB environment in one file beside the queue's (`<queue.path>/mta-sts.mdb`
// and its `-lock` file, MDB_NOSUBDIR: the queue directory holds regular files only), with
// one named database "policies". It stores bytes, not meaning: parsing the policy and
// deciding whether it expired belong to relay/sts, which this layer cannot see. The
// domain is the key as given (the caller normalises it).
//
// Thread-safe: LMDB serialises writers; readers use pooled read transactions, so any
// thread may call. Every call is synchronous and small (one record); writes happen once
// per policy change, not per message, and are synced as LMDB does by default.
//
// Records are versioned (a leading version byte) and checked on load: a record that does
// not decode is Corrupt for get(), and skipped (reported in `skipped`) by all(), so one
// bad record never hides the others.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/store.hpp"
#include "relay/common/result.hpp"

namespace secmx::queue {

struct StsRecord {
  std::string id;            // the _mta-sts TXT id the policy was fetched under (1..255 bytes)
  std::int64_t fetched_us = 0;
  std::string policy;        // the body as served
  bool operator==(const StsRecord&) const = default;
};

struct StsEntry {
  std::string domain;
  StsRecord record;
};

struct StsAll {
  std::vector<StsEntry> entries;  // in key (domain) order
  std::size_t skipped = 0;        // records that would not decode
};

class StsStore {
 public:
  // path: the file ("var/queue/mta-sts.mdb"); its directory must exist.
  static Result<std::unique_ptr<StsStore>, Error> open(const std::string& path,
                                                       std::uint64_t map_size = 256ull << 20);
  ~StsStore();
  StsStore(const StsStore&) = delete;
  StsStore& operator=(const StsStore&) = delete;

  Result<std::optional<StsRecord>, Error> get(std::string_view domain);
  Status<Error> put(std::string_view domain, const StsRecord& record);
  Result<bool, Error> remove(std::string_view domain);  // false: there was none
  Result<StsAll, Error> all();

  struct Impl;

 private:
  explicit StsStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The file a queue directory's policy cache lives in.
std::string sts_store_path(const std::string& queue_dir);

}  // namespace secmx::queue
