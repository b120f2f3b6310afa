// dsn_status.cpp - enhanced status code checks and texts (see dsn_status.hpp).
//
// Pure; any thread. The texts follow the RFC 3463 and IANA registry titles, shortened and
// in lower case so that they read well inside a sentence.
#include "relay/dsn/dsn_status.hpp"

#include <utility>

#include "relay/model/status.hpp"

namespace secmx::dsn {
namespace {

model::StatusClass event_class(Event e) {
  switch (e) {
    case Event::Failure:
      return model::StatusClass::Permanent;
    case Event::Delay:
      return model::StatusClass::Transient;
    case Event::Delivered:
    case Event::Relayed:
      return model::StatusClass::Success;
  }
  return model::StatusClass::Permanent;
}

// subject.detail -> text; the class is said by the caller.
constexpr std::pair<std::string_view, std::string_view> kDetails[] = {
    {"0.0", "other or undefined status"},
    {"1.0", "other address status"},
    {"1.1", "the recipient's mailbox does not exist"},
    {"1.2", "the recipient's domain does not exist"},
    {"1.3", "bad destination address syntax"},
    {"1.6", "the mailbox has moved"},
    {"1.10", "the recipient's domain does not accept mail (null MX)"},
    {"2.0", "other mailbox status"},
    {"2.1", "the mailbox is disabled"},
    {"2.2", "the mailbox is full"},
    {"2.3", "the message is larger than the mailbox accepts"},
    {"3.0", "other mail system status"},
    {"3.1", "the receiving mail system is full"},
    {"3.4", "the message is too big for the receiving system"},
    {"4.0", "other network or routing status"},
    {"4.1", "no answer from the receiving host"},
    {"4.2", "the connection was broken"},
    {"4.3", "directory server failure"},
    {"4.4", "unable to route"},
    {"4.6", "routing loop detected"},
    {"4.7", "delivery time expired"},
    {"5.0", "other protocol status"},
    {"5.1", "invalid command"},
    {"5.2", "syntax error"},
    {"5.3", "too many recipients"},
    {"6.0", "other media error"},
    {"6.7", "non-ASCII addresses not permitted for that recipient"},
    {"7.0", "other security or policy status"},
    {"7.1", "delivery not authorized, message refused"},
    {"7.10", "encryption needed: no receiving host could accept the message over TLS"},
    {"7.26", "multiple authentication checks failed"},
};

constexpr std::string_view kSubjects[] = {
    "other status",
    "address status",
    "mailbox status",
    "mail system status",
    "network or routing status",
    "mail delivery protocol status",
    "message content or media status",
    "security or policy status",
};

}  // namespace

bool valid_status(std::string_view s) { return model::Status::parse(s).has_value(); }

std::string normalize_status(Event event, std::string_view status) {
  model::StatusClass want = event_class(event);
  if (auto st = model::Status::parse(status)) {
    if (st->cls == want) return std::string(status);
    // 4.7.10 in a failure report is 5.7.10, and the other way round in a delay report.
    if (!st->success() && want != model::StatusClass::Success) return st->with_class(want).to_string();
  }
  return model::Status{want, 0, 0}.to_string();
}

std::string status_for_reply_code(int code) {
  switch (code) {
    case 421:
      return "4.4.2";
    case 450:
      return "4.2.0";
    case 451:
      return "4.3.0";
    case 452:
      return "4.3.1";
    case 551:
      return "5.1.6";
    case 552:
      return "5.2.2";
    case 553:
      return "5.1.3";
    default:
      break;
  }
  if (code >= 200 && code < 300) return "2.0.0";
  if (code >= 400 && code < 500) return "4.0.0";
  return "5.0.0";
}

std::string status_text(std::string_view status) {
  auto st = model::Status::parse(status);
  if (!st) return "unknown status";
  if (st->success()) return "success";
  std::string_view rest = status.substr(2);
  for (auto [key, text] : kDetails) {
    if (key == rest) return std::string(text);
  }
  if (st->subject < std::size(kSubjects)) return std::string(kSubjects[st->subject]);
  return st->temporary() ? "temporary failure" : "permanent failure";
}

}  // namespace secmx::dsn
