// attempt_test.cpp - one delivery Attempt driven by scripted input, without sockets: a
// scripted discovery and scripted SMTP clients (AttemptEnv's seams) take it through every
// transition, the failing ones included, and an exception thrown at each of its callback
// boundaries fails it cleanly (its recipients deferred, `done` called once). A scripted
// MTA-STS seam and candidates with TLSA records take it through DANE and MTA-STS: what the
// client is told to check, and what a receiver's policy does to BES and SOS mail.
#include "relay/delivery/attempt.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "relay/common/clock.hpp"

namespace secmx::delivery {
namespace {

using client::MessageResult;
using client::OpenStatus;
using client::SendStatus;
using client::SessionInfo;
using model::Policy;
using model::TlsLevel;

// A client whose answers the test gives: open() and send() only record the call, and
// answer_open() / answer_send() run the attempt's callback as the loop would.
class ScriptedClient final : public client::SmtpClient {
 public:
  void open(const sockaddr*, std::string host, bool try_starttls, tls::SslSessionPtr,
            std::function<void(SessionInfo)> cb) override {
    host_ = std::move(host);
    try_starttls_ = try_starttls;
    open_cb_ = std::move(cb);
  }
  void send(const client::MessageSpec& spec, std::function<void(MessageResult)> cb) override {
    if (throw_in_send) throw std::runtime_error("scripted bug in send");
    for (const auto* r : spec.recipients) sent_to.push_back(r->address);
    usable_ = false;
    send_cb_ = std::move(cb);
  }
  void quit(std::function<void()> done) override {
    quit_called = true;
    usable_ = false;
    if (done) done();
    if (auto cb = std::exchange(on_closed_, nullptr)) cb();
  }
  void set_on_closed(std::function<void()> cb) override { on_closed_ = std::move(cb); }
  bool usable() const override { return usable_; }
  void set_log_id(std::string id) override { log_id = std::move(id); }
  void set_peer_verify(tls::PeerVerify v) override { verify = std::move(v); }
  tls::SslSessionPtr tls_session() const override { return nullptr; }
  const SessionInfo& info() const override {
    if (throw_in_info) throw std::runtime_error("scripted bug in info");
    return info_;
  }

  void answer_open(SessionInfo info) {
    info_ = std::move(info);
    usable_ = info_.status == OpenStatus::Ok;
    auto cb = std::exchange(open_cb_, nullptr);
    ASSERT_TRUE(cb) << "open() was not called";
    cb(info_);
  }
  void answer_send(MessageResult r) {
    usable_ = r.connection_usable;
    auto cb = std::exchange(send_cb_, nullptr);
    ASSERT_TRUE(cb) << "send() was not called";
    cb(std::move(r));
  }
  bool opening() const { return static_cast<bool>(open_cb_); }
  bool sending() const { return static_cast<bool>(send_cb_); }

  std::string host_;
  bool try_starttls_ = false;
  std::string log_id;
  tls::PeerVerify verify;  // as set by the attempt before open()
  std::vector<std::string> sent_to;
  bool quit_called = false;
  bool throw_in_send = false;
  bool throw_in_info = false;
  bool usable_ = false;
  SessionInfo info_;

