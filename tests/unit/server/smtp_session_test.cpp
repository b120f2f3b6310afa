// smtp_session_test.cpp - the inbound SMTP state machine driven by scripted input, with no
// socket: a fake transport records what the session sends and asks of its connection, a
// recording host stands in for the server and the commit writer. Every transition is
// checked against the exact bytes a client would receive.
#include "relay/server/smtp_session.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>
#include <stdexcept>

#include "relay/common/log.hpp"

namespace secmx::server {
namespace {

using State = SmtpSession::State;
using Phase = SmtpSession::Phase;

constexpr const char* kEhloPlain =
    "250-relay.test\r\n250-PIPELINING\r\n250-SIZE 1048576\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-CHUNKING\r\n250 BINARYMIME\r\n";
constexpr const char* kMessage = "Subject: test\r\n\r\nhello\r\n";

class FakeTransport final : public SessionTransport {
 public:
  FakeTransport() {
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(40000);
    inet_pton(AF_INET, ip_.c_str(), &addr_.sin_addr);
  }
  void bind(net::ConnectionHandler& events) override { events_ = &events; }
  void start_reading() override { reading = !closed; }
  void stop_reading() override { reading = false; }
  void write(std::string_view plaintext) override {
    if (!closed) unflushed_ += plaintext;
  }
  void flush() override {
    if (unflushed_.empty()) return;
    sent += unflushed_;
    unflushed_.clear();
    ++flushes;
  }
  void close(bool graceful_close) override {
    if (closed) return;
    closed = true;
    graceful = graceful_close;
    reading = false;
    if (graceful) flush();
    unflushed_.clear();
  }
  void set_timeout(std::uint64_t ms) override {
    if (!closed) timeout_ms = ms;
  }
  void start_tls(std::shared_ptr<tls::TlsContext>) override { tls_started = true; }
  bool tls_active() const override { return tls; }
  tls::PeerInfo tls_peer() const override {
    tls::PeerInfo p;
    p.protocol = "TLSv1.3";
    p.cipher = "TLS_AES_256_GCM_SHA384";
    p.cipher_bits = 256;
    return p;
  }
  const std::string& peer_ip() const override { return ip_; }
  std::uint16_t peer_port() const override { return 40000; }
  const sockaddr* peer_addr() const override { return reinterpret_cast<const sockaddr*>(&addr_); }

  std::string sent;  // every byte flushed, in order
  int flushes = 0;
  bool reading = false;
  bool closed = false;
  bool graceful = false;
  std::uint64_t timeout_ms = 0;
  bool tls_started = false;
  bool tls = false;

 private:
  net::ConnectionHandler* events_ = nullptr;
  std::string unflushed_;
  std::string ip_ = "127.0.0.1";
  sockaddr_in addr_{};
};

// Decides every recipient the same way; or throws, to prove the callback guard.
class ScriptedPolicy final : public policy::PolicyEngine {
 public:
  std::vector<policy::Decision> decide(const policy::MessageFacts& facts) const override {
    if (throws) throw std::runtime_error("policy exploded");
    headers = std::string(facts.header_section);
    policy::Decision d;
    d.action = action;
    d.reason = action == model::Policy::REJECT ? model::Reason("rule=1(spam)")
                                               : model::Reason("default");
    d.reject_text = reject_text;
    return std::vector<policy::Decision>(facts.recipients->size(), d);
  }
  model::Policy action = model::Policy::BES;
  std::string reject_text;
  bool throws = false;
  mutable std::string headers;  // what the last decision saw
};

class RecordingHost final : public SessionHost {
 public:
  struct Submitted {
    std::uint64_t session_id;
    queue::NewMessage message;
    std::vector<log::Line> queued_lines;
  };
  const ServerDeps& deps() const override { return deps_; }
  ServerCounters& counters() override { return counters_; }
  void submit(std::uint64_t session_id, queue::NewMessage message,
              std::vector<log::Line> queued_lines) override {
    submitted.push_back({session_id, std::move(message), std::move(queued_lines)});
  }
  void session_closed(SmtpSession&) override { ++closed; }
  void authenticate(std::uint64_t session_id, std::string user, std::string password) override {
    logins.push_back({session_id, std::move(user), std::move(password)});
  }
  struct Login {
    std::uint64_t session_id;
    std::string user;
    std::string password;
  };

  std::vector<Login> logins;
  ServerDeps deps_;
  ServerCounters counters_;
  std::vector<Submitted> submitted;
  int closed = 0;
};

class SmtpSessionTest : public ::testing::Test {
 protected:
  SmtpSessionTest() {
    cfg_->hostname = "relay.test";
    cfg_->smtp.relay_networks = {*config::parse_cidr("127.0.0.0/8")};
    cfg_->smtp.max_message_size = 1048576;
    cfg_->smtp.max_recipients = 3;
    cfg_->smtp.max_line_length = 1000;
    cfg_->smtp.max_errors = 10;
    cfg_->smtp.command_timeout = std::chrono::seconds(300);
    cfg_->smtp.data_timeout = std::chrono::seconds(600);
    host_.deps_.config = cfg_;
    host_.deps_.ids = &ids_;
    host_.deps_.policy = policy_;
  }

