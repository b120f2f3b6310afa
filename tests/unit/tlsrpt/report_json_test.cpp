// report_json_test.cpp - the RFC 8460 §4 report: every report checked against §4.4's schema
// (report_schema.hpp), the RFC's own sample rebuilt from Tally rows, grouping and summing,
// the day's boundaries, and the gzip that carries it.
#include "relay/tlsrpt/gzip.hpp"
#include "relay/tlsrpt/report_json.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "tests/unit/tlsrpt/report_schema.hpp"

namespace secmx::tlsrpt {
namespace {

using nlohmann::json;

json load_sample() {
  std::ifstream in(std::string(SECMX_SOURCE_DIR) + "/tests/unit/tlsrpt/data/rfc8460_sample_report.json");
  EXPECT_TRUE(in.good());
  return json::parse(in);
}

std::string problems_text(const schema::Problems& p) {
  std::string s;
  for (const auto& x : p) s += x + "\n";
  return s;
}

PolicyKey company_y_sts() {
  PolicyKey k;
  k.type = PolicyType::Sts;
  k.domain = "company-y.example";
  k.strings = {"version: STSv1", "mode: testing", "mx: *.mail.company-y.example", "max_age: 86400"};
  k.mx_host = {"*.mail.company-y.example"};
  return k;
}

Tally row(const PolicyKey& key, std::uint64_t n, std::optional<FailureDetail> failure = {}) {
  Tally t;
  t.session.policy = key;
  t.session.failure = std::move(failure);
  t.count = n;
  return t;
}

FailureDetail failure(ResultType r) {
  FailureDetail f;
  f.result = r;
  return f;
}

// The RFC's three failures, as delivery would have counted them.
std::vector<Tally> sample_rows() {
  const PolicyKey k = company_y_sts();
  FailureDetail expired = failure(ResultType::CertificateExpired);
  expired.sending_mta_ip = "2001:db8:abcd:0012::1";
  expired.receiving_mx_hostname = "mx1.mail.company-y.example";
  FailureDetail no_starttls = failure(ResultType::StarttlsNotSupported);
  no_starttls.sending_mta_ip = "2001:db8:abcd:0013::1";
  no_starttls.receiving_mx_hostname = "mx2.mail.company-y.example";
  no_starttls.receiving_ip = "203.0.113.56";
  no_starttls.additional_information =
      "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported";
  FailureDetail invalid = failure(ResultType::ValidationFailure);
  invalid.sending_mta_ip = "198.51.100.62";
  invalid.receiving_ip = "203.0.113.58";
  invalid.failure_reason_code = "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED";
  // Split and interleaved, as rows come back from the store: equal keys must be summed.
  return {row(k, 5000), row(k, 60, expired), row(k, 200, no_starttls), row(k, 326),
          row(k, 3, invalid), row(k, 40, expired)};
}

ReportMeta sample_meta() {
  return ReportMeta{"Company-X", "sts-reporting@company-x.example", "company-x.example",
                    "5065427c-23d3-47ca-b6e0-946ea0e8c4be"};
}

TEST(ReportSchema, TheCheckerAcceptsTheRfcSample) {
  json sample = load_sample();
  EXPECT_TRUE(schema::check(sample).empty()) << problems_text(schema::check(sample));
}

TEST(ReportSchema, TheCheckerRefusesBrokenReports) {
  const json sample = load_sample();
  auto broken = [&](auto edit) {
    json j = sample;
    edit(j);
    return !schema::check(j).empty();
  };
  EXPECT_TRUE(broken([](json& j) { j.erase("report-id"); }));
  EXPECT_TRUE(broken([](json& j) { j.erase("policies"); }));
  EXPECT_TRUE(broken([](json& j) { j["organization-name"] = 7; }));
  EXPECT_TRUE(broken([](json& j) { j["contact-info"] = ""; }));
  EXPECT_TRUE(broken([](json& j) { j["extra"] = "x"; }));
  EXPECT_TRUE(broken([](json& j) { j["date-range"]["start-datetime"] = "2016-04-01 00:00:00"; }));
  EXPECT_TRUE(broken([](json& j) { j["date-range"]["end-datetime"] = "2016-02-30T23:59:59Z"; }));
  EXPECT_TRUE(broken([](json& j) { j["date-range"]["end-datetime"] = "2016-03-31T23:59:59Z"; }));
  EXPECT_TRUE(broken([](json& j) { j["policies"][0]["policy"]["policy-type"] = "dane"; }));
  EXPECT_TRUE(broken([](json& j) { j["policies"][0]["policy"].erase("policy-domain"); }));
  EXPECT_TRUE(broken([](json& j) { j["policies"][0]["policy"]["mx-host"] = json::array(); }));
  EXPECT_TRUE(broken([](json& j) { j["policies"][0]["policy"]["mx-host"] = "x"; }));
  EXPECT_TRUE(broken([](json& j) { j["policies"][0]["summary"]["total-failure-session-count"] = "303"; }));
  EXPECT_TRUE(broken([](json& j) { j["policies"][0]["summary"]["total-failure-session-count"] = 303.5; }));
  EXPECT_TRUE(broken([](json& j) { j["policies"][0]["summary"]["total-failure-session-count"] = -1; }));
  EXPECT_TRUE(broken([](json& j) { j["policies"][0]["summary"].erase("total-successful-session-count"); }));
  EXPECT_TRUE(broken([](json& j) { j["policies"][0]["summary"]["total-failure-session-count"] = 304; }));
  EXPECT_TRUE(broken([](json& j) { j["policies"][0]["failure-details"][0]["result-type"] = "expired"; }));
  EXPECT_TRUE(broken([](json& j) { j["policies"][0]["failure-details"][0]["sending-mta-ip"] = "mx1"; }));
  EXPECT_TRUE(broken([](json& j) { j["policies"][0]["failure-details"][0].erase("failed-session-count"); }));
  EXPECT_TRUE(broken([](json& j) {
    j["policies"][0]["policy"]["policy-type"] = "no-policy-found";
  }));
}

TEST(BuildReport, RebuildsTheRfcSampleFromTallyRows) {
  const json got = json::parse(build_report(sample_meta(), "2016-04-01", "company-y.example",
                                            sample_rows()));
  EXPECT_TRUE(schema::check(got).empty()) << problems_text(schema::check(got));
  EXPECT_EQ(got, load_sample()) << got.dump(2);
}

TEST(BuildReport, KeepsTheRfcMemberOrder) {
  std::string text = build_report(sample_meta(), "2016-04-01", "company-y.example", sample_rows());
  auto at = [&](const char* key) { return text.find(std::string("\"") + key + "\""); };
  EXPECT_LT(at("organization-name"), at("date-range"));
  EXPECT_LT(at("date-range"), at("contact-info"));
  EXPECT_LT(at("contact-info"), at("report-id"));
  EXPECT_LT(at("report-id"), at("policies"));
  EXPECT_LT(at("policy-type"), at("policy-string"));
  EXPECT_LT(at("policy-string"), at("policy-domain"));
  EXPECT_LT(at("summary"), at("failure-details"));
  EXPECT_EQ(text.find('\n'), std::string::npos);  // compact
}

TEST(BuildReport, SeveralPolicyKindsAllValidate) {
  PolicyKey tlsa;
  tlsa.type = PolicyType::Tlsa;
  tlsa.domain = "example.org";
  tlsa.strings = {"3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6"};
  tlsa.mx_host = {"mx.example.org"};
  PolicyKey none;
  none.type = PolicyType::NoPolicyFound;
  none.domain = "example.org";
  PolicyKey none_with_text = none;  // text on a no-policy-found key is never reported
  none_with_text.strings = {"ignored"};
  PolicyKey sts = company_y_sts();
  sts.domain = "example.org";

  FailureDetail tlsa_bad = failure(ResultType::TlsaInvalid);
  tlsa_bad.sending_mta_ip = "192.0.2.1";
  tlsa_bad.receiving_mx_hostname = "mx.example.org";
  tlsa_bad.receiving_mx_helo = "mx.example.org";
  tlsa_bad.receiving_ip = "198.51.100.9";
  FailureDetail fetch = failure(ResultType::StsPolicyFetchError);  // no host at all
  fetch.additional_information = "HTTPS fetch failed: connection refused";
  FailureDetail plain = failure(ResultType::StarttlsNotSupported);
  plain.receiving_mx_hostname = "mx2.example.org";

  const std::vector<std::vector<Tally>> reports = {
      {row(tlsa, 10), row(tlsa, 2, tlsa_bad)},
      {row(none, 7)},
      {row(none_with_text, 1), row(none, 3, plain)},
      {row(sts, 1, fetch)},
      {row(sts, 4), row(tlsa, 1, tlsa_bad), row(none, 2), row(sts, 2, fetch)},
      {},
  };
  for (std::size_t i = 0; i < reports.size(); ++i) {
    SCOPED_TRACE(i);
    ReportMeta meta{"Example Relay", "mailto:tlsrpt@sender.example", "sender.example",
                    report_id("2026-12-03", "example.org", "sender.example")};
    json j = json::parse(build_report(meta, "2026-12-03", "example.org", reports[i]));
    EXPECT_TRUE(schema::check(j).empty()) << problems_text(schema::check(j)) << j.dump(2);
    EXPECT_EQ(j["date-range"]["start-datetime"], "2026-12-03T00:00:00Z");
    EXPECT_EQ(j["date-range"]["end-datetime"], "2026-12-03T23:59:59Z");
    EXPECT_EQ(j["report-id"], "2026-12-03T00:00:00Z_example.org@sender.example");
  }

  json mixed = json::parse(build_report({"o", "c", "s", "r"}, "2026-12-03", "example.org", reports[4]));
  ASSERT_EQ(mixed["policies"].size(), 3u);  // first seen first: sts, tlsa, none
  EXPECT_EQ(mixed["policies"][0]["policy"]["policy-type"], "sts");
  EXPECT_EQ(mixed["policies"][0]["summary"]["total-successful-session-count"], 4);
  EXPECT_EQ(mixed["policies"][0]["summary"]["total-failure-session-count"], 2);
  EXPECT_EQ(mixed["policies"][0]["failure-details"],
            json::parse(R"([{"result-type":"sts-policy-fetch-error","failed-session-count":2,
                            "additional-information":"HTTPS fetch failed: connection refused"}])"));
  EXPECT_EQ(mixed["policies"][1]["policy"]["policy-type"], "tlsa");
  EXPECT_EQ(mixed["policies"][1]["policy"]["mx-host"], json::array({"mx.example.org"}));
  EXPECT_EQ(mixed["policies"][2]["policy"],
            json::parse(R"({"policy-type":"no-policy-found","policy-domain":"example.org"})"));
  EXPECT_FALSE(mixed["policies"][2].contains("failure-details"));

