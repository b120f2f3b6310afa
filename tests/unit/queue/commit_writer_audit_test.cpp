// The commit writer and the audit trail: standalone records (a policy REJECT) are appended
// and answered like any write, and on_audit sees every committed record - with messages,
// with changes and alone - in chain order, and never a record whose write failed.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <vector>

#include "queue/audit_chain.hpp"
#include "queue/commit_writer.hpp"
#include "tests/unit/queue/queue_test_util.hpp"

namespace secmx::queue {
namespace {

using namespace std::chrono_literals;
using test::make_message;
using test::TempDir;

Status<Error> wait(std::future<Status<Error>>& f) {
  if (f.wait_for(60s) != std::future_status::ready) {
    return fail(Error{Error::Kind::Io, "timed out"});
  }
  return f.get();
}

TEST(CommitWriterAudit, EveryCommittedRecordIsStoredAndObservedInChainOrder) {
  TempDir dir;
  auto opened = open_lmdb_store({dir.sub("q"), 64ull << 20});
  ASSERT_TRUE(opened.ok());
  auto& store = **opened;
  std::mutex mutex;
  std::vector<std::string> observed;
  CommitWriter::Options options;
  options.on_audit = [&](std::span<const AuditRecord> records) {
    std::lock_guard lock(mutex);
    for (const auto& r : records) observed.push_back(r.payload);
  };
  auto writer = CommitWriter::start(store, options);

  std::promise<Status<Error>> p1, p2, p3, p4;
  auto f1 = p1.get_future(), f2 = p2.get_future(), f3 = p3.get_future(), f4 = p4.get_future();
  auto msg = make_message(QueueId{7}, "body\r\n");
  msg.audit = {{1, "accept 7"}};
  writer->submit(std::move(msg), [&](Status<Error> s) { p1.set_value(std::move(s)); });
  ASSERT_TRUE(wait(f1).ok());
  writer->submit_audit({{2, "reject"}}, [&](Status<Error> s) { p2.set_value(std::move(s)); });
  ASSERT_TRUE(wait(f2).ok());
  Change change;
  change.envelope = store.load(QueueId{7}).value().value();
  change.inserts = {make_message(QueueId{8}, "dsn\r\n")};
  change.audit = {{3, "outcome 7"}, {3, "dsn 8"}};
  writer->submit_change(std::move(change), [&](Status<Error> s) { p3.set_value(std::move(s)); });
  ASSERT_TRUE(wait(f3).ok());
  // A record no store may hold (over 64 KiB) is refused alone, and never observed.
  writer->submit_audit({{4, std::string(70000, 'x')}},
                       [&](Status<Error> s) { p4.set_value(std::move(s)); });
  EXPECT_FALSE(wait(f4).ok());
  writer->stop();

  std::vector<std::string> stored;
  auto links = store.audit_links(0, 100);
  ASSERT_TRUE(links.ok());
  for (const auto& e : *links) {
    stored.push_back(audit::decode_link(e.stored).value().payload);
  }
  const std::vector<std::string> expected = {"accept 7", "reject", "outcome 7", "dsn 8"};
  EXPECT_EQ(stored, expected);
  EXPECT_EQ(observed, expected);
}

}  // namespace
}  // namespace secmx::queue
