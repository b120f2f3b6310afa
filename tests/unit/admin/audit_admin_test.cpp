// audit_admin_test.cpp - the audit endpoints of the admin API over a real store (search with
// its pages and filter errors, report, verify with and without the key file) and secmxctl's
// audit output (table, JSON lines, CSV quoting, the report's text, verify's text and exit).
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "admin/admin_server.hpp"
#include "admin/ctl_audit.hpp"
#include "tests/unit/admin/admin_test_util.hpp"
#include "tests/unit/audit/audit_test_util.hpp"

namespace secmx::admin {
namespace {

using nlohmann::json;
using namespace secmx::audit::test;

const std::string kToken = "audit-admin-test-token-0123456789";
const std::string kKey = "audit key of the admin tests";

class AuditApiTest : public ::testing::Test {
 protected:
  // As the relay makes it: readable by its owner only (a key others can read is refused).
  void write_key(const std::string& key) {
    std::ofstream(dir_.sub("audit.key")) << key << "\n";
    std::filesystem::permissions(dir_.sub("audit.key"), std::filesystem::perms::owner_read |
                                                            std::filesystem::perms::owner_write);
  }
  void SetUp() override {
    std::ofstream(dir_.sub("token")) << kToken << "\n";
    auto cfg = std::make_shared<config::Config>();
    cfg->admin.listen = {"127.0.0.1", 0};
    cfg->admin.token_file = dir_.sub("token");
    cfg->audit.key_file = dir_.sub("audit.key");
    store_ = test::store_with(dir_, {});
    ASSERT_TRUE(store_);
    auto env = envelope(7, "PROTECTED");
    auto bob = recipient("bob@dest.example", model::Policy::SOS, model::TlsLevel::Verify);
    for (int i = 0; i < 5; ++i) {
      std::int64_t t = kNov1 + i * 60'000'000;
      append_at(*store_, t, i % 2 == 0 ? accept(t, env, {bob}) : outcome(t, env, bob, "delivered", "TLSv1.3/X/none"));
    }
    AdminDeps deps{cfg, store_.get(), &ops_, &metrics_, nullptr, nullptr};
    auto s = AdminServer::start(deps);
    ASSERT_TRUE(s.ok()) << s.error();
    server_ = std::move(s.value());
  }

  json get(const std::string& path, int want) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_bearer_token_auth(kToken);
    auto r = c.Get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return json();
    EXPECT_EQ(r->status, want) << path << ": " << r->body;
    return json::parse(r->body, nullptr, false);
  }