 private:
  std::function<void(SessionInfo)> open_cb_;
  std::function<void(MessageResult)> send_cb_;
  std::function<void()> on_closed_;
};

// ---------------------------------------------------------------- scripted answers

SessionInfo plain_session() {
  SessionInfo i;
  i.status = OpenStatus::Ok;
  i.stage = "ready";
  return i;
}

// The SHA-256 of the scripted peer's certificate, as the client reports it.
constexpr const char* kPeerCert =
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

SessionInfo tls_session(bool verified) {
  SessionInfo i = plain_session();
  i.starttls_offered = true;
  i.tls_attempted = true;
  i.tls.active = true;
  i.tls.protocol = "TLSv1.3";
  i.tls.cipher = "TLS_AES_256_GCM_SHA384";
  i.tls.verified = verified;
  if (!verified) i.tls.verify_error = "self-signed certificate";
  i.tls.cert_sha256 = kPeerCert;
  return i;
}

SessionInfo open_failed(OpenStatus status, const char* stage, const char* error) {
  SessionInfo i;
  i.status = status;
  i.stage = stage;
  i.error = error;
  return i;
}

SessionInfo handshake_failed(bool cut) {
  SessionInfo i = open_failed(OpenStatus::TlsFailed, "tls", "TLS handshake failed: wrong version number");
  i.starttls_offered = true;
  i.tls_attempted = true;
  i.tls_connection_lost = cut;
  return i;
}

SessionInfo refused(int code, const char* stage) {
  SessionInfo i = open_failed(OpenStatus::Refused, stage, "greeting refused");
  i.code = code;
  i.enhanced = code >= 500 ? "5.3.2" : "4.3.2";
  i.text = "go away";
  return i;
}

MessageResult transaction(std::vector<int> codes) {
  MessageResult r;
  r.status = SendStatus::Done;
  r.stage = "dot";
  r.connection_usable = true;
  for (int c : codes) {
    r.rcpts.push_back(client::RcptResult{c, c >= 500 ? "5.1.1" : c >= 400 ? "4.2.0" : "2.0.0",
                                         c >= 400 ? "refused" : "queued"});
  }
  return r;
}

MessageResult rejected(int code, const char* stage) {
  MessageResult r;
  r.status = SendStatus::Rejected;
  r.stage = stage;
  r.code = code;
  r.enhanced = code >= 500 ? "5.3.4" : "4.3.0";
  r.text = "not now";
  r.connection_usable = true;
  return r;
}

MessageResult broken(SendStatus status, const char* stage) {
  MessageResult r;
  r.status = status;
  r.stage = stage;
  r.text = status == SendStatus::Timeout ? "timeout after end of data" : "connection reset";
  return r;
}

// ---------------------------------------------------------------- the fixture

class AttemptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    cache_ = std::make_unique<ConnectionCache>(&loop_, std::chrono::milliseconds(60000), 4);
    config_ = std::make_shared<config::Config>();
    log_ = std::make_shared<spdlog::logger>(
        "attempt-test", std::make_shared<spdlog::sinks::ostream_sink_st>(log_text_));
    log_->set_pattern("%v");
    log_->set_level(spdlog::level::debug);
  }
  void TearDown() override {
    attempt_.reset();
    cache_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  // A message of `n` recipients at dest.test that arrived `age` ago.
  Job job(Policy policy, TlsLevel tls = TlsLevel::None, std::size_t n = 1,
          std::chrono::hours age = std::chrono::hours(0)) {
    auto env = std::make_shared<model::Envelope>();
    env->id = model::QueueId{0x0A1B2C3D4E5F6071};
    env->sender = "a@origin.test";
    env->arrival_us = unix_now_us() - std::chrono::duration_cast<std::chrono::microseconds>(age).count();
    Job j;
    j.id = env->id;
    j.domain = "dest.test";
    j.policy = policy;
    j.tls = tls;
    j.policy_reason = "default";
    for (std::size_t k = 0; k < n; ++k) {
      model::Recipient r;
      r.address = "r" + std::to_string(k) + "@dest.test";
      r.policy = policy;
      env->recipients.push_back(r);
      j.indices.push_back(k);
    }
    j.envelope = env;
    j.body = std::make_shared<const std::string>("Subject: t\r\n\r\nhi\r\n");
    return j;
  }

  void start(Job j) {
    AttemptEnv env;
    env.config = config_;
    env.discover = [this](const std::string& domain, dns::Discovery::Callback cb) {
      if (throw_in_discover) throw std::runtime_error("scripted bug in discover");
      discovered_ = domain;
      discover_cb_ = std::move(cb);
    };
    env.new_client = [this](const std::string& log_id) -> std::unique_ptr<client::SmtpClient> {
      if (throw_in_new_client) throw std::runtime_error("scripted bug in new_client");
      auto c = std::make_unique<ScriptedClient>();
      c->log_id = log_id;
      clients_.push_back(c.get());  // owned by the attempt, then the cache (until TearDown)
      return c;
    };
    if (use_sts) {
      env.sts_policy = [this](const std::string& domain, std::function<void(sts::StsState)> cb) {
        sts_asked_ = domain;
        sts_cb_ = std::move(cb);
      };
    }
    env.cache = cache_.get();
    env.log = log_;
    env.metrics = &metrics_;
    env.suspended = suspended;
    attempt_ = std::make_unique<Attempt>(std::move(env), std::move(j), [this](Attempt*, JobResult r) {
      ++done_calls_;
      result_ = std::move(r);
    });
    if (suspended.empty()) {
      attempt_->start();
    } else {
      attempt_->answer_suspended();
    }
  }

  // Discovery finds these hosts (name, address), in order, by MX.
  void discover(std::vector<std::pair<std::string, std::string>> hosts, bool incomplete = false) {
    answer_discovery(found(std::move(hosts), incomplete));
  }
  dns::DiscoveryResult found(std::vector<std::pair<std::string, std::string>> hosts,
                             bool incomplete = false) {
    dns::DiscoveryResult r;
    r.domain = "dest.test";
    r.status = dns::DiscoveryStatus::Ok;
    r.mx_incomplete = incomplete;
    for (const auto& [name, ip] : hosts) {
      dns::Candidate c;
      c.host = name;
      c.method = dns::Method::Mx;
      c.addresses.push_back(*dns::IpAddress::parse(ip));
      r.candidates.push_back(c);
    }
    return r;
  }
  // One MX host (or a route), with what its TLSA lookup said.
  dns::DiscoveryResult one_host(const std::string& name, const std::string& ip,
                                dns::HostTlsa tlsa = {}, dns::Method method = dns::Method::Mx) {
    dns::DiscoveryResult r;
    r.domain = "dest.test";
    r.status = dns::DiscoveryStatus::Ok;
    dns::Candidate c;
    c.host = name;
    c.method = method;
    c.addresses.push_back(*dns::IpAddress::parse(ip));
    c.tlsa = std::move(tlsa);
    r.candidates.push_back(c);
    return r;
  }
  void answer_sts(sts::StsState state) {
    auto cb = std::exchange(sts_cb_, nullptr);
    ASSERT_TRUE(cb) << "sts_policy() was not called";
    cb(std::move(state));
  }
  void answer_discovery(dns::DiscoveryResult r) {
    auto cb = std::exchange(discover_cb_, nullptr);
    ASSERT_TRUE(cb) << "discover() was not called";
    cb(std::move(r));
  }

  ScriptedClient& client(std::size_t i) {
    EXPECT_LT(i, clients_.size()) << "client " << i << " was never created";
    return *clients_.at(i);
  }
  const RcptOutcome& outcome(std::size_t k = 0) const { return result_.outcomes.at(k); }
  std::string log() const { return log_text_.str(); }
  bool logged(const std::string& part) const { return log().find(part) != std::string::npos; }

  // The attempt ended at once, once, with every recipient deferred for our own failure,
  // and said where with the queue id.
  void expect_failed_cleanly(const std::string& where) const {
    EXPECT_EQ(done_calls_, 1);
    for (const auto& o : result_.outcomes) {
      EXPECT_EQ(o.verdict, RcptVerdict::Deferred);
      EXPECT_EQ(o.status, "4.3.0");
      EXPECT_NE(o.diagnostic.find("internal error"), std::string::npos) << o.diagnostic;
    }
    EXPECT_TRUE(logged("0A1B2C3D4E5F6071: event=exception where=" + where + " what=scripted bug"))
        << log();
  }

  // A fresh BES attempt to two hosts: the first refuses the connection, the second answers
  // as `answer` scripts it; the attempt has ended when this returns.
  void second_host_answers(const std::function<void(ScriptedClient&)>& answer) {
    clients_.clear();
    start(job(Policy::BES));
    discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
    client(0).answer_open(open_failed(OpenStatus::ConnectFailed, "connect", "connection refused"));
    answer(client(1));
    ASSERT_EQ(done_calls_, 1);
    done_calls_ = 0;
  }

  uv_loop_t loop_{};
  std::unique_ptr<ConnectionCache> cache_;
  metrics::RelayMetrics metrics_;
  std::shared_ptr<config::Config> config_;
  std::ostringstream log_text_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<Attempt> attempt_;
  dns::Discovery::Callback discover_cb_;
  std::string discovered_;
  std::vector<ScriptedClient*> clients_;
  bool throw_in_discover = false;
  bool use_sts = false;  // give the attempt an MTA-STS seam (answer_sts)
  std::string sts_asked_;
  std::function<void(sts::StsState)> sts_cb_;
  bool throw_in_new_client = false;
  std::string suspended;  // AttemptEnv::suspended: answer_suspended() instead of start()
  int done_calls_ = 0;
  JobResult result_;
};

const char* const kQid = "0A1B2C3D4E5F6071";

// ---------------------------------------------------------------- discovery

TEST_F(AttemptTest, DiscoveringToDoneOnAPermanentDnsAnswer) {
  start(job(Policy::BES));
  EXPECT_EQ(discovered_, "dest.test");
  EXPECT_EQ(done_calls_, 0) << "never from start()";
  dns::DiscoveryResult r;
  r.status = dns::DiscoveryStatus::Permanent;
  r.enhanced_code = "5.1.2";
  r.reason = "dest.test: no such domain";
  answer_discovery(r);
  EXPECT_EQ(done_calls_, 1);
  EXPECT_EQ(outcome().verdict, RcptVerdict::Failed);
  EXPECT_EQ(outcome().status, "5.1.2");
  EXPECT_TRUE(clients_.empty());
  EXPECT_TRUE(logged(std::string(kQid) + ": to=<r0@dest.test>, relay=none,")) << log();
}

TEST_F(AttemptTest, DiscoveringToDoneOnATemporaryDnsAnswer) {
  start(job(Policy::SOS));
  dns::DiscoveryResult r;
  r.status = dns::DiscoveryStatus::Temporary;
  r.enhanced_code = "4.4.3";
  r.reason = "dest.test: SERVFAIL";
  answer_discovery(r);
  EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
  EXPECT_EQ(outcome().status, "4.4.3");
}

TEST_F(AttemptTest, NoAddressToTryDefers) {
  start(job(Policy::BES));
  dns::DiscoveryResult r;
  r.status = dns::DiscoveryStatus::Ok;
  dns::Candidate c;
  c.host = "mx1.dest.test";
  c.preference = 10;
  r.candidates.push_back(c);
  answer_discovery(r);
  EXPECT_EQ(done_calls_, 1);
  EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
  EXPECT_EQ(outcome().status, "4.4.1");
  EXPECT_EQ(outcome().diagnostic, "no receiving host found");
}

// ---------------------------------------------------------------- one host

TEST_F(AttemptTest, EveryStateInTurnAndTheTransitionsLogged) {
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  ASSERT_EQ(clients_.size(), 1u);
  EXPECT_EQ(client(0).host_, "mx1.dest.test");
  EXPECT_TRUE(client(0).try_starttls_) << "BES asks for TLS when offered";
  EXPECT_EQ(client(0).log_id, kQid) << "the client's lines carry the queue id";
  client(0).answer_open(plain_session());
  EXPECT_EQ(client(0).sent_to, (std::vector<std::string>{"r0@dest.test"}));
  client(0).answer_send(transaction({250}));
  EXPECT_EQ(done_calls_, 1);
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  EXPECT_EQ(outcome().tls, "none");
  EXPECT_TRUE(outcome().relayed) << "the peer had no DSN";
  for (const char* t : {"from=idle to=discovering", "from=discovering to=connecting",
                        "from=connecting to=sending", "from=sending to=done"}) {
    EXPECT_TRUE(logged(std::string(kQid) + ": event=attempt-state " + t)) << t << "\n" << log();
  }
  EXPECT_TRUE(logged(std::string(kQid) +
                     ": to=<r0@dest.test>, relay=mx1.dest.test[192.0.2.1]:25, policy=BES"))
      << log();
  // The connection can carry the next message: it waits in the cache, not QUIT.
  EXPECT_FALSE(client(0).quit_called);
}

TEST_F(AttemptTest, EachRecipientGetsItsOwnReply) {
  start(job(Policy::BES, TlsLevel::None, 4));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  client(0).answer_open(plain_session());
  auto r = transaction({250, 550, 451});  // the fourth reply is missing
  client(0).answer_send(r);
  ASSERT_EQ(result_.outcomes.size(), 4u);
  EXPECT_EQ(outcome(0).verdict, RcptVerdict::Delivered);
  EXPECT_EQ(outcome(1).verdict, RcptVerdict::Failed);
  EXPECT_EQ(outcome(1).status, "5.1.1");
  EXPECT_EQ(outcome(2).verdict, RcptVerdict::Deferred);
  EXPECT_EQ(outcome(3).verdict, RcptVerdict::Deferred);
  EXPECT_EQ(outcome(3).status, "4.3.0") << "never passed as sent";
  EXPECT_EQ(clients_.size(), 1u) << "a recipient's 4xx is not a reason to try another host";
}

TEST_F(AttemptTest, MailRefusedPermanentlyFailsEveryRecipientThere) {
  start(job(Policy::BES, TlsLevel::None, 2));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  client(0).answer_open(plain_session());
  client(0).answer_send(rejected(550, "mail"));
  EXPECT_EQ(done_calls_, 1);
  EXPECT_EQ(clients_.size(), 1u) << "a 5xx to MAIL is final";
  for (std::size_t k = 0; k < 2; ++k) EXPECT_EQ(outcome(k).verdict, RcptVerdict::Failed);
}

TEST_F(AttemptTest, OurOwnCheckOfTheMessageIsFinalWhenPermanent) {
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  client(0).answer_open(plain_session());
  client(0).answer_send(rejected(552, "local"));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Failed);
  EXPECT_EQ(outcome().diagnostic, "x-secmx; 552 5.3.4 not now (at mx1.dest.test[192.0.2.1]:25)");
  EXPECT_EQ(clients_.size(), 1u);
}

