// dsn_builder.cpp - build(): one RFC 3464 multipart/report for one message and one event.
//
// Pure apart from a log line when a bounce is dropped; any thread. Layout:
//   header (Date, From MAILER-DAEMON, To, Subject, Message-ID, MIME-Version,
//           Auto-Submitted: auto-replied, Content-Type: multipart/report)
//   1 text/plain                         what happened, per recipient, in words
//   2 message/delivery-status            RFC 3464 fields (message/global-delivery-status
//                                        for an SMTPUTF8 original, RFC 6533)
//   3 message/rfc822 | text/rfc822-headers   the message or its headers per RET
//     (message/global | message/global-headers for an SMTPUTF8 original)
// No base64 or quoted-printable anywhere: message/* parts may only be 7bit or 8bit
// (RFC 2046 5.2.1), so 8-bit content is carried as 8bit and the envelope says 8BITMIME.
#include <algorithm>

#include "relay/common/log.hpp"
#include "relay/dsn/dsn.hpp"
#include "relay/dsn/dsn_format.hpp"
#include "relay/dsn/dsn_status.hpp"
#include "relay/dsn/dsn_text.hpp"
#include "relay/model/reason.hpp"

namespace secmx::dsn {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::logger("dsn");
  return l;
}

bool has_8bit(std::string_view s) { return !format::is_ascii(s); }

// "mx1.example.org[192.0.2.5]:25" -> "mx1.example.org"; "[192.0.2.5]:25" -> "[192.0.2.5]".
std::string mta_name(std::string_view remote) {
  if (remote.starts_with('[')) {
    std::size_t close = remote.find(']');
    return std::string(close == std::string_view::npos ? remote : remote.substr(0, close + 1));
  }
  std::size_t cut = remote.find_first_of("[: ");
  return std::string(remote.substr(0, cut));
}

std::string diagnostic_value(std::string_view diagnostic, bool global) {
  if (diagnostic.starts_with("smtp;")) {
    diagnostic.remove_prefix(5);
    while (diagnostic.starts_with(' ')) diagnostic.remove_prefix(1);
    return "smtp; " + format::clean(diagnostic, global);
  }
  return "X-Secmx-Relay; " + format::clean(diagnostic, global);
}

// `text` cut to at most `limit` octets at a line end (a header section from a hostile
// client can be as large as the message).
std::string_view cap_at_line(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t end = text.rfind("\r\n", limit >= 2 ? limit - 2 : 0);
  return end == std::string_view::npos ? text.substr(0, 0) : text.substr(0, end + 2);
}

struct Returned {
  std::string content;
  bool full = false;
  std::string not_full_reason;
};

Returned returned_content(const model::Envelope& original, std::string_view body, Event event,
                          bool tight, const Options& options) {
  Returned r;
  if (event == Event::Failure) {
    // RFC 3461 4.3: without RET the choice is ours. Everything for ordinary mail, as
    // Postfix does; only the headers for mail that must travel encrypted.
    model::Ret ret = original.ret != model::Ret::Unset ? original.ret
                     : tight                           ? options.sos_ret
                                                       : model::Ret::Full;
    if (ret == model::Ret::Full) {
      if (body.size() > options.return_size_limit) {
        r.not_full_reason = "it is larger than the " + std::to_string(options.return_size_limit) +
                            " bytes that are returned at most";
      } else if (original.body_type == model::BodyType::BinaryMime) {
        r.not_full_reason = "it was sent as binary MIME, which a notification cannot carry";
      } else if (format::longest_line(body) > format::kMaxLine) {
        r.not_full_reason = "it has lines longer than 998 characters";
      } else {
        r.full = true;
        r.content = std::string(body);
      }
    }
  }
  // Delay and success reports return headers only (RFC 3461 4.3 leaves it to us; the
  // sender still has the message and may not want it sent back on every report).
  if (!r.full) {
    r.content = format::cut_long_lines(
        cap_at_line(format::header_section(body), options.return_size_limit));
  }
  if (!r.content.empty() && !r.content.ends_with("\r\n")) r.content += "\r\n";
  return r;
}

