// smtp_client.hpp - the outbound SMTP client: one connection to one peer, on a libuv loop.
//
// open() connects, reads the greeting, says EHLO (HELO when EHLO gets a 5xx) and, when
// asked and offered, runs STARTTLS and EHLO again. send() runs one mail transaction
// (pipelined when the peer offers PIPELINING) and reports one result per recipient; the
// same client then carries further messages to the same destination. quit() ends it.
//
// Ownership and lifetime: the owner holds the unique_ptr. Destroying it aborts the
// connection at once and no pending callback is called afterwards; this is safe at any
// time, including from inside one of the client's own callbacks (the connection's memory
// is released later, when libuv has closed its handles). Every callback passed to
// open()/send()/quit() is called exactly once, always from a libuv callback and never
// from inside the call that registered it, except quit() and set_on_closed() on a
// connection that is already gone, which call their callback at once. At most one of
// open/send/quit runs at a time; quit() during open/send aborts it (reported as Broken).
//
// Thread affinity: the loop's thread only. Failure is reported in the results (status
// plus the reply or our own words); nothing here throws. An exception inside the client's
// own callbacks is caught and reported as a broken connection. Every log line starts with
// ClientOptions::log_id (the attempt gives its queue id) and "peer=host[ip]:port".
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "relay/model/envelope.hpp"
#include "relay/tls/peer_verify.hpp"
#include "relay/tls/ssl_session_ptr.hpp"
#include "relay/tls/tls_context.hpp"
#include "relay/tls/tls_session.hpp"

namespace secmx::client {

// RFC 5321 4.5.3.2 defaults; tests shrink them.
struct ClientOptions {
  std::string helo_name;                 // our hostname
  std::string log_id;                    // the owner's id for our log lines ("<queue id>")
  std::shared_ptr<tls::TlsContext> tls;  // client context (CA store or file); null: no TLS
  std::chrono::milliseconds connect_timeout{30000}, greeting_timeout{300000},
      command_timeout{300000}, data_init_timeout{120000}, data_block_timeout{180000},
      data_done_timeout{600000}, quit_timeout{60000};
};

struct Extensions {
  bool esmtp = false, pipelining = false, starttls = false, eightbitmime = false,
       smtputf8 = false, dsn = false, requiretls = false, chunking = false, enhanced = false;
  bool binarymime = false;    // RFC 3030 BINARYMIME (needs CHUNKING too)
  bool size_offered = false;  // SIZE keyword seen: MAIL may carry SIZE=
  std::uint64_t size = 0;     // 0: no limit advertised
};

struct TlsInfo {
  bool active = false;
  std::string protocol, cipher, peer_subject;
  bool verified = false;     // authenticated as the PeerVerify asked (PKIX, or DANE)
  std::string verify_error;  // in words when not verified
  long verify_code = 0;      // OpenSSL's X509_V_ERR_* when a check failed, else 0
  bool resumed = false;
  bool dane = false;        // verified by DANE (a TLSA record matched), not by PKIX
  std::string cert_sha256;  // the peer's leaf certificate, SHA-256 in lower-case hex
};

enum class OpenStatus {
  Ok,
  ConnectFailed,
  Timeout,
  Refused,    // 4xx/5xx greeting, or EHLO and HELO refused
  TlsFailed,  // handshake failed; connection closed
  Broken,     // EOF or protocol error
};

struct SessionInfo {
  OpenStatus status = OpenStatus::Broken;
  int code = 0;
  std::string enhanced, text;  // last reply when one explains the status
  std::string error;           // our words ("connection refused", "timeout after EHLO", ...)
  std::string stage;           // "connect", "greeting", "ehlo", "helo", "starttls", "tls"
  Extensions ext;              // after the last EHLO (post-TLS if TLS)
  bool starttls_offered = false;  // in the plaintext EHLO
  bool tls_attempted = false;
  // TlsFailed because the connection was lost (EOF, reset) during the handshake, not
  // because the peer refused it (alert, garbage): it says nothing about the peer's TLS.
  bool tls_connection_lost = false;
  TlsInfo tls;
  std::string peer;  // "host[ip]:port"
  std::string local_ip;   // our end of the connection, once connected (TLS reporting)
  std::string peer_helo;  // the name the peer gave: its EHLO/HELO reply, else its greeting
};

struct RcptResult {
  int code = 0;
  std::string enhanced, text;
};

struct MessageSpec {
  const model::Envelope* envelope = nullptr;        // sender, body type, smtputf8, ...
  std::vector<const model::Recipient*> recipients;  // one domain; orcpt/notify if DSN
  const std::string* body = nullptr;  // as stored: CRLF lines, not dot-stuffed, no "."
};

enum class SendStatus {
  Done,      // the transaction ran; see the per-recipient results
  Rejected,  // MAIL refused or a local check failed; see code
  Broken,    // the connection failed midway; outcome unknown for everyone
  Timeout,   // no reply in time; outcome unknown for everyone
};

struct MessageResult {
  SendStatus status = SendStatus::Broken;
  int code = 0;
  std::string enhanced, text;  // MAIL or end-of-data reply, or our local reason
  std::string stage;           // "rset", "mail", "rcpt", "data", "dot", "local"
  // One per spec.recipients: the RCPT refusal, or for accepted recipients the reply
  // that ended the transaction (end of data, or a DATA refusal). Empty (code 0) when the
  // status is Broken/Timeout and no reply was had.
  std::vector<RcptResult> rcpts;
  bool connection_usable = false;  // can carry another message
  bool pipelined = false;          // MAIL/RCPT/DATA went out as one group
  bool eightbit_downgrade = false; // 8BITMIME body sent as is to a peer without 8BITMIME
};

// An interface because it is the delivery attempt's seam to the network: the attempt's
// unit tests script a client without sockets. create() gives the real one, which runs the
// client state machine (client_session.hpp) over a libuv connection.
class SmtpClient {
 public:
  static std::unique_ptr<SmtpClient> create(uv_loop_t* loop, ClientOptions options);
  virtual ~SmtpClient() = default;
  SmtpClient(const SmtpClient&) = delete;
  SmtpClient& operator=(const SmtpClient&) = delete;