  json merged = json::parse(build_report({"o", "c", "s", "r"}, "2026-12-03", "example.org", reports[2]));
  ASSERT_EQ(merged["policies"].size(), 1u);  // the stray text did not make another policy
  EXPECT_EQ(merged["policies"][0]["summary"]["total-successful-session-count"], 1);
  EXPECT_EQ(merged["policies"][0]["summary"]["total-failure-session-count"], 3);

  json empty = json::parse(build_report({"o", "c", "s", "r"}, "2026-12-03", "example.org", reports[5]));
  EXPECT_EQ(empty["policies"], json::array());
}

TEST(BuildReport, GroupsFailuresByEqualDetailInOrderFirstSeen) {
  const PolicyKey k = company_y_sts();
  FailureDetail a = failure(ResultType::CertificateExpired);
  a.receiving_ip = "192.0.2.1";
  FailureDetail b = a;
  b.receiving_ip = "192.0.2.2";  // one field differs: another row
  FailureDetail c = a;
  c.result = ResultType::CertificateNotTrusted;
  json j = json::parse(build_report({"o", "c", "s", "r"}, "2016-04-01", "company-y.example",
                                    {row(k, 1, b), row(k, 2, a), row(k, 4, b), row(k, 8, c),
                                     row(k, 16, a)}));
  const json& d = j["policies"][0]["failure-details"];
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0]["receiving-ip"], "192.0.2.2");
  EXPECT_EQ(d[0]["failed-session-count"], 5);
  EXPECT_EQ(d[1]["receiving-ip"], "192.0.2.1");
  EXPECT_EQ(d[1]["failed-session-count"], 18);
  EXPECT_EQ(d[2]["result-type"], "certificate-not-trusted");
  EXPECT_EQ(j["policies"][0]["summary"]["total-failure-session-count"], 31);
  EXPECT_EQ(j["policies"][0]["summary"]["total-successful-session-count"], 0);
}

