// dns_cache.hpp - a bounded cache whose entries expire: DNS answers by name and type.
//
// Least-recently-used eviction once `capacity` entries are held; an entry past its expiry
// time is never returned (and is dropped when met). Time is passed in by the caller
// (milliseconds on any monotonic clock, e.g. uv_now()), so tests need no clock. Not
// thread-safe: one cache per Resolver, used on its loop thread only. A pointer returned by
// find() is valid until the next put() or clear().
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

namespace secmx::dns {

template <class V>
class TtlCache {
 public:
  explicit TtlCache(std::size_t capacity) : capacity_(capacity) {}

  const V* find(const std::string& key, std::uint64_t now_ms) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    if (it->second->expires_ms <= now_ms) {
      entries_.erase(it->second);
      index_.erase(it);
      return nullptr;
    }
    entries_.splice(entries_.begin(), entries_, it->second);  // most recently used first
    return &it->second->value;
  }

  void put(std::string key, V value, std::uint64_t expires_ms) {
    if (capacity_ == 0) return;
    if (auto it = index_.find(key); it != index_.end()) {
      entries_.erase(it->second);
      index_.erase(it);
    }
    while (entries_.size() >= capacity_) {
      index_.erase(entries_.back().key);
      entries_.pop_back();
    }
    entries_.push_front(Entry{key, std::move(value), expires_ms});
    index_.emplace(std::move(key), entries_.begin());
  }

  std::size_t size() const { return entries_.size(); }
  void clear() {
    index_.clear();
    entries_.clear();
  }

 private:
  struct Entry {
    std::string key;
    V value;
    std::uint64_t expires_ms;
  };
  std::size_t capacity_;
  std::list<Entry> entries_;
  std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
};

}  // namespace secmx::dns