// ---------------------------------------------------------------- to the next host

TEST_F(AttemptTest, ConnectingToTheNextHostAfterEachKindOfFailure) {
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"},
            {"mx2.dest.test", "192.0.2.2"},
            {"mx3.dest.test", "192.0.2.3"},
            {"mx4.dest.test", "192.0.2.4"},
            {"mx5.dest.test", "192.0.2.5"},
            {"mx6.dest.test", "192.0.2.6"}});
  client(0).answer_open(open_failed(OpenStatus::ConnectFailed, "connect", "connection refused"));
  client(1).answer_open(refused(421, "greeting"));
  client(2).answer_open(plain_session());
  client(2).answer_send(rejected(451, "mail"));
  client(3).answer_open(plain_session());
  client(3).answer_send(broken(SendStatus::Broken, "data"));
  client(4).answer_open(plain_session());
  client(4).answer_send(broken(SendStatus::Timeout, "dot"));
  ASSERT_EQ(done_calls_, 0);
  client(5).answer_open(plain_session());
  client(5).answer_send(transaction({250}));
  EXPECT_EQ(done_calls_, 1);
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  EXPECT_EQ(outcome().remote_mta, "mx6.dest.test");
  for (std::size_t i : {0u, 1u, 3u, 4u}) EXPECT_TRUE(client(i).quit_called) << i;
}

TEST_F(AttemptTest, TheLastHostFailingDefersWithEveryHostNamed) {
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  client(0).answer_open(open_failed(OpenStatus::Timeout, "greeting", "timeout waiting for the greeting"));
  client(1).answer_open(plain_session());
  client(1).answer_send(broken(SendStatus::Broken, "data"));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
  EXPECT_EQ(outcome().status, "4.4.1");
  EXPECT_EQ(outcome().diagnostic,
            "mx1.dest.test[192.0.2.1]:25: timeout waiting for the greeting; "
            "mx2.dest.test[192.0.2.2]:25: connection lost during data: connection reset");
}

// A suspended destination (dead_destinations.hpp): no lookup, no connection, the answer
// decide() gives a destination that could not be reached, logged as Postfix does.
TEST_F(AttemptTest, ASuspendedDestinationIsAnsweredWithoutLookingItUp) {
  suspended = "delivery temporarily suspended: mx.dest.test[192.0.2.1]:25: connection refused";
  start(job(Policy::BES, TlsLevel::None, 2));
  EXPECT_EQ(done_calls_, 1) << "answered before answer_suspended() returns";
  EXPECT_EQ(discovered_, "") << "no lookup";
  EXPECT_TRUE(clients_.empty()) << "no connection";
  ASSERT_EQ(result_.outcomes.size(), 2u);
  for (const auto& o : result_.outcomes) {
    EXPECT_EQ(o.verdict, RcptVerdict::Deferred);
    EXPECT_EQ(o.status, "4.4.1");
    EXPECT_EQ(o.diagnostic, "dest.test: " + suspended);
  }
  EXPECT_TRUE(logged(std::string(kQid) + ": to=<r1@dest.test>, relay=none,")) << log();
  EXPECT_TRUE(logged("status=deferred (dest.test: delivery temporarily suspended: ")) << log();
}

TEST_F(AttemptTest, ASuspendedDestinationStillBouncesMailPastItsLifetime) {
  suspended = "delivery temporarily suspended: connection refused";
  config_->delivery.max_lifetime = std::chrono::hours(1);
  start(job(Policy::BES, TlsLevel::None, 1, std::chrono::hours(2)));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Failed);
  EXPECT_EQ(outcome().status.substr(0, 2), "5.") << outcome().status;
}

TEST_F(AttemptTest, EveryHostRefusingPermanentlyFailsBes) {
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  client(0).answer_open(refused(554, "greeting"));
  client(1).answer_open(refused(550, "ehlo"));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Failed);
  EXPECT_EQ(outcome().status, "5.0.0");
}

// ---------------------------------------------------------------- TLS

TEST_F(AttemptTest, BesRetriesTheSameHostInPlaintextAfterAFailedHandshake) {
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  client(0).answer_open(handshake_failed(false));
  ASSERT_EQ(clients_.size(), 2u);
  EXPECT_EQ(client(1).host_, "mx1.dest.test");
  EXPECT_FALSE(client(1).try_starttls_);
  EXPECT_TRUE(logged(std::string(kQid) + ": TLS handshake with mx1.dest.test[192.0.2.1]:25 failed"));
  SessionInfo plain = plain_session();
  plain.starttls_offered = true;  // offered again, not tried: the retry is plaintext
  client(1).answer_open(plain);
  client(1).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  EXPECT_EQ(outcome().tls, "none");
}

// RFC 3207 §4: a peer may answer STARTTLS with 454 and go on in plaintext. BES takes the
// same host once more without STARTTLS (as Postfix's "may" does), not the next host.
TEST_F(AttemptTest, BesRetriesTheSameHostInPlaintextWhenStarttlsIsRefused) {
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  SessionInfo refused = plain_session();
  refused.starttls_offered = true;
  refused.tls_attempted = true;  // STARTTLS sent, answered 454: the session is plaintext
  client(0).answer_open(refused);
  EXPECT_TRUE(client(0).sent_to.empty()) << "not sent on the session that asked for TLS";
  ASSERT_EQ(clients_.size(), 2u);
  EXPECT_EQ(client(1).host_, "mx1.dest.test");
  EXPECT_FALSE(client(1).try_starttls_);
  SessionInfo plain = plain_session();
  plain.starttls_offered = true;
  client(1).answer_open(plain);
  client(1).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  EXPECT_EQ(outcome().tls, "none");
}

TEST_F(AttemptTest, SosSkipsAPlaintextHostAndDeliversOverTls) {
  start(job(Policy::SOS, TlsLevel::Encrypt));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  client(0).answer_open(plain_session());
  EXPECT_TRUE(client(0).sent_to.empty()) << "nothing sent in plaintext";
  EXPECT_TRUE(client(0).quit_called);
  EXPECT_TRUE(logged(std::string(kQid) +
                     ": mx1.dest.test[192.0.2.1]:25 skipped for SOS policy: STARTTLS not offered"));
  client(1).answer_open(tls_session(false));
  client(1).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  EXPECT_EQ(outcome().tls, "TLSv1.3/TLS_AES_256_GCM_SHA384/none");
  EXPECT_EQ(outcome().cert_sha256, kPeerCert);
  EXPECT_EQ(metrics_.deliveries.value(metrics::DeliveryTls::Encrypt, metrics::DeliveryAuth::None,
                                      dns::Method::Mx),
            1u);
}

