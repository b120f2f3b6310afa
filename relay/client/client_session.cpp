// client_session.cpp - ClientSession: the SMTP client state machine (see
// client_session.hpp for ownership; client_state.hpp for the per-state table).
//
// Each reply is handled by the function of the state that waits for it; that function
// either sends the next command and enters the next state, or finishes the operation
// (open or send) and reports it. Reporting is always the last thing a handler does: the
// callback may detach the session, after which only the Entry guard's bookkeeping runs.
#include "relay/client/client_session.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "relay/client/client_commands.hpp"
#include "relay/client/extensions.hpp"
#include "relay/client/message_check.hpp"
#include "relay/common/callback_guard.hpp"
#include "relay/common/log.hpp"

namespace secmx::client {
namespace {

// RFC 5321 4.5.3.1.5 allows 512 octets per reply line; some peers send more. Beyond this
// the peer is not speaking SMTP.
constexpr std::size_t kMaxReplyLine = 64 * 1024;
// Body bytes handed to the connection per block; the next block waits for the socket.
constexpr std::size_t kBodyBlock = 64 * 1024;

std::string reply_text(const smtp::ParsedReply& reply) {
  std::string out;
  for (const auto& line : reply.lines) {
    if (!out.empty()) out += ' ';
    out += line;
  }
  return out;
}

// The name a greeting or an EHLO/HELO reply starts with (RFC 5321 4.2: "220 domain ...",
// "250 domain ..."), bounded: it is the peer's word, kept for TLS reporting.
std::string first_word(const smtp::ParsedReply& r) {
  if (r.lines.empty()) return {};
  std::string_view line = r.lines.front();
  line = line.substr(0, std::min(line.find(' '), std::size_t{255}));
  return std::string(line);
}

bool positive(const smtp::ParsedReply& r) { return r.code >= 200 && r.code < 400; }

RcptResult rcpt_result(const smtp::ParsedReply& r) {
  return RcptResult{r.code, r.enhanced, reply_text(r)};
}

}  // namespace

// Counts the entry points on the stack; the last one out frees a detached, closed
// session.
class ClientSession::Entry {
 public:
  explicit Entry(ClientSession* s) : s_(s) { ++s_->depth_; }
  ~Entry() {
    if (--s_->depth_ == 0 && s_->detached_ && s_->closed_) delete s_;
  }
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;