std::string status_part(const model::Envelope& original, Event event,
                        const std::vector<const RcptReport*>& reports, const Options& options,
                        bool global) {
  std::string out;
  if (!original.envid.empty()) {
    out += format::field("Original-Envelope-Id", format::clean(original.envid, false));
  }
  out += format::field("Reporting-MTA", "dns; " + options.reporting_mta);
  out += format::field("X-Secmx-Queue-ID", original.id.to_string());
  if (original.arrival_us > 0)
    out += format::field("Arrival-Date", format::date(original.arrival_us));
  for (const RcptReport* rep : reports) {
    const auto& rcpt = original.recipients[rep->index];
    out += "\r\n";
    if (std::string o = format::orcpt_value(rcpt.orcpt, global); !o.empty()) {
      out += format::field("Original-Recipient", o);
    }
    out += format::field("Final-Recipient", format::address_value(rcpt.address, global));
    out += format::field("Action", to_string(event));
    out += format::field("Status", normalize_status(event, rep->status));
    if (!rep->remote_mta.empty()) {
      std::string name = mta_name(format::clean(rep->remote_mta, global));
      if (!name.empty()) out += format::field("Remote-MTA", "dns; " + name);
    }
    if (!rep->diagnostic.empty()) {
      out += format::field("Diagnostic-Code", diagnostic_value(rep->diagnostic, global));
    }
    if (rep->last_attempt_us > 0) {
      out += format::field("Last-Attempt-Date", format::date(rep->last_attempt_us));
    }
    // The evidence of the attempt that decided (DESIGN §10), as an RFC 3464 extension field.
    if (std::string e = format::tls_evidence(rcpt.last_tls, rcpt.last_cert_sha256,
                                             rcpt.last_dnssec);
        !e.empty()) {
      out += format::field("X-Secmx-TLS", e);
    }
    if (event == Event::Delay && rep->will_retry_until_us > 0) {
      out += format::field("Will-Retry-Until", format::date(rep->will_retry_until_us));
    }
  }
  return out;
}

std::string part(std::string_view boundary, std::string_view description,
                 std::string_view content_type, std::string_view content) {
  std::string out = "--" + std::string(boundary) + "\r\n";
  out += format::field("Content-Description", description);
  out += format::field("Content-Type", content_type);
  if (has_8bit(content)) out += "Content-Transfer-Encoding: 8bit\r\n";
  out += "\r\n";
  out.append(content);
  // The CRLF before the next delimiter belongs to the delimiter (RFC 2046 5.1.1).
  if (!out.ends_with("\r\n")) out += "\r\n";
  out += "\r\n";
  return out;
}

std::string_view returned_description(Event event, bool full) {
  switch (event) {
    case Event::Failure:
      return full ? "Undelivered Message" : "Undelivered Message Headers";
    case Event::Delay:
      return "Delayed Message Headers";
    case Event::Delivered:
      return "Delivered Message Headers";
    case Event::Relayed:
      return "Relayed Message Headers";
  }
  return "Message Headers";
}

}  // namespace

Options Options::from_config(const config::Config& cfg) {
  Options o;
  o.reporting_mta = cfg.hostname;
  o.return_size_limit = static_cast<std::size_t>(cfg.dsn.return_size_limit);
  o.sos_ret = cfg.dsn.sos_ret == config::DsnRet::Full ? model::Ret::Full : model::Ret::Hdrs;
  o.postmaster = cfg.dsn.postmaster;
  o.delay_warning = cfg.dsn.delay_warning;
  return o;
}

