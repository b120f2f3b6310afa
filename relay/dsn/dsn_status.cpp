// dsn_status.cpp - enhanced status code checks and texts (see dsn_status.hpp).
//
// Pure; any thread. The texts follow the RFC 3463 and IANA registry titles, shortened and
// in lower case so that they read well inside a sentence.
#include "relay/dsn/dsn_status.hpp"

#include <utility>

namespace secmx::dsn {
namespace {

bool digits(std::string_view s) {
  if (s.empty() || s.size() > 3) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

char event_class(Event e) {
  switch (e) {
    case Event::Failure:
      return '5';
    case Event::Delay:
      return '4';
    case Event::Delivered:
    case Event::Relayed:
      return '2';
  }
  return '5';
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

bool valid_status(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  s.remove_prefix(2);
  std::size_t dot = s.find('.');
  if (dot == std::string_view::npos) return false;
  return digits(s.substr(0, dot)) && digits(s.substr(dot + 1));
}

std::string normalize_status(Event event, std::string_view status) {
  char want = event_class(event);
  if (valid_status(status)) {
    if (status[0] == want) return std::string(status);
    bool both_failures = (status[0] == '4' || status[0] == '5') && want != '2';
    if (both_failures) return std::string(1, want) + std::string(status.substr(1));
  }
  return std::string(1, want) + ".0.0";
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
  if (!valid_status(status)) return "unknown status";
  if (status[0] == '2') return "success";
  std::string_view rest = status.substr(2);
  for (auto [key, text] : kDetails) {
    if (key == rest) return std::string(text);
  }
  std::size_t subject = static_cast<std::size_t>(rest[0] - '0');
  if (rest.find('.') == 1 && subject < std::size(kSubjects)) return std::string(kSubjects[subject]);
  return status[0] == '2'   ? "success"
         : status[0] == '4' ? "temporary failure"
                            : "permanent failure";
}

}  // namespace secmx::dsn
