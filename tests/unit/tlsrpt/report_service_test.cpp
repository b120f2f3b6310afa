// report_service_test.cpp - the daily report run's decisions (relay/tlsrpt/report_plan):
// day and hour arithmetic across month, year and leap-day boundaries, which days are due
// at which hour, which domains still need their report, pruning bounds, the https retry
// schedule, the log lines; and the https rua URI the POST goes to (report_post).
#include <gtest/gtest.h>

#include "relay/tlsrpt/report_plan.hpp"
#include "relay/tlsrpt/report_post.hpp"

namespace secmx::tlsrpt {
namespace {

using namespace std::chrono_literals;

// Unix µs of "day" at hh:mm UTC.
std::int64_t at(const std::string& day, int hh, int mm = 0) {
  auto start = day_start_us(day);
  EXPECT_TRUE(start.has_value()) << day;
  return start.value_or(0) + (static_cast<std::int64_t>(hh) * 3600 + mm * 60) * 1'000'000;
}

TEST(ReportPlan, DayOffsetCrossesMonthsYearsAndLeapDays) {
  EXPECT_EQ(day_offset("2026-03-01", -1), "2026-02-28");
  EXPECT_EQ(day_offset("2028-03-01", -1), "2028-02-29");
  EXPECT_EQ(day_offset("2026-01-01", -1), "2025-12-31");
  EXPECT_EQ(day_offset("2025-12-31", 1), "2026-01-01");
  EXPECT_EQ(day_offset("2026-05-10", -14), "2026-04-26");
  EXPECT_EQ(day_offset("2026-05-10", 0), "2026-05-10");
  EXPECT_EQ(day_offset("2026-13-01", -1), "");
  EXPECT_EQ(day_offset("yesterday", -1), "");
}

TEST(ReportPlan, UtcHour) {
  EXPECT_EQ(utc_hour(at("2026-05-10", 0, 0)), 0);
  EXPECT_EQ(utc_hour(at("2026-05-10", 0, 59)), 0);
  EXPECT_EQ(utc_hour(at("2026-05-10", 1, 0)), 1);
  EXPECT_EQ(utc_hour(at("2026-05-10", 23, 59)), 23);
  EXPECT_EQ(utc_hour(0), 0);
  EXPECT_EQ(utc_hour(-1), 23);  // the last µs of 1969-12-31
}

TEST(ReportPlan, YesterdayIsDueFromTheReportHourOn) {
  // Before 01:00 only the catch-up days; from 01:00 yesterday too.
  EXPECT_EQ(due_days(at("2026-05-10", 0, 59), 1, 14),
            (std::vector<std::string>{"2026-05-07", "2026-05-08"}));
  EXPECT_EQ(due_days(at("2026-05-10", 1, 0), 1, 14),
            (std::vector<std::string>{"2026-05-07", "2026-05-08", "2026-05-09"}));
  EXPECT_EQ(due_days(at("2026-05-10", 23, 59), 1, 14).back(), "2026-05-09");
  // report_hour 0: at midnight, the day just ended.
  EXPECT_EQ(due_days(at("2026-01-01", 0, 0), 0, 14).back(), "2025-12-31");
  // report_hour 23: not until the day's last hour.
  EXPECT_EQ(due_days(at("2026-05-10", 22, 59), 23, 14).back(), "2026-05-08");
  EXPECT_EQ(due_days(at("2026-05-10", 23, 0), 23, 14).back(), "2026-05-09");
}

TEST(ReportPlan, DueDaysNeverReachBeyondWhatIsKept) {
  // retention 2: today and yesterday; the catch-up days are gone.
  EXPECT_EQ(due_days(at("2026-05-10", 5), 1, 2), std::vector<std::string>{"2026-05-09"});
  EXPECT_TRUE(due_days(at("2026-05-10", 0), 1, 2).empty());
  EXPECT_EQ(due_days(at("2026-05-10", 5), 1, 3),
            (std::vector<std::string>{"2026-05-08", "2026-05-09"}));
}

TEST(ReportPlan, OldestKeptDay) {
  EXPECT_EQ(oldest_kept_day(at("2026-05-10", 12), 14), "2026-04-27");
  EXPECT_EQ(oldest_kept_day(at("2026-05-10", 12), 2), "2026-05-09");
  EXPECT_EQ(oldest_kept_day(at("2026-03-01", 0), 2), "2026-02-28");
  // Keys "r<day>/..." below "r<oldest>" are exactly the days before it.
  EXPECT_LT(std::string("r2026-04-26/x.example/"), "r" + oldest_kept_day(at("2026-05-10", 12), 14));
  EXPECT_GT(std::string("r2026-04-27/x.example/"), "r" + oldest_kept_day(at("2026-05-10", 12), 14));
}

DecodedTally row(const std::string& domain) {
  DecodedTally t;
  t.day = "2026-05-09";
  t.domain = domain;
  t.tally.count = 1;
  return t;
}

TEST(ReportPlan, CountedDomainsAreSortedAndUnique) {
  EXPECT_EQ(counted_domains({row("b.example"), row("a.example"), row("b.example")}),
            (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_TRUE(counted_domains({}).empty());
}

TEST(ReportPlan, DueDomainsLeaveOutSentAndExcluded) {
  config::TlsRptConfig cfg;
  cfg.exclude = {"partner.example"};
  std::vector<std::string> counted{"a.example", "b.example", "partner.example", "c.example"};
  EXPECT_EQ(due_domains(counted, {"b.example"}, cfg),
            (std::vector<std::string>{"a.example", "c.example"}));
  EXPECT_TRUE(due_domains(counted, {"a.example", "b.example", "c.example"}, cfg).empty());
  EXPECT_TRUE(due_domains({}, {}, cfg).empty());
}

TEST(ReportPlan, SentDomainStripsThePrefix) {
  EXPECT_EQ(sent_domain("s2026-05-09/example.org", "s2026-05-09/"), "example.org");
  EXPECT_EQ(sent_domain("s2026-05-09/", "s2026-05-09/"), std::nullopt);
  EXPECT_EQ(sent_domain("s2026-05-08/example.org", "s2026-05-09/"), std::nullopt);
  EXPECT_EQ(sent_domain("s", "s2026-05-09/"), std::nullopt);
}

TEST(ReportPlan, MetaComesFromTheConfig) {
  config::TlsRptConfig cfg;
  cfg.from = "TLSRPT@Agency.Example";
  cfg.organization = "Example Agency";
  cfg.contact = "mailto:noc@agency.example";
  auto m = report_meta(cfg);
  EXPECT_EQ(m.organization, "Example Agency");
  EXPECT_EQ(m.contact, "mailto:noc@agency.example");
  EXPECT_EQ(m.submitter, "agency.example");
  EXPECT_EQ(m.report_id, "");  // the caller's: it depends on the day and domain
}

TEST(ReportPlan, RetriesAreMinutesApartAndEnd) {
  EXPECT_EQ(retry_delay(1, 3), std::optional<std::chrono::seconds>(2min));
  EXPECT_EQ(retry_delay(2, 3), std::optional<std::chrono::seconds>(4min));
  EXPECT_EQ(retry_delay(3, 3), std::nullopt);
  EXPECT_EQ(retry_delay(1, 1), std::nullopt);
  EXPECT_EQ(retry_delay(10, 20), std::optional<std::chrono::seconds>(30min));  // capped
}

TEST(ReportPlan, LogLines) {
  SendOutcome mail{"2026-05-09", "example.org", "mailto:tlsrpt@example.org", SendResult::Sent,
                   "", "0123456789ABCDEF", 0};
  EXPECT_EQ(log_fields(mail),
            "event=tlsrpt-sent day=2026-05-09 domain=example.org rua=mailto:tlsrpt@example.org "
            "queue_id=0123456789ABCDEF");
  SendOutcome post{"2026-05-09", "example.org", "https://r.example.org/t", SendResult::Sent, "",
                   "", 201};
  EXPECT_EQ(log_fields(post),
            "event=tlsrpt-sent day=2026-05-09 domain=example.org rua=https://r.example.org/t "
            "status=201");
  SendOutcome failed{"2026-05-09", "example.org", "https://r.example.org/t", SendResult::Failed,
                     "HTTP 500\r\nX", "", 500};
  EXPECT_EQ(log_fields(failed),
            "event=tlsrpt-failed day=2026-05-09 domain=example.org rua=https://r.example.org/t "
            "reason=HTTP 500\\x0d\\x0aX");
  SendOutcome none{"2026-05-09", "example.org", "", SendResult::NoRecord,
                   "no TXT record at _smtp._tls.example.org", "", 0};
  EXPECT_EQ(log_fields(none),
            "event=tlsrpt-no-record day=2026-05-09 domain=example.org "
            "reason=no TXT record at _smtp._tls.example.org");
  EXPECT_STREQ(to_string(SendResult::NoRecord), "no-record");
}

TEST(ReportPost, HttpsUri) {
  auto u = parse_https_uri("https://Reports.Example.NET:8443/tlsrpt/v1?x=1");
  ASSERT_TRUE(u.ok()) << u.error();
  EXPECT_EQ(u->host, "reports.example.net");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/tlsrpt/v1?x=1");
  auto bare = parse_https_uri("HTTPS://reports.example.net");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->port, 443);
  EXPECT_EQ(bare->target, "/");
  auto query = parse_https_uri("https://127.0.0.5?r=1");
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->host, "127.0.0.5");
  EXPECT_EQ(query->target, "/?r=1");
}

TEST(ReportPost, HttpsUriRefusals) {
  for (const char* bad :
       {"http://reports.example.net/", "mailto:a@example.net", "https://", "https://:443/",
        "https://user@reports.example.net/", "https://reports.example.net:0/",
        "https://reports.example.net:70000/", "https://reports.example.net:x/",
        "https://[::1]/", "https://reports.example.net/#frag", "https://bad host/",
        "https://reports.example.net/a b"}) {
    EXPECT_FALSE(parse_https_uri(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace secmx::tlsrpt
