// smtp_session.cpp - see smtp_session.hpp. Reply texts follow Postfix's where an
// operator would compare them; every reply carries an enhanced status code once the
// client has said EHLO (RFC 2034).
#include "relay/server/smtp_session.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "relay/common/ascii.hpp"
#include "relay/common/callback_guard.hpp"
#include "relay/common/clock.hpp"
#include "relay/common/log.hpp"
#include "relay/common/log_lines.hpp"
#include "relay/config/cidr.hpp"
#include "relay/policy/headers.hpp"
#include "relay/policy/policy_engine.hpp"
#include "relay/policy/sender_login.hpp"
#include "relay/server/end_of_data.hpp"
#include "relay/server/extensions.hpp"
#include "relay/server/received_header.hpp"

namespace secmx::server {
namespace {

// Unprocessed input kept while a commit is pending before reading pauses: a client that
// pipelines its next message must not make us buffer without bound.
constexpr std::size_t kMaxBufferedInput = 1 << 20;

std::uint64_t now_ms() { return static_cast<std::uint64_t>(unix_now_us() / 1000); }

std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::logger("smtpd");
  return l;
}

}  // namespace

const char* to_string(SmtpSession::State s) {
  switch (s) {
    case SmtpSession::State::Command: return "command";
    case SmtpSession::State::Data: return "data";
    case SmtpSession::State::BdatChunk: return "bdat-chunk";
    case SmtpSession::State::TlsHandshake: return "tls-handshake";
    case SmtpSession::State::Committing: return "committing";
    case SmtpSession::State::Closing: return "closing";
    case SmtpSession::State::AuthResponse: return "auth-response";
    case SmtpSession::State::AuthCheck: return "auth-check";
  }
  return "?";
}

const char* to_string(SmtpSession::Phase p) {
  switch (p) {
    case SmtpSession::Phase::Greeted: return "greeted";
    case SmtpSession::Phase::Helo: return "helo";
    case SmtpSession::Phase::Mail: return "mail";
    case SmtpSession::Phase::Rcpt: return "rcpt";
    case SmtpSession::Phase::Chunking: return "chunking";
  }
  return "?";
}

SmtpSession::SmtpSession(SessionHost& host, std::uint64_t id,
                         std::unique_ptr<SessionTransport> transport, std::size_t listener)
    : host_(host),
      id_(id),
      tag_("S" + std::to_string(id)),
      transport_(std::move(transport)),
      listener_(listener),
      connected_ms_(now_ms()) {
  transport_->bind(*this);
}

const config::Listener& SmtpSession::listener() const {
  return host_.deps().config->smtp.listeners.at(listener_);
}

// Every entry from the loop (read, end of file, TLS result, timeout, commit answer) runs
// through here: an exception is logged with the session id and fails this session alone.
template <class Fn>
void SmtpSession::guarded(std::string_view where, Fn&& fn) {
  common::guard(*logger(), tag_, where, std::forward<Fn>(fn), [this] { fail(); });
}

void SmtpSession::enter_state(State next) {
  if (next == state_) return;
  SPDLOG_LOGGER_TRACE(logger(), "S{} state {} -> {}", id_, to_string(state_), to_string(next));
  state_ = next;
  arm_timer();
}

void SmtpSession::arm_timer() {
  const auto& cfg = host_.deps().config->smtp;
  switch (state_) {
    case State::Command:
    case State::TlsHandshake:
    case State::AuthResponse:
      transport_->set_timeout(static_cast<std::uint64_t>(cfg.command_timeout.count()));
      break;
    case State::Data:
    case State::BdatChunk:
      transport_->set_timeout(static_cast<std::uint64_t>(cfg.data_timeout.count()));
      break;
    case State::Committing:
    case State::AuthCheck:  // the answer may wait for its failure delay
    case State::Closing:
      transport_->set_timeout(0);
      break;
  }
}

void SmtpSession::start(const smtp::Reply* refusal) {
  logger()->info("{}", log::connect_line({id_, transport_->peer_ip(), transport_->peer_port()}));
  common::inject_fault("server.accept");  // start() runs inside the accept callback
  const bool implicit_tls = listener().tls == config::ListenerTls::Implicit;
  if (refusal) {
    if (!implicit_tls) {
      out_ += refusal->format();  // enhanced code even before EHLO, as Postfix's anvil does
    }
    close_after_reply();
    return;
  }
  if (implicit_tls) {
    // RFC 8314 §3.3: the TLS handshake first; on_tls_done() greets.
    enter_state(State::TlsHandshake);
    transport_->start_tls(host_.deps().tls);
    if (state_ == State::TlsHandshake) transport_->start_reading();
    return;
  }
  send_banner();
  transport_->start_reading();
  arm_timer();
}