TEST_F(AttemptTest, SosWithEveryHostWithoutTlsFails5710) {
  start(job(Policy::SOS, TlsLevel::Verify));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  client(0).answer_open(plain_session());
  client(1).answer_open(tls_session(false));  // encrypted, but "verify" was asked
  EXPECT_TRUE(client(1).sent_to.empty());
  EXPECT_EQ(outcome().verdict, RcptVerdict::Failed);
  EXPECT_EQ(outcome().status, "5.7.10");
  EXPECT_NE(outcome().diagnostic.find("mx1.dest.test[192.0.2.1]:25: STARTTLS not offered"),
            std::string::npos);
  EXPECT_NE(outcome().diagnostic.find("mx2.dest.test[192.0.2.2]:25: certificate not verified"),
            std::string::npos);
}

TEST_F(AttemptTest, SosHandshakeCutByTheConnectionDefersInsteadOf5710) {
  start(job(Policy::SOS, TlsLevel::Encrypt));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  client(0).answer_open(handshake_failed(true));
  EXPECT_EQ(clients_.size(), 1u) << "never a plaintext retry for SOS";
  EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
  EXPECT_EQ(outcome().status, "4.7.10");
}

TEST_F(AttemptTest, SosWithIncompleteDnsDefersInsteadOf5710) {
  start(job(Policy::SOS, TlsLevel::Encrypt));
  discover({{"mx1.dest.test", "192.0.2.1"}}, /*incomplete=*/true);
  client(0).answer_open(plain_session());
  EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
  EXPECT_EQ(outcome().status, "4.7.10");
}

TEST_F(AttemptTest, ACachedConnectionThatSuitsTheLevelIsUsedWithoutConnecting) {
  auto idle = std::make_unique<ScriptedClient>();
  ScriptedClient* raw = idle.get();
  raw->info_ = tls_session(true);
  raw->usable_ = true;
  TlsObservation seen;
  seen.starttls_offered = seen.handshake_attempted = seen.handshake_ok = seen.verified = true;
  seen.auth = TlsAuth::Pkix;
  cache_->put(ConnectionCache::key("mx1.dest.test", "192.0.2.1", 25, tls::PeerVerify{{"mx1.dest.test"}, {}}),
              CachedConnection{std::move(idle), seen, "mx"});
  start(job(Policy::SOS, TlsLevel::Verify));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  EXPECT_TRUE(clients_.empty()) << "no new connection";
  EXPECT_EQ(raw->log_id, kQid) << "it now logs for this message";
  ASSERT_TRUE(raw->sending());
  raw->answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  // The evidence is the connection's, authenticated under this host's terms.
  EXPECT_EQ(outcome().tls, "TLSv1.3/TLS_AES_256_GCM_SHA384/pkix");
  EXPECT_EQ(outcome().cert_sha256, kPeerCert);
  EXPECT_EQ(metrics_.deliveries.value(metrics::DeliveryAuth::Pkix), 1u);
}

// ---------------------------------------------------------------- evidence

TEST_F(AttemptTest, EvidenceOfADeliveryGoesToTheLogLineTheOutcomeAndTheCounters) {
  start(job(Policy::SOS, TlsLevel::Verify));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  client(0).answer_open(tls_session(true));
  client(0).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  EXPECT_EQ(outcome().tls, "TLSv1.3/TLS_AES_256_GCM_SHA384/pkix");
  EXPECT_EQ(outcome().cert_sha256, kPeerCert);
  EXPECT_EQ(outcome().dnssec, "off");
  EXPECT_TRUE(logged("relay=mx1.dest.test[192.0.2.1]:25, policy=SOS, reason=default, method=mx, "
                     "tls=TLSv1.3/TLS_AES_256_GCM_SHA384/pkix, cert=sha256:" +
                     std::string(kPeerCert) + ", dnssec=off, delay="))
      << log();
  EXPECT_EQ(metrics_.deliveries.value(metrics::DeliveryTls::Verified, metrics::DeliveryAuth::Pkix,
                                      dns::Method::Mx),
            1u);
  EXPECT_EQ(metrics_.deliveries.value(metrics::DeliveryAuth::Dane), 0u);
}

TEST_F(AttemptTest, PlaintextHasNoCertificateAndDnssecSaysWhetherTheAnswersWereSecure) {
  start(job(Policy::BES, TlsLevel::None, 2));
  auto r = found({{"mx1.dest.test", "192.0.2.1"}});
  r.dnssec = true;
  r.candidates[0].name_secure = true;
  r.candidates[0].addresses_secure = true;
  answer_discovery(std::move(r));
  client(0).answer_open(plain_session());
  client(0).answer_send(transaction({250, 450}));
  ASSERT_EQ(result_.outcomes.size(), 2u);
  for (const auto& o : result_.outcomes) {
    EXPECT_EQ(o.tls, "none");
    EXPECT_EQ(o.cert_sha256, "");
    EXPECT_EQ(o.dnssec, "secure");
  }
  EXPECT_TRUE(logged("tls=none, dnssec=secure, delay=")) << log();
  EXPECT_FALSE(logged("cert=")) << log();
  EXPECT_EQ(metrics_.deliveries.value(metrics::DeliveryTls::None, dns::Method::Mx), 1u);
}

TEST_F(AttemptTest, AHostWithAnInsecureAddressIsInsecure) {
  start(job(Policy::BES));
  auto r = found({{"mx1.dest.test", "192.0.2.1"}});
  r.dnssec = true;
  r.candidates[0].name_secure = true;  // a secure MX answer, but the A answer was not
  answer_discovery(std::move(r));
  client(0).answer_open(tls_session(false));
  client(0).answer_send(transaction({250}));
  EXPECT_EQ(outcome().dnssec, "insecure");
  EXPECT_EQ(outcome().tls, "TLSv1.3/TLS_AES_256_GCM_SHA384/none");
}

TEST_F(AttemptTest, NoHostNamedNoDnssecStatus) {
  start(job(Policy::BES));
  dns::DiscoveryResult r;
  r.domain = "dest.test";
  r.status = dns::DiscoveryStatus::Temporary;
  r.enhanced_code = "4.4.3";
  r.reason = "SERVFAIL";
  r.dnssec = true;
  answer_discovery(std::move(r));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
  EXPECT_EQ(outcome().dnssec, "");
  EXPECT_EQ(outcome().cert_sha256, "");
  EXPECT_FALSE(logged("dnssec=")) << log();
}

// ---------------------------------------------------------------- DANE and MTA-STS

const tls::DaneRecord kRecord{3, 1, 1, {0xAB, 0xCD}};

dns::HostTlsa usable_tlsa(std::string base) {
  dns::HostTlsa t;
  t.status = dns::TlsaStatus::Usable;
  t.records.push_back(dns::TlsaRecord{3, 1, 1, {0xAB, 0xCD}});
  t.base = std::move(base);
  return t;
}

dns::HostTlsa tlsa_of(dns::TlsaStatus status, std::string detail = "") {
  dns::HostTlsa t;
  t.status = status;
  t.detail = std::move(detail);
  return t;
}

sts::StsState sts_policy(sts::Mode mode, std::vector<std::string> mx) {
  sts::StsState s;
  s.policy = sts::StsPolicy{mode, std::chrono::seconds(86400), std::move(mx), ""};
  s.id = "20260101";
  return s;
}

SessionInfo dane_session(bool matched) {
  SessionInfo i = tls_session(false);
  i.tls.dane = matched;
  if (!matched) i.tls.verify_error = "no TLSA record matched";
  return i;
}

TEST_F(AttemptTest, UsableTlsaRecordsGoToTheClientWithTheirNames) {
  start(job(Policy::BES));
  answer_discovery(one_host("mx1.dest.test", "192.0.2.1", usable_tlsa("mx1.cname.test")));
  ASSERT_EQ(clients_.size(), 1u);
  const tls::PeerVerify& v = client(0).verify;
  EXPECT_EQ(v.names, (std::vector<std::string>{"mx1.cname.test", "mx1.dest.test"}))
      << "the TLSA base domain first (SNI), then the MX host name";
  EXPECT_EQ(v.tlsa, std::vector<tls::DaneRecord>{kRecord});
  EXPECT_TRUE(client(0).try_starttls_);
}

