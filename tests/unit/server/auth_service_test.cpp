// auth_service_test.cpp - crypt(3) hashes checked on libuv's thread pool with a real loop:
// the answers, the failure delay, the lockout and the bound on concurrent checks.
#include "relay/server/auth_service.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "relay/server/password_hash.hpp"

namespace secmx::server {
namespace {

// "secret", in each accepted scheme (cheap settings, for speed).
constexpr const char* kSha512 =
    "$6$rounds=1000$saltsaltsalt$eX3bxJXT3.ujpABOqZ7ph4r9D9Fn0.qoDqJgZU6cTq8xPfk2.Fmq2bf1GgjAlb6X1"
    "QXE7sMOtwZRTxjI1OZvT1";
constexpr const char* kBcrypt = "$2b$04$O6LB2erXXukOUT3k1HrIxuISm44Fqg9IraruGeIdH4U3hgm8u0iiq";
constexpr const char* kYescrypt =
    "$y$j9T$BY5wnTVFapFkPQg8uo2070$kG8MLXXDf8sZrRNyfwOeV2BjhAeiVOM.cMEEAgOr/38";

TEST(PasswordHashTest, VerifiesEverySchemeAndRefusesWrongPasswords) {
  for (const char* hash : {kSha512, kBcrypt, kYescrypt}) {
    EXPECT_TRUE(verify_password("secret", hash)) << hash;
    EXPECT_FALSE(verify_password("Secret", hash)) << hash;
    EXPECT_FALSE(verify_password("", hash)) << hash;
    EXPECT_FALSE(verify_password(std::string_view("secret\0x", 8), hash)) << hash;
  }
  EXPECT_FALSE(verify_password("secret", ""));
  EXPECT_FALSE(verify_password("secret", "secret"));  // a plaintext "hash" never matches
}

TEST(PasswordHashTest, MakesYescryptHashesThatVerify) {
  auto h = make_password_hash("correct horse");
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->starts_with("$y$"));
  EXPECT_TRUE(verify_password("correct horse", *h));
  EXPECT_FALSE(verify_password("correct horse!", *h));
  auto again = make_password_hash("correct horse");
  ASSERT_TRUE(again);
  EXPECT_NE(*h, *again);  // salted
}

class AuthServiceTest : public ::testing::Test {
 protected:
  AuthServiceTest() {
    uv_loop_init(&loop_);
    cfg_.users_file = "users";
    cfg_.users.emplace("app", kSha512);
    cfg_.max_failures = 3;
    cfg_.failure_delay = std::chrono::milliseconds(30);
    cfg_.max_failure_delay = std::chrono::milliseconds(30);
  }
  ~AuthServiceTest() override {
    service_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  void check(std::string address, std::string user, std::string password) {
    service_->check(cfg_, std::move(address), std::move(user), std::move(password),
                    [this](AuthOutcome o) { outcomes_.push_back(o); });
  }
  std::vector<AuthOutcome> run() {
    uv_run(&loop_, UV_RUN_DEFAULT);
    return std::exchange(outcomes_, {});
  }

  uv_loop_t loop_{};
  config::SmtpAuthConfig cfg_;
  std::unique_ptr<AuthService> service_ = std::make_unique<AuthService>(&loop_);
  std::vector<AuthOutcome> outcomes_;
};

TEST_F(AuthServiceTest, RightPasswordSucceeds) {
  check("192.0.2.1", "app", "secret");
  EXPECT_TRUE(outcomes_.empty());  // answered from the loop, never inline
  EXPECT_EQ(run(), std::vector<AuthOutcome>{AuthOutcome::Success});
}

TEST_F(AuthServiceTest, WrongPasswordAndUnknownUserFailAfterTheDelay) {
  auto start = std::chrono::steady_clock::now();
  check("192.0.2.1", "app", "wrong");
  check("192.0.2.2", "nobody", "secret");
  EXPECT_EQ(run(), (std::vector<AuthOutcome>{AuthOutcome::Failure, AuthOutcome::Failure}));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
}

TEST_F(AuthServiceTest, LockedAfterMaxFailuresEvenWithTheRightPassword) {
  for (int i = 0; i < 3; ++i) check("192.0.2.1", "app", "wrong");
  run();
  check("192.0.2.1", "app", "secret");
  // Refused without a hash being checked, but still answered from the loop, never inside
  // check() (the session that asked is still in the call).
  EXPECT_EQ(service_->running(), 0u);
  EXPECT_TRUE(outcomes_.empty());
  EXPECT_EQ(run(), std::vector<AuthOutcome>{AuthOutcome::Locked});
  check("192.0.2.7", "app", "secret");  // the user is locked from everywhere
  EXPECT_EQ(service_->running(), 0u);
  EXPECT_EQ(run(), std::vector<AuthOutcome>{AuthOutcome::Locked});
}

TEST_F(AuthServiceTest, ConcurrentChecksAreBoundedAndTheRestWaitOrAreRefused) {
  cfg_.max_verifications = 1;
  cfg_.max_pending_verifications = 2;
  check("192.0.2.1", "app", "secret");
  check("192.0.2.2", "app", "secret");
  check("192.0.2.3", "app", "secret");
  EXPECT_EQ(service_->running(), 1u);
  EXPECT_EQ(service_->waiting(), 2u);
  check("192.0.2.4", "app", "secret");
  EXPECT_TRUE(outcomes_.empty()) << "answered from the loop, never inline";
  EXPECT_EQ(service_->waiting(), 2u) << "the fourth is refused, not queued";
  auto got = run();
  EXPECT_EQ(std::count(got.begin(), got.end(), AuthOutcome::Unavailable), 1);
  EXPECT_EQ(std::count(got.begin(), got.end(), AuthOutcome::Success), 3);
  EXPECT_EQ(service_->running(), 0u);
}

TEST_F(AuthServiceTest, NothingIsAnsweredAfterShutdown) {
  check("192.0.2.1", "app", "wrong");
  check("192.0.2.1", "app", "secret");
  service_->shutdown();
  EXPECT_TRUE(run().empty());
}

}  // namespace
}  // namespace secmx::server
