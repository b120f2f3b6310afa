// decide.cpp - the delivery decision; see decide.hpp for the rules it keeps and how they
// are tested.
#include "relay/delivery/decide.hpp"

#include <algorithm>

#include "relay/model/reason.hpp"
#include "relay/model/status.hpp"

namespace secmx::delivery {
namespace {

using Kind = Decision::Kind;

// SOS (and HOLD, which is never sent) is at least "encrypt", whatever the caller passed:
// the level can only ever be raised here.
model::TlsLevel effective_level(model::Policy policy, model::TlsLevel level) {
  return model::is_sensitive(policy) ? model::stronger(level, model::TlsLevel::Encrypt) : level;
}
model::TlsLevel effective_level(const Facts& f) { return effective_level(f.policy, f.level); }

std::string str(std::string_view s) { return std::string(s); }

Decision final_outcome(RcptOutcome o, const Facts& f) {
  if (f.lifetime_passed && o.verdict == RcptVerdict::Deferred) {
    o.verdict = RcptVerdict::Failed;
    o.status = "5.4.7";
    o.diagnostic = "delivery time expired; last error: " + o.diagnostic;
  }
  Decision d;
  d.kind = Kind::Final;
  d.outcome = std::move(o);
  return d;
}

// This host did not take the mail. After the last one, what all of them said together
// is the recipients' outcome (for SOS: 5.7.10, or a deferral while some host may yet
// answer with TLS).
Decision next_host(HostRecord::Kind kind, std::string detail, const Facts& f) {
  HostRecord record{kind, str(f.host), std::move(detail)};
  if (!f.last_candidate) {
    Decision d;
    d.kind = Kind::NextHost;
    d.host = std::move(record);
    return d;
  }
  std::vector<HostRecord> all(f.tried.begin(), f.tried.end());
  all.push_back(record);
  Decision d = final_outcome(exhausted(model::must_encrypt(effective_level(f)), all,
                                       f.dns_incomplete, f.sos_expired, f.lifetime_passed),
                             f);
  d.host = std::move(record);
  return d;
}

// Our words for a connection that failed or timed out: while opening the session the
// client's own ("connection refused", "timeout after EHLO"), in a transaction the stage.
std::string transport_detail(const Facts& f) {
  bool in_transaction = f.stage == Stage::Mail || f.stage == Stage::Rcpt ||
                        f.stage == Stage::Data || f.stage == Stage::Local;
  if (!in_transaction) {
    return f.error.empty() ? "connection failed at " + str(f.step) : str(f.error);
  }
  return (f.event == Event::Timeout ? "timeout during " : "connection lost during ") +
         str(f.step) + (f.error.empty() ? "" : ": " + str(f.error));
}

std::string refusal_detail(const Facts& f) {
  return "refused at " + str(f.step) + ": " + reply_line(f.code, str(f.enhanced), str(f.text));
}

// A status the DNS or our own check gave, used when its class agrees with the verdict.
std::string status_or(std::string_view enhanced, char cls, const char* fallback) {
  return !enhanced.empty() && enhanced[0] == cls ? str(enhanced) : fallback;
}

Decision after_discovery(const Facts& f) {
  if (f.event == Event::Reply && f.code >= 200 && f.code < 300) {
    if (!f.last_candidate) return Decision{Kind::Continue, {}, {}};
    // Found, but not one host to try.
    return final_outcome(exhausted(model::must_encrypt(effective_level(f)),
                                   std::vector<HostRecord>(f.tried.begin(), f.tried.end()),
                                   f.dns_incomplete, f.sos_expired, f.lifetime_passed),
                         f);
  }
  RcptOutcome o;
  o.diagnostic = f.event == Event::Reply ? str(f.text) : str(f.error);
  if (o.diagnostic.empty()) o.diagnostic = "discovery of the receivers failed";
  if (f.event == Event::Reply && f.code >= 500 && f.code < 600) {
    o.verdict = RcptVerdict::Failed;
    o.status = status_or(f.enhanced, '5', "5.4.4");
  } else {
    o.verdict = RcptVerdict::Deferred;
    o.status = status_or(f.enhanced, '4', "4.4.3");
  }
  return final_outcome(std::move(o), f);
}

// Before connecting: whether the receiver's policy lets the host be tried at all. The
// event says nothing here (the attempt has not touched the network).
Decision admission(const Facts& f) {
  switch (f.admission) {
    case Admission::Open: break;
    case Admission::TlsaFailed:
      // RFC 7672 §2.1.1: the records may exist and be hidden from us; the host may not be
      // used without them, and may be fine again later.
      return next_host(HostRecord::Kind::Unreachable,
                       "TLSA lookup failed: " + (f.error.empty() ? std::string("unknown error")
                                                                 : str(f.error)),
                       f);
    case Admission::NotInPolicy:
      return next_host(HostRecord::Kind::AuthFailed,
                       "MX host not in the MTA-STS policy of " +
                           (f.domain.empty() ? std::string("the domain") : str(f.domain)),
                       f);
  }
  return Decision{Kind::Continue, {}, {}};
}

// What a TLS verdict against the session means for the host.
HostRecord::Kind record_of(TlsVerdict v) {
  switch (v) {
    case TlsVerdict::Unreachable: return HostRecord::Kind::Unreachable;
    case TlsVerdict::AuthFailed: return HostRecord::Kind::AuthFailed;
    case TlsVerdict::Proceed:
    case TlsVerdict::RetryPlaintext:
    case TlsVerdict::SkipHost: break;
  }
  return HostRecord::Kind::NoTls;
}

// Connect, greeting, EHLO/HELO, STARTTLS: an unreachable host or a refusing one.
Decision opening(const Facts& f) {
  if (f.event != Event::Reply) return next_host(HostRecord::Kind::Unreachable, transport_detail(f), f);
  // Anything but a 5xx (a 4xx, or a reply that makes no sense here) is worth another try.
  return next_host(f.code >= 500 ? HostRecord::Kind::PermRefused : HostRecord::Kind::TempRefused,
                   refusal_detail(f), f);
}

// The handshake failed, so the connection is gone: what that says about the host is
// decide_tls()'s call, what it means for the recipients is ours.
Decision handshake_failed(const Facts& f) {
  if (f.event == Event::Timeout) return next_host(HostRecord::Kind::Unreachable, transport_detail(f), f);
  TlsObservation seen;
  seen.starttls_offered = true;
  seen.handshake_attempted = true;
  seen.handshake_ok = false;
  seen.plaintext_retry = f.tls.plaintext_retry;
  seen.handshake_cut = f.event == Event::Lost;
  seen.handshake_error = str(f.error);
  TlsDecision t = decide_tls(effective_level(f), f.binding, seen);
  switch (t.verdict) {
    case TlsVerdict::RetryPlaintext: return Decision{Kind::RetryPlaintext, {}, {}};
    case TlsVerdict::Unreachable:
    case TlsVerdict::SkipHost:
    case TlsVerdict::AuthFailed: return next_host(record_of(t.verdict), t.reason, f);
    case TlsVerdict::Proceed: break;  // a plaintext retry never runs a handshake
  }
  HostRecord::Kind kind = f.event == Event::Lost        ? HostRecord::Kind::Unreachable
                          : f.binding != Binding::None ? HostRecord::Kind::AuthFailed
                                                       : HostRecord::Kind::NoTls;
  return next_host(kind, "TLS handshake failed: " + str(f.error), f);
}

// On an open session: first whether its TLS is good enough for the recipients at all
// (the one check that keeps SOS mail off plaintext), then what the peer said.
Decision in_session(const Facts& f) {
  if (f.event == Event::Timeout || f.event == Event::Lost) {
    return next_host(HostRecord::Kind::Unreachable, transport_detail(f), f);
  }
  TlsDecision t = decide_tls(effective_level(f), f.binding, f.tls);
  if (t.verdict == TlsVerdict::RetryPlaintext && f.stage == Stage::Session) {
    // BES, and the peer answered STARTTLS with a refusal (454 "TLS not available due to
    // local problem"): the same host once more without STARTTLS, as after a failed
    // handshake (DESIGN §4), rather than leaving BES mail on a host that would take it.
    return Decision{Kind::RetryPlaintext, {}, {}};
  }
  if (t.verdict != TlsVerdict::Proceed) {
    // On an open session every refusal of its TLS (not offered, STARTTLS refused, not
    // verified, not authenticated as its receiver requires) is a host that answered
    // without adequate TLS. After the session stage this cannot happen, as nothing is sent
    // on such a session; said here all the same.
    std::string reason = f.stage == Stage::Session
                             ? t.reason
                             : "TLS below the required level at " + str(f.step) + ": " + t.reason;
    HostRecord::Kind kind = t.verdict == TlsVerdict::AuthFailed ? HostRecord::Kind::AuthFailed
                                                                : HostRecord::Kind::NoTls;
    return next_host(kind, std::move(reason), f);
  }
  switch (f.stage) {
    case Stage::Session: return Decision{Kind::Continue, {}, {}};
    case Stage::Mail:
      // A 5xx to MAIL is final for every recipient; anything else tries the next host.
      if (f.code >= 500) {
        return final_outcome(classify_reply(f.code, str(f.enhanced), str(f.text), str(f.remote)), f);
      }
      return next_host(HostRecord::Kind::TempRefused, refusal_detail(f), f);
    case Stage::Local: {
      // Our own check (size, SMTPUTF8): final for every recipient when permanent. Never
      // a delivery, whatever code it came with.
      RcptOutcome o = classify_reply(f.code, str(f.enhanced), str(f.text), "");
      if (o.verdict == RcptVerdict::Delivered) {
        o.verdict = RcptVerdict::Deferred;
        o.status = "4.0.0";
      }
      o.diagnostic = "x-secmx; " + reply_line(f.code, str(f.enhanced), str(f.text)) + " (at " +
                     str(f.host) + ")";
      return final_outcome(std::move(o), f);
    }
    default: break;
  }
  // Rcpt, Data: this recipient's own reply. A reply missing would be a client bug; never
  // let it pass as sent.
  if (f.code == 0) {
    return final_outcome(classify_reply(451, "4.3.0", "no reply for recipient", str(f.remote)), f);
  }
  RcptOutcome o = classify_reply(f.code, str(f.enhanced), str(f.text), str(f.remote));
  // NOTIFY went no further than us when the peer had no DSN: "relayed" (RFC 3464).
  o.relayed = !f.peer_dsn;
  return final_outcome(std::move(o), f);
}

}  // namespace

const char* to_string(Stage s) {
  switch (s) {
    case Stage::Discovery: return "discovery";
    case Stage::Admission: return "admission";
    case Stage::Connect: return "connect";
    case Stage::Greeting: return "greeting";
    case Stage::Hello: return "hello";
    case Stage::StartTls: return "starttls";
    case Stage::TlsHandshake: return "tls";
    case Stage::Session: return "session";
    case Stage::Mail: return "mail";
    case Stage::Rcpt: return "rcpt";
    case Stage::Data: return "data";
    case Stage::Local: return "local";
  }
  return "?";
}

Stage stage_of(std::string_view word, Stage otherwise) {
  if (word == "discovery") return Stage::Discovery;
  if (word == "connect") return Stage::Connect;
  if (word == "greeting") return Stage::Greeting;
  if (word == "ehlo" || word == "helo") return Stage::Hello;
  if (word == "starttls") return Stage::StartTls;
  if (word == "tls") return Stage::TlsHandshake;
  if (word == "ready") return Stage::Session;
  if (word == "rset" || word == "mail") return Stage::Mail;
  if (word == "rcpt") return Stage::Rcpt;
  if (word == "data" || word == "dot") return Stage::Data;
  if (word == "local") return Stage::Local;
  return otherwise;
}

const char* to_string(Event e) {
  switch (e) {
    case Event::Reply: return "reply";
    case Event::Timeout: return "timeout";
    case Event::Lost: return "lost";
    case Event::Internal: return "internal";
  }
  return "?";
}

const char* to_string(Admission a) {
  switch (a) {
    case Admission::Open: return "open";
    case Admission::TlsaFailed: return "tlsa-failed";
    case Admission::NotInPolicy: return "not-in-policy";
  }
  return "?";
}

const char* to_string(Decision::Kind k) {
  switch (k) {
    case Kind::Continue: return "continue";
    case Kind::RetryPlaintext: return "retry-plaintext";
    case Kind::NextHost: return "next-host";
    case Kind::Final: return "final";
  }
  return "?";
}

Decision decide(const Facts& f) {
  if (f.event == Event::Internal) {
    // Our own failure says nothing about the host or the message: try again later.
    RcptOutcome o;
    o.verdict = RcptVerdict::Deferred;
    o.status = "4.3.0";
    o.diagnostic = "internal error during the delivery attempt" +
                   (f.error.empty() ? std::string() : ": " + str(f.error));
    return final_outcome(std::move(o), f);
  }
  switch (f.stage) {
    case Stage::Discovery: return after_discovery(f);
    case Stage::Admission: return admission(f);
    case Stage::Connect:
    case Stage::Greeting:
    case Stage::Hello:
    case Stage::StartTls: return opening(f);
    case Stage::TlsHandshake: return handshake_failed(f);
    case Stage::Session:
    case Stage::Mail:
    case Stage::Rcpt:
    case Stage::Data:
    case Stage::Local: return in_session(f);
  }
  return in_session(f);
}

model::TlsLevel requirement_for(model::Policy policy, model::TlsLevel tls,
                                std::optional<model::TlsLevel> route_tls) {
  model::TlsLevel r = policy == model::Policy::SOS ? model::stronger(tls, model::TlsLevel::Encrypt)
                                                   : model::TlsLevel::None;
  return route_tls ? model::stronger(r, *route_tls) : r;
}

model::Policy policy_over_route(model::Policy policy, std::string_view policy_reason,
                                bool route_trusted) {
  if (!route_trusted || policy != model::Policy::SOS) return policy;
  auto reason = model::Reason::parse(policy_reason);
  return reason && reason->step == model::ReasonStep::DsnSos ? model::Policy::BES : policy;
}

bool is_sos_bounce(const RcptOutcome& outcome) {
  return outcome.verdict == RcptVerdict::Failed &&
         model::Status::parse(outcome.status) == model::kEncryptionNeeded;
}

RcptOutcome classify_reply(int code, const std::string& enhanced, const std::string& text,
                           const std::string& remote_mta) {
  RcptOutcome o;
  o.remote_mta = remote_mta;
  o.diagnostic = "smtp; " + reply_line(code, enhanced, text);
  // Trust the peer's enhanced code only when its class agrees with the basic code.
  char cls = code >= 500 ? '5' : code >= 400 ? '4' : '2';
  bool usable = !enhanced.empty() && enhanced[0] == cls;
  if (code >= 200 && code < 300) {
    o.verdict = RcptVerdict::Delivered;
    o.status = usable ? enhanced : "2.0.0";
  } else if (code >= 500 && code < 600) {
    o.verdict = RcptVerdict::Failed;
    o.status = usable ? enhanced : "5.0.0";
  } else {
    // 4xx, and anything malformed (a 3xx where none belongs), is worth another try.
    o.verdict = RcptVerdict::Deferred;
    o.status = usable ? enhanced : "4.0.0";
  }
  return o;
}

std::string host_list(std::span<const HostRecord> hosts) {
  std::string list;
  for (const auto& h : hosts) {
    if (!list.empty()) list += "; ";
    list += h.host + ": " + h.detail;
  }
  return list;
}

RcptOutcome exhausted(bool sos, const std::vector<HostRecord>& hosts, bool dns_incomplete,
                      bool sos_expired, bool lifetime_passed) {
  RcptOutcome o;
  std::string list = host_list(hosts);
  bool all_answered_without_tls = !hosts.empty();
  bool any_perm = false;
  bool any_auth_failed = false;
  for (const auto& h : hosts) {
    if (h.kind != HostRecord::Kind::NoTls) all_answered_without_tls = false;
    if (h.kind == HostRecord::Kind::PermRefused) any_perm = true;
    if (h.kind == HostRecord::Kind::AuthFailed) any_auth_failed = true;
  }
  if (hosts.empty()) list = "no receiving host found";

  if (any_auth_failed) {
    // The receiver said how its hosts authenticate, and one that answered did not: DNS or
    // the path may be under attack, so wait for the real receiver (never plaintext, never
    // 5.7.10: the receiver does TLS), and give up only when the message's time is up.
    bool expired = lifetime_passed || (sos && sos_expired);
    o.verdict = expired ? RcptVerdict::Failed : RcptVerdict::Deferred;
    o.status = expired ? "5.7.5" : "4.7.5";
    o.diagnostic = std::string(expired ? "no receiver authenticated as its DANE or MTA-STS "
                                         "policy requires within the lifetime: "
                                       : "no receiver authenticated as its DANE or MTA-STS "
                                         "policy requires (this may be an attack): ") +
                   list;
    return o;
  }

  if (sos) {
    bool final_now = (all_answered_without_tls && !dns_incomplete) || sos_expired;
    if (final_now) {
      o.verdict = RcptVerdict::Failed;
      o.status = model::kEncryptionNeeded.to_string();
      o.diagnostic = std::string(sos_expired && !all_answered_without_tls
                                     ? "no secure (TLS) receiver found within the SOS lifetime: "
                                     : "no secure (TLS) receiver: ") + list;
      return o;
    }
    o.verdict = RcptVerdict::Deferred;
    o.status = "4.7.10";
    o.diagnostic = "no secure (TLS) receiver yet: " + list;
    return o;
  }
  // BES: every host refused permanently at the session level -> final; otherwise retry.
  bool all_perm = !hosts.empty() && std::all_of(hosts.begin(), hosts.end(), [](const HostRecord& h) {
    return h.kind == HostRecord::Kind::PermRefused;
  });
  if (all_perm) {
    o.verdict = RcptVerdict::Failed;
    o.status = "5.0.0";
  } else {
    o.verdict = RcptVerdict::Deferred;
    o.status = any_perm ? "4.0.0" : std::string(kNoHostReached);
  }
  o.diagnostic = list;
  return o;
}

bool lifetime_passed(std::int64_t arrival_us, std::int64_t now_us,
                     std::chrono::milliseconds max_lifetime) {
  return now_us - arrival_us >= max_lifetime.count() * 1000;
}

bool tls_required(model::Policy policy, model::TlsLevel level, Binding binding) {
  return model::must_encrypt(effective_level(policy, level)) || binding != Binding::None;
}

bool must_attempt_while_suspended(model::Policy policy, bool sos_expired, std::int64_t arrival_us,
                                  std::int64_t now_us, std::chrono::milliseconds max_lifetime) {
  return policy != model::Policy::BES || sos_expired ||
         lifetime_passed(arrival_us, now_us, max_lifetime);
}

RcptOutcome apply_lifetime(RcptOutcome outcome, std::int64_t arrival_us, std::int64_t now_us,
                           std::chrono::milliseconds max_lifetime) {
  Facts f;
  f.lifetime_passed = lifetime_passed(arrival_us, now_us, max_lifetime);
  return final_outcome(std::move(outcome), f).outcome;
}

}  // namespace secmx::delivery