TEST_F(AttemptTest, TheHostNameAloneIsCheckedWithoutTlsa) {
  start(job(Policy::BES));
  answer_discovery(one_host("mx1.dest.test", "192.0.2.1", usable_tlsa("mx1.dest.test")));
  EXPECT_EQ(client(0).verify.names, std::vector<std::string>{"mx1.dest.test"}) << "no duplicate";
  client(0).answer_open(open_failed(OpenStatus::ConnectFailed, "connect", "refused"));

  start(job(Policy::BES));
  discover({{"mx2.dest.test", "192.0.2.2"}});
  ASSERT_EQ(clients_.size(), 2u);
  EXPECT_EQ(client(1).verify.names, std::vector<std::string>{"mx2.dest.test"});
  EXPECT_TRUE(client(1).verify.tlsa.empty());
}

TEST_F(AttemptTest, ADaneMatchDeliversAndIsRecordedAsDane) {
  start(job(Policy::BES));
  answer_discovery(one_host("mx1.dest.test", "192.0.2.1", usable_tlsa("mx1.dest.test")));
  client(0).answer_open(dane_session(true));
  ASSERT_EQ(client(0).sent_to, std::vector<std::string>{"r0@dest.test"});
  client(0).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  EXPECT_EQ(outcome().tls, "TLSv1.3/TLS_AES_256_GCM_SHA384/dane");
  // The connection waits in the cache as DANE-verified, under the same records.
  tls::PeerVerify v{{"mx1.dest.test"}, {kRecord}};
  auto key = ConnectionCache::key("mx1.dest.test", "192.0.2.1", 25, v);
  auto cached = cache_->take(key, TlsLevel::None, Binding::Dane);
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->tls.auth, TlsAuth::Dane);
  cache_->retire(std::move(cached->client));
}

TEST_F(AttemptTest, NoDaneMatchSendsNothingAndDefers475EvenForBes) {
  for (Policy p : {Policy::BES, Policy::SOS}) {
    SCOPED_TRACE(model::to_string(p));
    clients_.clear();
    start(job(p));
    answer_discovery(one_host("mx1.dest.test", "192.0.2.1", usable_tlsa("mx1.dest.test")));
    SessionInfo pkix_only = dane_session(false);
    pkix_only.tls.verified = true;  // a PKIX-valid chain is no match for TLSA records
    client(0).answer_open(pkix_only);
    EXPECT_TRUE(client(0).sent_to.empty());
    EXPECT_TRUE(client(0).quit_called);
    EXPECT_EQ(clients_.size(), 1u) << "no plaintext retry";
    EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
    EXPECT_EQ(outcome().status, "4.7.5");
    EXPECT_NE(outcome().diagnostic.find("matches no TLSA record"), std::string::npos)
        << outcome().diagnostic;
    // The evidence is the host that failed: its TLS and the certificate it showed.
    EXPECT_EQ(outcome().tls, "TLSv1.3/TLS_AES_256_GCM_SHA384/none");
    EXPECT_EQ(outcome().cert_sha256, kPeerCert);
    EXPECT_TRUE(logged("skipped for " + std::string(model::to_string(p)) +
                       " policy: certificate matches no TLSA record of the host (DANE)"))
        << log();
    EXPECT_TRUE(logged(std::string("tls=TLSv1.3/TLS_AES_256_GCM_SHA384/none cert=sha256:") + kPeerCert))
        << log();
  }
  EXPECT_EQ(metrics_.tls_auth_failures.value(metrics::AuthFailure::Dane), 2u);
  EXPECT_EQ(metrics_.tls_auth_failures.value(metrics::AuthFailure::MtaSts), 0u);
}

TEST_F(AttemptTest, AFailedHandshakeWithADaneHostIsNeverRetriedInPlaintext) {
  start(job(Policy::BES));
  answer_discovery(one_host("mx1.dest.test", "192.0.2.1", usable_tlsa("mx1.dest.test")));
  client(0).answer_open(handshake_failed(false));
  EXPECT_EQ(clients_.size(), 1u) << "BES, but the receiver's DANE forbids plaintext";
  EXPECT_EQ(outcome().status, "4.7.5");
}

TEST_F(AttemptTest, ADaneFailurePastTheLifetimeFails575) {
  start(job(Policy::BES, TlsLevel::None, 1, std::chrono::hours(24 * 6)));
  answer_discovery(one_host("mx1.dest.test", "192.0.2.1", usable_tlsa("mx1.dest.test")));
  client(0).answer_open(dane_session(false));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Failed);
  EXPECT_EQ(outcome().status, "5.7.5");
}

TEST_F(AttemptTest, UnusableTlsaMakesTlsMandatoryForBes) {
  start(job(Policy::BES));
  answer_discovery(one_host("mx1.dest.test", "192.0.2.1", tlsa_of(dns::TlsaStatus::UnusableOnly)));
  EXPECT_TRUE(client(0).verify.tlsa.empty()) << "unusable records are not for matching";
  client(0).answer_open(plain_session());
  EXPECT_TRUE(client(0).sent_to.empty()) << "nothing in plaintext";
  EXPECT_EQ(clients_.size(), 1u);
  EXPECT_EQ(outcome().status, "4.7.5");

  clients_.clear();
  start(job(Policy::BES));
  answer_discovery(one_host("mx1.dest.test", "192.0.2.1", tlsa_of(dns::TlsaStatus::UnusableOnly)));
  client(0).answer_open(tls_session(false));  // any TLS will do
  client(0).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
}

TEST_F(AttemptTest, AFailedTlsaLookupSkipsTheHostAsTemporarilyFailed) {
  start(job(Policy::SOS, TlsLevel::Encrypt));
  answer_discovery(one_host("mx1.dest.test", "192.0.2.1",
                            tlsa_of(dns::TlsaStatus::Failed, "SERVFAIL (bogus)")));
  EXPECT_TRUE(clients_.empty()) << "never connected";
  EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
  EXPECT_EQ(outcome().status, "4.7.10") << "a temporary failure, not 5.7.10";
  EXPECT_NE(outcome().diagnostic.find("TLSA lookup failed: SERVFAIL (bogus)"), std::string::npos)
      << outcome().diagnostic;
  EXPECT_TRUE(logged(std::string(kQid) + ": mx1.dest.test[192.0.2.1]:25 not tried: TLSA lookup failed"))
      << log();
  EXPECT_EQ(metrics_.tls_auth_failures.value(metrics::AuthFailure::TlsaLookup), 1u);
}

TEST_F(AttemptTest, AnMxHostOutsideTheEnforcePolicyIsNeverConnectedTo) {
  use_sts = true;
  start(job(Policy::BES));
  discover({{"mx.evil.test", "192.0.2.66"}});
  EXPECT_EQ(sts_asked_, "dest.test");
  EXPECT_TRUE(clients_.empty()) << "nothing before the policy is known";
  answer_sts(sts_policy(sts::Mode::Enforce, {"*.dest.test"}));
  EXPECT_TRUE(clients_.empty()) << "never opened";
  EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
  EXPECT_EQ(outcome().status, "4.7.5");
  EXPECT_NE(outcome().diagnostic.find("MX host not in the MTA-STS policy of dest.test"),
            std::string::npos)
      << outcome().diagnostic;
  EXPECT_EQ(metrics_.tls_auth_failures.value(metrics::AuthFailure::MtaSts), 1u);
}

TEST_F(AttemptTest, AnEnforcePolicyWantsPkixForTheMxName) {
  use_sts = true;
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  answer_sts(sts_policy(sts::Mode::Enforce, {"*.dest.test"}));
  ASSERT_EQ(clients_.size(), 1u);
  EXPECT_EQ(client(0).verify.names, std::vector<std::string>{"mx1.dest.test"});
  client(0).answer_open(tls_session(false));  // self-signed
  EXPECT_TRUE(client(0).sent_to.empty());
  ASSERT_EQ(clients_.size(), 2u);
  client(1).answer_open(tls_session(true));
  client(1).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  auto key = ConnectionCache::key("mx2.dest.test", "192.0.2.2", 25,
                                  tls::PeerVerify{{"mx2.dest.test"}, {}});
  auto cached = cache_->take(key, TlsLevel::None, Binding::MtaSts);
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->tls.auth, TlsAuth::MtaSts);
  cache_->retire(std::move(cached->client));
}

