// client_commands.cpp - MAIL/RCPT lines with their parameters. Pure.
//
// A parameter goes out only when the peer advertised its extension; otherwise a strict
// server answers 555 and the message would bounce for our mistake. Anything of ours the
// peer lacks was either checked before (message_check.cpp) or is dropped on purpose: DSN
// requests then travel no further (RFC 3461 4.1 "relayed" case, the sender's MTA is told
// by the delivery report), and an 8-bit body goes as is.
#include "relay/client/client_commands.hpp"

#include "relay/common/ascii.hpp"
#include "relay/smtp/params.hpp"

namespace secmx::client {

std::string notify_value(std::uint8_t notify) {
  if (notify == model::kNotifyUnset) return {};
  if ((notify & model::kNotifyNever) != 0) return "NEVER";
  std::string out;
  auto add = [&out](const char* word) {
    if (!out.empty()) out += ',';
    out += word;
  };
  if ((notify & model::kNotifySuccess) != 0) add("SUCCESS");
  if ((notify & model::kNotifyFailure) != 0) add("FAILURE");
  if ((notify & model::kNotifyDelay) != 0) add("DELAY");
  return out;
}

std::string orcpt_value(const std::string& stored) {
  std::size_t semi = stored.find(';');
  if (semi == std::string::npos || semi == 0 || semi + 1 == stored.size()) return {};
  std::string type = stored.substr(0, semi);
  for (char c : type) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-';
    if (!ok) return {};
  }
  // RFC 6533: the "utf-8" type takes \x{HEX} escapes, not xtext's "+HH" (a strict peer,
  // ours included, refuses those with 501 5.5.4).
  if (secmx::iequals(type, "utf-8")) {
    auto value = smtp::utf8_addr_xtext_encode(stored.substr(semi + 1));
    return value ? "utf-8;" + *value : std::string();
  }
  return type + ';' + smtp::xtext_encode(stored.substr(semi + 1));
}

std::string mail_command(const model::Envelope& envelope, std::uint64_t size,
                         const Extensions& ext) {
  std::string line = "MAIL FROM:<" + envelope.sender + ">";
  if (ext.size_offered) line += " SIZE=" + std::to_string(size);
  if (envelope.body_type == model::BodyType::EightBitMime && ext.eightbitmime) {
    line += " BODY=8BITMIME";
  } else if (envelope.body_type == model::BodyType::BinaryMime && ext.binarymime &&
             ext.chunking) {
    line += " BODY=BINARYMIME";
  }
  if (envelope.smtputf8 && ext.smtputf8) line += " SMTPUTF8";
  if (ext.dsn) {
    if (envelope.ret == model::Ret::Full) line += " RET=FULL";
    if (envelope.ret == model::Ret::Hdrs) line += " RET=HDRS";
    if (!envelope.envid.empty()) line += " ENVID=" + smtp::xtext_encode(envelope.envid);
  }
  if (envelope.requiretls && ext.requiretls) line += " REQUIRETLS";
  line += "\r\n";
  return line;
}

std::string rcpt_command(const model::Recipient& recipient, const Extensions& ext) {
  std::string line = "RCPT TO:<" + recipient.address + ">";
  if (ext.dsn) {
    std::string notify = notify_value(recipient.notify);
    if (!notify.empty()) line += " NOTIFY=" + notify;
    std::string orcpt = orcpt_value(recipient.orcpt);
    if (!orcpt.empty()) line += " ORCPT=" + orcpt;
  }
  line += "\r\n";
  return line;
}

}  // namespace secmx::client
