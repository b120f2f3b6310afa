// smtp_client_tls_test.cpp - SmtpClient through STARTTLS to a small ESMTP server on
// 127.0.0.1 that speaks real TLS (the relay's own Connection and TlsSession, server
// side), in the same libuv loop: what set_peer_verify() asks reaches the TLS session, and
// SessionInfo::tls and the "event=tls" log line say how the peer was authenticated. A
// verdict of "not verified" never fails the handshake: the session stays open.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <uv.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "relay/client/smtp_client.hpp"
#include "relay/net/connection.hpp"
#include "tests/unit/client/captured_log.hpp"
#include "tests/unit/tls/test_pki.hpp"

namespace secmx::client {
namespace {

using tls::testing::kServerName;
using tls::testing::test_pki;

// One accepted connection: greeting, EHLO (STARTTLS offered until TLS runs), STARTTLS,
// QUIT. Frees nothing itself; the server keeps it until the loop is done.
class TlsPeer final : public net::ConnectionHandler {
 public:
  TlsPeer(uv_loop_t* loop, std::shared_ptr<tls::TlsContext> tls, int* ehlos)
      : conn_(loop, this), tls_(std::move(tls)), ehlos_(ehlos) {}
  net::Connection& conn() { return conn_; }
  bool closed() const { return closed_; }

  void on_read(std::string_view plaintext) override {
    in_.append(plaintext);
    for (std::size_t eol; (eol = in_.find("\r\n")) != std::string::npos;) {
      std::string line = in_.substr(0, eol);
      in_.erase(0, eol + 2);
      if (line.rfind("EHLO", 0) == 0) {
        ++*ehlos_;
        conn_.write(conn_.tls_active() ? "250 mx.test\r\n" : "250-mx.test\r\n250 STARTTLS\r\n");
      } else if (line == "STARTTLS") {
        conn_.write("220 2.0.0 go ahead\r\n");
        in_.clear();
        conn_.start_tls(tls_, tls::Role::Server);
      } else if (line == "QUIT") {
        conn_.write("221 2.0.0 bye\r\n");
        conn_.close(true);
        return;
      } else {
        conn_.write("502 5.5.1 not here\r\n");
      }
    }
    conn_.flush();
  }
  void on_eof(std::string_view) override { conn_.close(false); }
  void on_tls_done(bool ok, std::string_view) override {
    if (!ok) conn_.close(false);
  }
  void on_timeout() override { conn_.close(false); }
  void on_closed() override { closed_ = true; }

 private:
  net::Connection conn_;
  std::shared_ptr<tls::TlsContext> tls_;
  int* ehlos_;
  std::string in_;
  bool closed_ = false;
};

class TlsServer {
 public:
  TlsServer(uv_loop_t* loop, std::shared_ptr<tls::TlsContext> tls)
      : loop_(loop), tls_(std::move(tls)) {
    uv_tcp_init(loop, &listener_);
    listener_.data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
    int len = sizeof addr_;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&addr_), &len);
    uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 8, &TlsServer::on_connection);
  }
  void close() {
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&listener_))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    }
  }
  const sockaddr* addr() const { return reinterpret_cast<const sockaddr*>(&addr_); }
  bool all_closed() const {
    for (const auto& p : peers_) {
      if (!p->closed()) return false;
    }
    return true;
  }
  int ehlos = 0;

 private:
  static void on_connection(uv_stream_t* listener, int status) {
    auto* self = static_cast<TlsServer*>(listener->data);
    if (status < 0) return;
    auto peer = std::make_unique<TlsPeer>(self->loop_, self->tls_, &self->ehlos);
    if (peer->conn().accept(listener) != 0) {
      peer->conn().close(false);
    } else {
      peer->conn().start_reading();
      peer->conn().write("220 mx.test ESMTP\r\n");
      peer->conn().flush();
    }
    self->peers_.push_back(std::move(peer));
  }

  uv_loop_t* loop_;
  std::shared_ptr<tls::TlsContext> tls_;
  uv_tcp_t listener_{};
  sockaddr_storage addr_{};
  std::vector<std::unique_ptr<TlsPeer>> peers_;
};

// DANE-EE 3 1 1 of the certificate in `pem_file`: SHA-256 of its SubjectPublicKeyInfo.
tls::DaneRecord ee_spki_sha256(const std::string& pem_file) {
  FILE* f = std::fopen(pem_file.c_str(), "r");
  X509* cert = f != nullptr ? PEM_read_X509(f, nullptr, nullptr, nullptr) : nullptr;
  if (f != nullptr) std::fclose(f);
  EXPECT_NE(cert, nullptr) << pem_file;
  tls::DaneRecord r{3, 1, 1, {}};
  if (cert == nullptr) return r;
  unsigned char* spki = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EXPECT_GT(len, 0);
  EXPECT_EQ(EVP_Digest(spki, static_cast<std::size_t>(len), md, &md_len, EVP_sha256(), nullptr),
            1);
  r.data.assign(md, md + md_len);
  OPENSSL_free(spki);
  X509_free(cert);
  return r;
}

