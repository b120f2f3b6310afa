// smtp_session.hpp - one inbound SMTP session: an explicit state machine over a
// SessionTransport.
//
// The session (connection, TLS, HELO, errors) is kept apart from the transaction
// (MAIL/RCPT/content). Input is processed as it arrives: every complete command is
// answered in order and the replies of one read are sent together (RFC 2920). Commands
// go through one table (smtp_session.cpp): per verb, the phases of the dialogue in which
// it is accepted (Phase, read from what the session holds), the rule for its argument,
// and its handler; the table's refusals (501, 503, 554) are answered before any handler
// runs. What the EHLO reply offers and what MAIL/RCPT accept come from one definition
// (extensions.hpp). At the end of the content the session validates it, builds the
// envelope (end_of_data.hpp), lets the policy decide and submits the message to the
// commit writer; it then stops processing input (State::Committing) until the result
// comes back, so that "250 queued" is sent, and the "queued" line logged, only for a
// message on disk.
//
// Every callback from the loop enters through one guard (common::guard): an exception is
// logged as "S<id> event=exception where=... what=...", the client gets 421 4.3.0 and the
// connection closes; the process and every other session go on.
//
// The session knows its connection only as a SessionTransport and its server only as a
// SessionHost, so the unit tests drive it with scripted input and no socket. It owns its
// transport; the host owns the session and frees it in session_closed(), which
// on_closed() calls last. Loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/store.hpp"
#include "relay/net/connection.hpp"
#include "relay/policy/policy_engine.hpp"
#include "relay/server/auth_service.hpp"
#include "relay/server/end_of_data.hpp"
#include "relay/server/extensions.hpp"
#include "relay/server/session_host.hpp"
#include "relay/server/session_transport.hpp"
#include "relay/server/transaction.hpp"
#include "relay/smtp/command.hpp"
#include "relay/smtp/reply.hpp"
#include "relay/smtp/sasl.hpp"

namespace secmx::server {

class SmtpSession final : public net::ConnectionHandler {
 public:
  // AuthResponse: the next line answers a 334 (RFC 4954), it is not a command;
  // AuthCheck: the credentials are being checked, input waits.
  enum class State { Command, Data, BdatChunk, TlsHandshake, Committing, Closing, AuthResponse,
                     AuthCheck };
  // Where the dialogue stands while in State::Command: no HELO yet, HELO said, MAIL
  // accepted, recipients accepted, BDAT chunks under way.
  enum class Phase : std::uint8_t { Greeted, Helo, Mail, Rcpt, Chunking };

  // `listener`: the position in [smtp] listeners of the one the client connected to.
  SmtpSession(SessionHost& host, std::uint64_t id, std::unique_ptr<SessionTransport> transport,
              std::size_t listener = 0);
  std::uint64_t id() const { return id_; }
  // The listener's settings as the config in force has them (a reload keeps the list's
  // order and addresses, see config::keep_restart_only).
  const config::Listener& listener() const;
  const std::string& peer_ip() const { return transport_->peer_ip(); }
  State state() const { return state_; }
  Phase phase() const;

  // After accept: greet, or refuse with `refusal` (421 ...) when a limit is hit. On an
  // implicit-TLS listener the handshake comes first and the greeting after it; a refusal
  // there closes without a word (it could only go out in plaintext).
  void start(const smtp::Reply* refusal);
  // The accept itself failed: close without a word.
  void abort();
  void on_committed(Status<queue::Error> result);
  // The answer to SessionHost::authenticate(): 235, 535 (after its delay) or 454.
  void on_auth_result(AuthOutcome outcome);
  const std::optional<std::string>& auth_user() const { return auth_user_; }
  void close_for_shutdown();
  // An exception escaped one of this session's callbacks: 421 4.3.0 and close.
  void fail();

  // ConnectionHandler
  void on_read(std::string_view plaintext) override;
  void on_eof(std::string_view reason) override;
  void on_tls_done(bool ok, std::string_view error) override;
  void on_timeout() override;
  void on_closed() override;

 private:
  struct Command;  // a row of the command table
  static const Command& command(smtp::Verb verb);

  template <class Fn>
  void guarded(std::string_view where, Fn&& fn);
  void enter_state(State next);
  void process_input();
  bool process_command_line(std::string_view line);
  bool process_data();
  bool process_bdat_chunk();

