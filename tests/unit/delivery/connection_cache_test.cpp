// connection_cache_test.cpp - TLS sessions kept for resumption: one per use, newest first,
// only resumable ones, a bounded number per host; each one owned by exactly one holder;
// never handed to an attempt that would check the peer another way. Idle connections: only
// taken by an attempt whose level and receiver's binding their TLS meets, and only under
// the same verification terms.
#include "relay/delivery/connection_cache.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <uv.h>

#include <string>

namespace secmx::delivery {
namespace {

using model::TlsLevel;

// A session that OpenSSL considers resumable: it has a session id.
tls::SslSessionPtr resumable(unsigned char tag) {
  tls::SslSessionPtr s(SSL_SESSION_new());
  unsigned char id[8] = {tag, 1, 2, 3, 4, 5, 6, 7};
  SSL_SESSION_set1_id(s.get(), id, sizeof id);
  return s;
}

const tls::PeerVerify kPkix{{"mx.example"}, {}};

unsigned char tag_of(const tls::SslSessionPtr& s) {
  unsigned int len = 0;
  const unsigned char* id = SSL_SESSION_get_id(s.get(), &len);
  return len > 0 ? id[0] : 0;
}

// An idle client that says it is usable; it records whether it was QUIT.
class IdleClient final : public client::SmtpClient {
 public:
  void open(const sockaddr*, std::string, bool, tls::SslSessionPtr,
            std::function<void(client::SessionInfo)>) override {}
  void set_peer_verify(tls::PeerVerify) override {}
  void send(const client::MessageSpec&, std::function<void(client::MessageResult)>) override {}
  void quit(std::function<void()> done) override {
    usable_ = false;
    if (done) done();
  }
  void set_on_closed(std::function<void()>) override {}
  bool usable() const override { return usable_; }
  void set_log_id(std::string) override {}
  tls::SslSessionPtr tls_session() const override { return nullptr; }
  const client::SessionInfo& info() const override { return info_; }