  test::TempDir dir_;
  std::unique_ptr<queue::Store> store_;
  test::FakeOps ops_;
  metrics::RelayMetrics metrics_;
  std::unique_ptr<AdminServer> server_;
};

TEST_F(AuditApiTest, SearchAnswersRecordsAndTheNextPage) {
  auto j = get("/api/v1/audit?event=accept&limit=2", 200);
  ASSERT_EQ(j["records"].size(), 2u);
  EXPECT_EQ(j["records"][0]["seq"], 1);
  EXPECT_EQ(j["records"][0]["record"]["event"], "accept");
  EXPECT_EQ(j["records"][1]["seq"], 3);
  EXPECT_EQ(j["next"], 3);
  j = get("/api/v1/audit?event=accept&limit=2&after=3", 200);
  ASSERT_EQ(j["records"].size(), 1u);
  EXPECT_EQ(j["records"][0]["seq"], 5);
  EXPECT_EQ(j["next"], nullptr);
  j = get("/api/v1/audit?recipient=BOB@dest.example&outcome=delivered&auth=none&from=2026-11-01T00:02", 200);
  ASSERT_EQ(j["records"].size(), 1u);
  EXPECT_EQ(j["records"][0]["seq"], 4);
}

TEST_F(AuditApiTest, BadFiltersAre400WithTheReason) {
  EXPECT_EQ(get("/api/v1/audit?policy=FAST", 400)["error"],
            "policy: expected BES, SOS, HOLD or REJECT, got 'FAST'");
  EXPECT_EQ(get("/api/v1/audit?from=2026-12-01&to=2026-11-01", 400)["error"], "from: must be before to");
  EXPECT_EQ(get("/api/v1/audit?limit=0", 400)["error"], "limit: expected 1..1000");
  EXPECT_EQ(get("/api/v1/audit?after=-1", 400)["code"], "bad_request");
  EXPECT_NE(get("/api/v1/audit?colour=red", 400)["error"].get<std::string>().find("unknown parameter 'colour'"),
            std::string::npos);
  EXPECT_EQ(get("/api/v1/audit/report?sender=a@b", 400)["error"],
            "unknown parameter 'sender': expected from or to");
  EXPECT_EQ(get("/api/v1/audit/verify?to=soon", 400)["code"], "bad_request");
}

TEST_F(AuditApiTest, ReportCountsTheRange) {
  auto j = get("/api/v1/audit/report?from=2026-11-01&to=2026-11-02", 200);
  EXPECT_EQ(j["records"], 5);
  EXPECT_EQ(j["outcomes"], 2);
  ASSERT_EQ(j["counts"].size(), 1u);
  EXPECT_EQ(j["counts"][0]["count"], 2);
  EXPECT_EQ(j["unauthenticated"].size(), 2u);
  EXPECT_EQ(get("/api/v1/audit/report?from=2026-11-02", 200)["records"], 0);
}

TEST_F(AuditApiTest, VerifyWithoutAKeyChecksTheChainAndSaysSo) {
  auto j = get("/api/v1/audit/verify", 200);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["key"], false);
  EXPECT_EQ(j["records"], 5);
  EXPECT_EQ(j["note"], "no key: checkpoints not checked");
}

TEST_F(AuditApiTest, VerifyWithTheKeyFileChecksCheckpoints) {
  write_key(kKey);
  ASSERT_TRUE(store_->checkpoint_audit(kKey, kNov1 + kDay).value());
  auto j = get("/api/v1/audit/verify?from=2026-11-01", 200);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["key"], true);
  EXPECT_EQ(j["checkpoints"], 1);
  EXPECT_EQ(j["head_covered"], true);
  write_key("another key");
  j = get("/api/v1/audit/verify", 200);
  EXPECT_EQ(j["ok"], false) << "200: the verification ran and found a break";
  EXPECT_EQ(j["break"]["seq"], 5);
  EXPECT_EQ(format_audit_verify(j).rfind("BROKEN at record 5: checkpoint at 5 is not authentic", 0), 0u)
      << format_audit_verify(j);
  EXPECT_EQ(audit_verify_exit(j), 1);
}

TEST(CtlAudit, CsvFieldsAreQuotedOnlyWhenTheyNeedIt) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\r\nlines"), "\"two\r\nlines\"");
  EXPECT_EQ(csv_field("lf\n"), "\"lf\n\"");
}

json sample_records() {
  auto env = envelope(9, "OFFICIAL:Sensitive");
  env.sender = "o'brien,\"the boss\"@agency.example";
  auto bob = recipient("bob@dest.example", model::Policy::SOS);
  auto carol = recipient("carol@dest.example", model::Policy::BES);
  json rej = accept(kNov1, env, {bob, carol});
  rej["event"] = "reject";
  rej["queue_id"] = "";
  rej["reason"] = "rule=1(subject \"secret\", refused)";
  json out = outcome(kNov1 + 1, env, bob, "delivered", "TLSv1.3/X/dane");
  out["recipient"]["reply"] = "250 ok\r\nqueued";
  return json::array({{{"seq", 41}, {"record", rej}}, {{"seq", 42}, {"record", out}}});
}

TEST(CtlAudit, CsvRowsFollowRfc4180) {
  std::string csv = audit_csv_header() + format_audit_csv(sample_records());
  std::istringstream lines(csv);
  EXPECT_EQ(audit_csv_header(),
            "seq,time,event,queue_id,message_id,sender,recipients,classification,policy,outcome,auth,"
            "action,operator,detail\r\n");
  EXPECT_NE(csv.find("41,2026-11-01T00:00:00.000000Z,reject,,m9@agency.gov.example,"
                     "\"o'brien,\"\"the boss\"\"@agency.example\",bob@dest.example carol@dest.example,"
                     "OFFICIAL:Sensitive,SOS BES,,,,,\"rule=1(subject \"\"secret\"\", refused)\"\r\n"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",delivered,dane,,delivery,\"250 ok\r\nqueued\"\r\n"), std::string::npos) << csv;
}