std::optional<Built> build(const model::Envelope& original, std::string_view original_body,
                           Event event, const std::vector<RcptReport>& reports,
                           const Options& options, std::int64_t now_us) {
  const std::string qid = original.id.to_string();
  std::vector<const RcptReport*> valid;
  for (const auto& rep : reports) {
    if (rep.index >= original.recipients.size()) continue;
    if (original.recipients[rep.index].notify & model::kNotifyNever) continue;
    bool dup = std::any_of(valid.begin(), valid.end(),
                           [&](const RcptReport* v) { return v->index == rep.index; });
    if (!dup) valid.push_back(&rep);
  }
  if (valid.empty()) return std::nullopt;

  // Loop safety: a notification is never answered with one to its (null) sender.
  std::string to = original.sender;
  bool postmaster_copy = false;
  if (to.empty()) {
    if (event != Event::Failure) return std::nullopt;
    if (options.postmaster.empty()) {
      logger()->info(
          "{}: dsn: undeliverable mail from <> dropped (no dsn.postmaster) nrcpt={} "
          "to=<{}> status={}",
          qid, valid.size(), log::escape(original.recipients[valid[0]->index].address),
          normalize_status(event, valid[0]->status));
      return std::nullopt;
    }
    to = options.postmaster;
    postmaster_copy = true;
  }

  bool global = original.smtputf8 || !format::is_ascii(to);
  bool tight = original.requiretls;
  model::TlsLevel tls = model::TlsLevel::None;
  for (const RcptReport* rep : valid) {
    const auto& rcpt = original.recipients[rep->index];
    // A UTF-8 ORCPT alone does not need it: a plain DSN carries that as utf-8-addr-xtext.
    global = global || !format::is_ascii(rcpt.address);
    // HOLD mail must not cross the Internet at all; a report on it is kept as tight as SOS.
    tight = tight || model::is_sensitive(rcpt.policy);
    tls = model::stronger(tls, rcpt.tls);
  }
  if (tight) tls = model::stronger(tls, model::TlsLevel::Encrypt);

  Returned ret = returned_content(original, original_body, event, tight, options);

  std::vector<text::Recipient> words;
  for (const RcptReport* rep : valid) {
    const auto& rcpt = original.recipients[rep->index];
    text::Recipient w;
    w.address = format::clean(rcpt.address, global);
    w.status = normalize_status(event, rep->status);
    w.diagnostic = format::clean(rep->diagnostic, global);
    w.remote_mta = format::clean(rep->remote_mta, global);
    w.tls = format::tls_evidence(rcpt.last_tls, rcpt.last_cert_sha256, rcpt.last_dnssec);
    w.sos = rcpt.policy == model::Policy::SOS;
    w.reason = format::clean(rcpt.policy_reason, global);
    w.will_retry_until_us = event == Event::Delay ? rep->will_retry_until_us : 0;
    words.push_back(std::move(w));
  }
  text::Context ctx;
  ctx.event = event;
  ctx.hostname = options.reporting_mta;
  ctx.postmaster_copy = postmaster_copy;
  ctx.returned_full = ret.full;
  ctx.not_full_reason = ret.not_full_reason;
  std::string human = text::human_text(ctx, words);
  bool secure_failed = event == Event::Failure &&
                       std::any_of(words.begin(), words.end(), text::secure_delivery_failed);
  std::string status = status_part(original, event, valid, options, global);

  std::string report_type = global ? "global-delivery-status" : "delivery-status";
  std::string returned_type = ret.full
                                  ? (global ? "message/global" : "message/rfc822")
                                  : (global ? "message/global-headers" : "text/rfc822-headers");
  std::string human_type =
      std::string("text/plain; charset=") + (format::is_ascii(human) ? "us-ascii" : "utf-8");

  // The boundary must occur in no part; the queue id and time make a clash unlikely and
  // the loop makes it impossible.
  std::string boundary =
      qid + "." + std::to_string(now_us / 1'000'000) + "/" + options.reporting_mta;
  for (int n = 1;
       human.find(boundary) != std::string::npos || status.find(boundary) != std::string::npos ||
       ret.content.find(boundary) != std::string::npos;
       ++n) {
    boundary =
        qid + "." + std::to_string(now_us) + "." + std::to_string(n) + "/" + options.reporting_mta;
  }

  std::string body;
  body.reserve(human.size() + status.size() + ret.content.size() + 2048);
  body += format::field("Date", format::date(now_us));
  body += format::field("From",
                        "\"Mail Delivery System\" <MAILER-DAEMON@" + options.reporting_mta + ">");
  body += format::field("To", "<" + to + ">");
  body += format::field("Subject", text::subject(event, postmaster_copy, secure_failed));
  body +=
      format::field("Message-ID", "<dsn." + qid + "." + to_string(event) + "." +
                                      std::to_string(now_us) + "@" + options.reporting_mta + ">");
  body += "MIME-Version: 1.0\r\n";
  body += "Auto-Submitted: auto-replied\r\n";
  body += format::field("Content-Type", "multipart/report; report-type=" + report_type +
                                            "; boundary=\"" + boundary + "\"");
  bool eight = has_8bit(human) || has_8bit(status) || has_8bit(ret.content);
  if (eight) body += "Content-Transfer-Encoding: 8bit\r\n";
  body += "\r\nThis is a MIME-encapsulated message.\r\n\r\n";
  body += part(boundary, "Notification", human_type, human);
  body += part(boundary, "Delivery report", "message/" + report_type, status);
  body += part(boundary, returned_description(event, ret.full), returned_type, ret.content);
  body += "--" + boundary + "--\r\n";

  Built built;
  auto& env = built.message.envelope;
  env.arrival_us = now_us;
  env.sender.clear();
  env.body_type = eight ? model::BodyType::EightBitMime : model::BodyType::SevenBit;
  // Only the envelope and our own header need SMTPUTF8; UTF-8 inside the parts is body
  // content, carried by 8BITMIME (RFC 6533 6).
  env.smtputf8 = !format::is_ascii(to);
  env.requiretls = original.requiretls;  // RFC 8689 5: the report is protected like the mail
  env.body_size = body.size();
  model::Recipient r;
  r.address = to;
  // A copy to the postmaster is the end of the line: if it fails too, nothing follows.
  r.notify = postmaster_copy ? model::kNotifyNever : model::kNotifyUnset;
  r.policy = tight ? model::Policy::SOS : model::Policy::BES;
  r.tls = tls;
  // A report that returns the content of SOS mail is that content: it is never one of the
  // header-only reports a trusted route may carry without TLS (policy_over_route).
  r.policy_reason = model::Reason(!tight     ? model::ReasonStep::Dsn
                                  : ret.full ? model::ReasonStep::DsnSosFull
                                             : model::ReasonStep::DsnSos)
                        .to_string();
  env.recipients.push_back(std::move(r));
  built.message.body = std::move(body);

  logger()->debug("{}: dsn: built action={} to=<{}> nrcpt={} returned={} size={} policy={}", qid,
                  to_string(event), log::escape(to), valid.size(), ret.full ? "full" : "headers",
                  env.body_size, model::to_string(env.recipients.back().policy));
  return built;
}

}  // namespace secmx::dsn
