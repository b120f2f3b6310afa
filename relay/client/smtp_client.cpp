// smtp_client.cpp - SmtpClient: the owner's handle on a ClientSession. Destroying it
// detaches the session, which aborts its connection and frees itself once libuv has
// closed the handles (see client_session.hpp).
#include "relay/client/smtp_client.hpp"

#include "relay/client/client_session.hpp"

namespace secmx::client {

std::unique_ptr<SmtpClient> SmtpClient::create(uv_loop_t* loop, ClientOptions options) {
  return std::unique_ptr<SmtpClient>(new SmtpClient(new ClientSession(loop, std::move(options))));
}

SmtpClient::~SmtpClient() { session_->detach(); }

void SmtpClient::open(const sockaddr* addr, std::string host, bool try_starttls,
                      tls::SslSessionPtr resume, std::function<void(SessionInfo)> cb) {
  session_->open(addr, std::move(host), try_starttls, std::move(resume), std::move(cb));
}

void SmtpClient::send(const MessageSpec& spec, std::function<void(MessageResult)> cb) {
  session_->send(spec, std::move(cb));
}

void SmtpClient::quit(std::function<void()> done) { session_->quit(std::move(done)); }

void SmtpClient::set_on_closed(std::function<void()> cb) {
  session_->set_on_closed(std::move(cb));
}

bool SmtpClient::usable() const { return session_->usable(); }

void SmtpClient::set_log_id(std::string id) { session_->set_log_id(std::move(id)); }

tls::SslSessionPtr SmtpClient::tls_session() const { return session_->tls_session(); }

const SessionInfo& SmtpClient::info() const { return session_->info(); }

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