class ClientTls : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    options_.helo_name = "client.test";
    options_.connect_timeout = options_.greeting_timeout = options_.command_timeout =
        options_.quit_timeout = std::chrono::seconds(5);
    // The system store: PKIX fails for the test CA unless a test says otherwise.
    auto client = tls::TlsContext::create_client("");
    ASSERT_TRUE(client) << client.error().message;
    options_.tls = client.value();
    auto server = tls::TlsContext::create_server(test_pki().server_cert, test_pki().server_key);
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::make_unique<TlsServer>(&loop_, server.value());
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->close();
    run();
    if (server_) {
      EXPECT_TRUE(server_->all_closed());
    }
    server_.reset();
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }
  void run() {
    uv_timer_t guard;
    uv_timer_init(&loop_, &guard);
    uv_timer_start(&guard, [](uv_timer_t* t) { uv_stop(t->loop); }, 20000, 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&guard));
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  // Opens (with STARTTLS) under `verify` when given, notes the info, whether the client
  // was still usable then and its TLS session, and quits.
  void open(std::optional<tls::PeerVerify> verify, tls::SslSessionPtr resume = nullptr) {
    client_ = SmtpClient::create(&loop_, options_);
    if (verify) client_->set_peer_verify(*verify);
    client_->open(server_->addr(), kServerName, true, std::move(resume),
                  [this](SessionInfo info) {
                    info_ = info;
                    usable_ = client_->usable();
                    session_ = client_->tls_session();
                    client_->quit([this] { uv_stop(&loop_); });
                  });
    run();  // until the quit is done (the server keeps listening)
    ASSERT_TRUE(info_);
  }

  uv_loop_t loop_{};
  ClientOptions options_;
  std::unique_ptr<TlsServer> server_;
  std::unique_ptr<SmtpClient> client_;
  std::optional<SessionInfo> info_;
  bool usable_ = false;
  tls::SslSessionPtr session_;
};

TEST_F(ClientTls, MatchingTlsaRecordAuthenticatesByDane) {
  CapturedClientLog captured;
  open(tls::PeerVerify{{kServerName}, {ee_spki_sha256(test_pki().server_cert)}});
  EXPECT_EQ(info_->status, OpenStatus::Ok) << info_->error;
  EXPECT_TRUE(info_->tls.active);
  EXPECT_TRUE(info_->tls.verified) << info_->tls.verify_error;
  EXPECT_TRUE(info_->tls.dane);
  EXPECT_EQ(info_->tls.cert_sha256.size(), 64u);
  EXPECT_TRUE(usable_);
  EXPECT_EQ(server_->ehlos, 2);  // before and after STARTTLS

  std::size_t tls_lines = 0;
  for (const auto& line : captured.lines()) {
    if (line.find("event=tls ") == std::string::npos) continue;
    ++tls_lines;
    EXPECT_NE(line.find("verified=true dane=true"), std::string::npos) << line;
    EXPECT_NE(line.find("cert=" + info_->tls.cert_sha256), std::string::npos) << line;
    EXPECT_EQ(line.find("verify_error="), std::string::npos) << line;
  }
  EXPECT_EQ(tls_lines, 1u);
}

TEST_F(ClientTls, WrongTlsaRecordLeavesTheSessionOpenButNotVerified) {
  CapturedClientLog captured;
  open(tls::PeerVerify{{kServerName}, {ee_spki_sha256(test_pki().other_cert)}});
  EXPECT_EQ(info_->status, OpenStatus::Ok) << info_->error;
  EXPECT_TRUE(info_->tls.active);
  EXPECT_FALSE(info_->tls.verified);
  EXPECT_FALSE(info_->tls.dane);
  EXPECT_EQ(info_->tls.verify_error, "certificate matches no TLSA record");
  EXPECT_FALSE(info_->tls.cert_sha256.empty());
  EXPECT_TRUE(usable_);
  EXPECT_EQ(server_->ehlos, 2);
  bool logged = false;
  for (const auto& line : captured.lines()) {
    if (line.find("event=tls ") == std::string::npos) continue;
    logged = line.find("verified=false dane=false") != std::string::npos &&
             line.find("verify_error=certificate matches no TLSA record") != std::string::npos;
    EXPECT_TRUE(logged) << line;
  }
  EXPECT_TRUE(logged);
}

TEST_F(ClientTls, WithoutPeerVerifyTheHostIsCheckedByPkix) {
  auto trusting = tls::TlsContext::create_client(test_pki().ca_cert);
  ASSERT_TRUE(trusting);
  options_.tls = trusting.value();
  open(std::nullopt);
  EXPECT_EQ(info_->status, OpenStatus::Ok) << info_->error;
  EXPECT_TRUE(info_->tls.verified) << info_->tls.verify_error;
  EXPECT_FALSE(info_->tls.dane);
}

TEST_F(ClientTls, ResumedConnectionKeepsTheDaneVerdict) {
  tls::PeerVerify verify{{kServerName}, {ee_spki_sha256(test_pki().server_cert)}};
  open(verify);
  ASSERT_TRUE(info_->tls.dane);
  ASSERT_TRUE(session_);
  std::string cert = info_->tls.cert_sha256;
  info_.reset();
  open(verify, std::move(session_));
  EXPECT_TRUE(info_->tls.resumed);
  EXPECT_TRUE(info_->tls.verified) << info_->tls.verify_error;
  EXPECT_TRUE(info_->tls.dane);
  EXPECT_EQ(info_->tls.cert_sha256, cert);
}

}  // namespace
}  // namespace secmx::client