TEST_F(AttemptTest, UsableTlsaWinsOverMtaSts) {
  use_sts = true;
  start(job(Policy::BES));
  answer_discovery(one_host("mx.elsewhere.test", "192.0.2.1", usable_tlsa("mx.elsewhere.test")));
  answer_sts(sts_policy(sts::Mode::Enforce, {"*.dest.test"}));
  ASSERT_EQ(clients_.size(), 1u) << "a DANE host is not held to the policy's mx list";
  client(0).answer_open(dane_session(true));
  client(0).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
}

TEST_F(AttemptTest, ATestingPolicyDeliversAndReportsTheMismatch) {
  use_sts = true;
  start(job(Policy::BES));
  discover({{"mx.other.test", "192.0.2.7"}});
  answer_sts(sts_policy(sts::Mode::Testing, {"*.dest.test"}));
  ASSERT_EQ(clients_.size(), 1u);
  client(0).answer_open(plain_session());
  client(0).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  EXPECT_TRUE(logged(std::string(kQid) +
                     ": event=sts-testing-failure domain=dest.test host=mx.other.test[192.0.2.7]:25 "
                     "reason=MX host not in the policy"))
      << log();
}

TEST_F(AttemptTest, ARouteIsTheOperatorsAndBypassesMtaSts) {
  use_sts = true;
  start(job(Policy::BES));
  answer_discovery(one_host("relay.internal.test", "192.0.2.9", {}, dns::Method::Route));
  EXPECT_TRUE(sts_asked_.empty()) << "no policy asked for: it would bind nothing";
  ASSERT_EQ(clients_.size(), 1u);
  client(0).answer_open(plain_session());
  client(0).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
}

TEST_F(AttemptTest, AThrowWhenThePolicyArrivesFailsTheAttemptCleanly) {
  use_sts = true;
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  throw_in_new_client = true;
  answer_sts(sts::StsState{});
  expect_failed_cleanly("attempt.sts");
}

// ---------------------------------------------------------------- lifetimes

TEST_F(AttemptTest, ADeferralPastTheMaximumLifetimeIsFinal) {
  start(job(Policy::BES, TlsLevel::None, 1, std::chrono::hours(24 * 6)));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  client(0).answer_open(open_failed(OpenStatus::ConnectFailed, "connect", "connection refused"));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Failed);
  EXPECT_EQ(outcome().status, "5.4.7");
}

TEST_F(AttemptTest, SosPastItsLifetimeFails5710EvenWithAnUnreachableHost) {
  Job j = job(Policy::SOS, TlsLevel::Encrypt);
  j.sos_expired = true;
  start(std::move(j));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  client(0).answer_open(open_failed(OpenStatus::ConnectFailed, "connect", "connection refused"));
  EXPECT_EQ(outcome().status, "5.7.10");
  EXPECT_NE(outcome().diagnostic.find("within the SOS lifetime"), std::string::npos);
}

// ---------------------------------------------------------------- reachability

// JobResult::reach is what the attempt saw of its destination, for the dead-destination
// throttle: no host answered -> no; a greeting or a reply came, or a delivery -> yes; a
// failed lookup, a suspended answer, hosts left only for their TLS -> nothing.

TEST_F(AttemptTest, EveryHostRefusingTheConnectionIsNotReached) {
  start(job(Policy::BES, TlsLevel::None, 2));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  client(0).answer_open(open_failed(OpenStatus::ConnectFailed, "connect", "connection refused"));
  client(1).answer_open(open_failed(OpenStatus::ConnectFailed, "connect", "connection refused"));
  EXPECT_STREQ(to_string(result_.reach), "no");
  EXPECT_EQ(result_.unreached,
            "mx1.dest.test[192.0.2.1]:25: connection refused; "
            "mx2.dest.test[192.0.2.2]:25: connection refused");
  EXPECT_EQ(result_.unreached, outcome(1).diagnostic) << "the deferral's own text";
}

// No greeting is no answer, whether the connection was cut, timed out or never made; the
// same goes for SOS mail, whose deferral (4.7.10) does not say that no host answered.
TEST_F(AttemptTest, NoGreetingFromAnyHostIsNotReachedForAnyPolicy) {
  for (Policy p : {Policy::BES, Policy::SOS}) {
    SCOPED_TRACE(model::to_string(p));
    clients_.clear();
    start(job(p, p == Policy::SOS ? TlsLevel::Encrypt : TlsLevel::None));
    discover({{"mx1.dest.test", "192.0.2.1"},
              {"mx2.dest.test", "192.0.2.2"},
              {"mx3.dest.test", "192.0.2.3"}});
    client(0).answer_open(open_failed(OpenStatus::Timeout, "connect", "timeout while connecting"));
    client(1).answer_open(open_failed(OpenStatus::Timeout, "greeting", "timeout waiting for the greeting"));
    client(2).answer_open(open_failed(OpenStatus::Broken, "greeting", "lost connection waiting for the greeting"));
    EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
    EXPECT_STREQ(to_string(result_.reach), "no");
    EXPECT_NE(result_.unreached.find("mx3.dest.test[192.0.2.3]:25: lost connection"),
              std::string::npos)
        << result_.unreached;
  }
}

TEST_F(AttemptTest, AMessagePastItsLifetimeStillSaysNoHostAnswered) {
  start(job(Policy::BES, TlsLevel::None, 1, std::chrono::hours(24 * 6)));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  client(0).answer_open(open_failed(OpenStatus::ConnectFailed, "connect", "connection refused"));
  EXPECT_EQ(outcome().status, "5.4.7");
  EXPECT_STREQ(to_string(result_.reach), "no");
  EXPECT_EQ(result_.unreached, "mx1.dest.test[192.0.2.1]:25: connection refused");
}

// How the second host of a two-host attempt answers (the first refuses the connection).
struct HostCase {
  const char* name;
  std::function<void(ScriptedClient&)> answer;
};

// A handshake failure - a 4xx/5xx greeting, EHLO refused, dropped or timed out - is no
// answer (Postfix's "connection or handshake failure"): a partner greeting every connection
// with 421 is down for us. Each after a host that refused the connection.
TEST_F(AttemptTest, AHandshakeFailureIsNotReached) {
  std::vector<HostCase> cases{
      {"421 greeting", [](ScriptedClient& c) { c.answer_open(refused(421, "greeting")); }},
      {"554 greeting", [](ScriptedClient& c) { c.answer_open(refused(554, "greeting")); }},
      {"451 ehlo", [](ScriptedClient& c) { c.answer_open(refused(451, "ehlo")); }},
      {"timeout after ehlo",
       [](ScriptedClient& c) { c.answer_open(open_failed(OpenStatus::Timeout, "ehlo", "timeout after EHLO")); }},
      {"lost after helo",
       [](ScriptedClient& c) { c.answer_open(open_failed(OpenStatus::Broken, "helo", "lost connection after HELO")); }},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    second_host_answers(k.answer);
    EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
    EXPECT_STREQ(to_string(result_.reach), "no");
    EXPECT_NE(result_.unreached.find("mx2.dest.test[192.0.2.2]:25"), std::string::npos)
        << result_.unreached;
  }
}

// A host that got through the handshake is up, whatever it answers after: a 4xx to MAIL or
// RCPT, or a connection lost in the transaction. Each after a host that refused.
TEST_F(AttemptTest, AHostThatGreetsAndDefersIsReached) {
  std::vector<HostCase> cases{
      {"451 mail",
       [](ScriptedClient& c) {
         c.answer_open(plain_session());
         auto r = rejected(451, "mail");
         r.connection_usable = false;  // not left in the cache for the next case
         c.answer_send(r);
       }},
      {"450 rcpt",
       [](ScriptedClient& c) {
         c.answer_open(plain_session());
         auto r = transaction({450});
         r.connection_usable = false;
         c.answer_send(r);
       }},
      {"lost in data",
       [](ScriptedClient& c) {
         c.answer_open(plain_session());
         c.answer_send(broken(SendStatus::Broken, "data"));
       }},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    second_host_answers(k.answer);
    EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
    EXPECT_STREQ(to_string(result_.reach), "yes");
    EXPECT_EQ(result_.unreached, "");
  }
}

