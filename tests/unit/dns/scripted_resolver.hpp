// scripted_resolver.hpp - test helper: a Resolver answering from tables, for the discovery
// tests, plus builders for the answers they script. Header-only, test use only.
//
// Answers are queued and delivered only by run(), so that a test sees what was asked in
// which phase before anything is answered; a name not in a table answers NXDOMAIN
// (insecure). Single-threaded, like the loop it stands in for.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "relay/dns/dns_types.hpp"

namespace secmx::dns {

class ScriptedResolver final : public Resolver {
 public:
  std::map<std::string, SrvAnswer> srv;
  std::map<std::string, MxAnswer> mx;
  std::map<std::string, AddressAnswer> a;
  std::map<std::string, AddressAnswer> aaaa;
  std::map<std::string, TlsaAnswer> tlsa;
  std::vector<std::string> asked;  // "MX d.test", in order

  void lookup_srv(std::string name, std::function<void(SrvAnswer)> cb) override {
    ask("SRV", name, srv, std::move(cb));
  }
  void lookup_mx(std::string name, std::function<void(MxAnswer)> cb) override {
    ask("MX", name, mx, std::move(cb));
  }
  void lookup_a(std::string name, std::function<void(AddressAnswer)> cb) override {
    ask("A", name, a, std::move(cb));
  }
  void lookup_aaaa(std::string name, std::function<void(AddressAnswer)> cb) override {
    ask("AAAA", name, aaaa, std::move(cb));
  }
  void lookup_tlsa(std::string name, std::function<void(TlsaAnswer)> cb) override {
    ask("TLSA", name, tlsa, std::move(cb));
  }
  void post(std::function<void()> fn) override { queue_.push_back(std::move(fn)); }

  // Delivers everything queued, including what the callbacks queue; returns how many.
  int run() {
    int n = 0;
    while (!queue_.empty()) {
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      fn();
      ++n;
    }
    return n;
  }
  std::size_t queued() const { return queue_.size(); }

  // How many times "TYPE name" was asked.
  int count(const std::string& query) const {
    int n = 0;
    for (const std::string& q : asked) n += q == query;
    return n;
  }

 private:
  template <class A>
  void ask(const char* type, const std::string& name, const std::map<std::string, A>& table,
           std::function<void(A)> cb) {
    asked.push_back(std::string(type) + " " + name);
    A answer;
    answer.status = LookupStatus::NxDomain;
    if (auto it = table.find(name); it != table.end()) answer = it->second;
    queue_.push_back([cb = std::move(cb), answer] { cb(answer); });
  }
  std::deque<std::function<void()>> queue_;
};

// Builders for scripted answers; `secure` is the AD bit the validating resolver would set.
namespace scripted {

template <class R>
Answer<R> ok(std::vector<R> records, bool secure = false) {
  Answer<R> x;
  x.status = LookupStatus::Ok;
  x.ttl = 300;
  x.records = std::move(records);
  x.secure = secure;
  return x;
}

template <class R>
Answer<R> denial(LookupStatus s, bool secure = false) {
  Answer<R> x;
  x.status = s;
  x.ttl = 60;
  x.secure = secure;
  return x;
}

template <class R>
Answer<R> temporary(std::string error) {
  Answer<R> x;
  x.status = LookupStatus::Temporary;
  x.error = std::move(error);
  return x;
}

inline AddressAnswer ip(const char* text, bool secure = false, std::string canonical = "") {
  AddressAnswer x = ok(std::vector<IpAddress>{*IpAddress::parse(text)}, secure);
  x.canonical = std::move(canonical);
  return x;
}

}  // namespace scripted
}  // namespace secmx::dns
