// transaction.hpp - the mail transaction of an SMTP session (MAIL ... end of data).
//
// Kept apart from the session (connection, TLS, HELO) so that RSET, a new MAIL after a
// message, and STARTTLS each reset exactly what they should. Owned by the session.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "relay/model/envelope.hpp"
#include "relay/smtp/data_reader.hpp"
#include "relay/smtp/params.hpp"

namespace secmx::server {

struct Transaction {
  bool active = false;               // MAIL accepted
  smtp::MailParams mail;
  std::vector<model::Recipient> recipients;
  model::QueueId id{};               // assigned when content starts ...
  std::int64_t arrival_us = 0;       // ... together with the arrival time, so ids sort by it
  std::string body;                  // Received: header + content
  std::size_t header_offset = 0;     // where the client's content starts in body
  std::optional<smtp::DataReader> data;
  std::optional<smtp::ChunkChecker> chunks;
  bool bdat_failed = false;          // a BDAT chunk was refused: the rest is discarded

  void reset() { *this = Transaction{}; }
};

}  // namespace secmx::server