 private:
  ClientSession* s_;
};

ClientSession::ClientSession(uv_loop_t* loop, ClientOptions options)
    : loop_(loop),
      options_(std::move(options)),
      log_(log::logger("smtp-client")),
      conn_(loop, this) {
  conn_.user = this;
  update_who();
}

void ClientSession::set_log_id(std::string id) {
  options_.log_id = std::move(id);
  update_who();
}

void ClientSession::update_who() {
  who_ = (options_.log_id.empty() ? std::string() : options_.log_id + ": ") + "peer=" + info_.peer;
}

ClientSession::~ClientSession() = default;

template <class F>
void ClientSession::guarded(const char* where, F&& fn) {
  Entry entry(this);
  common::guard(
      *log_, who_, where,
      [&] {
        common::inject_fault(where);
        fn();
      },
      [&] {
        lost(OpenStatus::Broken, SendStatus::Broken, std::string("internal error at ") + where);
      });
}

void ClientSession::post(std::function<void()> fn) {
  struct Posted {
    uv_timer_t timer{};
    std::weak_ptr<int> alive;
    ClientSession* session = nullptr;
    std::function<void()> fn;
  };
  auto* p = new Posted;
  p->alive = alive_;
  p->session = this;
  p->fn = std::move(fn);
  uv_timer_init(loop_, &p->timer);
  p->timer.data = p;
  uv_timer_start(&p->timer, [](uv_timer_t* t) {
    auto* posted = static_cast<Posted*>(t->data);
    if (auto alive = posted->alive.lock()) {
      posted->session->guarded("client.posted", [posted] { posted->fn(); });
    }
    uv_close(reinterpret_cast<uv_handle_t*>(t),
             [](uv_handle_t* h) { delete static_cast<Posted*>(h->data); });
  }, 0, 0);
}

void ClientSession::enter_state(State next) {
  if (next != state_) {
    log_->trace("{} state={}->{}", who_, to_string(state_), to_string(next));
  }
  state_ = next;
  if (next == State::Closed) return;
  auto member = state_info(next).timeout;
  conn_.set_timeout(member == nullptr
                        ? 0
                        : static_cast<std::uint64_t>((options_.*member).count()));
}

void ClientSession::write_command(const std::string& line) {
  log_->debug("{} send={}", who_,
              log::escape(std::string_view(line).substr(0, line.size() - 2)));
  conn_.write(line);
}

// ---------------------------------------------------------------- public operations

void ClientSession::open(const sockaddr* addr, std::string host, bool try_starttls,
                         tls::SslSessionPtr resume, std::function<void(SessionInfo)> cb) {
  Entry entry(this);
  if (state_ != State::Idle || detached_) {
    post([cb = std::move(cb)] {
      SessionInfo info;
      info.status = OpenStatus::Broken;
      info.error = "open() called on a client that was already opened";
      cb(std::move(info));
    });
    return;
  }
  open_cb_ = std::move(cb);
  host_ = std::move(host);
  try_starttls_ = try_starttls;
  resume_ = std::move(resume);
  std::uint16_t port = ntohs(addr->sa_family == AF_INET6
                                 ? reinterpret_cast<const sockaddr_in6*>(addr)->sin6_port
                                 : reinterpret_cast<const sockaddr_in*>(addr)->sin_port);
  info_.peer = host_ + "[" + net::ip_string(addr) + "]:" + std::to_string(port);
  update_who();
  enter_state(State::Connecting);
  int rc = conn_.connect(addr, &ClientSession::on_connected_cb);
  if (rc != 0) {
    // Reported from on_closed(), i.e. from a libuv callback, never from inside open().
    info_.status = OpenStatus::ConnectFailed;
    info_.stage = "connect";
    info_.error = uv_strerror(rc);
    close_connection(false);
  }
}

void ClientSession::on_connected_cb(net::Connection* conn, int status) {
  auto* self = static_cast<ClientSession*>(conn->user);
  self->guarded("client.connect", [self, status] { self->on_connected(status); });
}

void ClientSession::on_connected(int status) {
  if (state_ != State::Connecting) return;
  if (status < 0) {
    open_failed(OpenStatus::ConnectFailed, uv_strerror(status), nullptr, false);
    return;
  }
  log_->debug("{} event=connected", who_);
  info_.local_ip = conn_.local_ip();
  conn_.start_reading();
  enter_state(State::Greeting);
}

void ClientSession::send(const MessageSpec& spec, std::function<void(MessageResult)> cb) {
  Entry entry(this);
  if (!usable() || spec.envelope == nullptr || spec.body == nullptr ||
      spec.recipients.empty()) {
    bool broken = !usable();
    std::size_t n = spec.recipients.size();
    post([cb = std::move(cb), broken, n] {
      MessageResult r;
      r.status = broken ? SendStatus::Broken : SendStatus::Rejected;
      r.stage = "local";
      r.text = broken ? "connection not usable for a new message"
                      : "nothing to send (no envelope, body or recipients)";
      r.rcpts.resize(n);
      cb(std::move(r));
    });
    return;
  }
  send_cb_ = std::move(cb);
  spec_ = spec;
  result_ = MessageResult{};
  result_.rcpts.assign(spec.recipients.size(), RcptResult{});
  const Extensions& ext = info_.ext;

  if (auto refusal = check_message(spec, ext)) {
    log_->info("{} event=local-refusal dsn={} reason={}", who_, refusal->enhanced,
               log::escape(refusal->text));
    result_.status = SendStatus::Rejected;
    result_.stage = "local";
    result_.code = refusal->code;
    result_.enhanced = refusal->enhanced;
    result_.text = refusal->text;
    for (auto& r : result_.rcpts) r = RcptResult{refusal->code, refusal->enhanced, refusal->text};
    post([this] { report_send(); });
    return;
  }

  const model::Envelope& env = *spec.envelope;
  bdat_ = env.body_type == model::BodyType::BinaryMime;
  result_.pipelined = ext.pipelining;
  result_.eightbit_downgrade =
      env.body_type == model::BodyType::EightBitMime && !ext.eightbitmime;
  if (result_.eightbit_downgrade) {
    log_->info("{} event=8bit-without-8bitmime note=\"8-bit body sent as is\"", who_);
  }
  cmds_.clear();
  sent_ = recv_ = accepted_ = 0;
  mail_ok_ = mail_failed_ = dummy_dot_ = false;
  mail_reply_ = {};
  if (need_rset_) cmds_.push_back({Cmd::Rset, 0, "RSET\r\n"});
  cmds_.push_back({Cmd::Mail, 0, mail_command(env, spec.body->size(), ext)});
  for (std::size_t i = 0; i < spec.recipients.size(); ++i) {
    cmds_.push_back({Cmd::Rcpt, i, rcpt_command(*spec.recipients[i], ext)});
  }
  if (bdat_) {
    cmds_.push_back({Cmd::Bdat, 0, "BDAT " + std::to_string(spec.body->size()) + " LAST\r\n"});
  } else {
    cmds_.push_back({Cmd::Data, 0, "DATA\r\n"});
  }
  send_more();
}

void ClientSession::quit(std::function<void()> done) {
  Entry entry(this);
  if (closed_) {
    if (done) done();
    return;
  }
  quit_done_ = std::move(done);
  if (state_ == State::Ready && !send_cb_) {
    write_command("QUIT\r\n");
    conn_.flush();
    if (state_ != State::Closed) enter_state(State::Quit);
  } else if (state_ != State::Quit) {
    close_connection(false);
  }
}

void ClientSession::set_on_closed(std::function<void()> cb) {
  Entry entry(this);
  if (closed_) {
    if (cb) cb();
    return;
  }
  on_closed_cb_ = std::move(cb);
}

bool ClientSession::usable() const {
  return state_ == State::Ready && !send_cb_ && !quit_done_ && !conn_.closing() && !detached_;
}

tls::SslSessionPtr ClientSession::tls_session() {
  auto* tls = conn_.tls();
  return tls::SslSessionPtr(tls != nullptr && tls->handshake_done() ? tls->get1_session() : nullptr);
}

void ClientSession::detach() {
  Entry entry(this);
  detached_ = true;
  open_cb_ = nullptr;
  send_cb_ = nullptr;
  quit_done_ = nullptr;
  on_closed_cb_ = nullptr;
  if (!closed_) close_connection(false);
}

// ---------------------------------------------------------------- connection events

void ClientSession::on_read(std::string_view plaintext) {
  guarded("client.read", [&] {
    in_.append(plaintext);
    std::size_t pos = 0;
    while (state_ != State::Closed) {
      std::size_t nl = in_.find('\n', pos);
      if (nl == std::string::npos) break;
      std::string_view line(in_.data() + pos, nl - pos);
      pos = nl + 1;
      auto status = parser_.feed(line);
      if (status == smtp::ReplyStatus::Error) {
        lost(OpenStatus::Broken, SendStatus::Broken,
             "protocol error " + std::string(state_info(state_).phrase) + ": " +
                 parser_.error());
        return;
      }
      if (status == smtp::ReplyStatus::Complete) {
        handle_reply(parser_.take());
        if (state_ == State::TlsHandshake) {
          // Nothing sent in plaintext after the 220 may count once TLS is up (the
          // mirror image of the server-side STARTTLS injection, CVE-2011-0411).
          in_.clear();
          return;
        }
      }
    }
    if (state_ == State::Closed) return;
    in_.erase(0, pos);
    if (in_.size() > kMaxReplyLine) {
      lost(OpenStatus::Broken, SendStatus::Broken, "reply line too long");
    }
  });
}

void ClientSession::on_eof(std::string_view reason) {
  guarded("client.eof", [&] {
    if (state_ == State::Closed) return;
    if (state_ == State::Quit) {
      enter_state(State::Closed);
      return;
    }
    std::string error = "lost connection " + std::string(state_info(state_).phrase) + ": " +
                        std::string(reason);
    lost(OpenStatus::Broken, SendStatus::Broken, error);
  });
}

void ClientSession::on_tls_done(bool ok, std::string_view error) {
  guarded("client.tls", [&] {
    if (state_ != State::TlsHandshake) return;
    if (!ok) {
      open_failed(OpenStatus::TlsFailed, "TLS handshake failed: " + std::string(error),
                  nullptr, false);
      return;
    }
    tls::PeerInfo peer = conn_.tls()->peer_info();
    info_.tls.active = true;
    info_.tls.protocol = peer.protocol;
    info_.tls.cipher = peer.cipher;
    info_.tls.peer_subject = peer.peer_subject;
    info_.tls.verified = peer.verified;
    info_.tls.verify_error = peer.verify_error;
    info_.tls.verify_code = peer.verify_code;
    info_.tls.resumed = peer.resumed;
    info_.tls.dane = peer.dane;
    info_.tls.cert_sha256 = peer.cert_sha256;
    log_->debug("{} event=tls protocol={} cipher={} verified={} dane={} resumed={} cert={}{}",
                who_, peer.protocol, peer.cipher, peer.verified, peer.dane, peer.resumed,
                peer.cert_sha256.empty() ? "none" : peer.cert_sha256,
                peer.verified ? std::string() : " verify_error=" + log::escape(peer.verify_error));
    write_command("EHLO " + options_.helo_name + "\r\n");
    conn_.flush();
    if (state_ != State::Closed) enter_state(State::TlsEhlo);
  });
}

void ClientSession::on_timeout() {
  guarded("client.timeout", [&] {
    if (state_ == State::Closed) return;
    if (state_ == State::Quit) {
      close_connection(false);
      return;
    }
    std::string error = "timeout " + std::string(state_info(state_).phrase);
    log_->info("{} event=timeout state={}", who_, to_string(state_));
    lost(OpenStatus::Timeout, SendStatus::Timeout, error);
  });
}

void ClientSession::on_drained() {
  guarded("client.drained", [&] {
    if (state_ == State::Body) pump_body();
  });
}

void ClientSession::on_closed() {
  Entry entry(this);
  closed_ = true;
  state_ = State::Closed;
  log_->debug("{} event=closed", who_);
  // The owner's callbacks run here; one that throws is logged, and the rest still run
  // at the next entry point that finds them set (there is nothing left to fail).
  common::guard(*log_, who_, "client.closed", [&] {
    if (open_cb_) {
      if (info_.status == OpenStatus::Ok || info_.error.empty()) {
        info_.status = info_.status == OpenStatus::Ok ? OpenStatus::Broken : info_.status;
        if (info_.error.empty()) info_.error = "connection closed";
      }
      report_open();
    }
    if (send_cb_) {
      result_.status = SendStatus::Broken;
      if (result_.text.empty()) result_.text = "connection closed";
      report_send();
    }
    if (auto done = std::exchange(quit_done_, nullptr)) done();
    if (auto cb = std::exchange(on_closed_cb_, nullptr)) cb();
  }, [] {});
}

// ---------------------------------------------------------------- replies

void ClientSession::handle_reply(smtp::ParsedReply reply) {
  log_->debug("{} state={} reply={} {} {}", who_, to_string(state_), reply.code,
              reply.enhanced, log::escape(reply_text(reply)));
  if (reply.code == 421) peer_closing_ = true;
  switch (state_) {
    case State::Greeting: on_greeting(reply); break;
    case State::Ehlo:
    case State::TlsEhlo: on_ehlo(reply); break;
    case State::Helo: on_helo(reply); break;
    case State::StartTls: on_starttls(reply); break;
    case State::Rset:
    case State::Mail:
    case State::Rcpt:
    case State::Data: on_transaction_reply(reply); break;
    case State::Dot: on_dot_reply(reply); break;
    case State::Quit: close_connection(true); break;
    default: unexpected_reply(reply); break;
  }
}

void ClientSession::unexpected_reply(const smtp::ParsedReply& reply) {
  // An idle peer that says 421 is going away (RFC 5321 3.8); anything else out of turn
  // means we are no longer in step with it.
  std::string what = "unexpected reply " + std::string(state_info(state_).phrase) + ": " +
                     std::to_string(reply.code) + " " + reply_text(reply);
  if (state_ == State::Ready && reply.code == 421) {
    log_->info("{} event=peer-closing reply={}", who_, log::escape(what));
    close_connection(false);
    return;
  }
  lost(OpenStatus::Broken, SendStatus::Broken, what);
}

void ClientSession::on_greeting(const smtp::ParsedReply& reply) {
  if (reply.code != 220) {
    open_failed(OpenStatus::Refused, "greeting refused", &reply, reply.code != 421);
    return;
  }
  info_.peer_helo = first_word(reply);
  write_command("EHLO " + options_.helo_name + "\r\n");
  conn_.flush();
  if (state_ != State::Closed) enter_state(State::Ehlo);
}

void ClientSession::on_ehlo(const smtp::ParsedReply& reply) {
  if (reply.code >= 200 && reply.code < 300) {
    Extensions ext = parse_ehlo(reply);
    info_.ext = ext;
    if (auto name = first_word(reply); !name.empty()) info_.peer_helo = std::move(name);
    if (state_ == State::Ehlo) {
      info_.starttls_offered = ext.starttls;
      if (try_starttls_ && ext.starttls && options_.tls) {
        write_command("STARTTLS\r\n");
        conn_.flush();
        if (state_ != State::Closed) enter_state(State::StartTls);
        return;
      }
    }
    open_ok();
    return;
  }
  if (reply.code >= 500) {
    // RFC 5321 3.2: an old server that does not know EHLO; HELO is all it speaks.
    write_command("HELO " + options_.helo_name + "\r\n");
    conn_.flush();
    if (state_ != State::Closed) enter_state(State::Helo);
    return;
  }
  open_failed(OpenStatus::Refused, "EHLO refused", &reply, reply.code != 421);
}

void ClientSession::on_helo(const smtp::ParsedReply& reply) {
  if (reply.code >= 200 && reply.code < 300) {
    info_.ext = Extensions{};
    if (auto name = first_word(reply); !name.empty()) info_.peer_helo = std::move(name);
    open_ok();
    return;
  }
  open_failed(OpenStatus::Refused, "EHLO and HELO refused", &reply, reply.code != 421);
}

void ClientSession::on_starttls(const smtp::ParsedReply& reply) {
  info_.tls_attempted = true;
  if (reply.code == 220) {
    enter_state(State::TlsHandshake);
    tls::PeerVerify verify = verify_;
    if (verify.names.empty()) verify.names.push_back(host_);
    // SNI is the first name: the MX host, or for DANE the TLSA base domain (RFC 7672 §8.1).
    conn_.start_tls(options_.tls, tls::Role::Client, verify.names.front(), verify,
                    resume_.get());
    return;
  }
  if (reply.code == 421) {
    open_failed(OpenStatus::Refused, "STARTTLS refused", &reply, false);
    return;
  }
  // RFC 3207 4: the session goes on in plaintext with what the first EHLO offered; the
  // caller's TLS policy decides whether that is good enough.
  info_.code = reply.code;
  info_.enhanced = reply.enhanced;
  info_.text = reply_text(reply);
  info_.error = "STARTTLS refused";
  open_ok();
}

void ClientSession::open_ok() {
  enter_state(State::Ready);
  info_.status = OpenStatus::Ok;
  info_.stage = "ready";
  log_->debug("{} event=open tls={}", who_, info_.tls.active);
  report_open();
}

void ClientSession::open_failed(OpenStatus status, std::string error,
                                const smtp::ParsedReply* reply, bool say_quit) {
  info_.status = status;
  info_.stage = state_info(state_).stage;
  info_.error = std::move(error);
  if (reply != nullptr) {
    info_.code = reply->code;
    info_.enhanced = reply->enhanced;
    info_.text = reply_text(*reply);
  }
  log_->info("{} event=open-failed stage={} error={} reply={}", who_, info_.stage,
             log::escape(info_.error), log::escape(info_.text));
  if (say_quit) {
    write_command("QUIT\r\n");
    close_connection(true);
  } else {
    close_connection(false);
  }
  report_open();
}

void ClientSession::report_open() {
  if (auto cb = std::exchange(open_cb_, nullptr)) cb(info_);
}

// ---------------------------------------------------------------- transaction

void ClientSession::send_more() {
  bool wrote = false;
  while (sent_ < cmds_.size()) {
    const Pending& c = cmds_[sent_];
    bool wait = !info_.ext.pipelining || c.cmd == Cmd::Bdat;
    if (wait && recv_ < sent_) break;
    bool ends_envelope = c.cmd == Cmd::Data || c.cmd == Cmd::Bdat;
    if (ends_envelope && recv_ == sent_ && (accepted_ == 0 || mail_failed_)) {
      if (wrote) conn_.flush();
      finish_without_data();
      return;
    }
    write_command(c.line);
    ++sent_;
    wrote = true;
    if (c.cmd == Cmd::Bdat) {
      start_body();
      return;
    }
  }
  if (wrote) conn_.flush();
  if (state_ == State::Closed) return;
  if (recv_ < sent_) {
    switch (cmds_[recv_].cmd) {
      case Cmd::Rset: enter_state(State::Rset); break;
      case Cmd::Mail: enter_state(State::Mail); break;
      case Cmd::Rcpt: enter_state(State::Rcpt); break;
      case Cmd::Data: enter_state(State::Data); break;
      case Cmd::Bdat: enter_state(State::Dot); break;
    }
  }
}

void ClientSession::on_transaction_reply(const smtp::ParsedReply& reply) {
  const Pending& c = cmds_[recv_++];
  if (reply.code == 421) {
    // The peer is closing: nothing after this reply will be answered.
    for (auto& r : result_.rcpts) {
      if (r.code == 0 || (r.code >= 200 && r.code < 300)) r = rcpt_result(reply);
    }
    bool mail_accepted = mail_ok_;
    finish_send(mail_accepted ? SendStatus::Done : SendStatus::Rejected,
                state_info(state_).stage, &reply);
    return;
  }
  switch (c.cmd) {
    case Cmd::Rset:
      if (!positive(reply)) {
        result_.stage = "rset";
        finish_send(SendStatus::Broken, "rset", &reply);
        return;
      }
      need_rset_ = false;
      break;
    case Cmd::Mail:
      if (positive(reply)) {
        mail_ok_ = true;
        need_rset_ = true;
      } else {
        mail_failed_ = true;
        mail_reply_ = reply;
        if (!info_.ext.pipelining) {
          for (auto& r : result_.rcpts) r = rcpt_result(reply);
          finish_send(SendStatus::Rejected, "mail", &reply);
          return;
        }
      }
      break;
    case Cmd::Rcpt:
      result_.rcpts[c.rcpt] = rcpt_result(reply);
      if (positive(reply)) ++accepted_;
      break;
    case Cmd::Data:
      if (reply.code == 354) {
        if (mail_failed_ || accepted_ == 0) {
          // A peer that invites the body of a transaction it refused: end it empty
          // (RFC 2920 3.1), and report what the earlier replies said.
          write_command(".\r\n");
          conn_.flush();
          dummy_dot_ = true;
          if (state_ != State::Closed) enter_state(State::Dot);
          return;
        }
        start_body();
        return;
      }
      finish_refused_data(reply);
      return;
    case Cmd::Bdat:
      break;  // answered in State::Dot
  }
  send_more();
}

void ClientSession::start_body() {
  stuffer_ = DotStuffer{};
  body_off_ = 0;
  enter_state(State::Body);
  pump_body();
}

void ClientSession::pump_body() {
  const std::string& body = *spec_.body;
  std::string out;
  while (state_ == State::Body && !conn_.closing() && conn_.pending_bytes() < kBodyBlock) {
    out.clear();
    bool last = false;
    if (body_off_ >= body.size()) {
      if (!bdat_) stuffer_.finish(out);  // a BDAT chunk has no terminator
      last = true;
    } else {
      std::string_view block = std::string_view(body).substr(body_off_, kBodyBlock);
      body_off_ += block.size();
      if (bdat_) {
        out.assign(block);
      } else {
        stuffer_.feed(block, out);
      }
      last = bdat_ && body_off_ >= body.size();
    }
    conn_.write(out);
    if (last) {
      enter_state(State::Dot);
      conn_.flush();
      return;
    }
    enter_state(State::Body);  // restarts the per-block timer
    conn_.flush();
  }
}

void ClientSession::on_dot_reply(const smtp::ParsedReply& reply) {
  if (dummy_dot_) {
    finish_without_data();
    return;
  }
  if (bdat_) ++recv_;
  for (auto& r : result_.rcpts) {
    if (r.code >= 200 && r.code < 300) r = rcpt_result(reply);
  }
  need_rset_ = false;
  finish_send(SendStatus::Done, "dot", &reply);
}

void ClientSession::finish_refused_data(const smtp::ParsedReply& reply) {
  if (mail_failed_ || accepted_ == 0) {
    finish_without_data();
    return;
  }
  for (auto& r : result_.rcpts) {
    if (r.code >= 200 && r.code < 300) r = rcpt_result(reply);
  }
  finish_send(SendStatus::Done, "data", &reply);
}

void ClientSession::finish_without_data() {
  // After an empty message ended a refused transaction, start afresh whatever the peer
  // made of it.
  bool after_dummy = std::exchange(dummy_dot_, false);
  if (mail_failed_) {
    for (auto& r : result_.rcpts) r = rcpt_result(mail_reply_);
    need_rset_ = after_dummy;
    finish_send(SendStatus::Rejected, "mail", &mail_reply_);
    return;
  }
  // Every recipient was refused: their RCPT replies are the result. The transaction is
  // still open at the peer (MAIL was accepted), hence RSET before the next one.
  need_rset_ = mail_ok_ || after_dummy;
  result_.status = SendStatus::Done;
  result_.stage = "rcpt";
  const RcptResult* last = nullptr;
  for (const auto& r : result_.rcpts) {
    if (r.code != 0) last = &r;
  }
  if (last != nullptr) {
    result_.code = last->code;
    result_.enhanced = last->enhanced;
    result_.text = last->text;
  }
  finish_send(SendStatus::Done, "rcpt", nullptr);
}

void ClientSession::finish_send(SendStatus status, const char* stage,
                                const smtp::ParsedReply* reply) {
  result_.status = status;
  result_.stage = stage;
  if (reply != nullptr) {
    result_.code = reply->code;
    result_.enhanced = reply->enhanced;
    result_.text = reply_text(*reply);
  }
  cmds_.clear();
  if (status == SendStatus::Broken || status == SendStatus::Timeout || peer_closing_) {
    close_connection(false);
  } else {
    enter_state(State::Ready);
  }
  report_send();
}

void ClientSession::report_send() {
  result_.connection_usable = state_ == State::Ready && !conn_.closing() && !detached_;
  spec_ = MessageSpec{};
  if (auto cb = std::exchange(send_cb_, nullptr)) cb(std::move(result_));
}

// ---------------------------------------------------------------- failures

void ClientSession::lost(OpenStatus open_status, SendStatus send_status,
                         const std::string& error) {
  State was = state_;
  if (was == State::Closed) return;
  if (open_cb_) {
    if (was == State::TlsHandshake && open_status == OpenStatus::Broken) {
      // Still a failed handshake (BES retries in plaintext), but flagged: SOS must not
      // take a cut connection for a host without TLS.
      open_status = OpenStatus::TlsFailed;
      info_.tls_connection_lost = true;
    }
    open_failed(open_status, error, nullptr, false);
    return;
  }
  log_->info("{} event=lost state={} error={}", who_, to_string(was),
             log::escape(error));
  close_connection(false);
  if (send_cb_) {
    result_.status = send_status;
    result_.stage = state_info(was).stage;
    result_.code = 0;
    result_.enhanced.clear();
    result_.text = error;
    report_send();
  }
}

void ClientSession::close_connection(bool graceful) {
  enter_state(State::Closed);
  conn_.close(graceful);
}

}  // namespace secmx::client
