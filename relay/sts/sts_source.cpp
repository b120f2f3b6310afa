// sts_source.cpp - TXT, cache and fetch put together per domain; see sts_source.hpp.
#include "relay/sts/sts_source.hpp"

#include <algorithm>

#include "relay/common/clock.hpp"
#include "relay/common/hostname.hpp"
#include "relay/common/log.hpp"
#include "relay/sts/sts_txt.hpp"

namespace secmx::sts {

StsState state_of(const CachedPolicy& cached) {
  StsState s;
  s.policy = cached.policy;
  s.id = cached.id;
  s.from_cache = true;
  s.fetched_us = cached.fetched_us;
  return s;
}

StsSource::StsSource(dns::Resolver& resolver, StsCache& cache, FetchFn fetch, Clock now)
    : resolver_(resolver),
      cache_(cache),
      fetch_(std::move(fetch)),
      now_(now ? std::move(now) : Clock(unix_now_us)),
      log_(log::logger("sts")) {}

StsSource::~StsSource() { *alive_ = false; }

void StsSource::policy_for(const std::string& domain, Callback cb) {
  start(domain, false, std::move(cb));
}

void StsSource::refresh(const std::string& domain, Callback cb) {
  start(domain, true, std::move(cb));
}

void StsSource::start(const std::string& raw, bool force, Callback cb) {
  std::string domain = dns::normalize_name(raw);
  if (!valid_hostname(domain)) {
    // No such domain can publish a policy; answer like one without.
    resolver_.post([cb = std::move(cb), alive = alive_] {
      if (*alive) cb(StsState{});
    });
    return;
  }
  auto [it, fresh] = pending_.try_emplace(domain);
  it->second.waiters.push_back(std::move(cb));
  // Joining before the TXT answer comes in counts; after, a fetch is under way anyway.
  it->second.force = it->second.force || force;
  if (!fresh) return;
  ++lookups_;
  resolver_.lookup_txt("_mta-sts." + domain, [this, alive = alive_, domain](dns::TxtAnswer a) {
    if (*alive) on_txt(domain, a);
  });
}

std::optional<CachedPolicy> StsSource::cached_unexpired(const std::string& domain,
                                                        std::int64_t now) {
  auto cached = cache_.get(domain);
  if (cached && cached->expired(now)) {
    log_->info("sts domain={} policy id={} expired: dropped", log::escape(domain),
               log::escape(cached->id));
    cache_.remove(domain);
    return std::nullopt;
  }
  return cached;
}

void StsSource::on_txt(const std::string& domain, const dns::TxtAnswer& answer) {
  auto it = pending_.find(domain);
  if (it == pending_.end()) return;
  const bool force = it->second.force;
  auto cached = cached_unexpired(domain, now_());

  std::optional<std::string> id;
  if (answer.ok()) {
    std::vector<TxtStrings> records;
    records.reserve(answer.records.size());
    for (const auto& r : answer.records) records.push_back(r.strings);
    auto txt = select_sts_txt(records);
    if (txt) {
      id = txt->id;
    } else {
      log_->debug("sts domain={} txt {}: {}", log::escape(domain), to_string(txt.error().problem),
                  txt.error().message);
    }
  } else {
    log_->debug("sts domain={} txt {}", log::escape(domain), dns::summary(answer));
  }

  if (!id) {
    finish(domain, cached ? state_of(*cached) : StsState{});
    return;
  }
  if (cached && cached->id == *id && !force) {
    finish(domain, state_of(*cached));
    return;
  }
  ++fetches_;
  log_->info("sts domain={} fetching policy id={} cached={}", log::escape(domain),
             log::escape(*id), cached ? log::escape(cached->id) : std::string("none"));
  fetch_(domain, [this, alive = alive_, domain, id = *id](FetchResult r) {
    if (*alive) on_fetched(domain, id, std::move(r));
  });
}

void StsSource::on_fetched(const std::string& domain, const std::string& id, FetchResult result) {
  std::int64_t now = now_();
  if (result) {
    CachedPolicy fresh{std::move(*result), id, now};
    log_->info("sts domain={} policy id={} mode={} max_age={} mx={}", log::escape(domain),
               log::escape(id), to_string(fresh.policy.mode), fresh.policy.max_age.count(),
               fresh.policy.mx.size());
    StsState s;
    s.policy = fresh.policy;
    s.id = id;
    s.fetched_us = now;
    cache_.put(domain, std::move(fresh));
    cache_.clear_failure(domain);
    finish(domain, s);
    return;
  }
  const FetchFailure& f = result.error();
  auto cached = cached_unexpired(domain, now);
  log_->warn("sts domain={} id={} {}: {}{}", log::escape(domain), log::escape(id),
             to_string(f.failure), log::escape(f.detail),
             cached ? " (cached policy id=" + log::escape(cached->id) + " stays in force)" : "");
  cache_.note_failure(domain, LastFailure{f.failure, f.detail, now});
  StsState s = cached ? state_of(*cached) : StsState{};
  s.failure = f.failure;
  s.detail = f.detail;
  finish(domain, s);
}

void StsSource::finish(const std::string& domain, const StsState& state) {
  auto node = pending_.extract(domain);
  if (node.empty()) return;
  std::shared_ptr<bool> alive = alive_;
  for (Callback& cb : node.mapped().waiters) {
    cb(state);
    if (!*alive) return;  // a callback destroyed the source: drop the rest
  }
}

std::size_t StsSource::refresh_round(const std::function<bool(const std::string&)>& mine,
                                     std::size_t limit, std::chrono::seconds interval) {
  std::vector<std::string> domains = cache_.domains();
  if (domains.empty() || limit == 0) return 0;
  // Round-robin: start after the domain the last round reached, wrap around once.
  auto from = std::upper_bound(domains.begin(), domains.end(), cursor_);
  std::rotate(domains.begin(), from, domains.end());
  std::int64_t now = now_();
  std::size_t started = 0;
  for (const std::string& d : domains) {
    if (started == limit) break;
    cursor_ = d;
    if (!mine(d)) continue;
    auto cached = cache_.get(d);
    if (!cached) continue;
    std::int64_t left = cached->expires_us() - now;
    std::int64_t margin = std::max<std::int64_t>(
        static_cast<std::int64_t>(cached->policy.max_age.count()) * 1000000 / 4,
        2 * static_cast<std::int64_t>(interval.count()) * 1000000);
    Callback ignore = [](StsState) {};
    start(d, left < margin, std::move(ignore));
    ++started;
  }
  return started;
}

}  // namespace secmx::sts
