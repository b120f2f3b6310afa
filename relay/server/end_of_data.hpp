// end_of_data.hpp - the pure steps at the end of a message's content.
//
// The session finishes a message in four steps: validate the content (check_content),
// build the envelope from the transaction (build_message), let the policy decide over the
// header section (header_section gives it the client's headers), submit to the commit
// writer. The first two and the header slicing live here, free of I/O and of the session,
// so that each is tested on its own. Nothing here logs or replies.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/store.hpp"
#include "relay/policy/policy_engine.hpp"
#include "relay/server/transaction.hpp"
#include "relay/smtp/data_reader.hpp"
#include "relay/smtp/reply.hpp"

namespace secmx::server {

// Content the server refuses, as the client is answered and as the reject line says it.
struct ContentRefusal {
  smtp::Reply reply;
  std::string_view why;    // "message too big", "bare CR/LF", ...
  bool counts_error;       // a protocol error (counts towards max_errors)
};

// The first problem of the content, in the order the server has always answered them
// (size, bare CR/LF, NUL, line length); nullopt when the content may be queued.
std::optional<ContentRefusal> check_content(const smtp::ContentFlags& flags);

// Who sent the message: the session's facts that go into the envelope.
struct ClientFacts {
  std::string_view address;       // "192.0.2.1"
  std::string_view helo;
  std::string_view tls_protocol;  // empty when plaintext
  std::string_view tls_cipher;
  std::string_view auth_user;     // empty: not authenticated (AUTH)
};

// The message to store: the envelope from the transaction's MAIL parameters and
// recipients and the client facts, the body (Received: header included). Recipients and
// body are moved out of `tx`; its id and header_offset stay.
queue::NewMessage build_message(Transaction& tx, const ClientFacts& client);

// The client's header section in `body`, whose content starts at `content_offset`: up to
// and including the CRLF of the last header line, empty when the content starts with the
// empty line, everything when there is no empty line. A view into `body`.
std::string_view header_section(std::string_view body, std::size_t content_offset);

// After the policy accepted `msg` (its decisions applied to the envelope): the envelope's
// message_id and classification from what the policy read of the header section (the
// first decision carries it), and, when `audit_on`, its accept record in msg.audit so
// that it commits with the message.
void record_acceptance(queue::NewMessage& msg, const std::vector<policy::Decision>& decisions,
                       bool audit_on, std::int64_t now_us);

// The record of a message the policy refused (nothing of it is stored): `reason` the
// refusing decision's rule, `reply` the answer the client was given.
queue::AuditRecord rejection_record(const model::Envelope& envelope,
                                    const std::vector<policy::Decision>& decisions,
                                    std::string_view reason, std::string_view reply,
                                    std::int64_t now_us);

}  // namespace secmx::server
