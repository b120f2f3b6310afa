// smtp_server_test.cpp - how the server hands commit answers back and tells the scheduler
// about new mail: once per round of answers its loop takes, not once per message.
#include "relay/server/smtp_server.hpp"

#include <gtest/gtest.h>
#include <uv.h>

#include <memory>
#include <vector>

namespace secmx::server {
namespace {

// Keeps each message's completion for the test to run, as the writer thread would after
// the batch's commit.
class FakeWriter final : public queue::CommitWriter {
 public:
  void submit(queue::NewMessage, Done done) override { dones.push_back(std::move(done)); }
  void submit_change(queue::Change, Done done) override { done(Ok{}); }
  void submit_audit(std::vector<queue::AuditRecord>, Done done) override { done(Ok{}); }
  void stop() override {}
  queue::CommitStats stats() const override { return {}; }

  std::vector<Done> dones;
};

class SmtpServerCommits : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    ServerDeps deps;
    deps.config = std::make_shared<config::Config>();
    deps.writer = &writer_;
    deps.on_queued = [this] { ++kicks_; };
    server_ = std::make_unique<SmtpServer>(&loop_, deps);
  }
  void TearDown() override {
    server_->shutdown();
    uv_run(&loop_, UV_RUN_DEFAULT);
    server_.reset();
    uv_loop_close(&loop_);
  }
  // The writer answers every message submitted so far, `ok` or failed.
  void answer_all(bool ok) {
    for (auto& done : writer_.dones) {
      if (ok) {
        done(Ok{});
      } else {
        done(fail(queue::Error{queue::Error::Kind::Io, "disk on fire"}));
      }
    }
    writer_.dones.clear();
  }

  uv_loop_t loop_{};
  FakeWriter writer_;
  int kicks_ = 0;
  std::unique_ptr<SmtpServer> server_;
};

TEST_F(SmtpServerCommits, ABatchOfStoredMessagesKicksTheSchedulerOnce) {
  for (std::uint64_t s = 1; s <= 3; ++s) server_->submit(s, queue::NewMessage{}, {});
  answer_all(true);
  EXPECT_EQ(kicks_, 0) << "not from the writer's thread, message by message";
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(kicks_, 1);

  server_->submit(4, queue::NewMessage{}, {});
  answer_all(true);
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(kicks_, 2) << "each round with new mail kicks";
}

TEST_F(SmtpServerCommits, ARoundThatStoredNothingKicksNothing) {
  server_->submit(1, queue::NewMessage{}, {});
  server_->submit(2, queue::NewMessage{}, {});
  answer_all(false);
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(kicks_, 0);
}

TEST_F(SmtpServerCommits, ShutdownKicksForStoredAnswersNeverHandedOut) {
  server_->submit(1, queue::NewMessage{}, {});
  answer_all(true);
  server_->shutdown();  // before the loop took the answer
  EXPECT_EQ(kicks_, 1);

  server_->submit(2, queue::NewMessage{}, {});
  answer_all(true);  // after shutdown: the writer's side tells the scheduler itself
  EXPECT_EQ(kicks_, 2);
}

}  // namespace
}  // namespace secmx::server