void SmtpSession::send_banner() {
  const auto& cfg = *host_.deps().config;
  std::string banner = cfg.hostname + " " +
                       (cfg.smtp.banner.empty() ? std::string("ESMTP secmx-relay") : cfg.smtp.banner);
  reply(220, "", banner);
  greeted_ = true;
  flush();
}

void SmtpSession::abort() {
  enter_state(State::Closing);
  transport_->close(false);
}

// Straight into out_: no Reply and no formatted copy per reply (four per message).
void SmtpSession::reply(int code, std::string_view enhanced, std::string_view text) {
  smtp::append_reply(out_, code, esmtp_ ? enhanced : std::string_view(), text);
}

void SmtpSession::reply(const smtp::Reply& r) { reply(r.code, r.enhanced, r.text); }

void SmtpSession::flush() {
  if (out_.empty()) return;
  transport_->write(out_);
  out_.clear();
  transport_->flush();
}

void SmtpSession::close_after_reply() {
  enter_state(State::Closing);
  flush();
  transport_->close(true);
}

void SmtpSession::count_error() {
  if (++errors_ >= host_.deps().config->smtp.max_errors) {
    reply(421, "4.7.0", host_.deps().config->hostname + " Error: too many errors");
    logger()->warn("S{} too many errors from [{}]", id_, transport_->peer_ip());
    close_after_reply();
  }
}

void SmtpSession::on_read(std::string_view data) {
  guarded("read", [&] {
    common::inject_fault("server.read");
    if (state_ == State::Closing) return;
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
    in_.append(data);
    arm_timer();
    process_input();
    flush();
  });
}

void SmtpSession::process_input() {
  while (in_pos_ < in_.size() && state_ != State::Closing) {
    bool progressed = false;
    switch (state_) {
      case State::Command:
      case State::AuthResponse: {
        const char* start = in_.data() + in_pos_;
        std::size_t avail = in_.size() - in_pos_;
        const void* lf = std::memchr(start, '\n', avail);
        // RFC 4954 4: a SASL response line may be up to 12288 octets.
        const std::size_t max_line =
            state_ == State::AuthResponse
                ? std::max<std::size_t>(host_.deps().config->smtp.max_line_length,
                                        smtp::kMaxSaslLine + 2)
                : host_.deps().config->smtp.max_line_length;
        if (!lf) {
          if (avail > max_line) {
            // Keep reading, but forget this line: it is answered when it ends.
            discard_line_ = true;
            in_pos_ = in_.size();
          }
          return;
        }
        std::size_t len = static_cast<const char*>(lf) - start;
        std::string_view line(start, len);
        in_pos_ += len + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (discard_line_ || line.size() + 2 > max_line) {
          discard_line_ = false;
          if (state_ == State::AuthResponse) enter_state(State::Command);
          reply(500, "5.5.2", "Error: line too long");
          count_error();
          progressed = true;
          break;
        }
        if (state_ == State::AuthResponse) {
          auth_step(sasl_.respond(line));
          progressed = true;
          break;
        }
        progressed = process_command_line(line);
        break;
      }
      case State::Data:
        progressed = process_data();
        break;
      case State::BdatChunk:
        progressed = process_bdat_chunk();
        break;
      case State::TlsHandshake:
      case State::Committing:
      case State::AuthCheck:
      case State::Closing:
        return;
    }
    if (!progressed) return;
  }
  if (in_pos_ >= in_.size()) {
    in_.clear();
    in_pos_ = 0;
  }
}

namespace {
// How the argument of a verb is checked before its handler runs.
enum class ArgRule : std::uint8_t {
  Any,       // the handler reads it (or ignores it)
  Required,  // an empty argument is 501 5.5.4 <usage>
  None,      // any argument is 501 5.5.4 <usage>
};

constexpr std::uint8_t bit(SmtpSession::Phase p) {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(p));
}
using P = SmtpSession::Phase;
constexpr std::uint8_t kAnyPhase = bit(P::Greeted) | bit(P::Helo) | bit(P::Mail) |
                                   bit(P::Rcpt) | bit(P::Chunking);

// The refusal of a verb the table does not accept in `phase`.
smtp::Reply out_of_phase(smtp::Verb verb, SmtpSession::Phase phase) {
  if (verb == smtp::Verb::Mail) {
    return {503, "5.5.1",
            phase == P::Greeted ? "Error: send HELO/EHLO first" : "Error: nested MAIL command"};
  }
  switch (phase) {
    case P::Greeted:
    case P::Helo: return {503, "5.5.1", "Error: need MAIL command"};
    case P::Mail: return {554, "5.5.1", "Error: no valid recipients"};
    case P::Chunking: return {503, "5.5.1", "Error: DATA after BDAT"};
    case P::Rcpt: break;
  }
  return {503, "5.5.1", "Error: bad sequence of commands"};
}
}  // namespace