TEST(BuildReport, SkipsRowsOfAnotherDomain) {
  PolicyKey other = company_y_sts();
  other.domain = "elsewhere.example";
  std::vector<Tally> rows = sample_rows();
  rows.push_back(row(other, 99));
  PolicyKey upper = company_y_sts();
  upper.domain = "COMPANY-Y.example";  // the same policy, however the row spells it
  rows.push_back(row(upper, 1));
  json j = json::parse(build_report(sample_meta(), "2016-04-01", "Company-Y.Example", rows));
  ASSERT_EQ(j["policies"].size(), 1u);
  EXPECT_EQ(j["policies"][0]["policy"]["policy-domain"], "company-y.example");
  EXPECT_EQ(j["policies"][0]["summary"]["total-successful-session-count"], 5327);
}

TEST(BuildReport, CountsSaturateAndPeerTextBecomesUtf8) {
  PolicyKey k = company_y_sts();
  FailureDetail f = failure(ResultType::ValidationFailure);
  f.receiving_mx_helo = "mx\xff\xfe.example";  // an EHLO name is the peer's word
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  json j = json::parse(build_report({"o", "c", "s", "r"}, "2016-04-01", "company-y.example",
                                    {row(k, max), row(k, 5), row(k, max - 1, f), row(k, 2, f)}));
  EXPECT_TRUE(schema::check(j).empty()) << problems_text(schema::check(j));
  EXPECT_EQ(j["policies"][0]["summary"]["total-successful-session-count"].get<std::uint64_t>(), max);
  EXPECT_EQ(j["policies"][0]["summary"]["total-failure-session-count"].get<std::uint64_t>(), max);
  EXPECT_EQ(j["policies"][0]["failure-details"][0]["receiving-mx-helo"],
            "mx\xef\xbf\xbd\xef\xbf\xbd.example");
}