  // Handlers, run once the table's checks have passed: each validates what is its own
  // (replying on error) and then acts. For an unrecognised verb the argument is the
  // whole line, for the log.
  void cmd_helo(std::string_view arg);
  void cmd_ehlo(std::string_view arg);
  void greet(std::string_view arg, bool extended);
  void cmd_mail(std::string_view arg);
  void cmd_rcpt(std::string_view arg);
  void cmd_data(std::string_view arg);
  void cmd_bdat(std::string_view arg);
  void cmd_rset(std::string_view arg);
  void cmd_noop(std::string_view arg);
  void cmd_quit(std::string_view arg);
  void cmd_vrfy(std::string_view arg);
  void cmd_expn(std::string_view arg);
  void cmd_help(std::string_view arg);
  void cmd_starttls(std::string_view arg);
  void cmd_auth(std::string_view arg);
  void cmd_unknown(std::string_view line);
  void auth_step(smtp::SaslStep step);

  void begin_content();
  void finish_content(const smtp::ContentFlags& flags);
  void refuse_content(const ContentRefusal& refusal);
  // The policy's decisions, applied to msg's envelope; nullopt when a rule rejects the
  // message (answered 550 and logged here).
  std::optional<std::vector<policy::Decision>> decide_policy(queue::NewMessage& msg);
  void submit(queue::NewMessage msg, const std::vector<policy::Decision>& decisions);
  void reply(int code, std::string_view enhanced, std::string_view text);
  void reply(const smtp::Reply& r);
  void count_error();
  void flush();
  void close_after_reply();
  void arm_timer();
  void send_banner();
  // MAIL's checks of the listener and the login: true when MAIL is refused (answered,
  // logged and counted as an error here).
  bool login_required_refused();
  bool sender_login_refused(const std::string& sender);
  bool relay_allowed() const;
  // What this session offers now (extensions.hpp): the EHLO text and the MAIL/RCPT
  // parameter checks both come from it.
  OfferContext offer() const;
  smtp::Offered offered_now() const;
  // What the connection's TLS negotiated, asked of the transport once per session:
  // renegotiation is off (tls_context.cpp), so it cannot change, and each message used to
  // ask three times (the Received header, the envelope, the queued line), each a
  // PeerInfo with its strings, certificate digest and verify result. Under TLS only.
  struct TlsFacts {
    std::string protocol;  // "TLSv1.3"
    std::string cipher;    // "TLS_AES_256_GCM_SHA384"
    int bits = 0;
  };
  const TlsFacts& tls_facts();
  std::string tls_summary();

  SessionHost& host_;
  std::uint64_t id_;
  std::string tag_;  // "S12": how every line about this session starts
  std::unique_ptr<SessionTransport> transport_;
  std::size_t listener_;
  bool greeted_ = false;  // the 220 banner is out (after the handshake on implicit TLS)
  State state_ = State::Command;
  std::string in_;              // received, not yet processed
  std::size_t in_pos_ = 0;
  std::string out_;             // replies not yet written
  std::string helo_;
  bool esmtp_ = false;
  bool discard_line_ = false;   // inside an overlong command line
  std::uint32_t errors_ = 0;
  std::uint64_t bdat_remaining_ = 0;
  bool bdat_last_ = false;
  Transaction tx_;
  // The identity a successful AUTH established (RFC 4954), for the life of the session:
  // MAIL reads it (listener auth = "required", sender authorization), and so do the
  // Received header, the accept line and the queue record.
  std::optional<std::string> auth_user_;
  smtp::SaslExchange sasl_;
  std::string auth_pending_;       // the user name being checked (State::AuthCheck)
  std::uint32_t auth_failures_ = 0;  // failed logins in this session
  // Per-session command counts for the disconnect line, as Postfix logs them.
  std::uint32_t n_commands_ = 0, n_mail_ = 0, n_rcpt_ = 0, n_data_ = 0, n_queued_ = 0;
  std::uint64_t connected_ms_ = 0;
  std::optional<TlsFacts> tls_facts_;  // filled by tls_facts() on first use
};

const char* to_string(SmtpSession::State s);
const char* to_string(SmtpSession::Phase p);

}  // namespace secmx::server