 private:
  bool usable_ = true;
  client::SessionInfo info_;
};

TlsObservation authenticated(TlsAuth auth) {
  TlsObservation t;
  t.starttls_offered = t.handshake_attempted = t.handshake_ok = true;
  t.auth = auth;
  t.verified = auth != TlsAuth::None;
  return t;
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
  cache_->remember_session("mx.example", kPkix, resumable(1));
  cache_->remember_session("mx.example", kPkix, resumable(2));
  cache_->remember_session("other.example", kPkix, resumable(9));
  for (unsigned char want : {2, 1}) {
    tls::SslSessionPtr s = cache_->take_session("mx.example", kPkix);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(tag_of(s), want);
  }
  EXPECT_EQ(cache_->take_session("mx.example", kPkix), nullptr);  // parallel connections: none left
  tls::SslSessionPtr other = cache_->take_session("other.example", kPkix);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(tag_of(other), 9);
}

TEST_F(ConnectionCacheTest, SessionsThatCannotResumeAreDropped) {
  cache_->remember_session("mx.example", kPkix, tls::SslSessionPtr(SSL_SESSION_new()));  // no id, no ticket
  cache_->remember_session("mx.example", kPkix, nullptr);
  EXPECT_EQ(cache_->take_session("mx.example", kPkix), nullptr);
}

// A session handed in and out is one reference passed along, neither leaked nor freed
// early: after the cache let go, the test's own reference is the only one left.
TEST_F(ConnectionCacheTest, ASessionIsOneReferencePassedAlong) {
  tls::SslSessionPtr mine = resumable(5);
  cache_->remember_session("mx.example", kPkix, tls::share(mine.get()));
  tls::SslSessionPtr taken = cache_->take_session("mx.example", kPkix);
  ASSERT_EQ(taken.get(), mine.get());
  taken.reset();
  cache_->remember_session("mx.example", kPkix, tls::share(mine.get()));
  cache_.reset();  // frees what it kept
  // Our reference still works; OpenSSL would report a use after free under ASan.
  EXPECT_EQ(tag_of(mine), 5);
  EXPECT_EQ(tls::share(nullptr), nullptr);
}

TEST_F(ConnectionCacheTest, ThePerHostListIsBoundedAndKeepsTheNewest) {
  for (int i = 1; i <= 40; ++i) cache_->remember_session("mx.example", kPkix, resumable(static_cast<unsigned char>(i)));
  int count = 0;
  unsigned char oldest = 255;
  while (tls::SslSessionPtr s = cache_->take_session("mx.example", kPkix)) {
    oldest = tag_of(s);
    ++count;
  }
  EXPECT_EQ(count, 32);
  EXPECT_EQ(oldest, 9);  // 1..8 were let go
}

TEST_F(ConnectionCacheTest, SessionsAreKeptPerVerificationTerms) {
  tls::PeerVerify dane{{"mx.example"}, {tls::DaneRecord{3, 1, 1, {0xAB, 0xCD}}}};
  tls::PeerVerify other_records{{"mx.example"}, {tls::DaneRecord{3, 1, 1, {0xAB, 0xCE}}}};
  cache_->remember_session("mx.example", dane, resumable(7));
  EXPECT_EQ(cache_->take_session("mx.example", kPkix), nullptr) << "verified by DANE, not PKIX";
  EXPECT_EQ(cache_->take_session("mx.example", other_records), nullptr);
  tls::SslSessionPtr s = cache_->take_session("mx.example", dane);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(tag_of(s), 7);
}

TEST_F(ConnectionCacheTest, AConnectionIsTakenOnlyUnderTheSameTermsAndWhenItMeetsTheBinding) {
  tls::PeerVerify dane{{"mx.example"}, {tls::DaneRecord{3, 1, 1, {0xAB}}}};
  const auto pkix_key = ConnectionCache::key("mx.example", "192.0.2.1", 25, kPkix);
  const auto dane_key = ConnectionCache::key("mx.example", "192.0.2.1", 25, dane);
  EXPECT_NE(pkix_key, dane_key);
  EXPECT_NE(dane_key, ConnectionCache::key("mx.example", "192.0.2.1", 25,
                                           tls::PeerVerify{{"mx.example"}, {tls::DaneRecord{3, 1, 2, {0xAB}}}}));

  // PKIX-verified: fine for an MTA-STS binding (PKIX for the MX name), never for DANE.
  cache_->put(pkix_key, CachedConnection{std::make_unique<IdleClient>(), authenticated(TlsAuth::Pkix), "mx"});
  EXPECT_FALSE(cache_->take(pkix_key, TlsLevel::None, Binding::Dane));
  EXPECT_FALSE(cache_->take(dane_key, TlsLevel::None, Binding::Dane)) << "other terms";
  EXPECT_TRUE(cache_->take(pkix_key, TlsLevel::None, Binding::MtaSts));

  // Unauthenticated TLS: enough for BES and for "encrypt", not for a binding that asks more.
  cache_->put(pkix_key, CachedConnection{std::make_unique<IdleClient>(), authenticated(TlsAuth::None), "mx"});
  EXPECT_FALSE(cache_->take(pkix_key, TlsLevel::None, Binding::MtaSts));
  EXPECT_FALSE(cache_->take(pkix_key, TlsLevel::Verify, Binding::None));
  EXPECT_TRUE(cache_->take(pkix_key, TlsLevel::Encrypt, Binding::Encrypt));

  // Plaintext: BES without a binding only.
  TlsObservation plain;
  cache_->put(pkix_key, CachedConnection{std::make_unique<IdleClient>(), plain, "mx"});
  EXPECT_FALSE(cache_->take(pkix_key, TlsLevel::None, Binding::Encrypt));
  EXPECT_TRUE(cache_->take(pkix_key, TlsLevel::None, Binding::None));

  cache_->put(dane_key, CachedConnection{std::make_unique<IdleClient>(), authenticated(TlsAuth::Dane), "mx"});
  EXPECT_TRUE(cache_->take(dane_key, TlsLevel::Verify, Binding::Dane));
}

}  // namespace
}  // namespace secmx::delivery