TEST(ReportId, NamesDayDomainAndSubmitter) {
  EXPECT_EQ(report_id("2026-12-03", "example.org", "relay.example"),
            "2026-12-03T00:00:00Z_example.org@relay.example");
  EXPECT_NE(report_id("2026-12-03", "example.org", "relay.example"),
            report_id("2026-12-04", "example.org", "relay.example"));
  EXPECT_NE(report_id("2026-12-03", "example.org", "relay.example"),
            report_id("2026-12-03", "example.net", "relay.example"));
}

// The day a session counts in, and the report's date-range that covers it.
TEST(Days, BoundariesOfTheUtcDay) {
  constexpr std::int64_t kDay = 86'400'000'000;
  auto leap = day_start_us("2024-02-29");
  ASSERT_TRUE(leap.has_value());
  EXPECT_EQ(*leap, 1'709'164'800'000'000);
  EXPECT_EQ(utc_day(*leap), "2024-02-29");
  EXPECT_EQ(utc_day(*leap - 1), "2024-02-28");         // 23:59:59.999999 the day before
  EXPECT_EQ(utc_day(*leap + kDay - 1), "2024-02-29");  // its own 23:59:59.999999
  EXPECT_EQ(utc_day(*leap + kDay), "2024-03-01");      // 00:00:00 next
  EXPECT_EQ(day_start_us("2024-03-01"), *leap + kDay);
  EXPECT_EQ(day_start_us("2016-04-01"), 1'459'468'800'000'000);
  EXPECT_EQ(day_start_us("1970-01-01"), 0);
  EXPECT_EQ(utc_day(0), "1970-01-01");
  EXPECT_EQ(utc_day(-1), "1969-12-31");  // before the epoch: floor, not truncation
  EXPECT_EQ(day_start_us("2000-02-29").value_or(-1) + kDay, day_start_us("2000-03-01"));
  EXPECT_EQ(day_start_us("2026-12-31").value_or(-1) + kDay, day_start_us("2027-01-01"));

  for (const char* bad : {"2023-02-29", "1900-02-29", "2024-02-30", "2024-13-01", "2024-00-10",
                          "2024-04-31", "2024-01-00", "2024-1-01", "2024-01-1", "24-01-01",
                          "2024/01/01", "2024-01-01T", "abcd-ef-gh", "", "2024-01-01 ",
                          "+024-01-01", "2024-0x-01"}) {
    EXPECT_FALSE(day_start_us(bad).has_value()) << bad;
  }

  json j = json::parse(build_report({"o", "c", "s", "r"}, "2024-02-29", "company-y.example",
                                    {row(company_y_sts(), 1)}));
  EXPECT_EQ(j["date-range"]["start-datetime"], "2024-02-29T00:00:00Z");
  EXPECT_EQ(j["date-range"]["end-datetime"], "2024-02-29T23:59:59Z");
  EXPECT_TRUE(schema::check(j).empty());
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

TEST(Gzip, RoundTrips) {
  const std::string report = build_report(sample_meta(), "2016-04-01", "company-y.example",
                                          sample_rows());
  for (const std::string& data : {std::string(), std::string("x"), report,
                                  std::string(3'000'000, 'a'), random_bytes(1'500'000, 7)}) {
    std::string z = gzip(data);
    ASSERT_GE(z.size(), 18u);
    // RFC 1952: ID1 ID2, CM = deflate; ISIZE the length mod 2^32, little-endian.
    EXPECT_EQ(static_cast<unsigned char>(z[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(z[1]), 0x8b);
    EXPECT_EQ(z[2], 8);
    std::uint32_t isize = 0;
    for (int i = 0; i < 4; ++i) {
      isize |= static_cast<std::uint32_t>(static_cast<unsigned char>(z[z.size() - 4 + i])) << (8 * i);
    }
    EXPECT_EQ(isize, static_cast<std::uint32_t>(data.size()));
    auto back = gunzip(z);
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(*back, data);
  }
  EXPECT_LT(gzip(std::string(3'000'000, 'a')).size(), 10'000u);
}

TEST(Gzip, GunzipRefusesAllButOneWholeMember) {
  const std::string data = "{\"report\":\"" + std::string(10'000, 'r') + "\"}";
  const std::string z = gzip(data);

  auto refused = [](const std::string& in, const char* why, std::size_t max = 64u << 20) {
    auto r = gunzip(in, max);
    if (r.ok()) return testing::AssertionFailure() << "accepted";
    if (r.error().find(why) == std::string::npos) return testing::AssertionFailure() << r.error();
    return testing::AssertionSuccess();
  };
  EXPECT_TRUE(refused("", "cut short"));
  EXPECT_TRUE(refused(z.substr(0, z.size() - 1), "cut short"));
  EXPECT_TRUE(refused(z.substr(0, 10), "cut short"));
  EXPECT_TRUE(refused(z + "x", "data after the gzip member"));
  EXPECT_TRUE(refused(z + z, "data after the gzip member"));
  EXPECT_TRUE(refused(data, "not valid gzip data"));
  // The same deflate data in a zlib wrapper instead of gzip's.
  EXPECT_TRUE(refused("\x78\x9c" + z.substr(10, z.size() - 18), "not valid gzip data"));
  std::string bad_crc = z;
  bad_crc[bad_crc.size() - 8] ^= 1;
  EXPECT_TRUE(refused(bad_crc, "not valid gzip data"));
  std::string bad_size = z;
  bad_size[bad_size.size() - 1] ^= 1;
  EXPECT_TRUE(refused(bad_size, "not valid gzip data"));

  // The bound: exactly max_out is fine, one octet less is not; a bomb stops early.
  EXPECT_TRUE(gunzip(z, data.size()).ok());
  EXPECT_TRUE(refused(z, "too large", data.size() - 1));
  EXPECT_TRUE(refused(gzip(std::string(50'000'000, '\0')), "too large", 1u << 20));
}

}  // namespace
}  // namespace secmx::tlsrpt