struct SmtpSession::Command {
  smtp::Verb verb;
  std::uint8_t phases;  // bit (1 << Phase) set where the verb is accepted
  ArgRule arg;          // checked first, in every phase
  const char* usage;    // the 501 text when `arg` is not met
  void (SmtpSession::*handler)(std::string_view arg);
};

const SmtpSession::Command& SmtpSession::command(smtp::Verb verb) {
  using smtp::Verb;
  using S = SmtpSession;
  // BDAT and STARTTLS check for themselves: a refused BDAT still has to consume its
  // chunk, and STARTTLS says "not implemented" before it looks at its argument.
  static const Command kCommands[] = {
      {Verb::Helo, kAnyPhase, ArgRule::Required, "Syntax: HELO hostname", &S::cmd_helo},
      {Verb::Ehlo, kAnyPhase, ArgRule::Required, "Syntax: EHLO hostname", &S::cmd_ehlo},
      {Verb::Mail, bit(P::Helo), ArgRule::Any, "", &S::cmd_mail},
      {Verb::Rcpt, bit(P::Mail) | bit(P::Rcpt) | bit(P::Chunking), ArgRule::Any, "",
       &S::cmd_rcpt},
      {Verb::Data, bit(P::Rcpt), ArgRule::None, "Syntax: DATA", &S::cmd_data},
      {Verb::Bdat, kAnyPhase, ArgRule::Any, "", &S::cmd_bdat},
      {Verb::Rset, kAnyPhase, ArgRule::None, "Syntax: RSET", &S::cmd_rset},
      {Verb::Noop, kAnyPhase, ArgRule::Any, "", &S::cmd_noop},
      {Verb::Quit, kAnyPhase, ArgRule::Any, "", &S::cmd_quit},
      {Verb::Vrfy, kAnyPhase, ArgRule::Any, "", &S::cmd_vrfy},
      {Verb::Expn, kAnyPhase, ArgRule::Any, "", &S::cmd_expn},
      {Verb::Help, kAnyPhase, ArgRule::Any, "", &S::cmd_help},
      {Verb::Starttls, kAnyPhase, ArgRule::Any, "", &S::cmd_starttls},
      {Verb::Auth, kAnyPhase, ArgRule::Any, "", &S::cmd_auth},
      {Verb::Unknown, kAnyPhase, ArgRule::Any, "", &S::cmd_unknown},
  };
  for (const auto& c : kCommands) {
    if (c.verb == verb) return c;
  }
  return kCommands[std::size(kCommands) - 1];
}

SmtpSession::Phase SmtpSession::phase() const {
  if (helo_.empty()) return Phase::Greeted;
  if (!tx_.active) return Phase::Helo;
  if (tx_.chunks) return Phase::Chunking;
  return tx_.recipients.empty() ? Phase::Mail : Phase::Rcpt;
}

bool SmtpSession::process_command_line(std::string_view line) {
  ++n_commands_;
  smtp::Command cmd = smtp::parse_command(line);
  const Command& c = command(cmd.verb);
  const bool arg_ok = c.arg == ArgRule::Any ||
                      (c.arg == ArgRule::Required ? !cmd.arg.empty() : cmd.arg.empty());
  if (!arg_ok) {
    reply(501, "5.5.4", c.usage);
    count_error();
  } else if (Phase now = phase(); (c.phases & bit(now)) == 0) {
    reply(out_of_phase(c.verb, now));
    count_error();
  } else {
    (this->*c.handler)(c.verb == smtp::Verb::Unknown ? line : cmd.arg);
  }
  return true;
}

void SmtpSession::cmd_helo(std::string_view arg) { greet(arg, false); }
void SmtpSession::cmd_ehlo(std::string_view arg) { greet(arg, true); }

void SmtpSession::greet(std::string_view arg, bool extended) {
  tx_.reset();
  helo_ = std::string(arg.substr(0, 255));
  esmtp_ = extended;
  // After HELO nothing is offered: the reply is the hostname alone.
  reply(250, "", host_.deps().config->hostname + ehlo_keywords(offer()));
}

smtp::Offered SmtpSession::offered_now() const { return offered(offer()); }