  // `addr` is copied. host: the MX/SRV target name, used for SNI and as the name the
  // certificate must match unless set_peer_verify() said otherwise (verification never
  // fails the handshake; see info().tls).
  // resume: a TLS session from an earlier connection to `host` (may be null); the client
  // keeps it for as long as it may need it.
  virtual void open(const sockaddr* addr, std::string host, bool try_starttls,
                    tls::SslSessionPtr resume, std::function<void(SessionInfo)> cb) = 0;
  // What the peer's certificate must satisfy, when it is not just `host` by PKIX (DANE
  // records, further names). Call before open(); the default is {names = {host}}. The
  // first name is the SNI name (for DANE: the TLSA base domain, RFC 7672 §8.1). A resume
  // session must come from a connection given the same PeerVerify (tls::verify_key()),
  // or it reports verified=false (tls_session.hpp).
  virtual void set_peer_verify(tls::PeerVerify verify) = 0;
  // One transaction. The spec and what it points to must stay alive until cb runs.
  virtual void send(const MessageSpec& spec, std::function<void(MessageResult)> cb) = 0;
  // QUIT, wait (bounded by quit_timeout) for the reply, close; done() once closed.
  virtual void quit(std::function<void()> done) = 0;
  virtual void set_on_closed(std::function<void()> cb) = 0;  // once, when the connection is gone
  virtual bool usable() const = 0;                           // open, idle, not closing
  // A connection that carries another owner's message logs under that owner's id.
  virtual void set_log_id(std::string id) = 0;
  virtual tls::SslSessionPtr tls_session() const = 0;  // a reference of our own; null if none
  virtual const SessionInfo& info() const = 0;

 protected:
  SmtpClient() = default;
};

const char* to_string(OpenStatus status);
const char* to_string(SendStatus status);

}  // namespace secmx::client