TEST_F(AttemptTest, ADeliveryIsReached) {
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  client(0).answer_open(open_failed(OpenStatus::ConnectFailed, "connect", "connection refused"));
  client(1).answer_open(plain_session());
  client(1).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  EXPECT_STREQ(to_string(result_.reach), "yes");
}

// The host greeted before its TLS failed; BES then goes on in plaintext on the same host.
TEST_F(AttemptTest, AFailedHandshakeBeforeAPlaintextRetryIsReached) {
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  client(0).answer_open(handshake_failed(false));
  client(1).answer_open(open_failed(OpenStatus::ConnectFailed, "connect", "connection refused"));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
  EXPECT_STREQ(to_string(result_.reach), "yes");
}

TEST_F(AttemptTest, AFailedLookupSaysNothing) {
  for (auto status : {dns::DiscoveryStatus::Temporary, dns::DiscoveryStatus::Permanent}) {
    start(job(Policy::BES));
    dns::DiscoveryResult r;
    r.status = status;
    r.reason = "dest.test: SERVFAIL";
    answer_discovery(r);
    EXPECT_TRUE(clients_.empty());
    EXPECT_STREQ(to_string(result_.reach), "unknown");
  }
  // Found, but no address to try: still the DNS's answer, not a host's.
  start(job(Policy::BES));
  dns::DiscoveryResult none;
  none.status = dns::DiscoveryStatus::Ok;
  none.candidates.push_back(dns::Candidate{});
  none.candidates.back().host = "mx1.dest.test";
  answer_discovery(none);
  EXPECT_EQ(outcome().status, "4.4.1");
  EXPECT_STREQ(to_string(result_.reach), "unknown");
  // Every host skipped for a failed TLSA lookup: never connected to.
  start(job(Policy::BES));
  answer_discovery(one_host("mx1.dest.test", "192.0.2.1",
                            tlsa_of(dns::TlsaStatus::Failed, "SERVFAIL (bogus)")));
  EXPECT_TRUE(clients_.empty());
  EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
  EXPECT_STREQ(to_string(result_.reach), "unknown");
}

TEST_F(AttemptTest, ASuspendedAnswerSaysNothing) {
  suspended = "delivery temporarily suspended: mx.dest.test[192.0.2.1]:25: connection refused";
  start(job(Policy::BES));
  EXPECT_EQ(outcome().status, "4.4.1") << "deferred as no host answered, yet none was tried";
  EXPECT_STREQ(to_string(result_.reach), "unknown");
  EXPECT_EQ(result_.unreached, "");
}

// SOS mail left on hosts that answered without the TLS it needs (no STARTTLS, a failed or
// cut handshake, a certificate not verified), or a host that failed its receiver's DANE:
// the hosts are up, but that is no word on the destination. One that answered as it
// should elsewhere still makes it reached.
TEST_F(AttemptTest, HostsLeftForTheirTlsSayNothing) {
  start(job(Policy::SOS, TlsLevel::Verify));
  discover({{"mx1.dest.test", "192.0.2.1"},
            {"mx2.dest.test", "192.0.2.2"},
            {"mx3.dest.test", "192.0.2.3"},
            {"mx4.dest.test", "192.0.2.4"},
            {"mx5.dest.test", "192.0.2.5"}});
  client(0).answer_open(plain_session());
  client(1).answer_open(handshake_failed(false));
  client(2).answer_open(handshake_failed(true));
  client(3).answer_open(open_failed(OpenStatus::Timeout, "tls", "timeout in the TLS handshake"));
  client(4).answer_open(tls_session(false));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Deferred);
  EXPECT_STREQ(to_string(result_.reach), "unknown");

  clients_.clear();
  start(job(Policy::BES));
  answer_discovery(one_host("mx1.dest.test", "192.0.2.1", usable_tlsa("mx1.dest.test")));
  client(0).answer_open(handshake_failed(false));
  EXPECT_EQ(outcome().status, "4.7.5");
  EXPECT_STREQ(to_string(result_.reach), "unknown");

  clients_.clear();
  start(job(Policy::SOS, TlsLevel::Encrypt));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  client(0).answer_open(plain_session());
  client(1).answer_open(refused(421, "greeting"));
  EXPECT_EQ(outcome().status, "4.7.10");
  // The one host up was left for its TLS, the other failed its handshake: nothing said.
  EXPECT_STREQ(to_string(result_.reach), "unknown");
}

TEST_F(AttemptTest, OurOwnFailureSaysNothing) {
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  throw_in_new_client = true;
  client(0).answer_open(open_failed(OpenStatus::ConnectFailed, "connect", "connection refused"));
  expect_failed_cleanly("attempt.opened");
  EXPECT_STREQ(to_string(result_.reach), "unknown");
}

// ---------------------------------------------------------------- exceptions

TEST_F(AttemptTest, AThrowInStartFailsTheAttemptCleanly) {
  throw_in_discover = true;
  start(job(Policy::SOS, TlsLevel::Encrypt, 2));
  expect_failed_cleanly("attempt.start");
  EXPECT_EQ(result_.outcomes.size(), 2u);
}

TEST_F(AttemptTest, AThrowAfterDiscoveryFailsTheAttemptCleanly) {
  start(job(Policy::BES));
  throw_in_new_client = true;
  discover({{"mx1.dest.test", "192.0.2.1"}});
  expect_failed_cleanly("attempt.discovered");
}

TEST_F(AttemptTest, AThrowWhenTheSessionOpensFailsTheAttemptAndDropsTheConnection) {
  start(job(Policy::SOS, TlsLevel::Encrypt));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  client(0).throw_in_send = true;
  client(0).answer_open(tls_session(true));
  expect_failed_cleanly("attempt.opened");
  EXPECT_TRUE(client(0).quit_called);
  EXPECT_EQ(clients_.size(), 1u) << "no further host once failed";
  EXPECT_EQ(outcome().status, "4.3.0") << "never a 5.7.10 for our own failure";
}

TEST_F(AttemptTest, AThrowWhenTheTransactionEndsFailsTheAttemptCleanly) {
  start(job(Policy::BES, TlsLevel::None, 2));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  client(0).answer_open(plain_session());
  client(0).throw_in_info = true;
  client(0).answer_send(transaction({250, 250}));
  expect_failed_cleanly("attempt.sent");
  EXPECT_TRUE(client(0).quit_called) << "a connection in an unknown state is not cached";
}

// ---------------------------------------------------------------- TLS reporting

std::size_t sessions_counted(const metrics::RelayMetrics& m, tlsrpt::PolicyType p,
                             std::optional<tlsrpt::ResultType> r) {
  return m.tls_sessions.value(p, r ? 1 + static_cast<std::size_t>(*r) : 0);
}

// A scripted session as a real client reports it: our address and the peer's name.
SessionInfo from_peer(SessionInfo i, long verify_code = 0) {
  i.local_ip = "203.0.113.5";
  i.peer_helo = "mx.greeting.test";
  i.tls.verify_code = verify_code;
  return i;
}

