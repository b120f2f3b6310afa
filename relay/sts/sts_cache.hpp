// sts_cache.hpp - the MTA-STS policies the relay knows (RFC 8461 §5), shared by every
// delivery loop and the admin plane, kept durably in queue::StsStore.
//
// Holds each domain's policy parsed (what delivery reads) beside the durable record (what
// survives a restart: the body as fetched, the TXT id, the fetch time), plus the last
// failure seen for the domain (memory only: it describes this run's attempts). An entry
// is kept past its max_age - "expired" is a question the caller asks with the time
// (CachedPolicy::expired) - and goes when the source sees it expired or an operator
// purges it.
//
// Thread-safe: one mutex around the map; the durable write happens under it (rare: once
// per fetched policy). Construction reads every stored record; a record whose body no
// longer parses (or does not decode) is dropped with a warning. A store that fails a
// write is logged and the memory copy still changes: the cache then only lasts until the
// next restart, which costs a fetch, never a wrong answer. A null store: memory only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "queue/sts_store.hpp"
#include "relay/sts/sts_policy.hpp"
#include "relay/sts/sts_state.hpp"

namespace spdlog {
class logger;
}

namespace secmx::sts {

struct CachedPolicy {
  StsPolicy policy;
  std::string id;               // the TXT id it was fetched under
  std::int64_t fetched_us = 0;  // Unix microseconds

  std::int64_t expires_us() const {
    return fetched_us + static_cast<std::int64_t>(policy.max_age.count()) * 1000000;
  }
  bool expired(std::int64_t now_us) const { return now_us >= expires_us(); }
};

struct LastFailure {
  StsFailure failure = StsFailure::None;
  std::string detail;
  std::int64_t at_us = 0;
};

class StsCache {
 public:
  explicit StsCache(std::unique_ptr<queue::StsStore> store);
  ~StsCache();
  StsCache(const StsCache&) = delete;
  StsCache& operator=(const StsCache&) = delete;

  std::optional<CachedPolicy> get(const std::string& domain) const;  // expired or not
  void put(const std::string& domain, CachedPolicy policy);          // durable
  bool remove(const std::string& domain);  // the policy and the failure; false: neither
  void note_failure(const std::string& domain, LastFailure failure);
  void clear_failure(const std::string& domain);
  std::optional<LastFailure> last_failure(const std::string& domain) const;
  std::vector<std::string> domains() const;  // with a cached policy, in order
  std::size_t size() const;

 private:
  std::unique_ptr<queue::StsStore> store_;
  std::shared_ptr<spdlog::logger> log_;
  mutable std::mutex mutex_;
  std::map<std::string, CachedPolicy> policies_;
  std::map<std::string, LastFailure> failures_;
};

}  // namespace secmx::sts