TEST(CtlAudit, JsonLinesCarryTheSeqAndTablesNoControlCharacters) {
  auto recs = sample_records();
  std::string lines = format_audit_jsonl(recs);
  std::istringstream in(lines);
  std::string first, second;
  std::getline(in, first);
  std::getline(in, second);
  EXPECT_EQ(json::parse(first)["seq"], 41);
  EXPECT_EQ(json::parse(second)["recipient"]["reply"], "250 ok\r\nqueued");
  recs[1]["record"]["sender"] = "evil\x1b[2J@x";
  std::string table = format_audit_table(recs);
  EXPECT_EQ(table.find('\x1b'), std::string::npos);
  EXPECT_NE(table.find("evil?[2J@x"), std::string::npos);
  EXPECT_NE(table.find("delivered auth=dane"), std::string::npos) << table;
  EXPECT_EQ(audit_table_footer(1), "1 record\n");
}

TEST(CtlAudit, TheReportReadsAsFourSections) {
  json rep{{"from", "2026-11-01T00:00:00.000000Z"}, {"to", "2026-12-01T00:00:00.000000Z"}, {"records", 12},
           {"outcomes", 3}, {"unparsable", 0},
           {"counts", json::array({{{"classification", "PROTECTED"}, {"policy", "SOS"}, {"outcome", "delivered"},
                                    {"auth", "dane"}, {"count", 3}}})},
           {"unauthenticated", json::array()},
           {"unreadable_markings",
            json::array({{{"time", "t"}, {"event", "reject"}, {"queue_id", ""}, {"sender", "a@b"},
                          {"source", "X-Protective-Marking"}, {"text", "SEC=PRTECTED"}, {"error", "unknown SEC"}}})},
           {"hold_releases", json::array()},
           {"more", {{"unauthenticated", 0}, {"unreadable_markings", 4}, {"hold_releases", 0}}}};
  std::string text = format_audit_report(rep);
  EXPECT_EQ(text.rfind("Audit report from 2026-11-01T00:00:00.000000Z to 2026-12-01T00:00:00.000000Z\n", 0), 0u);
  EXPECT_NE(text.find("records: 12, final outcomes: 3\n"), std::string::npos);
  EXPECT_NE(text.find("PROTECTED       SOS     delivered  dane  3"), std::string::npos) << text;
  EXPECT_NE(text.find("2. SOS or REQUIRETLS mail delivered without authenticated TLS (auth none)\n   none\n"),
            std::string::npos);
  EXPECT_NE(text.find("SEC=PRTECTED"), std::string::npos);
  EXPECT_NE(text.find("... and 4 more"), std::string::npos);
  EXPECT_NE(text.find("4. Operator releases of mail held by policy (HOLD)\n   none\n"), std::string::npos);
}

TEST(CtlAudit, VerifyTextAndExit) {
  json ok{{"ok", true}, {"records", 5}, {"checkpoints", 0}, {"key", false}, {"from", nullptr}, {"to", nullptr},
          {"first_seq", 1}, {"last_seq", 5}, {"first_time", "a"}, {"last_time", "b"}, {"head_seq", 5},
          {"last_checkpoint_seq", nullptr}, {"head_covered", false}, {"break", nullptr},
          {"note", "no key: checkpoints not checked"}};
  std::string text = format_audit_verify(ok);
  EXPECT_EQ(text,
            "verified: the chain is intact\n"
            "records checked: 5 (seq 1 to 5, a to b)\n"
            "checkpoints seen: 0\n"
            "head: record 5, not covered by a checkpoint (no checkpoint yet)\n"
            "note: no key: checkpoints not checked\n");
  EXPECT_EQ(audit_verify_exit(ok), 0);
}

}  // namespace
}  // namespace secmx::admin