OfferContext SmtpSession::offer() const {
  const auto& smtp = host_.deps().config->smtp;
  return OfferContext{esmtp_, host_.deps().tls != nullptr, transport_->tls_active(),
                      smtp.max_message_size,
                      smtp.auth.enabled() && listener().auth != config::ListenerAuth::None};
}

void SmtpSession::cmd_noop(std::string_view) { reply(250, "2.0.0", "Ok"); }

void SmtpSession::cmd_vrfy(std::string_view) {
  reply(252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery");
}

void SmtpSession::cmd_expn(std::string_view) {
  reply(502, "5.5.1", "Error: command not implemented");
  count_error();
}

void SmtpSession::cmd_help(std::string_view) {
  reply(214, "2.0.0",
        "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP "
        "STARTTLS AUTH");
}

// RFC 4954: AUTH after EHLO, under TLS only (no password crosses in plaintext), once
// per session and outside a transaction.
void SmtpSession::cmd_auth(std::string_view arg) {
  const auto& auth = host_.deps().config->smtp.auth;
  if (!auth.enabled() || listener().auth == config::ListenerAuth::None) {
    reply(502, "5.5.1", "Error: authentication not enabled");
  } else if (!esmtp_) {
    reply(503, "5.5.1", "Error: send EHLO first");
  } else if (!transport_->tls_active()) {
    reply(538, "5.7.11", "Encryption required for requested authentication mechanism");
  } else if (auth_user_) {
    reply(503, "5.5.1", "Error: already authenticated");
  } else if (tx_.active) {
    reply(503, "5.5.1", "Error: MAIL transaction in progress");
  } else {
    auth_step(sasl_.start(arg));
    return;
  }
  count_error();
}

void SmtpSession::auth_step(smtp::SaslStep step) {
  switch (step.kind) {
    case smtp::SaslStep::Kind::Challenge:
      // "334 <base64>": no enhanced code (RFC 4954 4).
      out_ += "334 " + step.challenge + "\r\n";
      enter_state(State::AuthResponse);
      return;
    case smtp::SaslStep::Kind::Error:
      enter_state(State::Command);
      reply(step.error);
      count_error();
      return;
    case smtp::SaslStep::Kind::Credentials:
      auth_pending_ = std::move(step.user);
      enter_state(State::AuthCheck);
      if (in_.size() - in_pos_ > kMaxBufferedInput) transport_->stop_reading();
      host_.authenticate(id_, auth_pending_, std::move(step.password));
      return;
  }
}

void SmtpSession::on_auth_result(AuthOutcome outcome) {
  guarded("auth", [&] {
    if (state_ != State::AuthCheck) return;
    enter_state(State::Command);
    if (auto* m = host_.deps().metrics) m->smtp_auth.inc(outcome);
    const auto& auth = host_.deps().config->smtp.auth;
    std::string user = log::escape(auth_pending_, 64);
    const char* method = smtp::to_string(sasl_.mechanism());
    if (outcome == AuthOutcome::Success) {
      logger()->info("S{} auth from [{}]: sasl_method={} sasl_username={}", id_,
                     transport_->peer_ip(), method, user);
      auth_user_ = std::move(auth_pending_);
      reply(235, "2.7.0", "Authentication successful");
    } else {
      ++auth_failures_;
      logger()->warn("S{} auth failed from [{}]: result={} sasl_method={} sasl_username={} "
                     "failures={}",
                     id_, transport_->peer_ip(), metrics::to_string(outcome), method, user,
                     auth_failures_);
      if (outcome == AuthOutcome::Failure) {
        reply(535, "5.7.8", "Error: authentication failed");
      } else if (outcome == AuthOutcome::Locked) {
        reply(454, "4.7.0", "Temporary authentication failure: too many failed logins, try later");
      } else {
        reply(454, "4.7.0", "Temporary authentication failure");
      }
      if (auth_failures_ >= auth.max_session_failures) {
        reply(421, "4.7.0", host_.deps().config->hostname + " Error: too many failed logins");
        close_after_reply();
        return;
      }
    }
    auth_pending_.clear();
    transport_->start_reading();
    process_input();
    flush();
  });
}

void SmtpSession::cmd_unknown(std::string_view line) {
  // Only the verb of a line that has arguments: a line of one word may be a client's SASL
  // response sent ahead (pipelined) after its AUTH was refused - credentials in base64,
  // which have no place in a log.
  std::size_t space = line.find(' ');
  if (space == std::string_view::npos) {
    logger()->info("S{} unknown command from [{}]: one word of {} bytes (not logged)", id_,
                   transport_->peer_ip(), line.size());
  } else {
    logger()->info("S{} unknown command from [{}]: {}", id_, transport_->peer_ip(),
                   log::escape(line.substr(0, space), 32));
  }
  reply(500, "5.5.2", "Error: command not recognized");
  count_error();
}

// A login relays from anywhere (that is what it is for); without one, the client's
// address must be in the listener's relay_networks.
bool SmtpSession::relay_allowed() const {
  if (auth_user_) return true;
  const auto& smtp = host_.deps().config->smtp;
  return config::any_contains(smtp.relay_networks_of(listener()), transport_->peer_addr());
}

bool SmtpSession::login_required_refused() {
  if (auth_user_ || listener().auth != config::ListenerAuth::Required) return false;
  logger()->info("S{} reject: MAIL from [{}]: 530 5.7.0 Authentication required; listener={}", id_,
                 transport_->peer_ip(), listener().address.to_string());
  reply(530, "5.7.0", "Authentication required");
  count_error();
  return true;
}

bool SmtpSession::sender_login_refused(const std::string& sender) {
  const auto& smtp = host_.deps().config->smtp;
  if (!auth_user_ || !(smtp.sender_login.required || listener().sender_login)) return false;
  if (policy::sender_owned(smtp.sender_login, *auth_user_, sender)) return false;
  const std::string text = "<" + log::escape(sender, 256) + ">: sender not owned by user " +
                           log::escape(*auth_user_, 64);
  logger()->info("S{} reject: MAIL from [{}]: 553 5.7.1 {}; sasl_username={}", id_,
                 transport_->peer_ip(), text, log::escape(*auth_user_, 64));
  reply(553, "5.7.1", text);
  count_error();
  return true;
}

void SmtpSession::cmd_mail(std::string_view arg) {
  const auto& cfg = *host_.deps().config;
  if (cfg.smtp.require_tls && !transport_->tls_active()) {
    reply(530, "5.7.0", "Must issue a STARTTLS command first");
    count_error();
    return;
  }
  if (login_required_refused()) return;
  auto parsed = smtp::parse_mail(arg, offered_now());
  if (!parsed) {
    reply(parsed.error());
    count_error();
    return;
  }
  if (sender_login_refused(parsed->reverse_path)) return;
  ++n_mail_;
  tx_.reset();
  tx_.active = true;
  tx_.mail = std::move(parsed.value());
  reply(250, "2.1.0", "Ok");
}

void SmtpSession::cmd_rcpt(std::string_view arg) {
  const auto& cfg = *host_.deps().config;
  if (tx_.recipients.size() >= cfg.smtp.max_recipients) {
    reply(452, "4.5.3", "Error: too many recipients");
    return;
  }
  auto parsed = smtp::parse_rcpt(arg, offered_now(), tx_.mail.smtputf8);
  if (!parsed) {
    reply(parsed.error());
    count_error();
    return;
  }
  if (!relay_allowed()) {
    logger()->info("{}", log::reject_line({id_, transport_->peer_ip(), log::Reject::Stage::Rcpt, 550,
                                           "5.7.1",
                                           "<" + log::escape(parsed->forward_path) +
                                               ">: Relay access denied",
                                           tx_.mail.reverse_path, parsed->forward_path, helo_, ""}));
    reply(550, "5.7.1", "<" + log::escape(parsed->forward_path, 256) + ">: Relay access denied");
    count_error();
    return;
  }
  ++n_rcpt_;
  model::Recipient r;
  r.address = std::move(parsed->forward_path);
  r.orcpt = std::move(parsed->orcpt);
  r.notify = parsed->notify;
  tx_.recipients.push_back(std::move(r));
  reply(250, "2.1.5", "Ok");
}

void SmtpSession::begin_content() {
  const auto& cfg = *host_.deps().config;
  tx_.id = host_.deps().ids->next();
  tx_.arrival_us = unix_now_us();
  std::string id = tx_.id.to_string();
  std::size_t expected = tx_.mail.size ? static_cast<std::size_t>(*tx_.mail.size) : 8192;
  tx_.body.reserve(std::min<std::size_t>(expected, cfg.smtp.max_message_size) + 512);
  ReceivedInfo info;
  info.helo = helo_;
  info.client_ip = transport_->peer_ip();
  info.hostname = cfg.hostname;
  info.queue_id = id;
  info.esmtp = esmtp_;
  info.authenticated = auth_user_.has_value();
  if (transport_->tls_active()) {
    const TlsFacts& facts = tls_facts();
    info.tls = true;
    info.tls_protocol = facts.protocol;
    info.tls_cipher = facts.cipher;
    info.tls_bits = facts.bits;
  }
  append_received(info, tx_.body);
  tx_.header_offset = tx_.body.size();
}

void SmtpSession::cmd_data(std::string_view) {
  if (tx_.mail.body == model::BodyType::BinaryMime) {
    reply(503, "5.5.1", "Error: BODY=BINARYMIME requires BDAT");
    count_error();
    return;
  }
  ++n_data_;
  const auto& cfg = host_.deps().config->smtp;
  begin_content();
  tx_.data.emplace(cfg.max_message_size, cfg.max_line_length);
  reply(354, "", "End data with <CR><LF>.<CR><LF>");
  enter_state(State::Data);
}

bool SmtpSession::process_data() {
  std::string_view rest(in_.data() + in_pos_, in_.size() - in_pos_);
  in_pos_ += tx_.data->feed(rest, tx_.body);
  if (!tx_.data->done()) return false;
  finish_content(tx_.data->flags());
  return true;
}

void SmtpSession::cmd_bdat(std::string_view arg) {
  // "BDAT <size> [LAST]"
  std::string_view size_text = arg.substr(0, arg.find(' '));
  std::string_view tail = size_text.size() < arg.size() ? arg.substr(size_text.size() + 1) : "";
  while (!tail.empty() && tail.front() == ' ') tail.remove_prefix(1);
  std::uint64_t size = 0;
  bool ok = !size_text.empty() && size_text.size() <= 19 && (tail.empty() || iequals(tail, "LAST"));
  for (char c : size_text) {
    if (c < '0' || c > '9') ok = false;
    else size = size * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (!ok) {
    // The chunk length is unknown, so the client's data cannot be skipped: the
    // session can no longer stay in step and must end.
    reply(501, "5.5.4", "Syntax: BDAT size [LAST]");
    close_after_reply();
    return;
  }
  bdat_remaining_ = size;
  bdat_last_ = !tail.empty();
  const auto& cfg = host_.deps().config->smtp;
  if (!tx_.active || tx_.recipients.empty() || tx_.data) {
    tx_.bdat_failed = true;  // consume the chunk, then refuse it
  } else if (!tx_.chunks) {
    ++n_data_;
    begin_content();
    tx_.chunks.emplace(cfg.max_message_size, cfg.max_line_length);
  }
  enter_state(State::BdatChunk);
  if (bdat_remaining_ == 0) process_bdat_chunk();
}

bool SmtpSession::process_bdat_chunk() {
  std::size_t take = static_cast<std::size_t>(
      std::min<std::uint64_t>(bdat_remaining_, in_.size() - in_pos_));
  std::string_view chunk(in_.data() + in_pos_, take);
  if (!tx_.bdat_failed && tx_.chunks) tx_.chunks->feed(chunk, tx_.body);
  in_pos_ += take;
  bdat_remaining_ -= take;
  if (bdat_remaining_ > 0) return false;
  enter_state(State::Command);
  if (tx_.bdat_failed || !tx_.chunks) {
    if (!tx_.active) {
      reply(503, "5.5.1", "Error: need MAIL command");
    } else if (tx_.recipients.empty()) {
      reply(554, "5.5.1", "Error: no valid recipients");
    } else {
      reply(503, "5.5.1", "Error: transaction failed, send RSET");
    }
    count_error();
    return true;
  }
  if (bdat_last_) {
    tx_.chunks->finish();
    finish_content(tx_.chunks->flags());
  } else if (tx_.chunks->flags().too_big) {
    tx_.bdat_failed = true;
    reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
  } else {
    reply(250, "2.0.0", "Ok: " + std::to_string(tx_.chunks->size()) + " octets received");
  }
  return true;
}

// The end of the content: validate, build the envelope, let the policy decide, submit.
// Every refusal is answered here and resets the transaction; a message that passes is
// answered when the commit does (on_committed).
void SmtpSession::finish_content(const smtp::ContentFlags& flags) {
  enter_state(State::Command);
  if (auto refusal = check_content(flags)) {
    refuse_content(*refusal);
    return;
  }
  std::string_view protocol, cipher;
  if (transport_->tls_active()) {
    const TlsFacts& facts = tls_facts();
    protocol = facts.protocol;
    cipher = facts.cipher;
  }
  queue::NewMessage msg = build_message(
      tx_, {transport_->peer_ip(), helo_, protocol, cipher, auth_user_.value_or(std::string())});
  auto decisions = decide_policy(msg);
  if (!decisions) return;
  submit(std::move(msg), *decisions);
}

void SmtpSession::refuse_content(const ContentRefusal& refusal) {
  const smtp::Reply& r = refusal.reply;
  logger()->info("{}", log::reject_line({id_, transport_->peer_ip(), log::Reject::Stage::EndOfData,
                                         r.code, r.enhanced, std::string(refusal.why),
                                         tx_.mail.reverse_path,
                                         tx_.recipients.empty() ? std::string()
                                                                : tx_.recipients.front().address,
                                         helo_,
                                         " nrcpt=" + std::to_string(tx_.recipients.size())}));
  reply(r);
  tx_.reset();
  if (refusal.counts_error) count_error();
}

std::optional<std::vector<policy::Decision>> SmtpSession::decide_policy(queue::NewMessage& msg) {
  auto& env = msg.envelope;
  policy::MessageFacts facts;
  facts.sender = env.sender;
  facts.recipients = &env.recipients;
  facts.requiretls = env.requiretls;
  facts.client_address = env.client_address;
  facts.header_section = header_section(msg.body, tx_.header_offset);
  auto decisions = host_.deps().policy->decide(facts);
  if (!decisions.empty() && !decisions.front().marking_invalid.empty()) {
    const auto& d = decisions.front();
    std::string reasons;
    for (auto p : d.marking_problems) {
      if (auto* m = host_.deps().metrics) m->markings_invalid.inc(p);
      if (!reasons.empty()) reasons += ',';
      reasons += policy::to_string(p);
    }
    logger()->warn("{}: invalid marking: reason={} policy={} why={}", env.id.to_string(),
                   reasons, model::to_string(d.action), log::escape(d.marking_invalid));
  }
  const bool audit_on = host_.deps().config->audit.enabled;
  if (policy::apply_decisions(decisions, env)) {
    record_acceptance(msg, decisions, audit_on, unix_now_us());
    return decisions;
  }
  std::string text = "Error: message refused by policy";
  std::string rule;
  for (const auto& d : decisions) {
    if (d.action == model::Policy::REJECT) {
      if (!d.reject_text.empty()) text = d.reject_text;
      rule = d.reason.to_string();
      logger()->info("{}", log::reject_line({id_, transport_->peer_ip(),
                                             log::Reject::Stage::EndOfData, 550, "5.7.1",
                                             log::escape(text), env.sender,
                                             env.recipients.empty() ? std::string()
                                                                    : env.recipients.front().address,
                                             helo_, " rule=" + d.reason.rule_field()}));
      break;
    }
  }
  if (auto* writer = host_.deps().writer; writer && audit_on) {
    // Queued before the 550 is sent, written by the commit writer's next round: the
    // session's loop never waits on the disk. A record that cannot be stored is logged
    // there; the refusal stands either way.
    std::vector<queue::AuditRecord> records{
        rejection_record(env, decisions, rule, "550 5.7.1 " + text, unix_now_us())};
    writer->submit_audit(std::move(records), [](Status<queue::Error>) {});
  }
  reply(550, "5.7.1", text);
  host_.counters().rejected++;
  tx_.reset();
  return std::nullopt;
}

void SmtpSession::submit(queue::NewMessage msg, const std::vector<policy::Decision>& decisions) {
  const auto& env = msg.envelope;
  // Written by the server when the commit answers: only a message on disk is "queued".
  log::Queued queued;
  queued.queue_id = env.id.to_string();
  queued.ip = transport_->peer_ip();
  queued.port = transport_->peer_port();
  queued.helo = helo_;
  queued.sender = env.sender;
  // As the policy read it (decide_policy): the header section is parsed once.
  if (!decisions.empty()) queued.message_id = decisions.front().message_id;
  queued.nrcpt = env.recipients.size();
  queued.size = env.body_size;
  queued.tls = tls_summary();
  queued.requiretls = env.requiretls;
  queued.policy = model::to_string(env.recipients.front().policy);
  // "rule=3(...)" for a rule, "default", "requiretls", ... otherwise: the decision that
  // was stored for the first recipient.
  queued.rule = decisions.empty() ? std::string() : decisions.front().reason.rule_field();
  queued.sasl_username = env.auth_user;
  std::vector<log::Line> queued_lines = log::queued_lines(queued);
  enter_state(State::Committing);
  if (in_.size() - in_pos_ > kMaxBufferedInput) transport_->stop_reading();
  host_.submit(id_, std::move(msg), std::move(queued_lines));
}

void SmtpSession::on_committed(Status<queue::Error> result) {
  guarded("commit", [&] {
    common::inject_fault("server.commit");
    if (state_ != State::Committing) return;
    std::string id = tx_.id.to_string();
    if (result) {
      ++n_queued_;
      host_.counters().messages++;
      reply(250, "2.0.0", "Ok: queued as " + id);
    } else {
      const auto& err = result.error();
      if (err.kind == queue::Error::Kind::Full) {
        reply(452, "4.3.1", "Insufficient system storage");
      } else {
        reply(451, "4.3.0", "Error: queue file write error");
      }
    }
    tx_.reset();
    enter_state(State::Command);
    transport_->start_reading();
    process_input();
    flush();
  });
}

void SmtpSession::cmd_rset(std::string_view) {
  tx_.reset();
  reply(250, "2.0.0", "Ok");
}

void SmtpSession::cmd_starttls(std::string_view arg) {
  if (!host_.deps().tls || transport_->tls_active()) {
    reply(502, "5.5.1", transport_->tls_active() ? "Error: TLS already active" : "Error: command not implemented");
    count_error();
    return;
  }
  if (!arg.empty()) {
    reply(501, "5.5.4", "Syntax: STARTTLS");
    count_error();
    return;
  }
  reply(220, "2.0.0", "Ready to start TLS");
  // RFC 3207 5 / CVE-2011-0411: whatever was pipelined after STARTTLS came in
  // plaintext and must not be executed inside the TLS session.
  if (in_pos_ < in_.size()) {
    logger()->warn("S{} discarding {} bytes pipelined after STARTTLS from [{}]", id_,
                   in_.size() - in_pos_, transport_->peer_ip());
  }
  in_.clear();
  in_pos_ = 0;
  flush();
  enter_state(State::TlsHandshake);
  transport_->start_tls(host_.deps().tls);
}

void SmtpSession::on_tls_done(bool ok, std::string_view error) {
  guarded("tls", [&] {
    if (!ok) {
      logger()->info("S{} TLS handshake failed from [{}]: {}", id_, transport_->peer_ip(), log::escape(error));
      enter_state(State::Closing);
      transport_->close(false);
      return;
    }
    // RFC 3207 4.2: the session starts over; nothing known before TLS is kept.
    helo_.clear();
    esmtp_ = false;
    tx_.reset();
    logger()->info("S{} TLS established from [{}]: {}", id_, transport_->peer_ip(), tls_summary());
    enter_state(State::Command);
    if (!greeted_) send_banner();  // implicit TLS: the greeting is the first thing inside
  });
}

void SmtpSession::cmd_quit(std::string_view) {
  reply(221, "2.0.0", "Bye");
  close_after_reply();
}

const SmtpSession::TlsFacts& SmtpSession::tls_facts() {
  if (!tls_facts_) {
    tls::PeerInfo peer = transport_->tls_peer();
    tls_facts_ = TlsFacts{std::move(peer.protocol), std::move(peer.cipher), peer.cipher_bits};
  }
  return *tls_facts_;
}

std::string SmtpSession::tls_summary() {
  if (!transport_->tls_active()) return "none";
  const TlsFacts& facts = tls_facts();
  return facts.protocol + "/" + facts.cipher;
}

void SmtpSession::on_timeout() {
  guarded("timeout", [&] {
    logger()->info("S{} timeout after {} from [{}]", id_, to_string(state_), transport_->peer_ip());
    reply(421, "4.4.2", host_.deps().config->hostname + " Error: timeout exceeded");
    close_after_reply();
  });
}

void SmtpSession::on_eof(std::string_view reason) {
  guarded("eof", [&] {
    if (state_ != State::Closing) {
      if (state_ == State::Data || state_ == State::BdatChunk) {
        logger()->info("S{} lost connection after DATA from [{}]: {}", id_, transport_->peer_ip(),
                       log::escape(reason));
      } else {
        logger()->debug("S{} lost connection in {}: {}", id_, to_string(state_), log::escape(reason));
      }
    }
    state_ = State::Closing;
  });
}

void SmtpSession::close_for_shutdown() {
  if (state_ == State::Closing) return;
  if (state_ == State::Command) reply(421, "4.3.2", "Service shutting down");
  close_after_reply();
}

void SmtpSession::on_closed() {
  // Nothing is left to fail here: whatever happens, the server frees the session.
  common::guard(*logger(), tag_, "close", [&] {
    logger()->info("{}", log::disconnect_line({id_, transport_->peer_ip(), n_commands_, n_mail_,
                                               n_rcpt_, n_data_, n_queued_,
                                               static_cast<std::int64_t>(now_ms() - connected_ms_)}));
  }, [] {});
  host_.session_closed(*this);  // frees this
}

void SmtpSession::fail() {
  // What was answered stays answered; the rest of this dialogue cannot be trusted. No
  // reply in the middle of a TLS handshake (it would go out in plaintext) or after the
  // connection is already closing.
  if (state_ != State::Closing && state_ != State::TlsHandshake) {
    reply(421, "4.3.0", host_.deps().config->hostname + " Error: internal error");
  }
  close_after_reply();
}

}  // namespace secmx::server
