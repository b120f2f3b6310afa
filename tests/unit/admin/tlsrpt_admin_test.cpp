// tlsrpt_admin_test.cpp - TLS reporting in the operator's view: the API's JSON from given
// rows and outcomes (tlsrpt_view), secmxctl's lines from that JSON (ctl_tlsrpt), and the
// three endpoints over real HTTP on loopback with the service's functions faked.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "admin/admin_server.hpp"
#include "admin/ctl_tlsrpt.hpp"
#include "admin/tlsrpt_view.hpp"
#include "relay/common/clock.hpp"
#include "tests/unit/admin/admin_test_util.hpp"

namespace secmx::admin {
namespace {

using nlohmann::json;
using tlsrpt::ResultType;
using tlsrpt::SendOutcome;
using tlsrpt::SendResult;

tlsrpt::DecodedTally row(const std::string& domain, std::uint64_t n,
                         std::optional<ResultType> failure = std::nullopt) {
  tlsrpt::DecodedTally t;
  t.day = "2026-05-09";
  t.domain = domain;
  t.tally.count = n;
  t.tally.session.policy.domain = domain;
  if (failure) {
    tlsrpt::FailureDetail f;
    f.result = *failure;
    t.tally.session.failure = f;
  }
  return t;
}

TEST(TlsRptView, DayParameter) {
  EXPECT_EQ(tlsrpt_day("2026-05-09"), "2026-05-09");
  EXPECT_EQ(tlsrpt_day("2028-02-29"), "2028-02-29");
  EXPECT_EQ(tlsrpt_day("2026-02-29"), std::nullopt);
  EXPECT_EQ(tlsrpt_day("2026-5-9"), std::nullopt);
  EXPECT_EQ(tlsrpt_day("yesterday"), std::nullopt);
  EXPECT_EQ(tlsrpt_day(""), std::nullopt);
}

TEST(TlsRptView, ListSumsPerDomainAndResultType) {
  auto j = tlsrpt_list_json(
      "2026-05-09", {row("b.example", 5), row("a.example", 2, ResultType::TlsaInvalid),
                     row("b.example", 3, ResultType::StarttlsNotSupported),
                     row("b.example", 1, ResultType::StarttlsNotSupported), row("a.example", 7)});
  EXPECT_EQ(j, json::parse(R"({"day":"2026-05-09","domains":[
      {"domain":"a.example","success":7,"failure":2,"results":{"tlsa-invalid":2}},
      {"domain":"b.example","success":5,"failure":4,"results":{"starttls-not-supported":4}}]})"));
  EXPECT_EQ(tlsrpt_list_json("2026-05-09", {}),
            json::parse(R"({"day":"2026-05-09","domains":[]})"));
}

std::vector<SendOutcome> outcomes() {
  return {
      {"2026-05-09", "a.example", "mailto:rpt@a.example", SendResult::Sent, "", "00000000001A2B3C", 0},
      {"2026-05-09", "a.example", "https://rpt.a.example/v1", SendResult::Sent, "", "", 200},
      {"2026-05-09", "b.example", "https://rpt.b.example/", SendResult::Failed, "HTTP 500 (3 tries)", "", 500},
      {"2026-05-09", "c.example", "", SendResult::NoRecord, "no TXT record at _smtp._tls.c.example", "", 0},
  };
}

TEST(TlsRptView, SendJson) {
  auto j = tlsrpt_send_json("2026-05-09", outcomes());
  EXPECT_EQ(j, json::parse(R"J({"day":"2026-05-09","sent":[
      {"domain":"a.example","rua":"mailto:rpt@a.example","ok":true,"result":"sent","detail":"","queue_id":"00000000001A2B3C"},
      {"domain":"a.example","rua":"https://rpt.a.example/v1","ok":true,"result":"sent","detail":"","status":200},
      {"domain":"b.example","rua":"https://rpt.b.example/","ok":false,"result":"failed","detail":"HTTP 500 (3 tries)","status":500},
      {"domain":"c.example","rua":null,"ok":false,"result":"no-record","detail":"no TXT record at _smtp._tls.c.example"}]})J"));
}

