// report_service.hpp - the daily TLS reports (RFC 8460): after [tlsrpt] report_hour UTC,
// for each policy domain counted on the previous UTC day, look up _smtp._tls.D, build the
// report, hand it to every rua - mailto: as a message in the relay's own queue, https: by
// POST with retries - and mark the (day, domain) sent; prune counts older than
// retention_days. send_now() does the same at once for the operator.
//
// Design: its own thread with its own libuv loop and its own dns::Resolver (the relay's
// DNS servers, [dns]), like a delivery worker. It shares nothing with the SMTP loops or the
// workers but the Store (thread-safe; the counts and sent marks are read and written from
// this thread, never from an event loop of the data path), the CommitWriter (report mail
// is submitted like received mail, its completion handed back through the inbox) and the
// process-wide libuv thread pool (at most kMaxPosts POSTs at a time there, so MTA-STS
// fetches are never starved). A minute's timer drives the daily run; a domain whose https
// rua is between retries holds one of kMaxRuns slots while the others go on, and nothing
// the service does ever holds up other mail.
//
// Durability: the sent mark is written when every rua of the domain has its outcome (mail
// committed to the queue, POST answered or out of tries). A restart before that sends the
// report again (a receiver sees it twice, rather than never).
//
// Thread affinity: start(), stop(), reload() and send_now() from any thread. Callbacks of
// send_now() run on the service thread and must only hand the answer on. The free
// functions below read the Store on the calling thread (the admin plane's).
//
// Lifetime: the Store, the CommitWriter and the IdGenerator must outlive the service.
// stop() (idempotent; the destructor calls it) cuts off lookups and POSTs in flight, answers
// waiting send_now() callers with what they have, and joins the thread. Call it before
// the CommitWriter stops.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "queue/commit_writer.hpp"
#include "queue/store.hpp"
#include "relay/common/result.hpp"
#include "relay/config/config.hpp"
#include "relay/tlsrpt/report_plan.hpp"
#include "relay/tlsrpt/tally_codec.hpp"

namespace secmx::tlsrpt {

inline constexpr std::size_t kMaxRuns = 16;   // (day, domain) reports in progress at once
inline constexpr std::size_t kMaxPosts = 2;   // https POSTs on the thread pool at once
inline constexpr std::size_t kMaxRows = 200'000;  // rows read per day (or day and domain)

struct ServiceDeps {
  std::shared_ptr<const config::Config> config;
  queue::Store* store = nullptr;            // required
  queue::CommitWriter* writer = nullptr;    // required: report mail
  model::IdGenerator* ids = nullptr;        // required: its queue ids
  std::function<void()> kick;               // a message was queued (the scheduler); any thread
  std::function<void(SendResult)> on_result;  // each outcome (metrics); service thread
};

class ReportService {
 public:
  // Starts the thread; returns once its loop and resolver are ready (or failed).
  static Result<std::unique_ptr<ReportService>, std::string> start(ServiceDeps deps);

  virtual ~ReportService() = default;
  virtual void stop() = 0;
  virtual void reload(std::shared_ptr<const config::Config> config) = 0;

  // The report of `day` ("": yesterday, UTC) for `domain` (nullopt: every domain counted
  // that day and not excluded), now, whatever the sent mark says; the mark is set after.
  // https ruas get one try here (the operator sees the answer and may ask again).
  // done(outcomes), in domain order: empty when nothing was counted.
  using SendDone = std::function<void(std::string day, std::vector<SendOutcome>)>;
  virtual void send_now(std::string day, std::optional<std::string> domain, SendDone done) = 0;
};

// The rows counted on `day` (for `domain` only unless it is empty), decoded; rows that do
// not decode are skipped. Error: the store's message.
Result<std::vector<DecodedTally>, std::string> read_rows(queue::Store& store, const std::string& day,
                                                         const std::string& domain);

// The report JSON text that would be sent for (day, domain); nullopt when nothing was
// counted.
Result<std::optional<std::string>, std::string> report_for(queue::Store& store,
                                                           const config::Config& config,
                                                           const std::string& day,
                                                           const std::string& domain);

// The rows of one domain as build_report() wants them.
std::vector<Tally> tallies_of(const std::vector<DecodedTally>& rows);

}  // namespace secmx::tlsrpt