  // Connects and reads the greeting. tls_offered: a certificate is configured;
  // tls_active: the fake connection is already under TLS.
  void open(bool tls_offered = false, bool tls_active = false) {
    if (tls_offered) host_.deps_.tls = tls::TlsContext::create_client("").value();
    auto transport = std::make_unique<FakeTransport>();
    t_ = transport.get();
    t_->tls = tls_active;
    session_ = std::make_unique<SmtpSession>(host_, 7, std::move(transport), listener_);
    session_->start(nullptr);
    ASSERT_EQ(t_->sent, "220 relay.test ESMTP secmx-relay\r\n");
    t_->sent.clear();
  }

  // Feeds one read and returns what the session sent in answer.
  std::string say(std::string_view input) {
    auto before = t_->sent.size();
    session_->on_read(input);
    return t_->sent.substr(before);
  }
  std::string ehlo() { return say("EHLO client.test\r\n"); }
  void open_transaction() {
    ASSERT_EQ(say("MAIL FROM:<s@x.example>\r\n"), "250 2.1.0 Ok\r\n");
    ASSERT_EQ(say("RCPT TO:<r@y.example>\r\n"), "250 2.1.5 Ok\r\n");
  }
  // A whole DATA transaction up to the commit.
  void send_message() {
    open_transaction();
    ASSERT_EQ(say("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    ASSERT_EQ(say(std::string(kMessage) + ".\r\n"), "");
    ASSERT_EQ(session_->state(), State::Committing);
  }
  std::string queue_id() const { return host_.submitted.back().message.envelope.id.to_string(); }

  std::shared_ptr<config::Config> cfg_ = std::make_shared<config::Config>();
  std::shared_ptr<ScriptedPolicy> policy_ = std::make_shared<ScriptedPolicy>();
  model::IdGenerator ids_;
  RecordingHost host_;
  FakeTransport* t_ = nullptr;
  std::unique_ptr<SmtpSession> session_;
  std::size_t listener_ = 0;  // which of cfg_->smtp.listeners open() connects to
};

// ---------------------------------------------------------------- opening

TEST_F(SmtpSessionTest, GreetingStartsReadingWithTheCommandTimeout) {
  open();
  EXPECT_TRUE(t_->reading);
  EXPECT_EQ(t_->timeout_ms, 300000u);
  EXPECT_EQ(session_->state(), State::Command);
  EXPECT_EQ(session_->phase(), Phase::Greeted);
}

TEST_F(SmtpSessionTest, RefusedAtConnectWithEnhancedCodeAndClosed) {
  auto transport = std::make_unique<FakeTransport>();
  t_ = transport.get();
  session_ = std::make_unique<SmtpSession>(host_, 1, std::move(transport));
  smtp::Reply refusal{421, "4.7.0", "relay.test Error: too many connections"};
  session_->start(&refusal);
  EXPECT_EQ(t_->sent, "421 4.7.0 relay.test Error: too many connections\r\n");
  EXPECT_TRUE(t_->closed);
  EXPECT_TRUE(t_->graceful);
  EXPECT_EQ(session_->state(), State::Closing);
}

TEST_F(SmtpSessionTest, HeloOffersNothingAndRepliesWithoutEnhancedCodes) {
  open();
  EXPECT_EQ(say("HELO client.test\r\n"), "250 relay.test\r\n");
  EXPECT_EQ(session_->phase(), Phase::Helo);
  // SIZE was not offered after HELO.
  EXPECT_EQ(say("MAIL FROM:<s@x.example> SIZE=10\r\n").substr(0, 4), "555 ");
  EXPECT_EQ(say("MAIL FROM:<s@x.example>\r\n"), "250 Ok\r\n");
}

TEST_F(SmtpSessionTest, EhloOffersInWireOrder) {
  open();
  EXPECT_EQ(ehlo(), kEhloPlain);
  EXPECT_EQ(session_->phase(), Phase::Helo);
}

TEST_F(SmtpSessionTest, EhloOffersStartTlsWhenConfigured) {
  open(/*tls_offered=*/true);
  EXPECT_EQ(ehlo(),
            "250-relay.test\r\n250-PIPELINING\r\n250-SIZE 1048576\r\n250-8BITMIME\r\n"
            "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-DSN\r\n"
            "250-CHUNKING\r\n250 BINARYMIME\r\n");
}

TEST_F(SmtpSessionTest, EhloUnderTlsOffersRequireTlsAndAcceptsIt) {
  open(/*tls_offered=*/true, /*tls_active=*/true);
  EXPECT_EQ(ehlo(),
            "250-relay.test\r\n250-PIPELINING\r\n250-SIZE 1048576\r\n250-8BITMIME\r\n"
            "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-CHUNKING\r\n"
            "250-BINARYMIME\r\n250 REQUIRETLS\r\n");
  EXPECT_EQ(say("MAIL FROM:<s@x.example> REQUIRETLS\r\n"), "250 2.1.0 Ok\r\n");
}

TEST_F(SmtpSessionTest, RequireTlsParameterRefusedWithoutTls) {
  open();
  ehlo();
  EXPECT_EQ(say("MAIL FROM:<s@x.example> REQUIRETLS\r\n").substr(0, 10), "555 5.5.4 ");
}

TEST_F(SmtpSessionTest, HeloAndEhloNeedAnArgument) {
  open();
  EXPECT_EQ(say("HELO\r\n"), "501 Syntax: HELO hostname\r\n");
  EXPECT_EQ(say("EHLO \r\n"), "501 Syntax: EHLO hostname\r\n");
  ehlo();
  EXPECT_EQ(say("EHLO\r\n"), "501 5.5.4 Syntax: EHLO hostname\r\n");
}

// ---------------------------------------------------------------- sequence (the table)

TEST_F(SmtpSessionTest, CommandsOutOfPhase) {
  open();
  EXPECT_EQ(say("MAIL FROM:<s@x.example>\r\n"), "503 Error: send HELO/EHLO first\r\n");
  EXPECT_EQ(say("RCPT TO:<r@y.example>\r\n"), "503 Error: need MAIL command\r\n");
  ehlo();
  EXPECT_EQ(say("RCPT TO:<r@y.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(say("DATA\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(say("MAIL FROM:<s@x.example>\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(session_->phase(), Phase::Mail);
  EXPECT_EQ(say("MAIL FROM:<s@x.example>\r\n"), "503 5.5.1 Error: nested MAIL command\r\n");
  EXPECT_EQ(say("DATA\r\n"), "554 5.5.1 Error: no valid recipients\r\n");
  EXPECT_EQ(say("RCPT TO:<r@y.example>\r\n"), "250 2.1.5 Ok\r\n");
  EXPECT_EQ(session_->phase(), Phase::Rcpt);
  EXPECT_EQ(say("MAIL FROM:<s@x.example>\r\n"), "503 5.5.1 Error: nested MAIL command\r\n");
  EXPECT_EQ(say("RSET\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(session_->phase(), Phase::Helo);
}

TEST_F(SmtpSessionTest, ArgumentRulesComeBeforeThePhase) {
  open();
  ehlo();
  // DATA with an argument is a syntax error even without a transaction.
  EXPECT_EQ(say("DATA now\r\n"), "501 5.5.4 Syntax: DATA\r\n");
  EXPECT_EQ(say("RSET all\r\n"), "501 5.5.4 Syntax: RSET\r\n");
  EXPECT_EQ(say("MAIL FROM:s@x.example\r\n").substr(0, 4), "501 ");
}

TEST_F(SmtpSessionTest, SimpleCommands) {
  open();
  ehlo();
  EXPECT_EQ(say("NOOP\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(say("VRFY root\r\n"),
            "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery\r\n");
  EXPECT_EQ(say("EXPN list\r\n"), "502 5.5.1 Error: command not implemented\r\n");
  EXPECT_EQ(say("HELP\r\n"),
            "214 2.0.0 See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT "
            "VRFY HELP STARTTLS AUTH\r\n");
  EXPECT_EQ(say("AUTH PLAIN\r\n"), "502 5.5.1 Error: authentication not enabled\r\n");
  EXPECT_EQ(say("XYZZY\r\n"), "500 5.5.2 Error: command not recognized\r\n");
  EXPECT_EQ(say("\r\n"), "500 5.5.2 Error: command not recognized\r\n");
  EXPECT_EQ(session_->state(), State::Command);
}

TEST_F(SmtpSessionTest, QuitClosesAfterTheReply) {
  open();
  EXPECT_EQ(say("QUIT\r\n"), "221 Bye\r\n");  // no enhanced code before EHLO
  EXPECT_TRUE(t_->closed);
  EXPECT_TRUE(t_->graceful);
  EXPECT_EQ(session_->state(), State::Closing);
  EXPECT_EQ(say("NOOP\r\n"), "");  // nothing is read once closing
  session_->on_closed();
  EXPECT_EQ(host_.closed, 1);
}

TEST_F(SmtpSessionTest, TooManyErrorsEndsTheSession) {
  cfg_->smtp.max_errors = 3;
  open();
  EXPECT_EQ(say("BAD1\r\nBAD2\r\n"),
            "500 Error: command not recognized\r\n500 Error: command not recognized\r\n");
  EXPECT_EQ(say("BAD3\r\nNOOP\r\n"),
            "500 Error: command not recognized\r\n421 relay.test Error: too many errors\r\n");
  EXPECT_TRUE(t_->closed);
  EXPECT_EQ(session_->state(), State::Closing);
}

TEST_F(SmtpSessionTest, OverlongLinesAreAnsweredWhenTheyEnd) {
  open();
  ehlo();
  EXPECT_EQ(say("NOOP " + std::string(1000, 'x') + "\r\n"), "500 5.5.2 Error: line too long\r\n");
  // Split over reads: forgotten as it grows, answered once at its end.
  EXPECT_EQ(say("NOOP " + std::string(1200, 'y')), "");
  EXPECT_EQ(say(std::string(500, 'y')), "");
  EXPECT_EQ(say("\r\nNOOP\r\n"), "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n");
  // The longest line allowed (1000 bytes with CRLF) is a command like any other.
  EXPECT_EQ(say("NOOP " + std::string(993, 'z') + "\r\n"), "250 2.0.0 Ok\r\n");
}

TEST_F(SmtpSessionTest, PipelinedCommandsAreAnsweredTogether) {
  open();
  ehlo();
  int flushes = t_->flushes;
  EXPECT_EQ(say("MAIL FROM:<s@x.example>\r\nRCPT TO:<r@y.example>\r\nRCPT TO:<q@y.example>\r\n"
                "DATA\r\n"),
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
            "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(t_->flushes, flushes + 1);
  EXPECT_EQ(session_->state(), State::Data);
  EXPECT_EQ(t_->timeout_ms, 600000u);
}

TEST_F(SmtpSessionTest, RelayAccessDeniedOutsideRelayNetworks) {
  cfg_->smtp.relay_networks = {*config::parse_cidr("10.0.0.0/8")};
  open();
  ehlo();
  say("MAIL FROM:<s@x.example>\r\n");
  EXPECT_EQ(say("RCPT TO:<r@y.example>\r\n"), "550 5.7.1 <r@y.example>: Relay access denied\r\n");
  EXPECT_EQ(session_->phase(), Phase::Mail);
}

// ---------------------------------------------------------------- listeners

TEST_F(SmtpSessionTest, RelayNetworksAreTheListenersOwn) {
  config::Listener own;
  own.address = {"127.0.0.1", 2526};
  own.relay_networks = std::vector<config::Cidr>{*config::parse_cidr("10.0.0.0/8")};
  cfg_->smtp.listeners.push_back(own);  // [0] inherits [smtp] relay_networks (127.0.0.0/8)
  listener_ = 1;
  open();
  ehlo();
  say("MAIL FROM:<s@x.example>\r\n");
  EXPECT_EQ(say("RCPT TO:<r@y.example>\r\n"), "550 5.7.1 <r@y.example>: Relay access denied\r\n");

  listener_ = 0;
  open();
  ehlo();
  say("MAIL FROM:<s@x.example>\r\n");
  EXPECT_EQ(say("RCPT TO:<r@y.example>\r\n"), "250 2.1.5 Ok\r\n");
}

TEST_F(SmtpSessionTest, AuthRequiredListenerRefusesMailEvenFromRelayNetworks) {
  cfg_->smtp.listeners[0].auth = config::ListenerAuth::Required;
  open(/*tls_offered=*/true, /*tls_active=*/true);
  ehlo();
  EXPECT_EQ(say("MAIL FROM:<s@x.example>\r\n"), "530 5.7.0 Authentication required\r\n");
  EXPECT_EQ(session_->phase(), Phase::Helo);
  EXPECT_EQ(say("RCPT TO:<r@y.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
}

TEST_F(SmtpSessionTest, AuthNoneListenerOffersNoLogin) {
  cfg_->smtp.auth.users_file = "users";
  cfg_->smtp.listeners[0].auth = config::ListenerAuth::None;
  open(/*tls_offered=*/true, /*tls_active=*/true);
  const std::string offer = ehlo();
  EXPECT_EQ(offer.find("AUTH"), std::string::npos) << offer;
  EXPECT_EQ(say("AUTH PLAIN\r\n"), "502 5.5.1 Error: authentication not enabled\r\n");
  cfg_->smtp.listeners[0].auth = config::ListenerAuth::Optional;
  EXPECT_NE(ehlo().find("250-AUTH PLAIN LOGIN\r\n"), std::string::npos);
}

TEST_F(SmtpSessionTest, AuthOptionalListenerRelaysByAddress) {
  cfg_->smtp.listeners[0].auth = config::ListenerAuth::Optional;
  cfg_->smtp.listeners[0].sender_login = true;  // applies to logged-in users only
  open(/*tls_offered=*/true, /*tls_active=*/true);
  ehlo();
  open_transaction();
}

TEST_F(SmtpSessionTest, ImplicitTlsHandshakesBeforeTheGreeting) {
  cfg_->smtp.listeners[0].tls = config::ListenerTls::Implicit;
  host_.deps_.tls = tls::TlsContext::create_client("").value();
  auto transport = std::make_unique<FakeTransport>();
  t_ = transport.get();
  session_ = std::make_unique<SmtpSession>(host_, 7, std::move(transport), 0);
  session_->start(nullptr);
  EXPECT_EQ(t_->sent, "");  // nothing in plaintext
  EXPECT_TRUE(t_->tls_started);
  EXPECT_TRUE(t_->reading);
  EXPECT_EQ(session_->state(), State::TlsHandshake);
  EXPECT_EQ(t_->timeout_ms, 300000u);
  t_->tls = true;
  session_->on_tls_done(true, {});
  EXPECT_EQ(t_->sent, "220 relay.test ESMTP secmx-relay\r\n");
  EXPECT_EQ(session_->state(), State::Command);
  const std::string offer = ehlo();
  EXPECT_EQ(offer.find("STARTTLS"), std::string::npos) << offer;
  EXPECT_EQ(say("STARTTLS\r\n"), "502 5.5.1 Error: TLS already active\r\n");
}

TEST_F(SmtpSessionTest, ImplicitTlsRefusalClosesWithoutPlaintext) {
  cfg_->smtp.listeners[0].tls = config::ListenerTls::Implicit;
  host_.deps_.tls = tls::TlsContext::create_client("").value();
  auto transport = std::make_unique<FakeTransport>();
  t_ = transport.get();
  session_ = std::make_unique<SmtpSession>(host_, 7, std::move(transport), 0);
  smtp::Reply refusal{421, "4.7.0", "relay.test Error: too many connections"};
  session_->start(&refusal);
  EXPECT_EQ(t_->sent, "");
  EXPECT_TRUE(t_->closed);
  EXPECT_FALSE(t_->tls_started);
}

TEST_F(SmtpSessionTest, ImplicitTlsHandshakeFailureCloses) {
  cfg_->smtp.listeners[0].tls = config::ListenerTls::Implicit;
  host_.deps_.tls = tls::TlsContext::create_client("").value();
  auto transport = std::make_unique<FakeTransport>();
  t_ = transport.get();
  session_ = std::make_unique<SmtpSession>(host_, 7, std::move(transport), 0);
  session_->start(nullptr);
  session_->on_tls_done(false, "wrong version number");
  EXPECT_EQ(t_->sent, "");
  EXPECT_TRUE(t_->closed);
  EXPECT_EQ(session_->state(), State::Closing);
}

TEST_F(SmtpSessionTest, TooManyRecipients) {
  cfg_->smtp.max_recipients = 1;
  open();
  ehlo();
  open_transaction();
  EXPECT_EQ(say("RCPT TO:<q@y.example>\r\n"), "452 4.5.3 Error: too many recipients\r\n");
}

TEST_F(SmtpSessionTest, MailNeedsTlsWhenRequired) {
  cfg_->smtp.require_tls = true;
  open(/*tls_offered=*/true);
  ehlo();
  EXPECT_EQ(say("MAIL FROM:<s@x.example>\r\n"),
            "530 5.7.0 Must issue a STARTTLS command first\r\n");
}

// ---------------------------------------------------------------- DATA and the commit

TEST_F(SmtpSessionTest, DataIsQueuedWhenTheCommitAnswers) {
  open();
  ehlo();
  send_message();
  ASSERT_EQ(host_.submitted.size(), 1u);
  EXPECT_EQ(t_->timeout_ms, 0u);  // no timer while the commit runs
  const auto& sub = host_.submitted.back();
  EXPECT_EQ(sub.session_id, 7u);
  const auto& env = sub.message.envelope;
  EXPECT_EQ(env.sender, "s@x.example");
  ASSERT_EQ(env.recipients.size(), 1u);
  EXPECT_EQ(env.recipients[0].address, "r@y.example");
  EXPECT_EQ(env.client_address, "127.0.0.1");
  EXPECT_EQ(env.client_helo, "client.test");
  EXPECT_EQ(policy_->headers, "Subject: test\r\n");
  EXPECT_TRUE(sub.message.body.starts_with("Received: from client.test ([127.0.0.1])"));
  EXPECT_TRUE(sub.message.body.ends_with("\r\n" + std::string(kMessage)));
  ASSERT_EQ(sub.queued_lines.size(), 2u);
  EXPECT_EQ(sub.queued_lines[1].module, "cleanup");
  EXPECT_EQ(sub.queued_lines[1].text, queue_id() + ": message-id=<>");  // kMessage has none
  EXPECT_EQ(sub.queued_lines[0].module, "smtpd");
  EXPECT_EQ(sub.queued_lines[0].text,
            queue_id() + ": queued client=[127.0.0.1]:40000 helo=client.test from=<s@x.example> "
                         "nrcpt=1 size=" + std::to_string(sub.message.body.size()) +
                " tls=none requiretls=no policy=BES rule=default");
  // Nothing is answered before the commit, not even pipelined commands.
  EXPECT_EQ(say("NOOP\r\n"), "");
  auto before = t_->sent.size();
  session_->on_committed(Ok{});
  EXPECT_EQ(t_->sent.substr(before),
            "250 2.0.0 Ok: queued as " + queue_id() + "\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(session_->state(), State::Command);
  EXPECT_EQ(session_->phase(), Phase::Helo);
  EXPECT_EQ(host_.counters_.messages, 1u);
  EXPECT_EQ(t_->timeout_ms, 300000u);
}

TEST_F(SmtpSessionTest, CommitFailures) {
  open();
  ehlo();
  send_message();
  auto before = t_->sent.size();
  session_->on_committed(fail(queue::Error{queue::Error::Kind::Io, "disk"}));
  EXPECT_EQ(t_->sent.substr(before), "451 4.3.0 Error: queue file write error\r\n");
  EXPECT_EQ(session_->phase(), Phase::Helo);
  send_message();
  before = t_->sent.size();
  session_->on_committed(fail(queue::Error{queue::Error::Kind::Full, "map full"}));
  EXPECT_EQ(t_->sent.substr(before), "452 4.3.1 Insufficient system storage\r\n");
  EXPECT_EQ(host_.counters_.messages, 0u);
  EXPECT_EQ(session_->state(), State::Command);
}

TEST_F(SmtpSessionTest, ContentRefusalsResetTheTransaction) {
  open();
  ehlo();
  open_transaction();
  say("DATA\r\n");
  EXPECT_EQ(say("Subject: x\r\n\r\nbare\nLF\r\n.\r\n"),
            "550 5.5.2 Error: bare <CR> or <LF> received (RFC 5321 2.3.8)\r\n");
  EXPECT_EQ(session_->state(), State::Command);
  EXPECT_EQ(session_->phase(), Phase::Helo);
  EXPECT_TRUE(host_.submitted.empty());
}

TEST_F(SmtpSessionTest, PolicyRejectIsAnswered550) {
  policy_->action = model::Policy::REJECT;
  policy_->reject_text = "spam is not relayed";
  open();
  ehlo();
  open_transaction();
  say("DATA\r\n");
  EXPECT_EQ(say(std::string(kMessage) + ".\r\n"), "550 5.7.1 spam is not relayed\r\n");
  EXPECT_EQ(host_.counters_.rejected, 1u);
  EXPECT_TRUE(host_.submitted.empty());
  EXPECT_EQ(session_->phase(), Phase::Helo);
}

TEST_F(SmtpSessionTest, DataWithBinaryMimeNeedsBdat) {
  open();
  ehlo();
  say("MAIL FROM:<s@x.example> BODY=BINARYMIME\r\n");
  say("RCPT TO:<r@y.example>\r\n");
  EXPECT_EQ(say("DATA\r\n"), "503 5.5.1 Error: BODY=BINARYMIME requires BDAT\r\n");
}

// ---------------------------------------------------------------- BDAT

TEST_F(SmtpSessionTest, BdatChunksThenLast) {
  open();
  ehlo();
  open_transaction();
  EXPECT_EQ(say("BDAT 15\r\nSubject: test\r\n"), "250 2.0.0 Ok: 15 octets received\r\n");
  EXPECT_EQ(session_->phase(), Phase::Chunking);
  EXPECT_EQ(say("DATA\r\n"), "503 5.5.1 Error: DATA after BDAT\r\n");
  // A chunk split over reads waits in BdatChunk with the data timeout.
  EXPECT_EQ(say("BDAT 9 LAST\r\n\r\nhel"), "");
  EXPECT_EQ(session_->state(), State::BdatChunk);
  EXPECT_EQ(t_->timeout_ms, 600000u);
  EXPECT_EQ(say("lo\r\n"), "");
  EXPECT_EQ(session_->state(), State::Committing);
  ASSERT_EQ(host_.submitted.size(), 1u);
  EXPECT_TRUE(host_.submitted[0].message.body.ends_with(kMessage));
  auto before = t_->sent.size();
  session_->on_committed(Ok{});
  EXPECT_EQ(t_->sent.substr(before), "250 2.0.0 Ok: queued as " + queue_id() + "\r\n");
}

TEST_F(SmtpSessionTest, BdatOutOfPhaseConsumesTheChunkThenRefuses) {
  open();
  ehlo();
  EXPECT_EQ(say("BDAT 6\r\nNOOP\r\nNOOP\r\n"),
            "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n");
  say("MAIL FROM:<s@x.example>\r\n");
  EXPECT_EQ(say("BDAT 0 LAST\r\n"), "554 5.5.1 Error: no valid recipients\r\n");
}

TEST_F(SmtpSessionTest, BdatSyntaxErrorEndsTheSession) {
  open();
  ehlo();
  EXPECT_EQ(say("BDAT ten\r\n"), "501 5.5.4 Syntax: BDAT size [LAST]\r\n");
  EXPECT_TRUE(t_->closed);
}

// ---------------------------------------------------------------- STARTTLS

TEST_F(SmtpSessionTest, StartTlsRefusedWhenNotConfigured) {
  open();
  ehlo();
  EXPECT_EQ(say("STARTTLS\r\n"), "502 5.5.1 Error: command not implemented\r\n");
  EXPECT_FALSE(t_->tls_started);
}

TEST_F(SmtpSessionTest, StartTlsRefusedUnderTlsAndWithAnArgument) {
  open(/*tls_offered=*/true, /*tls_active=*/true);
  ehlo();
  EXPECT_EQ(say("STARTTLS\r\n"), "502 5.5.1 Error: TLS already active\r\n");
  t_->tls = false;
  EXPECT_EQ(say("STARTTLS now\r\n"), "501 5.5.4 Syntax: STARTTLS\r\n");
  EXPECT_FALSE(t_->tls_started);
}

TEST_F(SmtpSessionTest, StartTlsDiscardsPipelinedInputAndStartsOver) {
  open(/*tls_offered=*/true);
  ehlo();
  say("MAIL FROM:<s@x.example>\r\n");
  EXPECT_EQ(say("STARTTLS\r\nMAIL FROM:<evil@x.example>\r\n"), "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_TRUE(t_->tls_started);
  EXPECT_EQ(session_->state(), State::TlsHandshake);
  EXPECT_EQ(t_->timeout_ms, 300000u);
  t_->tls = true;
  session_->on_tls_done(true, {});
  EXPECT_EQ(session_->state(), State::Command);
  // RFC 3207 4.2: HELO and the transaction are forgotten.
  EXPECT_EQ(session_->phase(), Phase::Greeted);
  EXPECT_EQ(say("MAIL FROM:<s@x.example>\r\n"), "503 Error: send HELO/EHLO first\r\n");
}

TEST_F(SmtpSessionTest, FailedHandshakeAbortsTheConnection) {
  open(/*tls_offered=*/true);
  ehlo();
  say("STARTTLS\r\n");
  session_->on_tls_done(false, "handshake failure");
  EXPECT_TRUE(t_->closed);
  EXPECT_FALSE(t_->graceful);
  EXPECT_EQ(session_->state(), State::Closing);
}

// ---------------------------------------------------------------- timeouts, EOF, shutdown

TEST_F(SmtpSessionTest, TimeoutIs421AndClose) {
  open();
  ehlo();
  auto before = t_->sent.size();
  session_->on_timeout();
  EXPECT_EQ(t_->sent.substr(before), "421 4.4.2 relay.test Error: timeout exceeded\r\n");
  EXPECT_TRUE(t_->closed);
  EXPECT_EQ(session_->state(), State::Closing);
}

TEST_F(SmtpSessionTest, EndOfFileStopsEverything) {
  open();
  ehlo();
  say("MAIL FROM:<s@x.example>\r\n");
  session_->on_eof("connection closed by peer");
  EXPECT_EQ(session_->state(), State::Closing);
  EXPECT_EQ(say("RCPT TO:<r@y.example>\r\n"), "");
}

TEST_F(SmtpSessionTest, ShutdownSays421InCommandState) {
  open();
  ehlo();
  auto before = t_->sent.size();
  session_->close_for_shutdown();
  EXPECT_EQ(t_->sent.substr(before), "421 4.3.2 Service shutting down\r\n");
  EXPECT_TRUE(t_->closed);
}

TEST_F(SmtpSessionTest, ShutdownWhileCommittingClosesWithoutAReply) {
  open();
  ehlo();
  send_message();
  auto before = t_->sent.size();
  session_->close_for_shutdown();
  EXPECT_EQ(t_->sent.size(), before);
  EXPECT_TRUE(t_->closed);
  session_->on_committed(Ok{});  // the answer arriving late changes nothing
  EXPECT_EQ(t_->sent.size(), before);
}

// ---------------------------------------------------------------- exceptions

TEST_F(SmtpSessionTest, AnExceptionInACallbackFailsThisSessionOnly) {
  std::ostringstream lines;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(lines);
  sink->set_pattern("%v");
  auto smtpd = log::logger("smtpd");
  smtpd->sinks().push_back(sink);
  policy_->throws = true;
  open();
  ehlo();
  open_transaction();
  say("DATA\r\n");
  EXPECT_EQ(say(std::string(kMessage) + ".\r\n"), "421 4.3.0 relay.test Error: internal error\r\n");
  smtpd->sinks().pop_back();
  EXPECT_TRUE(t_->closed);
  EXPECT_TRUE(t_->graceful);
  EXPECT_EQ(session_->state(), State::Closing);
  EXPECT_NE(lines.str().find("S7 event=exception where=read what=policy exploded\n"),
            std::string::npos)
      << lines.str();
}

// ---------------------------------------------------------------- AUTH (RFC 4954)

class SmtpAuthTest : public SmtpSessionTest {
 protected:
  SmtpAuthTest() {
    cfg_->smtp.auth.users_file = "users";
    cfg_->smtp.auth.users.emplace("user", "$y$j9T$salt$hash");
    cfg_->smtp.auth.max_session_failures = 3;
    host_.deps_.metrics = &metrics_;
  }
  // Under TLS after EHLO, AUTH offered.
  void open_tls() {
    open(/*tls_offered=*/true, /*tls_active=*/true);
    ASSERT_NE(ehlo().find("250-AUTH PLAIN LOGIN\r\n"), std::string::npos);
  }
  // The host's answer to the last credentials, and what the session sent for it.
  std::string answer(AuthOutcome outcome) {
    auto before = t_->sent.size();
    session_->on_auth_result(outcome);
    return t_->sent.substr(before);
  }
  metrics::RelayMetrics metrics_;
};

constexpr const char* kAuthPlain = "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n";  // user / secret

TEST_F(SmtpAuthTest, NotOfferedAndRefused538BeforeTls) {
  open(/*tls_offered=*/true);
  EXPECT_EQ(ehlo().find("AUTH"), std::string::npos);
  EXPECT_EQ(say(kAuthPlain),
            "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
  EXPECT_TRUE(host_.logins.empty());
}

TEST_F(SmtpAuthTest, NotEnabledWithoutUsersFile) {
  cfg_->smtp.auth = config::SmtpAuthConfig{};
  open(true, true);
  EXPECT_EQ(ehlo().find("AUTH"), std::string::npos);
  EXPECT_EQ(say(kAuthPlain), "502 5.5.1 Error: authentication not enabled\r\n");
}

TEST_F(SmtpAuthTest, NeedsEhlo) {
  open(true, true);
  say("HELO client.test\r\n");
  EXPECT_EQ(say(kAuthPlain), "503 Error: send EHLO first\r\n");  // no enhanced codes after HELO
}

TEST_F(SmtpAuthTest, PlainSuccessAuthenticatesTheSessionAndTheMessage) {
  open_tls();
  EXPECT_EQ(say(kAuthPlain), "");
  EXPECT_EQ(session_->state(), State::AuthCheck);
  ASSERT_EQ(host_.logins.size(), 1u);
  EXPECT_EQ(host_.logins[0].session_id, 7u);
  EXPECT_EQ(host_.logins[0].user, "user");
  EXPECT_EQ(host_.logins[0].password, "secret");
  EXPECT_EQ(answer(AuthOutcome::Success), "235 2.7.0 Authentication successful\r\n");
  EXPECT_EQ(session_->auth_user(), std::optional<std::string>("user"));
  EXPECT_EQ(metrics_.smtp_auth.value(AuthOutcome::Success), 1u);
  // AUTH= on MAIL is accepted (RFC 4954 5).
  ASSERT_EQ(say("MAIL FROM:<s@x.example> AUTH=<>\r\n"), "250 2.1.0 Ok\r\n");
  ASSERT_EQ(say("RCPT TO:<r@y.example>\r\n"), "250 2.1.5 Ok\r\n");
  ASSERT_EQ(say("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
  ASSERT_EQ(say(std::string(kMessage) + ".\r\n"), "");
  ASSERT_EQ(host_.submitted.size(), 1u);
  const auto& sub = host_.submitted.back();
  EXPECT_EQ(sub.message.envelope.auth_user, "user");
  EXPECT_NE(sub.message.body.find(" with ESMTPSA id "), std::string::npos);
  EXPECT_TRUE(sub.queued_lines.front().text.ends_with(" sasl_username=user")) << sub.queued_lines.front().text;
}

TEST_F(SmtpAuthTest, PlainWithoutInitialResponseGetsEmptyChallenge) {
  open_tls();
  EXPECT_EQ(say("AUTH PLAIN\r\n"), "334 \r\n");
  EXPECT_EQ(session_->state(), State::AuthResponse);
  EXPECT_EQ(say("AHVzZXIAc2VjcmV0\r\n"), "");
  ASSERT_EQ(host_.logins.size(), 1u);
  EXPECT_EQ(host_.logins[0].user, "user");
}

TEST_F(SmtpAuthTest, LoginAsksForUserAndPassword) {
  open_tls();
  EXPECT_EQ(say("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(say("dXNlcg==\r\n"), "334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(say("c2VjcmV0\r\n"), "");
  ASSERT_EQ(host_.logins.size(), 1u);
  EXPECT_EQ(host_.logins[0].password, "secret");
}

TEST_F(SmtpAuthTest, ResponseLinesAreNotCommands) {
  open_tls();
  say("AUTH LOGIN\r\n");
  // A command here is read as (bad) base64, not run.
  EXPECT_EQ(say("MAIL FROM:<s@x.example>\r\n"), "501 5.5.2 Error: cannot decode response\r\n");
  EXPECT_FALSE(t_->closed);
  EXPECT_EQ(session_->state(), State::Command);
}

TEST_F(SmtpAuthTest, StarCancels) {
  open_tls();
  say("AUTH LOGIN\r\n");
  EXPECT_EQ(say("*\r\n"), "501 5.0.0 Error: authentication aborted\r\n");
  EXPECT_EQ(say("NOOP\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_TRUE(host_.logins.empty());
}

TEST_F(SmtpAuthTest, SyntaxAndMechanismErrors) {
  open_tls();
  EXPECT_EQ(say("AUTH CRAM-MD5\r\n"), "504 5.5.4 Error: unsupported authentication mechanism\r\n");
  EXPECT_EQ(say("AUTH\r\n"), "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n");
  EXPECT_EQ(say("AUTH PLAIN not*base64\r\n"), "501 5.5.2 Error: cannot decode response\r\n");
  EXPECT_TRUE(host_.logins.empty());
}

TEST_F(SmtpAuthTest, BadPasswordIs535AndTooManyDisconnect) {
  open_tls();
  say(kAuthPlain);
  EXPECT_EQ(answer(AuthOutcome::Failure), "535 5.7.8 Error: authentication failed\r\n");
  EXPECT_FALSE(session_->auth_user());
  say(kAuthPlain);
  EXPECT_EQ(answer(AuthOutcome::Locked),
            "454 4.7.0 Temporary authentication failure: too many failed logins, try later\r\n");
  say(kAuthPlain);
  EXPECT_EQ(answer(AuthOutcome::Failure),
            "535 5.7.8 Error: authentication failed\r\n"
            "421 4.7.0 relay.test Error: too many failed logins\r\n");
  EXPECT_TRUE(t_->closed);
  EXPECT_EQ(metrics_.smtp_auth.value(AuthOutcome::Failure), 2u);
  EXPECT_EQ(metrics_.smtp_auth.value(AuthOutcome::Locked), 1u);
}

TEST_F(SmtpAuthTest, UnavailableIs454) {
  open_tls();
  say(kAuthPlain);
  EXPECT_EQ(answer(AuthOutcome::Unavailable), "454 4.7.0 Temporary authentication failure\r\n");
}

TEST_F(SmtpAuthTest, PipelinedCommandsWaitForTheAnswer) {
  open_tls();
  EXPECT_EQ(say(std::string(kAuthPlain) + "NOOP\r\n"), "");
  EXPECT_EQ(answer(AuthOutcome::Success), "235 2.7.0 Authentication successful\r\n250 2.0.0 Ok\r\n");
}

TEST_F(SmtpAuthTest, OnceAndNotInATransaction) {
  open_tls();
  open_transaction();
  EXPECT_EQ(say(kAuthPlain), "503 5.5.1 Error: MAIL transaction in progress\r\n");
  say("RSET\r\n");
  say(kAuthPlain);
  answer(AuthOutcome::Success);
  EXPECT_EQ(say(kAuthPlain), "503 5.5.1 Error: already authenticated\r\n");
}

TEST_F(SmtpAuthTest, AnswerAfterTheSessionMovedOnIsIgnored) {
  open_tls();
  EXPECT_EQ(answer(AuthOutcome::Success), "");
  EXPECT_FALSE(session_->auth_user());
}

}  // namespace
}  // namespace secmx::server