TEST(CtlTlsRpt, ListLines) {
  auto j = tlsrpt_list_json("2026-05-09", {row("a.example", 7), row("a.example", 2, ResultType::TlsaInvalid),
                                           row("a.example", 1, ResultType::DnssecInvalid),
                                           row("b.example", 4)});
  EXPECT_EQ(format_tlsrpt_list(j),
            "a.example success=7 failure=3 dnssec-invalid=1 tlsa-invalid=2\n"
            "b.example success=4 failure=0\n");
  EXPECT_EQ(format_tlsrpt_list(tlsrpt_list_json("2026-05-09", {})),
            "no sessions counted on 2026-05-09\n");
}

TEST(CtlTlsRpt, SendLinesAndExit) {
  auto j = tlsrpt_send_json("2026-05-09", outcomes());
  EXPECT_EQ(format_tlsrpt_send(j),
            "a.example mailto:rpt@a.example sent queue_id=00000000001A2B3C\n"
            "a.example https://rpt.a.example/v1 sent status=200\n"
            "b.example https://rpt.b.example/ failed: HTTP 500 (3 tries)\n"
            "c.example no TLSRPT record: no TXT record at _smtp._tls.c.example\n");
  EXPECT_TRUE(tlsrpt_send_failed(j));
  auto ok = tlsrpt_send_json("2026-05-09", {outcomes()[0]});
  EXPECT_FALSE(tlsrpt_send_failed(ok));
  auto none = tlsrpt_send_json("2026-05-08", {});
  EXPECT_EQ(format_tlsrpt_send(none), "no sessions counted on 2026-05-08\n");
  EXPECT_EQ(format_tlsrpt_send(none, "a.example"), "no sessions counted for a.example on 2026-05-08\n");
  EXPECT_FALSE(tlsrpt_send_failed(none));
}

constexpr const char* kToken = "unit-test-token";

class TlsRptApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.sub("token")) << kToken << "\n";
    auto cfg = std::make_shared<config::Config>();
    cfg->admin.listen = {"127.0.0.1", 0};
    cfg->admin.token_file = dir_.sub("token");
    cfg->tlsrpt.enabled = true;
    cfg->tlsrpt.https_timeout = std::chrono::seconds(1);
    config_ = cfg;
    store_ = test::store_with(dir_, {});
    ASSERT_TRUE(store_);
    AdminTlsRpt t;
    t.rows = [this](const std::string& day) -> Result<std::vector<tlsrpt::DecodedTally>, std::string> {
      std::lock_guard lock(mutex_);
      asked_.push_back("rows " + day);
      if (day == "2026-05-09") return std::vector<tlsrpt::DecodedTally>{row("a.example", 3)};
      return std::vector<tlsrpt::DecodedTally>{};
    };
    t.report = [this](const config::Config&, const std::string& day, const std::string& domain)
        -> Result<std::optional<std::string>, std::string> {
      std::lock_guard lock(mutex_);
      asked_.push_back("report " + day + " " + domain);
      if (domain != "a.example") return std::optional<std::string>();
      return std::optional<std::string>(R"({"organization-name":"Example","report-id":"x"})");
    };
    t.send = [this](std::string day, std::optional<std::string> domain, AdminTlsRpt::SendDone done) {
      {
        std::lock_guard lock(mutex_);
        asked_.push_back("send " + day + " " + domain.value_or("*"));
      }
      // As the service does: its own thread, its own choice of day.
      std::thread([done = std::move(done), day] {
        done(day.empty() ? "2026-05-09" : day, {outcomes()[0]});
      }).detach();
    };
    AdminDeps deps{config_, store_.get(), nullptr, &metrics_, nullptr, nullptr};
    auto s = AdminServer::start(deps, {}, t);
    ASSERT_TRUE(s.ok()) << s.error();
    server_ = std::move(s.value());
  }

  httplib::Client client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(10, 0);
    c.set_bearer_token_auth(kToken);
    return c;
  }

  std::vector<std::string> asked() {
    std::lock_guard lock(mutex_);
    return asked_;
  }

  test::TempDir dir_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<queue::Store> store_;
  metrics::RelayMetrics metrics_;
  std::unique_ptr<AdminServer> server_;
  std::mutex mutex_;
  std::vector<std::string> asked_;
};

