// smtp_client.cpp - the real SmtpClient: the owner's handle on a ClientSession. Destroying
// it detaches the session, which aborts its connection and frees itself once libuv has
// closed the handles (see client_session.hpp).
#include "relay/client/smtp_client.hpp"

#include "relay/client/client_session.hpp"

namespace secmx::client {

namespace {

// The real client: the owner's handle on a ClientSession.
class SessionClient final : public SmtpClient {
 public:
  explicit SessionClient(ClientSession* session) : session_(session) {}
  ~SessionClient() override { session_->detach(); }

  void open(const sockaddr* addr, std::string host, bool try_starttls, tls::SslSessionPtr resume,
            std::function<void(SessionInfo)> cb) override {
    session_->open(addr, std::move(host), try_starttls, std::move(resume), std::move(cb));
  }
  void send(const MessageSpec& spec, std::function<void(MessageResult)> cb) override {
    session_->send(spec, std::move(cb));
  }
  void quit(std::function<void()> done) override { session_->quit(std::move(done)); }
  void set_on_closed(std::function<void()> cb) override { session_->set_on_closed(std::move(cb)); }
  bool usable() const override { return session_->usable(); }
  void set_peer_verify(tls::PeerVerify verify) override {
    session_->set_peer_verify(std::move(verify));
  }
  void set_log_id(std::string id) override { session_->set_log_id(std::move(id)); }
  tls::SslSessionPtr tls_session() const override { return session_->tls_session(); }
  const SessionInfo& info() const override { return session_->info(); }

 private:
  ClientSession* session_;  // frees itself once its connection is closed
};

}  // namespace

std::unique_ptr<SmtpClient> SmtpClient::create(uv_loop_t* loop, ClientOptions options) {
  return std::make_unique<SessionClient>(new ClientSession(loop, std::move(options)));
}

const char* to_string(OpenStatus status) {
  switch (status) {
    case OpenStatus::Ok: return "ok";
    case OpenStatus::ConnectFailed: return "connect-failed";
    case OpenStatus::Timeout: return "timeout";
    case OpenStatus::Refused: return "refused";
    case OpenStatus::TlsFailed: return "tls-failed";
    case OpenStatus::Broken: return "broken";
  }
  return "unknown";
}

const char* to_string(SendStatus status) {
  switch (status) {
    case SendStatus::Done: return "done";
    case SendStatus::Rejected: return "rejected";
    case SendStatus::Broken: return "broken";
    case SendStatus::Timeout: return "timeout";
  }
  return "unknown";
}

}  // namespace secmx::client