TEST_F(AttemptTest, EachSessionIsRecordedAsItEnds) {
  use_sts = true;
  const std::int64_t before = unix_now_us();
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  auto policy = sts_policy(sts::Mode::Enforce, {"*.dest.test"});
  policy.policy->text = "version: STSv1\nmode: enforce\nmx: *.dest.test\nmax_age: 86400\n";
  answer_sts(policy);
  client(0).answer_open(from_peer(tls_session(false), 18));  // self-signed
  client(1).answer_open(from_peer(tls_session(true)));
  client(1).answer_send(transaction({250}));
  ASSERT_EQ(outcome().verdict, RcptVerdict::Delivered);

  ASSERT_EQ(result_.sessions.size(), 2u);
  const auto& failed = result_.sessions[0];
  EXPECT_EQ(failed.policy.type, tlsrpt::PolicyType::Sts);
  EXPECT_EQ(failed.policy.domain, "dest.test");
  EXPECT_EQ(failed.policy.strings,
            (std::vector<std::string>{"version: STSv1", "mode: enforce", "mx: *.dest.test",
                                      "max_age: 86400"}));
  EXPECT_EQ(failed.policy.mx_host, std::vector<std::string>{"*.dest.test"});
  ASSERT_TRUE(failed.failure);
  EXPECT_EQ(failed.failure->result, tlsrpt::ResultType::CertificateNotTrusted);
  EXPECT_EQ(failed.failure->failure_reason_code, "X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT");
  EXPECT_EQ(failed.failure->receiving_mx_hostname, "mx1.dest.test");
  EXPECT_EQ(failed.failure->receiving_ip, "192.0.2.1");
  EXPECT_EQ(failed.failure->receiving_mx_helo, "mx.greeting.test");
  EXPECT_EQ(failed.failure->sending_mta_ip, "203.0.113.5");
  EXPECT_GE(failed.time_us, before);
  EXPECT_FALSE(result_.sessions[1].failure) << "the second host met the policy";
  EXPECT_EQ(result_.sessions[1].policy, failed.policy);

  using tlsrpt::PolicyType;
  EXPECT_EQ(
      sessions_counted(metrics_, PolicyType::Sts, tlsrpt::ResultType::CertificateNotTrusted), 1u);
  EXPECT_EQ(sessions_counted(metrics_, PolicyType::Sts, std::nullopt), 1u);
  EXPECT_EQ(sessions_counted(metrics_, PolicyType::NoPolicyFound, std::nullopt), 0u);
  EXPECT_NE(metrics_.render().find(
                "secmx_tls_sessions_total{policy=\"sts\",result=\"certificate-not-trusted\"} 1"),
            std::string::npos);
}

TEST_F(AttemptTest, AFailedHandshakeCountsOnceThoughBesRetriesInPlaintext) {
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  client(0).answer_open(from_peer(handshake_failed(false)));
  ASSERT_EQ(clients_.size(), 2u) << "the plaintext retry";
  client(1).answer_open(from_peer(plain_session()));
  client(1).answer_send(transaction({250}));
  ASSERT_EQ(result_.sessions.size(), 1u);
  ASSERT_TRUE(result_.sessions[0].failure);
  EXPECT_EQ(result_.sessions[0].failure->result, tlsrpt::ResultType::ValidationFailure);
  EXPECT_EQ(result_.sessions[0].policy.type, tlsrpt::PolicyType::NoPolicyFound);
}

TEST_F(AttemptTest, APlainHostAndAnUnreachableOne) {
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}, {"mx2.dest.test", "192.0.2.2"}});
  client(0).answer_open(open_failed(OpenStatus::ConnectFailed, "connect", "connection refused"));
  client(1).answer_open(from_peer(plain_session()));  // no STARTTLS offered
  client(1).answer_send(transaction({250}));
  ASSERT_EQ(result_.sessions.size(), 1u) << "a refused connection says nothing about TLS";
  ASSERT_TRUE(result_.sessions[0].failure);
  EXPECT_EQ(result_.sessions[0].failure->result, tlsrpt::ResultType::StarttlsNotSupported);
  EXPECT_EQ(result_.sessions[0].failure->receiving_mx_hostname, "mx2.dest.test");
}

TEST_F(AttemptTest, HostsRuledOutByTheirPolicyAreRecorded) {
  start(job(Policy::BES));
  answer_discovery(one_host("mx1.dest.test", "192.0.2.1",
                            tlsa_of(dns::TlsaStatus::Failed, "SERVFAIL (bogus)")));
  ASSERT_EQ(result_.sessions.size(), 1u);
  ASSERT_TRUE(result_.sessions[0].failure);
  EXPECT_EQ(result_.sessions[0].policy.type, tlsrpt::PolicyType::Tlsa);
  EXPECT_EQ(result_.sessions[0].failure->result, tlsrpt::ResultType::DnssecInvalid);
  EXPECT_EQ(result_.sessions[0].failure->sending_mta_ip, "") << "never connected";

  use_sts = true;
  start(job(Policy::BES));
  discover({{"mx.evil.test", "192.0.2.66"}});
  answer_sts(sts_policy(sts::Mode::Enforce, {"*.dest.test"}));
  ASSERT_EQ(result_.sessions.size(), 1u);
  ASSERT_TRUE(result_.sessions[0].failure);
  EXPECT_EQ(result_.sessions[0].policy.type, tlsrpt::PolicyType::Sts);
  EXPECT_EQ(result_.sessions[0].failure->result, tlsrpt::ResultType::ValidationFailure);
  EXPECT_EQ(result_.sessions[0].failure->receiving_mx_hostname, "mx.evil.test");
}

TEST_F(AttemptTest, AFailedPolicyLookupIsRecordedWithoutAHost) {
  use_sts = true;
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  sts::StsState failed;
  failed.failure = sts::StsFailure::WebPki;
  failed.detail = "certificate verify failed";
  answer_sts(failed);
  client(0).answer_open(from_peer(tls_session(false)));
  client(0).answer_send(transaction({250}));
  ASSERT_EQ(result_.sessions.size(), 2u);
  const auto& lookup = result_.sessions[0];
  EXPECT_EQ(lookup.policy.type, tlsrpt::PolicyType::NoPolicyFound);
  ASSERT_TRUE(lookup.failure);
  EXPECT_EQ(lookup.failure->result, tlsrpt::ResultType::StsWebpkiInvalid);
  EXPECT_EQ(lookup.failure->receiving_mx_hostname, "");
  EXPECT_EQ(lookup.failure->additional_information, "certificate verify failed");
  EXPECT_FALSE(result_.sessions[1].failure) << "no policy: any TLS will do";

  // The same failure remembered from an earlier lookup, the old policy still in force:
  // it was counted then, not again.
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  auto cached = sts_policy(sts::Mode::Enforce, {"*.dest.test"});
  cached.failure = sts::StsFailure::FetchError;
  cached.from_cache = true;
  answer_sts(cached);
  client(1).answer_open(from_peer(tls_session(true)));
  client(1).answer_send(transaction({250}));
  ASSERT_EQ(result_.sessions.size(), 1u);
  EXPECT_FALSE(result_.sessions[0].failure);
  EXPECT_EQ(result_.sessions[0].policy.type, tlsrpt::PolicyType::Sts);
}

TEST_F(AttemptTest, NothingIsRecordedForOurOwnReportsOrForRoutes) {
  Job report = job(Policy::BES);
  auto env = std::make_shared<model::Envelope>(*report.envelope);
  env->tls_report = true;
  report.envelope = env;
  start(std::move(report));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  client(0).answer_open(from_peer(plain_session()));
  client(0).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  EXPECT_TRUE(result_.sessions.empty());

  start(job(Policy::BES));
  answer_discovery(one_host("relay.internal.test", "192.0.2.9", {}, dns::Method::Route));
  client(1).answer_open(from_peer(handshake_failed(false)));
  client(2).answer_open(from_peer(plain_session()));
  client(2).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  EXPECT_TRUE(result_.sessions.empty());
  for (std::size_t p = 0; p < metrics::kTlsPolicyTypes; ++p) {
    for (std::size_t r = 0; r < metrics::kTlsSessionResults; ++r) {
      EXPECT_EQ(metrics_.tls_sessions.value(static_cast<tlsrpt::PolicyType>(p), r), 0u);
    }
  }
}

TEST_F(AttemptTest, ACachedConnectionIsNotASecondSession) {
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  client(0).answer_open(from_peer(tls_session(true)));
  client(0).answer_send(transaction({250}));
  ASSERT_EQ(result_.sessions.size(), 1u);
  start(job(Policy::BES));
  discover({{"mx1.dest.test", "192.0.2.1"}});
  EXPECT_EQ(clients_.size(), 1u) << "the cached connection carries it";
  client(0).answer_send(transaction({250}));
  EXPECT_EQ(outcome().verdict, RcptVerdict::Delivered);
  EXPECT_TRUE(result_.sessions.empty());
}

}  // namespace
}  // namespace secmx::delivery
