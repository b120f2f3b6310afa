// connection_cache_test.cpp - TLS sessions kept for resumption: one per use, newest first,
// only resumable ones, a bounded number per host; each one owned by exactly one holder.
#include "relay/delivery/connection_cache.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <uv.h>

#include <string>

namespace secmx::delivery {
namespace {

// A session that OpenSSL considers resumable: it has a session id.
tls::SslSessionPtr resumable(unsigned char tag) {
  tls::SslSessionPtr s(SSL_SESSION_new());
  unsigned char id[8] = {tag, 1, 2, 3, 4, 5, 6, 7};
  SSL_SESSION_set1_id(s.get(), id, sizeof id);
  return s;
}

unsigned char tag_of(const tls::SslSessionPtr& s) {
  unsigned int len = 0;
  const unsigned char* id = SSL_SESSION_get_id(s.get(), &len);
  return len > 0 ? id[0] : 0;
}

class ConnectionCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    cache_ = std::make_unique<ConnectionCache>(&loop_, std::chrono::milliseconds(1000), 20);
  }
  void TearDown() override {
    cache_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // let closing handles finish
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  uv_loop_t loop_{};
  std::unique_ptr<ConnectionCache> cache_;
};

TEST_F(ConnectionCacheTest, EachSessionIsHandedOutOnceNewestFirst) {
  cache_->remember_session("mx.example", resumable(1));
  cache_->remember_session("mx.example", resumable(2));
  cache_->remember_session("other.example", resumable(9));
  for (unsigned char want : {2, 1}) {
    tls::SslSessionPtr s = cache_->take_session("mx.example");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(tag_of(s), want);
  }
  EXPECT_EQ(cache_->take_session("mx.example"), nullptr);  // parallel connections: none left
  tls::SslSessionPtr other = cache_->take_session("other.example");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(tag_of(other), 9);
}

TEST_F(ConnectionCacheTest, SessionsThatCannotResumeAreDropped) {
  cache_->remember_session("mx.example", tls::SslSessionPtr(SSL_SESSION_new()));  // no id, no ticket
  cache_->remember_session("mx.example", nullptr);
  EXPECT_EQ(cache_->take_session("mx.example"), nullptr);
}

// A session handed in and out is one reference passed along, neither leaked nor freed
// early: after the cache let go, the test's own reference is the only one left.
TEST_F(ConnectionCacheTest, ASessionIsOneReferencePassedAlong) {
  tls::SslSessionPtr mine = resumable(5);
  cache_->remember_session("mx.example", tls::share(mine.get()));
  tls::SslSessionPtr taken = cache_->take_session("mx.example");
  ASSERT_EQ(taken.get(), mine.get());
  taken.reset();
  cache_->remember_session("mx.example", tls::share(mine.get()));
  cache_.reset();  // frees what it kept
  // Our reference still works; OpenSSL would report a use after free under ASan.
  EXPECT_EQ(tag_of(mine), 5);
  EXPECT_EQ(tls::share(nullptr), nullptr);
}

TEST_F(ConnectionCacheTest, ThePerHostListIsBoundedAndKeepsTheNewest) {
  for (int i = 1; i <= 40; ++i) cache_->remember_session("mx.example", resumable(static_cast<unsigned char>(i)));
  int count = 0;
  unsigned char oldest = 255;
  while (tls::SslSessionPtr s = cache_->take_session("mx.example")) {
    oldest = tag_of(s);
    ++count;
  }
  EXPECT_EQ(count, 32);
  EXPECT_EQ(oldest, 9);  // 1..8 were let go
}

}  // namespace
}  // namespace secmx::delivery
