// admin_test_util.hpp - helpers for the admin unit tests: a temp directory, a store in
// it filled with chosen envelopes, and a QueueOps fake that records what it was asked.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "admin/queue_ops.hpp"
#include "queue/store.hpp"
#include "relay/model/envelope.hpp"
#include "tests/unit/temp_dir.hpp"

namespace secmx::admin::test {

using secmx::test::TempDir;

inline constexpr std::int64_t kNow = 1'700'000'000'000'000;  // a fixed "now", in us

// A message `age_s` seconds old from `sender` to `rcpts`, each with `policy`.
inline model::Envelope envelope(std::uint64_t id, std::string sender, std::vector<std::string> rcpts,
                                model::Policy policy = model::Policy::BES,
                                std::int64_t age_s = 60) {
  model::Envelope e;
  e.id = model::QueueId{id};
  e.arrival_us = kNow - age_s * 1'000'000;
  e.sender = std::move(sender);
  e.body_size = 100;
  for (auto& r : rcpts) {
    model::Recipient rc;
    rc.address = std::move(r);
    rc.policy = policy;
    rc.policy_reason = "default";
    e.recipients.push_back(std::move(rc));
  }
  return e;
}

inline std::unique_ptr<queue::Store> store_with(const TempDir& dir, std::vector<model::Envelope> envs) {
  auto store = queue::open_lmdb_store({dir.sub("queue"), 64ull << 20});
  if (!store) {
    ADD_FAILURE() << store.error().message;
    return nullptr;
  }
  std::vector<queue::NewMessage> batch;
  for (auto& e : envs) batch.push_back(queue::NewMessage{std::move(e), "Subject: x\r\n\r\nbody\r\n", {}});
  for (const auto& st : (*store)->insert_batch(batch)) EXPECT_TRUE(st.ok());
  return std::move(store.value());
}

// Records every call; answers with `next` (NotFound for ids in `unknown`).
class FakeOps : public QueueOps {
 public:
  struct Call {
    std::string op;
    std::string arg;
    std::string by;  // "operator@client"
  };
  std::vector<Call> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::vector<model::QueueId> unknown;
  std::optional<OpError> next_error;

  OpStatus hold(model::QueueId id, const Operator& by) override {
    return record("hold", id.to_string(), id, by);
  }
  OpStatus release(model::QueueId id, const Operator& by) override {
    return record("release", id.to_string(), id, by);
  }
  OpStatus flush(model::QueueId id, const Operator& by) override {
    return record("flush", id.to_string(), id, by);
  }
  OpStatus remove(model::QueueId id, const Operator& by) override {
    return record("delete", id.to_string(), id, by);
  }
  OpStatus bounce(model::QueueId id, std::string reason, const Operator& by) override {
    return record("bounce", id.to_string() + " " + reason, id, by);
  }
  Result<std::size_t, OpError> flush_all(std::optional<std::string> domain,
                                         const Operator& by) override {
    std::lock_guard lock(mutex_);
    calls_.push_back({"flush_all", domain.value_or("*"), by.name + "@" + by.client});
    return std::size_t{3};
  }

 private:
  OpStatus record(const std::string& op, const std::string& arg, model::QueueId id,
                  const Operator& by) {
    std::lock_guard lock(mutex_);
    calls_.push_back({op, arg, by.name + "@" + by.client});
    for (auto u : unknown) {
      if (u == id) return fail(OpError{OpError::Kind::NotFound, "no message " + id.to_string()});
    }
    if (next_error) return fail(*next_error);
    return Ok{};
  }
  std::mutex mutex_;
  std::vector<Call> calls_;
};

}  // namespace secmx::admin::test
