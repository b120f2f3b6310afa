// client_session.hpp - the SMTP client's state machine behind SmtpClient (internal).
//
// A ClientSession owns its Connection and frees itself: once its owner has let go
// (detach()) and the Connection has reported on_closed(), it deletes itself when the
// outermost entry point on the stack returns. Every entry point (libuv callbacks, the
// SmtpClient calls) holds an Entry guard, so a user callback may detach the session
// and the code that called it still runs on live memory.
//
// Sending and receiving cursors (as Postfix's smtp_proto.c): cmds_ lists the commands of
// the current transaction; sent_ counts the ones written, recv_ the ones answered. With
// PIPELINING everything up to DATA goes out at once; without, one command per reply.
// BDAT always waits for the RCPT replies so that a chunk is never sent for nobody.
//
// Failure: every libuv callback enters through guarded() (common::guard): an exception is
// logged as "<log id>: peer=... event=exception where=client.<step> ..." and the
// connection fails as if lost, so the owner hears of it through its open/send callback.
// The step names are the fault-injection points (SECMX_TEST_INJECT_THROW=client.read:1).
// Log lines start with the owner's log id (ClientOptions::log_id; the attempt gives the
// queue id) and the peer.
//
// Thread affinity: the loop's thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "relay/client/client_state.hpp"
#include "relay/client/dot_stuffer.hpp"
#include "relay/client/smtp_client.hpp"
#include "relay/net/connection.hpp"
#include "relay/smtp/reply_parser.hpp"

namespace spdlog {
class logger;
}

namespace secmx::client {

class ClientSession final : public net::ConnectionHandler {
 public:
  ClientSession(uv_loop_t* loop, ClientOptions options);

  void open(const sockaddr* addr, std::string host, bool try_starttls,
            tls::SslSessionPtr resume, std::function<void(SessionInfo)> cb);
  void send(const MessageSpec& spec, std::function<void(MessageResult)> cb);
  void quit(std::function<void()> done);
  void set_on_closed(std::function<void()> cb);
  bool usable() const;
  tls::SslSessionPtr tls_session();
  const SessionInfo& info() const { return info_; }
  void set_log_id(std::string id);
  void set_peer_verify(tls::PeerVerify verify) { verify_ = std::move(verify); }
  // The owner is gone: drop every callback, abort the connection, free when closed.
  void detach();

  // net::ConnectionHandler
  void on_read(std::string_view plaintext) override;
  void on_eof(std::string_view reason) override;
  void on_tls_done(bool ok, std::string_view error) override;
  void on_timeout() override;
  void on_closed() override;
  void on_drained() override;

 private:
  class Entry;
  enum class Cmd { Rset, Mail, Rcpt, Data, Bdat };
  struct Pending {
    Cmd cmd;
    std::size_t rcpt = 0;  // index into spec_.recipients for Rcpt
    std::string line;
  };

  ~ClientSession() override;
  static void on_connected_cb(net::Connection* conn, int status);
  void on_connected(int status);
  void post(std::function<void()> fn);
  template <class F>
  void guarded(const char* where, F&& fn);

  void update_who();
  void enter_state(State next);
  void write_command(const std::string& line);
  void handle_reply(smtp::ParsedReply reply);
  void unexpected_reply(const smtp::ParsedReply& reply);

  // Opening.
  void on_greeting(const smtp::ParsedReply& reply);
  void on_ehlo(const smtp::ParsedReply& reply);
  void on_helo(const smtp::ParsedReply& reply);
  void on_starttls(const smtp::ParsedReply& reply);
  void open_ok();
  void open_failed(OpenStatus status, std::string error, const smtp::ParsedReply* reply,
                   bool say_quit);
  void report_open();

  // Transaction.
  void send_more();
  void on_transaction_reply(const smtp::ParsedReply& reply);
  void start_body();
  void pump_body();
  void on_dot_reply(const smtp::ParsedReply& reply);
  void finish_refused_data(const smtp::ParsedReply& reply);
  void finish_without_data();
  void finish_send(SendStatus status, const char* stage, const smtp::ParsedReply* reply);
  void report_send();

  // Loss of the connection, a timeout or a protocol error, in any state.
  void lost(OpenStatus open_status, SendStatus send_status, const std::string& error);
  void close_connection(bool graceful);

  uv_loop_t* loop_;
  ClientOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::string who_;  // "<log id>: peer=host[ip]:port", the start of every log line
  net::Connection conn_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted work checks it
  State state_ = State::Idle;
  int depth_ = 0;         // Entry guards on the stack
  bool detached_ = false;
  bool closed_ = false;   // on_closed() has run
  bool peer_closing_ = false;  // the peer said 421

  std::string host_;
  bool try_starttls_ = false;
  tls::SslSessionPtr resume_;  // offered for resumption at the handshake
  tls::PeerVerify verify_;     // unset names: host_ by PKIX (set_peer_verify)
  SessionInfo info_;
  std::string in_;  // received plaintext not yet split into lines
  smtp::ReplyParser parser_;

  std::function<void(SessionInfo)> open_cb_;
  std::function<void(MessageResult)> send_cb_;
  std::function<void()> quit_done_;
  std::function<void()> on_closed_cb_;

  MessageSpec spec_;
  MessageResult result_;
  std::vector<Pending> cmds_;
  std::size_t sent_ = 0, recv_ = 0, accepted_ = 0;
  bool need_rset_ = false;   // a MAIL was accepted and its transaction not ended
  bool mail_ok_ = false, mail_failed_ = false;
  bool bdat_ = false, dummy_dot_ = false;
  smtp::ParsedReply mail_reply_;
  DotStuffer stuffer_;
  std::size_t body_off_ = 0;
};

}  // namespace secmx::client
