// dsn_text.cpp - the words a person reads in a DSN (see dsn_text.hpp).
//
// Pure; any thread. The SOS failure is the case that matters most to this product: the
// sender must learn, without knowing SMTP, that the message was not sent because no
// receiving server for the domain could take it encrypted, and which servers were tried.
#include "relay/dsn/dsn_text.hpp"

#include "relay/dsn/dsn_format.hpp"
#include "relay/dsn/dsn_status.hpp"
#include "relay/model/reason.hpp"

namespace secmx::dsn::text {
namespace {

constexpr std::string_view kSosPrefix = "no secure (TLS) receiver";
constexpr std::string_view kSosExpired = "no secure (TLS) receiver found within";

std::string_view domain_of(std::string_view address) {
  std::size_t at = address.rfind('@');
  return at == std::string_view::npos ? address : address.substr(at + 1);
}

bool our_sos_failure(const Recipient& r) {
  return r.status.size() >= 5 && r.status.substr(1) == ".7.10" &&
         std::string_view(r.diagnostic).starts_with(kSosPrefix);
}

// "smtp; 550 5.1.1 ..." -> "550 5.1.1 ..."; other text unchanged.
std::string_view reply_of(std::string_view diagnostic) {
  if (!diagnostic.starts_with("smtp;")) return {};
  diagnostic.remove_prefix(5);
  while (diagnostic.starts_with(' ')) diagnostic.remove_prefix(1);
  return diagnostic;
}

bool looks_like_host(std::string_view piece) {
  std::size_t colon = piece.find(": ");
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view head = piece.substr(0, colon);
  if (head.find(' ') != std::string_view::npos) return false;
  std::size_t close = head.rfind("]:");
  if (close == std::string_view::npos || head.find('[') == std::string_view::npos) return false;
  std::string_view port = head.substr(close + 2);
  if (port.empty()) return false;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "refused at greeting: 421 4.3.2 busy" -> the reply's status (its enhanced code, or one
// for its basic code); "" when there is no reply.
std::string reply_status(std::string_view reason) {
  std::size_t colon = reason.find(": ");
  if (colon == std::string_view::npos) return {};
  std::string_view reply = reason.substr(colon + 2);
  if (reply.size() < 3) return {};
  int code = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    if (reply[i] < '0' || reply[i] > '9') return {};
    code = code * 10 + (reply[i] - '0');
  }
  std::string_view rest = reply.substr(3);
  while (rest.starts_with(' ') || rest.starts_with('-')) rest.remove_prefix(1);
  std::string_view enhanced = rest.substr(0, rest.find(' '));
  if (valid_status(enhanced) && enhanced[0] == reply[0]) return std::string(enhanced);
  return status_for_reply_code(code);
}

void sos_paragraph(std::string& out, const Recipient& r) {
  std::string domain(domain_of(r.address));
  bool expired = std::string_view(r.diagnostic).starts_with(kSosExpired);
  std::string within = expired ? " within the time allowed" : "";
  auto hosts = split_hosts(r.diagnostic);
  std::size_t refused = 0;
  const std::pair<std::string, std::string>* last_unreached = nullptr;
  for (const auto& h : hosts) {
    if (host_end(h.second).refused_tls) {
      ++refused;
    } else {
      last_unreached = &h;
    }
  }
  std::string what;
  if (hosts.empty()) {
    what = "No receiving mail server was found for " + domain + within + ".";
  } else if (refused == hosts.size()) {
    what = "The receiving mail servers for " + domain +
           " refused TLS encryption (5.7.10): they do not offer STARTTLS, or TLS failed.";
  } else if (refused == 0) {
    what = "No receiving mail server for " + domain + " could be reached" + within +
           "; the last attempt ended with " + host_end(last_unreached->second).status + " (" +
           last_unreached->second + ").";
  } else {
    what = "Some receiving mail servers for " + domain +
           " refused TLS encryption (5.7.10); the others could not be reached" + within + ".";
  }
  std::string words = "<" + r.address + ">: NOT SENT: secure delivery was not possible. " +
                      what +
                      " Your message may only be sent encrypted, so the relay did not send it "
                      "over an unencrypted connection.";
  out += format::wrap(words, "", "    ");
  if (std::string why = required_by(r.reason); !why.empty()) {
    out += format::wrap("Encryption was required " + why + ".", "    ", "    ");
  }
  if (!hosts.empty()) {
    out += "    Mail servers tried:\r\n";
    for (const auto& [host, why] : hosts) {
      HostEnd end = host_end(why);
      std::string verdict = end.refused_tls ? "refused TLS"
                            : end.replied   ? "did not accept the connection (" + end.status + ")"
                                            : "could not be reached (" + end.status + ")";
      out += format::wrap(host + ": " + verdict + ": " + why, "      - ", "        ");
    }
  } else if (std::string_view(r.diagnostic).find(": ") != std::string_view::npos) {
    std::string_view rest = r.diagnostic;
    rest = rest.substr(rest.find(": ") + 2);
    if (!rest.empty() && rest != "no receiving host found") {
      out += format::wrap("Details: " + std::string(rest), "    ", "    ");
    }
  }
  out += format::wrap("Status: " + r.status + " (" + status_text(r.status) + ")", "    ", "    ");
}

// What the remote server said, or (no reply) our own words after `label`.
void reply_paragraph(std::string& out, const Recipient& r, const std::string& label) {
  std::string_view reply = reply_of(r.diagnostic);
  if (!reply.empty()) {
    std::string who =
        r.remote_mta.empty() ? "The receiving mail server" : "The mail server " + r.remote_mta;
    out += format::wrap(who + " said: " + std::string(reply), "    ", "    ");
  } else if (!r.diagnostic.empty()) {
    out += format::wrap(label + r.diagnostic, "    ", "    ");
  }
}

// How the last attempt was protected, in the same words as the delivery log: the TLS
// version, cipher and how the receiver was authenticated, its certificate, and DNSSEC.
void security_line(std::string& out, const Recipient& r) {
  if (r.tls.empty()) return;
  out += format::wrap("Connection security: " + r.tls, "    ", "      ");
}

void failure_paragraph(std::string& out, const Recipient& r) {
  out += format::wrap("<" + r.address + ">: delivery failed: " + status_text(r.status) + ".", "",
                      "    ");
  reply_paragraph(out, r, "Reason: ");
  security_line(out, r);
  out += format::wrap("Status: " + r.status, "    ", "    ");
}

void delay_paragraph(std::string& out, const Recipient& r) {
  out += format::wrap("<" + r.address + ">: not delivered yet: " + status_text(r.status) + ".", "",
                      "    ");
  if (our_sos_failure(r)) {
    out += format::wrap(
        "Your message may only be sent encrypted (TLS), and no receiving mail "
        "server for " +
            std::string(domain_of(r.address)) + " has accepted it securely so far.",
        "    ", "    ");
    for (const auto& [host, why] : split_hosts(r.diagnostic)) {
      out += format::wrap(host + ": " + why, "      - ", "        ");
    }
  } else {
    reply_paragraph(out, r, "Last error: ");
    security_line(out, r);
  }
  if (r.will_retry_until_us > 0) {
    out += format::wrap(
        "The relay will keep trying until " + format::date(r.will_retry_until_us) + ".", "    ",
        "    ");
  }
  out += format::wrap("Status: " + r.status, "    ", "    ");
}

void success_paragraph(std::string& out, const Recipient& r, bool relayed) {
  std::string where = r.remote_mta.empty() ? "" : " to " + r.remote_mta;
  out += format::wrap("<" + r.address + ">: " + (relayed ? "relayed" : "delivered") + where + ".",
                      "", "    ");
  std::string_view reply = reply_of(r.diagnostic);
  if (!reply.empty())
    out += format::wrap("The mail server said: " + std::string(reply), "    ", "    ");
  security_line(out, r);
}

}  // namespace

bool secure_delivery_failed(const Recipient& r) { return our_sos_failure(r); }

std::string subject(Event event, bool postmaster_copy, bool secure_failed) {
  if (postmaster_copy) return "Postmaster Copy: Undelivered Mail";
  if (event == Event::Failure && secure_failed) {
    return "Undelivered Mail: secure delivery was not possible";
  }
  switch (event) {
    case Event::Failure:
      return "Undelivered Mail Returned to Sender";
    case Event::Delay:
      return "Delayed Mail (still being retried)";
    case Event::Delivered:
      return "Successful Mail Delivery Report";
    case Event::Relayed:
      return "Successful Mail Delivery Report";  // as Postfix: relayed is a success
  }
  return "Mail Delivery Report";
}

std::string human_text(const Context& ctx, const std::vector<Recipient>& recipients) {
  std::string out = "This is the mail system at host " + ctx.hostname + ".\r\n\r\n";
  std::string intro;
  switch (ctx.event) {
    case Event::Failure:
      intro = ctx.postmaster_copy
                  ? "A message from the null sender <> (itself a delivery notification) could "
                    "not be delivered. It cannot be returned to its sender, so this copy goes "
                    "to the postmaster."
                  : "Your message could not be delivered to the recipients below. This is a "
                    "permanent error: the relay has given up on them.";
      break;
    case Event::Delay:
      intro =
          "THIS IS A WARNING ONLY: you do not need to send your message again. It could "
          "not be delivered yet to the recipients below, and the relay is still trying.";
      break;
    case Event::Delivered:
      intro = "Your message was delivered to the recipients below, as you asked to be told.";
      break;
    case Event::Relayed:
      intro =
          "Your message was passed on to the next mail system for the recipients below. "
          "That system does not send delivery reports, so you will get no further notice "
          "about them.";
      break;
  }
  out += format::wrap(intro, "", "");
  out += "\r\n";
  for (const auto& r : recipients) {
    switch (ctx.event) {
      case Event::Failure:
        if (our_sos_failure(r)) {
          sos_paragraph(out, r);
        } else {
          failure_paragraph(out, r);
        }
        break;
      case Event::Delay:
        delay_paragraph(out, r);
        break;
      case Event::Delivered:
        success_paragraph(out, r, false);
        break;
      case Event::Relayed:
        success_paragraph(out, r, true);
        break;
    }
    out += "\r\n";
  }
  std::string returned =
      ctx.returned_full
          ? "A copy of the message is attached."
          : "The headers of the message are attached" +
                (ctx.not_full_reason.empty()
                     ? std::string(".")
                     : "; the whole message is not, because " + ctx.not_full_reason + ".");
  out += format::wrap(returned, "", "");
  return out;
}

std::string required_by(std::string_view policy_reason) {
  if (policy_reason.empty()) return {};
  model::Reason why(policy_reason);
  std::string out;
  switch (why.step) {
    case model::ReasonStep::Rule: {
      std::string marking, conditions;
      for (const auto& c : why.conditions) {
        if (c.key == "classification") marking = c.value;
        conditions += (conditions.empty() ? "" : ", ") + c.key + "=" + c.value;
      }
      std::string rule = "policy rule " + std::to_string(why.rule);
      out = !marking.empty()    ? "because the message is marked " + marking + " (" + rule + ")"
            : conditions.empty() ? "by " + rule
                                 : "by " + rule + " (" + conditions + ")";
      break;
    }
    case model::ReasonStep::RequireTls:
      out = "because the message was sent with REQUIRETLS";
      break;
    case model::ReasonStep::Default:
      out = "by the relay's default policy (policy.default)";
      break;
    case model::ReasonStep::UnknownMarking:
      out = "because the message's protective marking was not recognised "
            "(policy.unknown_marking)";
      break;
    case model::ReasonStep::Dsn:
    case model::ReasonStep::DsnSos:
    case model::ReasonStep::DsnSosFull:
      out = "because this report is about mail that itself had to travel encrypted";
      break;
    case model::ReasonStep::TlsRequiredNo:
    case model::ReasonStep::Other:
      out = "by the relay's policy (" + std::string(policy_reason) + ")";
      break;
  }
  if (why.released) out += "; the message had been held and was released by the operator";
  return out;
}

HostEnd host_end(std::string_view reason) {
  HostEnd end;
  // Our own words for a host that answered without the TLS required (decide.cpp,
  // tls_decision.cpp), and a refusal of STARTTLS itself.
  for (std::string_view tls : {"STARTTLS", "TLS ", "certificate", "refused at starttls"}) {
    if (reason.starts_with(tls)) {
      end.refused_tls = true;
      end.status = "5.7.10";
      return end;
    }
  }
  if (reason.starts_with("refused at ")) {
    end.replied = true;
    end.status = reply_status(reason);
    if (end.status.empty()) end.status = "4.0.0";
    return end;
  }
  // Reached, then lost (RFC 3463 X.4.2 bad connection), or never answered (X.4.1).
  bool broke = reason.find("lost") != std::string_view::npos ||
               reason.find("closed") != std::string_view::npos ||
               reason.find("reset") != std::string_view::npos ||
               (reason.starts_with("timeout") && reason != "timeout while connecting");
  end.status = broke ? "4.4.2" : "4.4.1";
  return end;
}

std::vector<std::pair<std::string, std::string>> split_hosts(std::string_view diagnostic) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!diagnostic.starts_with(kSosPrefix)) return out;
  std::size_t colon = diagnostic.find(": ");
  if (colon == std::string_view::npos) return out;
  std::string_view list = diagnostic.substr(colon + 2);
  std::vector<std::string> pieces;
  while (!list.empty()) {
    std::size_t semi = list.find("; ");
    std::string_view piece = list.substr(0, semi);
    if (pieces.empty() || looks_like_host(piece)) {
      pieces.emplace_back(piece);
    } else {
      pieces.back() += "; ";
      pieces.back() += piece;
    }
    if (semi == std::string_view::npos) break;
    list.remove_prefix(semi + 2);
  }
  for (const auto& p : pieces) {
    if (!looks_like_host(p)) return {};
    std::size_t c = p.find(": ");
    out.emplace_back(p.substr(0, c), p.substr(c + 2));
  }
  return out;
}

}  // namespace secmx::dsn::text
