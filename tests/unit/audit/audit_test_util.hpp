// audit_test_util.hpp - records of schema v1 built through relay/audit/audit_record.hpp and
// appended to a store in a temporary directory, for the search, report and verify tests;
// and direct LMDB access to tamper with what the store wrote.
#pragma once

#include <lmdb.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "queue/store.hpp"
#include "relay/audit/audit_record.hpp"
#include "tests/unit/temp_dir.hpp"

namespace secmx::audit::test {

using nlohmann::json;
using secmx::test::TempDir;

inline constexpr std::int64_t kDay = 86'400'000'000;
inline constexpr std::int64_t kNov1 = 1'793'491'200'000'000;  // 2026-11-01T00:00:00Z

inline std::unique_ptr<queue::Store> open_store(const TempDir& dir) {
  auto s = queue::open_lmdb_store({dir.path() + "/q", 64ull << 20});
  EXPECT_TRUE(s.ok());
  return s.ok() ? std::move(s.value()) : nullptr;
}

inline model::Envelope envelope(int n, const std::string& classification, bool requiretls = false) {
  model::Envelope env;
  env.id = model::QueueId{static_cast<std::uint64_t>(n)};
  env.sender = "Alice@Agency.gov.example";
  env.message_id = "m" + std::to_string(n) + "@agency.gov.example";
  env.classification = classification;
  env.requiretls = requiretls;
  return env;
}

inline model::Recipient recipient(const std::string& address, model::Policy policy,
                                  model::TlsLevel tls = model::TlsLevel::None) {
  model::Recipient r;
  r.address = address;
  r.policy = policy;
  r.tls = tls;
  r.policy_reason = "default";
  return r;
}

inline json accept(std::int64_t t, const model::Envelope& env, const std::vector<model::Recipient>& rcpts,
                   json markings = json::array()) {
  auto j = message_frame(Event::Accept, t, env);
  j["client"] = {{"address", "192.0.2.1"}, {"helo", "mail.agency"}, {"auth_user", ""},
                 {"tls_protocol", ""}, {"tls_cipher", ""}};
  j["size"] = 1234;
  j["markings"] = std::move(markings);
  j["recipients"] = json::array();
  for (const auto& r : rcpts) {
    j["recipients"].push_back({{"address", r.address}, {"policy", model::to_string(r.policy)},
                               {"tls", model::to_string(r.tls)}, {"rule", r.policy_reason}});
  }
  return j;
}

// A final outcome; `tls` the deciding attempt's evidence ("" : no attempt).
inline json outcome(std::int64_t t, const model::Envelope& env, const model::Recipient& r,
                    const std::string& what, const std::string& tls) {
  model::Attempt a{t, "mx.dest.example", "192.0.2.7:25", "mx", tls, "", "secure", "2.0.0", "250 ok"};
  return json::parse(outcome_record(t, env, r, what, "delivery", tls.empty() ? nullptr : &a, "").payload);
}

inline json release(std::int64_t t, const model::Envelope& env, const std::string& who, bool held_by_policy,
                    const std::vector<std::string>& addresses) {
  auto j = message_frame(Event::Operator, t, env);
  j["action"] = "release";
  j["operator"] = who;
  j["client"] = "127.0.0.1";
  j["held_by_policy"] = held_by_policy;
  j["recipients"] = json::array();
  for (const auto& a : addresses) j["recipients"].push_back({{"address", a}, {"policy", "HOLD"}, {"state", "pending"}});
  return j;
}

// In one transaction, each record at its time.
inline void append(queue::Store& store, const std::vector<std::pair<std::int64_t, json>>& records) {
  std::vector<queue::AuditRecord> out;
  for (const auto& [t, r] : records) out.push_back(to_record(r, t));
  ASSERT_TRUE(store.append_audit(out).ok());
}

inline void append_at(queue::Store& store, std::int64_t t, const json& record) {
  ASSERT_TRUE(store.append_audit(std::vector<queue::AuditRecord>{to_record(record, t)}).ok());
}

// The store's LMDB environment opened directly (the store must be closed): what someone
// with write access to the files could do.
class RawAudit {
 public:
  explicit RawAudit(const std::string& path) {
    EXPECT_EQ(mdb_env_create(&env_), 0);
    EXPECT_EQ(mdb_env_set_maxdbs(env_, 16), 0);
    EXPECT_EQ(mdb_env_set_mapsize(env_, 64ull << 20), 0);
    EXPECT_EQ(mdb_env_open(env_, path.c_str(), MDB_NOTLS, 0600), 0);
  }
  ~RawAudit() { mdb_env_close(env_); }
  RawAudit(const RawAudit&) = delete;
  RawAudit& operator=(const RawAudit&) = delete;

  // Flips one byte of the stored link `seq`, `from_end` bytes before its end (its payload).
  void flip(std::uint64_t seq, std::size_t from_end = 3) {
    edit("audit", seq, [from_end](std::string& v) { v[v.size() - 1 - from_end] ^= 0x01; });
  }
  void erase(const char* db, std::uint64_t seq) {
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env_, nullptr, 0, &txn), 0);
    MDB_dbi dbi = 0;
    ASSERT_EQ(mdb_dbi_open(txn, db, 0, &dbi), 0);
    auto k = key(seq);
    MDB_val kv{k.size(), k.data()};
    ASSERT_EQ(mdb_del(txn, dbi, &kv, nullptr), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  }
  template <class F>
  void edit(const char* db, std::uint64_t seq, F change) {
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env_, nullptr, 0, &txn), 0);
    MDB_dbi dbi = 0;
    ASSERT_EQ(mdb_dbi_open(txn, db, 0, &dbi), 0);
    auto k = key(seq);
    MDB_val kv{k.size(), k.data()}, vv{};
    ASSERT_EQ(mdb_get(txn, dbi, &kv, &vv), 0);
    std::string v(static_cast<const char*>(vv.mv_data), vv.mv_size);
    change(v);
    vv = MDB_val{v.size(), v.data()};
    ASSERT_EQ(mdb_put(txn, dbi, &kv, &vv, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  }

 private:
  static std::string key(std::uint64_t seq) {
    std::string k(8, '\0');
    for (int i = 7; i >= 0; --i, seq >>= 8) k[i] = static_cast<char>(seq & 0xff);
    return k;
  }
  MDB_env* env_ = nullptr;
};

}  // namespace secmx::audit::test
