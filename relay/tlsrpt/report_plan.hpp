// report_plan.hpp - the decisions of the daily report run, as pure functions: which UTC
// days are due at a given time, which of a day's domains still need their report, what is
// pruned, how an https rua is retried, and the words each outcome is logged and shown in.
//
// ReportService (report_service.hpp) gathers the facts (the clock, the counts and sent
// marks in the store, the config) and carries out what these functions answer; the admin
// plane uses the outcome types. Pure; any thread; every time is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "relay/config/config.hpp"
#include "relay/tlsrpt/report_json.hpp"
#include "relay/tlsrpt/tally_codec.hpp"

namespace secmx::tlsrpt {

// A relay that was down at report time still sends the reports of this many days before
// yesterday when it comes back (if their counts are still kept).
inline constexpr std::uint32_t kCatchUpDays = 2;

// `day` moved by `days` (negative: earlier); "" when `day` is not a valid date.
std::string day_offset(const std::string& day, int days);

// 0..23: the UTC hour of a Unix time in µs.
int utc_hour(std::int64_t now_us);

// The days whose reports are due at `now_us`, oldest first: yesterday once `report_hour`
// (UTC) has begun, and the kCatchUpDays days before it - never a day older than
// oldest_kept_day() (its counts are gone or going).
std::vector<std::string> due_days(std::int64_t now_us, std::uint32_t report_hour,
                                  std::uint32_t retention_days);

// The oldest day whose counts are kept: today and the retention_days - 1 days before it.
std::string oldest_kept_day(std::int64_t now_us, std::uint32_t retention_days);

// The policy domains of a day's rows, sorted, each once.
std::vector<std::string> counted_domains(const std::vector<DecodedTally>& rows);

// The domain a sent mark stands for: its key without `prefix` (sent_prefix(day)); nullopt
// for a key that does not start with the prefix or names no domain.
std::optional<std::string> sent_domain(std::string_view key, std::string_view prefix);

// Of the domains with counts, those whose report is still to be sent: not marked sent and
// not excluded (an exclusion added after the counting still keeps the report back).
std::vector<std::string> due_domains(const std::vector<std::string>& counted,
                                     const std::set<std::string>& sent,
                                     const config::TlsRptConfig& config);

// The report's own fields but report_id: organization and contact as configured (their
// defaults already filled by the config), submitter the domain of `from`, lower case.
ReportMeta report_meta(const config::TlsRptConfig& config);
std::string submitter_of(std::string_view from);

// The wait before the next try of an https rua after `tries_done` tries (1-based), or
// nullopt when `max_tries` are used up: a few minutes, growing.
std::optional<std::chrono::seconds> retry_delay(std::uint32_t tries_done, std::uint32_t max_tries);

// What became of one report for one rua (or, NoRecord, of a domain without a usable
// _smtp._tls record).
enum class SendResult { Sent, Failed, NoRecord };
const char* to_string(SendResult r);  // "sent", "failed", "no-record"

struct SendOutcome {
  std::string day;
  std::string domain;
  std::string rua;  // "mailto:reports@example.net" or the https URI; "" for NoRecord
  SendResult result = SendResult::Failed;
  std::string detail;    // Failed / NoRecord: why, in our words (may quote DNS or HTTP text)
  std::string queue_id;  // Sent by mail
  int http_status = 0;   // Sent by https (or Failed with an HTTP answer)
};

// The log line's fields (docs/tlsrpt.md), peer text escaped:
//   event=tlsrpt-sent day=D domain=X rua=<uri> queue_id=<id> | status=<n>
//   event=tlsrpt-failed day=D domain=X rua=<uri> reason=<escaped>
//   event=tlsrpt-no-record day=D domain=X reason=<escaped>
std::string log_fields(const SendOutcome& o);

}  // namespace secmx::tlsrpt
