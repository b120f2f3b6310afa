// log_lines.hpp - the text of the log lines Postfix's tools read, in both shapes.
//
// Each event a log reader counts (a client's connection, a refusal, a message taken into
// the queue, a message leaving it) is rendered here and only here, in the shape
// log::format() chose: Format::Secmx keeps SecMX's own lines ("S7 connect from
// [192.0.2.1]:40000"); Format::Postfix writes what Postfix writes for the same event, so
// that pflogsumm and the greps operators already have work unchanged:
//
//   smtpd:   connect from unknown[192.0.2.1] session=S7 port=40000
//   smtpd:   NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <b@example.org>:
//              Relay access denied; from=<a@example.com> to=<b@example.org> helo=<h> session=S7
//   smtpd:   0193A...: client=unknown[192.0.2.1]:40000, helo=<h>, tls=none, ...
//   cleanup: 0193A...: message-id=<id@example.com>
//   qmgr:    0193A...: from=<a@example.com>, size=1234, nrcpt=2 (queue active)
//   qmgr:    0193A...: removed
//   smtpd:   disconnect from unknown[192.0.2.1] commands=5 ... session=S7
//
// Fields SecMX adds always come after those Postfix writes. Values that came from a peer
// are escaped here (log::escape); the caller passes them as received. Pure formatting:
// the caller logs each Line on the logger of its module.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "relay/common/log.hpp"

namespace secmx::log {

// One line of an event: the module whose logger writes it ("smtpd", "cleanup", "qmgr").
struct Line {
  std::string module;
  std::string text;
};

// Logs each line at info on its module's logger, the lines together: one flush after the
// last (one write to the log file), and all of them are in the file when this returns.
void write(const std::vector<Line>& lines);

struct Connect {
  std::uint64_t session = 0;
  std::string ip;
  unsigned port = 0;
};
std::string connect_line(const Connect& e, Format f = format());

struct Disconnect {
  std::uint64_t session = 0;
  std::string ip;
  std::uint64_t commands = 0, mail = 0, rcpt = 0, data = 0, queued = 0;
  std::int64_t ms = 0;
};
std::string disconnect_line(const Disconnect& e, Format f = format());

// A refused command: no queue file exists (Postfix's NOQUEUE).
struct Reject {
  enum class Stage { Rcpt, EndOfData };
  std::uint64_t session = 0;
  std::string ip;
  Stage stage = Stage::Rcpt;
  int code = 550;
  std::string enhanced;   // "5.7.1"
  std::string text;       // the reply's text, already escaped where it holds peer text
  std::string sender;     // as received
  std::string recipient;  // as received; "" when the refusal is not about one recipient
  std::string helo;       // as received
  std::string fields;     // SecMX's own, " nrcpt=2" / " rule=3(...)", after the others
};
std::string reject_line(const Reject& e, Format f = format());

// A message on disk: the lines Postfix's smtpd, cleanup and qmgr write when they take one.
struct Queued {
  std::string queue_id;
  std::string ip;
  unsigned port = 0;
  std::string helo;        // as received
  std::string sender;      // as received
  std::string message_id;  // the Message-ID field's value as received, "" when there is none
  std::size_t nrcpt = 0;
  std::uint64_t size = 0;
  std::string tls;         // "none" or "TLSv1.3/cipher"
  bool requiretls = false;
  std::string policy;      // the first recipient's policy
  std::string rule;        // the decision's rule field
  std::string sasl_username;  // who logged in with AUTH, "" when no one did
};
std::vector<Line> queued_lines(const Queued& e, Format f = format());

// A report to the sender was queued as `report_id`; event: "failed", "delayed",
// "delivered" or "relayed" (dsn::to_string(Event)). Postfix's bounce words in the postfix
// shape ("sender non-delivery notification: ID").
std::string notification_line(const std::string& queue_id, std::string_view event,
                              const std::string& report_id, std::size_t recipients,
                              Format f = format());

// The message left the queue: every recipient final and reported.
std::string removed_line(const std::string& queue_id);

}  // namespace secmx::log
