// report_plan.cpp - the pure decisions of the daily report run; see report_plan.hpp.
#include "relay/tlsrpt/report_plan.hpp"

#include <algorithm>

#include "relay/common/ascii.hpp"
#include "relay/common/log.hpp"

namespace secmx::tlsrpt {
namespace {

constexpr std::int64_t kDayUs = 86'400'000'000;
constexpr std::int64_t kHourUs = 3'600'000'000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

std::string day_offset(const std::string& day, int days) {
  auto start = day_start_us(day);
  if (!start) return "";
  return utc_day(*start + static_cast<std::int64_t>(days) * kDayUs);
}

int utc_hour(std::int64_t now_us) {
  std::int64_t in_day = now_us - floor_div(now_us, kDayUs) * kDayUs;
  return static_cast<int>(in_day / kHourUs);
}

std::string oldest_kept_day(std::int64_t now_us, std::uint32_t retention_days) {
  std::uint32_t keep = std::max<std::uint32_t>(retention_days, 1);
  return day_offset(utc_day(now_us), -static_cast<int>(keep - 1));
}

std::vector<std::string> due_days(std::int64_t now_us, std::uint32_t report_hour,
                                  std::uint32_t retention_days) {
  const std::string today = utc_day(now_us);
  const std::string oldest = oldest_kept_day(now_us, retention_days);
  const bool yesterday_due = utc_hour(now_us) >= static_cast<int>(report_hour);
  std::vector<std::string> out;
  // Before the hour, yesterday waits, but the days before it were due on earlier days.
  for (int back = static_cast<int>(kCatchUpDays) + 1; back >= 1; --back) {
    if (back == 1 && !yesterday_due) break;
    std::string d = day_offset(today, -back);
    if (d < oldest) continue;  // "YYYY-MM-DD" sorts as it counts
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<std::string> counted_domains(const std::vector<DecodedTally>& rows) {
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r.domain);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<std::string> sent_domain(std::string_view key, std::string_view prefix) {
  if (key.size() <= prefix.size() || key.substr(0, prefix.size()) != prefix) return std::nullopt;
  return std::string(key.substr(prefix.size()));
}

std::vector<std::string> due_domains(const std::vector<std::string>& counted,
                                     const std::set<std::string>& sent,
                                     const config::TlsRptConfig& config) {
  std::vector<std::string> out;
  for (const auto& d : counted) {
    if (sent.count(d) != 0 || config.excluded(d)) continue;
    out.push_back(d);
  }
  return out;
}

std::string submitter_of(std::string_view from) {
  auto at = from.rfind('@');
  return ascii_lowercase(at == std::string_view::npos ? from : from.substr(at + 1));
}

ReportMeta report_meta(const config::TlsRptConfig& config) {
  ReportMeta m;
  m.organization = config.organization;
  m.contact = config.contact;
  m.submitter = submitter_of(config.from);
  return m;
}

std::optional<std::chrono::seconds> retry_delay(std::uint32_t tries_done, std::uint32_t max_tries) {
  if (tries_done >= max_tries) return std::nullopt;
  // 2, 4, 8 ... minutes, at most half an hour: a receiver's web server restarting or a
  // short outage passes, and the day's report is not late by hours.
  std::uint32_t shift = std::min<std::uint32_t>(tries_done == 0 ? 0 : tries_done - 1, 4);
  auto minutes = std::min<std::uint32_t>(2u << shift, 30);
  return std::chrono::seconds(minutes * 60);
}

const char* to_string(SendResult r) {
  switch (r) {
    case SendResult::Sent: return "sent";
    case SendResult::Failed: return "failed";
    case SendResult::NoRecord: return "no-record";
  }
  return "?";
}

std::string log_fields(const SendOutcome& o) {
  std::string out = std::string("event=tlsrpt-") + to_string(o.result) + " day=" + o.day +
                    " domain=" + log::escape(o.domain, 255);
  if (o.result != SendResult::NoRecord) out += " rua=" + log::escape(o.rua, 300);
  if (o.result == SendResult::Sent) {
    if (!o.queue_id.empty()) {
      out += " queue_id=" + o.queue_id;
    } else {
      out += " status=" + std::to_string(o.http_status);
    }
  } else {
    out += " reason=" + log::escape(o.detail);
  }
  return out;
}

}  // namespace secmx::tlsrpt
