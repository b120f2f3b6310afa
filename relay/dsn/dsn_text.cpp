// dsn_text.cpp - the words a person reads in a DSN (see dsn_text.hpp).
//
// Pure; any thread. The SOS failure is the case that matters most to this product: the
// sender must learn, without knowing SMTP, that the message was not sent because no
// receiving server for the domain could take it encrypted, and which servers were tried.
#include "relay/dsn/dsn_text.hpp"

#include "relay/dsn/dsn_format.hpp"
#include "relay/dsn/dsn_status.hpp"

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

void sos_paragraph(std::string& out, const Recipient& r) {
  std::string domain(domain_of(r.address));
  bool expired = std::string_view(r.diagnostic).starts_with(kSosExpired);
  std::string words =
      "<" + r.address + ">: NOT SENT. " +
      (expired ? "No receiving mail server for " + domain +
                     " that could accept the message securely (encrypted with TLS) was "
                     "found within the time allowed."
               : "No receiving mail server for " + domain +
                     " could accept the message securely (encrypted with TLS).") +
      " Your message may only be sent encrypted, so the relay did not send it over an "
      "unencrypted connection.";
  out += format::wrap(words, "", "    ");
  auto hosts = split_hosts(r.diagnostic);
  if (!hosts.empty()) {
    out += "    Mail servers tried, and why each was refused:\r\n";
    for (const auto& [host, why] : hosts) {
      out += format::wrap(host + ": " + why, "      - ", "        ");
    }
  } else {
    std::string_view rest = r.diagnostic;
    std::size_t colon = rest.find(": ");
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 2);
    if (rest == "no receiving host found" || rest.empty()) {
      out += format::wrap("No receiving mail server was found for " + domain + ".", "    ", "    ");
    } else {
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

std::string subject(Event event, bool postmaster_copy) {
  if (postmaster_copy) return "Postmaster Copy: Undelivered Mail";
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
