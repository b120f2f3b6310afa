// queue_ops.hpp - the operator's queue mutations, as the admin API asks for them.
//
// Implemented by the delivery scheduler: a mutation must go through the component that
// knows which messages are being delivered, so that a message is never changed under a
// worker. Every call is synchronous and is made from an admin HTTP thread (never from an
// SMTP or delivery loop); an implementation hands the operation to its own thread and
// waits for the answer, for a bounded time (a few seconds): when it cannot act in time,
// or the message is in the middle of a delivery attempt and the operation cannot wait
// for it, it answers Busy. Implementations are thread-safe.
//
// Meaning of each operation (message-level; the admin API reports what it answers):
//   hold     keep the message undelivered (Envelope::held) until released or deleted;
//   release  undo hold; the message becomes due now;
//   flush    make the message due now (a held message stays held: release it first);
//   flush_all  every message not held (or only those with a pending recipient in
//            `domain`) due now; answers how many messages were made due;
//   remove   delete the message silently: no DSN;
//   bounce   fail every pending recipient permanently (5.0.0 "deleted by operator",
//            or `reason`) and queue a failure DSN to the sender, as a delivery failure
//            would (no DSN for a null sender or NOTIFY=NEVER).
// Every operation names who asked (`by`): logged with it and, with [audit] on, recorded.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "relay/common/result.hpp"
#include "relay/model/queue_id.hpp"

namespace secmx::admin {

// NotFound: no such message (404). Busy: could not act in time, e.g. the message is in a
// delivery attempt (409). Conflict: the operation does not apply to the message as it is,
// e.g. release of a message not held (409). Error: anything else (500).
struct OpError {
  enum class Kind { NotFound, Busy, Conflict, Error };
  Kind kind = Kind::Error;
  std::string message;
};

using OpStatus = Status<OpError>;

// Who asks: the operator the bearer token matched (admin_token.hpp) and the client's
// address as the admin listener saw it.
struct Operator {
  std::string name;
  std::string client;
};

class QueueOps {
 public:
  virtual ~QueueOps() = default;

  virtual OpStatus hold(model::QueueId id, const Operator& by) = 0;
  virtual OpStatus release(model::QueueId id, const Operator& by) = 0;
  virtual OpStatus flush(model::QueueId id, const Operator& by) = 0;
  virtual Result<std::size_t, OpError> flush_all(std::optional<std::string> domain,
                                                 const Operator& by) = 0;
  virtual OpStatus remove(model::QueueId id, const Operator& by) = 0;
  virtual OpStatus bounce(model::QueueId id, std::string reason, const Operator& by) = 0;
};

}  // namespace secmx::admin