TEST_F(TlsRptApiTest, ListADay) {
  auto c = client();
  auto r = c.Get("/api/v1/tlsrpt?day=2026-05-09");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body),
            json::parse(R"({"day":"2026-05-09","domains":[{"domain":"a.example","success":3,"failure":0,"results":{}}]})"));
  auto today = c.Get("/api/v1/tlsrpt");
  ASSERT_TRUE(today);
  EXPECT_EQ(today->status, 200);
  EXPECT_EQ(json::parse(today->body)["day"], tlsrpt::utc_day(unix_now_us()));
  auto bad = c.Get("/api/v1/tlsrpt?day=2026-13-01");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(asked().size(), 2u);  // the bad day never reached the store
}

TEST_F(TlsRptApiTest, ReportIsTheJsonOr404) {
  auto c = client();
  auto r = c.Get("/api/v1/tlsrpt/report?domain=A.Example&day=2026-05-09");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["organization-name"], "Example");
  auto none = c.Get("/api/v1/tlsrpt/report?domain=b.example&day=2026-05-09");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404);
  EXPECT_EQ(json::parse(none->body)["error"], "no sessions counted for b.example on 2026-05-09");
  auto bad = c.Get("/api/v1/tlsrpt/report?domain=not%20a%20domain");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(asked(), (std::vector<std::string>{"report 2026-05-09 a.example",
                                               "report 2026-05-09 b.example"}));
}

TEST_F(TlsRptApiTest, SendWaitsForTheOutcomes) {
  auto c = client();
  auto r = c.Post("/api/v1/tlsrpt/send", R"({"domain":"a.example","day":"2026-05-01"})",
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto j = json::parse(r->body);
  EXPECT_EQ(j["day"], "2026-05-01");
  ASSERT_EQ(j["sent"].size(), 1u);
  EXPECT_EQ(j["sent"][0]["queue_id"], "00000000001A2B3C");
  auto dflt = c.Post("/api/v1/tlsrpt/send", "", "application/json");
  ASSERT_TRUE(dflt);
  EXPECT_EQ(json::parse(dflt->body)["day"], "2026-05-09");
  auto bad = c.Post("/api/v1/tlsrpt/send", R"({"day":"05/09/2026"})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(asked(), (std::vector<std::string>{"send 2026-05-01 a.example", "send  *"}));
}

TEST_F(TlsRptApiTest, SendWhenDisabledIs409) {
  auto cfg = std::make_shared<config::Config>(*config_);
  cfg->tlsrpt.enabled = false;
  server_->update(cfg, nullptr);
  auto c = client();
  auto r = c.Post("/api/v1/tlsrpt/send", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_TRUE(asked().empty());
}

TEST(TlsRptApiAbsent, WithoutTheServiceEndpointsAnswer503) {
  test::TempDir dir;
  std::ofstream(dir.sub("token")) << kToken << "\n";
  auto cfg = std::make_shared<config::Config>();
  cfg->admin.listen = {"127.0.0.1", 0};
  cfg->admin.token_file = dir.sub("token");
  auto store = test::store_with(dir, {});
  metrics::RelayMetrics metrics;
  auto s = AdminServer::start({cfg, store.get(), nullptr, &metrics, nullptr, nullptr});
  ASSERT_TRUE(s.ok());
  httplib::Client c("127.0.0.1", (*s)->port());
  c.set_bearer_token_auth(kToken);
  auto r = c.Get("/api/v1/tlsrpt");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  (*s)->stop();
}

}  // namespace
}  // namespace secmx::admin
