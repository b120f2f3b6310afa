// sts_cache.cpp - the shared policy cache over its durable store; see sts_cache.hpp.
#include "relay/sts/sts_cache.hpp"

#include "relay/common/log.hpp"

namespace secmx::sts {

StsCache::StsCache(std::unique_ptr<queue::StsStore> store)
    : store_(std::move(store)), log_(log::logger("sts")) {
  if (!store_) return;
  auto all = store_->all();
  if (!all) {
    log_->error("sts cache: cannot read stored policies: {}", all.error().message);
    return;
  }
  if (all->skipped > 0) log_->warn("sts cache: {} stored policies do not decode", all->skipped);
  for (auto& e : all->entries) {
    auto policy = parse_sts_policy(e.record.policy);
    if (!policy) {
      log_->warn("sts cache: dropping domain={}: stored policy no longer valid: {}",
                 log::escape(e.domain), policy.error());
      (void)store_->remove(e.domain);
      continue;
    }
    policies_[e.domain] = CachedPolicy{std::move(*policy), e.record.id, e.record.fetched_us};
  }
  log_->info("sts cache: {} policies loaded", policies_.size());
}

StsCache::~StsCache() = default;

std::optional<CachedPolicy> StsCache::get(const std::string& domain) const {
  std::lock_guard lock(mutex_);
  auto it = policies_.find(domain);
  if (it == policies_.end()) return std::nullopt;
  return it->second;
}

void StsCache::put(const std::string& domain, CachedPolicy policy) {
  std::lock_guard lock(mutex_);
  if (store_) {
    queue::StsRecord record{policy.id, policy.fetched_us, policy.policy.text};
    if (auto st = store_->put(domain, record); !st) {
      log_->error("sts cache: cannot store the policy of domain={}: {}", log::escape(domain),
                  st.error().message);
    }
  }
  policies_[domain] = std::move(policy);
}

bool StsCache::remove(const std::string& domain) {
  std::lock_guard lock(mutex_);
  bool had = policies_.erase(domain) > 0;
  had = failures_.erase(domain) > 0 || had;
  if (store_) {
    if (auto r = store_->remove(domain); !r) {
      log_->error("sts cache: cannot remove the policy of domain={}: {}", log::escape(domain),
                  r.error().message);
    }
  }
  return had;
}

void StsCache::note_failure(const std::string& domain, LastFailure failure) {
  std::lock_guard lock(mutex_);
  failures_[domain] = std::move(failure);
}

void StsCache::clear_failure(const std::string& domain) {
  std::lock_guard lock(mutex_);
  failures_.erase(domain);
}

std::optional<LastFailure> StsCache::last_failure(const std::string& domain) const {
  std::lock_guard lock(mutex_);
  auto it = failures_.find(domain);
  if (it == failures_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> StsCache::domains() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  out.reserve(policies_.size());
  for (const auto& [d, p] : policies_) out.push_back(d);
  return out;
}

std::size_t StsCache::size() const {
  std::lock_guard lock(mutex_);
  return policies_.size();
}

}  // namespace secmx::sts
