// audit_query_test.cpp - the search filter: times, parameter parsing and its errors, what
// each filter matches in records of every event, and paging by seq (after, limit, a bounded
// scan, the time range found by binary search).
#include "relay/audit/audit_query.hpp"

#include <gtest/gtest.h>

#include "relay/audit/audit_scan.hpp"
#include "tests/unit/audit/audit_test_util.hpp"

namespace secmx::audit {
namespace {

using namespace secmx::audit::test;
using Params = std::multimap<std::string, std::string>;

TEST(AuditTime, DatesAndTimesAreUtc) {
  EXPECT_EQ(parse_time("2026-11-01"), kNov1);
  EXPECT_EQ(parse_time("2026-11-01T00:00:00Z"), kNov1);
  EXPECT_EQ(parse_time("2026-11-01T10:30"), kNov1 + 37'800'000'000);
  EXPECT_EQ(parse_time("2026-11-01 10:30:15.5Z"), kNov1 + 37'815'500'000);
  EXPECT_EQ(parse_time("2026-11-01T00:00:00.000001Z"), kNov1 + 1);
  EXPECT_EQ(parse_time("2024-02-29"), 1'709'164'800'000'000);
  EXPECT_EQ(parse_time("1970-01-01"), 0);
  for (const char* bad : {"", "2026-11", "2026-13-01", "2026-02-29", "2026-11-31", "26-11-01",
                          "2026-11-01T", "2026-11-01T24:00", "2026-11-01T10:60", "2026-11-01T10:00:00+02:00",
                          "2026-11-01T10:00:00.", "2026-11-01T10:00:00.1234567", "yesterday", "1969-12-31"}) {
    EXPECT_FALSE(parse_time(bad)) << bad;
  }
}

TEST(AuditFilter, ParametersAreParsedToTheirCanonicalSpelling) {
  auto f = parse_filter(Params{{"from", "2026-11-01"}, {"to", "2026-12-01"}, {"policy", "sos"},
                               {"auth", "MTA-STS"}, {"outcome", "Delivered"}, {"event", "OUTCOME"},
                               {"message_id", "<m1@x>"}, {"sender", "<>"}, {"after", "7"}, {"limit", "2"},
                               {"domain", ""}},
                        {"after", "limit"})
               .value();
  EXPECT_EQ(f.from_us, kNov1);
  EXPECT_EQ(f.to_us, kNov1 + 30 * kDay);
  EXPECT_EQ(f.policy, "SOS");
  EXPECT_EQ(f.auth, "mta-sts");
  EXPECT_EQ(f.outcome, "delivered");
  EXPECT_EQ(f.event, "outcome");
  EXPECT_EQ(f.message_id, "m1@x");
  EXPECT_TRUE(f.null_sender);
  EXPECT_TRUE(f.domain.empty()) << "an empty parameter filters nothing";
}

TEST(AuditFilter, ErrorsNameTheParameterAndWhatWasExpected) {
  auto err = [](Params p) {
    auto f = parse_filter(p, {"after", "limit"});
    EXPECT_FALSE(f.ok());
    return f.ok() ? std::string() : f.error();
  };
  EXPECT_EQ(err({{"policy", "FAST"}}), "policy: expected BES, SOS, HOLD or REJECT, got 'FAST'");
  EXPECT_EQ(err({{"auth", "tls"}}), "auth: expected dane, mta-sts, pkix or none, got 'tls'");
  EXPECT_EQ(err({{"outcome", "sent"}}), "outcome: expected delivered, failed, bounced or deleted, got 'sent'");
  EXPECT_EQ(err({{"event", "x"}}),
            "event: expected accept, reject, outcome, dsn, operator or reload, got 'x'");
  EXPECT_EQ(err({{"from", "last week"}}),
            "from: expected a UTC date or time (2026-11-01 or 2026-11-01T10:00:00Z), got 'last week'");
  EXPECT_EQ(err({{"from", "2026-12-01"}, {"to", "2026-11-01"}}), "from: must be before to");
  EXPECT_EQ(err({{"from", "2026-12-01"}, {"to", "2026-12-01"}}), "from: must be before to");
  EXPECT_EQ(err({{"policy", "SOS"}, {"policy", "BES"}}), "policy: given more than once");
  EXPECT_EQ(err({{"recipient", "bob"}}), "recipient: expected an address, got 'bob'");
  EXPECT_EQ(err({{"domain", "a@b"}}), "domain: expected a domain, got 'a@b'");
  EXPECT_NE(err({{"colour", "red"}}).find("unknown parameter 'colour'"), std::string::npos);
  EXPECT_NE(err({{"sender", std::string(2000, 'a')}}).find("sender: longer than"), std::string::npos);
}

RecordFields fields_of(const json& j) {
  RecordFields f;
  EXPECT_TRUE(extract_fields(to_record(j, 1).payload, f));
  return f;
}

bool match(const Params& p, const json& record) {
  return parse_filter(p).value().matches(fields_of(record));
}

TEST(AuditFilter, EachFilterMatchesSomeValueOfTheRecord) {
  auto env = envelope(1, "OFFICIAL:Sensitive", true);
  auto bob = recipient("Bob@Dest.example", model::Policy::SOS, model::TlsLevel::Verify);
  auto carol = recipient("carol@other.example", model::Policy::BES);
  json acc = accept(kNov1, env, {bob, carol});
  json out = outcome(kNov1, env, bob, "delivered", "TLSv1.3/TLS_AES_256_GCM_SHA384/dane");
  json rel = release(kNov1, env, "alice", true, {"carol@other.example"});
  json reload = frame(Event::Reload, kNov1);
  reload["operator"] = "alice";

  EXPECT_TRUE(match({{"sender", "alice@agency.gov.example"}}, acc)) << "any case";
  EXPECT_FALSE(match({{"sender", "alice@agency"}}, acc)) << "exact, not a prefix";
  EXPECT_FALSE(match({{"sender", "<>"}}, acc));
  EXPECT_TRUE(match({{"recipient", "bob@dest.example"}}, acc));
  EXPECT_TRUE(match({{"recipient", "carol@other.example"}}, acc));
  EXPECT_FALSE(match({{"recipient", "carol@other.example"}}, out)) << "the outcome is bob's";
  EXPECT_TRUE(match({{"domain", "DEST.example"}}, out));
  EXPECT_TRUE(match({{"domain", "other.example"}}, rel));
  EXPECT_FALSE(match({{"domain", "example"}}, acc)) << "the whole domain";
  EXPECT_TRUE(match({{"classification", "official:sensitive"}}, out));
  EXPECT_FALSE(match({{"classification", "PROTECTED"}}, out));
  EXPECT_TRUE(match({{"policy", "BES"}}, acc)) << "carol's";
  EXPECT_FALSE(match({{"policy", "BES"}}, out)) << "bob's only";
  EXPECT_TRUE(match({{"policy", "HOLD"}}, rel));
  EXPECT_TRUE(match({{"auth", "dane"}}, out));
  EXPECT_FALSE(match({{"auth", "pkix"}}, out));
  EXPECT_FALSE(match({{"auth", "none"}}, acc)) << "auth is an outcome's";
  EXPECT_TRUE(match({{"outcome", "delivered"}}, out));
  EXPECT_FALSE(match({{"outcome", "failed"}}, out));
  EXPECT_FALSE(match({{"outcome", "delivered"}}, acc));
  EXPECT_TRUE(match({{"message_id", "m1@agency.gov.example"}}, acc));
  EXPECT_TRUE(match({{"message_id", "<m1@agency.gov.example>"}}, rel));
  EXPECT_FALSE(match({{"message_id", "M1@agency.gov.example"}}, acc)) << "exact";
  EXPECT_TRUE(match({{"event", "operator"}}, rel));
  EXPECT_FALSE(match({{"event", "operator"}}, reload));
  EXPECT_TRUE(match({{"event", "reload"}}, reload));
  EXPECT_FALSE(match({{"policy", "BES"}}, reload)) << "no recipient: no policy to match";
  EXPECT_TRUE(match({}, reload)) << "no filter matches everything";
  // Every given filter must match.
  EXPECT_TRUE(match({{"domain", "dest.example"}, {"auth", "dane"}, {"outcome", "delivered"}}, out));
  EXPECT_FALSE(match({{"domain", "dest.example"}, {"auth", "dane"}, {"outcome", "failed"}}, out));
}

TEST(AuditFilter, ADsnsRecipientsAreAddressesAndItsSenderCanBeNull) {
  auto env = envelope(2, "none");
  env.sender = "";
  auto dsn = message_frame(Event::Dsn, kNov1, env);
  dsn["dsn_id"] = "0000000000000009";
  dsn["kind"] = "failure";
  dsn["recipients"] = {"x@dest.example", "y@dest.example"};
  dsn["to"] = "postmaster@agency";
  EXPECT_TRUE(match({{"recipient", "y@dest.example"}}, dsn));
  EXPECT_TRUE(match({{"sender", "<>"}}, dsn));
  EXPECT_TRUE(match({{"classification", "none"}}, dsn));
}

TEST(AuditFilter, EscapesInValuesAreDecodedAndKeysOutsideTheSchemaSkipped) {
  RecordFields f;
  ASSERT_TRUE(extract_fields(
      R"( { "n" : -1.5e3, "x" : [true, false, null, {"a": []}], "event" : "accept",)"
      R"( "sender": "a\"b\\c\u00e9\ud83d\ude00@x", "requiretls": true, "held_by_policy": false,)"
      R"( "recipients": [{"address": "r@d\/e", "policy": "SOS", "tls": 3}, "plain@x"],)"
      R"( "markings": [{"source": "Subject", "error": "bad\ttab", "level": null}], "k\u0065y": 1 } )",
      f));
  EXPECT_EQ(f.event, "accept");
  EXPECT_EQ(f.sender, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80@x");
  EXPECT_TRUE(f.requiretls);
  ASSERT_EQ(f.recipients.size(), 2u);
  EXPECT_EQ(f.recipients[0].address, "r@d/e");
  EXPECT_EQ(f.recipients[0].policy, "SOS");
  EXPECT_EQ(f.recipients[0].tls, "") << "not a string: no value";
  EXPECT_EQ(f.recipients[1].address, "plain@x");
  ASSERT_EQ(f.markings.size(), 1u);
  EXPECT_EQ(f.markings[0].error, "bad\ttab");
  EXPECT_EQ(f.markings[0].level, "");
  // Reuse clears what the last record had.
  ASSERT_TRUE(extract_fields(R"({"event":"reload"})", f));
  EXPECT_TRUE(f.sender.empty());
  EXPECT_TRUE(f.recipients.empty());
  EXPECT_FALSE(f.requiretls);
  for (const char* bad : {R"({"a":"\x"})", R"({"a":"\ud800"})", R"({"a":"\udc00x"})", "{\"a\":\"tab\there\"}",
                          R"({"a":1,})", R"({"a" 1})", R"({"a":tru})", R"({"a":1} x)", R"({"a":"open)", "{}{}"}) {
    EXPECT_FALSE(extract_fields(bad, f)) << bad;
  }
  std::string deep(100, '[');
  EXPECT_FALSE(extract_fields("{\"a\":" + deep, f)) << "bounded depth";
}

// A key given twice is read as its last value, as a JSON parser reads it (the fuzz target
// checks the scanner against nlohmann): a later non-string value leaves the field empty.
TEST(AuditFilter, AKeyGivenTwiceReadsAsItsLastValue) {
  RecordFields f;
  ASSERT_TRUE(extract_fields(
      R"({"event":"accept","queue_id":"0000018C2A6B3F40","sender":"a@x","queue_id":0,)"
      R"("sender":"b@x","requiretls":true,"requiretls":1})",
      f));
  EXPECT_EQ(f.queue_id, "");
  EXPECT_EQ(f.sender, "b@x");
  EXPECT_FALSE(f.requiretls);
}

TEST(AuditFilter, NotJsonIsNoRecord) {
  RecordFields f;
  EXPECT_FALSE(extract_fields("not json", f));
  EXPECT_FALSE(extract_fields("[1,2]", f));
  EXPECT_FALSE(extract_fields("{\"event\":\"accept\"", f));
  EXPECT_TRUE(extract_fields("{\"event\":\"accept\",\"deep\":{\"a\":[[{\"event\":\"x\"}]]}}", f));
  EXPECT_EQ(f.event, "accept") << "a nested key of the same name is not the record's";
}

// Records of three days, 10 a day: even ones outcomes to dest.example, odd ones accepts.
void fill(queue::Store& store) {
  for (int d = 0; d < 3; ++d) {
    std::vector<std::pair<std::int64_t, json>> day;
    for (int i = 0; i < 10; ++i) {
      std::int64_t t = kNov1 + d * kDay + i * 60'000'000;
      auto env = envelope(d * 10 + i, "PROTECTED");
      auto r = recipient("r" + std::to_string(i) + "@dest.example", model::Policy::SOS);
      day.emplace_back(t, i % 2 == 0 ? outcome(t, env, r, "delivered", "TLSv1.3/X/pkix") : accept(t, env, {r}));
    }
    append(store, day);
  }
}

std::vector<std::uint64_t> seqs(const QueryPage& p) {
  std::vector<std::uint64_t> out;
  for (const auto& [s, _] : p.records) out.push_back(s);
  return out;
}

TEST(AuditPaging, PagesFollowSeqWithNextUntilTheEnd) {
  TempDir dir;
  auto store = open_store(dir);
  fill(*store);
  auto f = parse_filter(Params{{"event", "outcome"}}).value();
  auto p1 = query_page(*store, f, 0, 6).value();
  EXPECT_EQ(seqs(p1), (std::vector<std::uint64_t>{1, 3, 5, 7, 9, 11}));
  ASSERT_TRUE(p1.next);
  EXPECT_EQ(*p1.next, 11u) << "the last record looked at";
  auto p2 = query_page(*store, f, *p1.next, 6).value();
  EXPECT_EQ(seqs(p2), (std::vector<std::uint64_t>{13, 15, 17, 19, 21, 23}));
  auto p3 = query_page(*store, f, *p2.next, 6).value();
  EXPECT_EQ(seqs(p3), (std::vector<std::uint64_t>{25, 27, 29}));
  EXPECT_FALSE(p3.next) << "the end";
  auto json_back = nlohmann::json::parse(p3.records[0].second);
  EXPECT_EQ(json_back["event"], "outcome");
  EXPECT_EQ(json_back["queue_id"], model::QueueId{24}.to_string());
}

TEST(AuditPaging, AFullLastPageHasNoNext) {
  TempDir dir;
  auto store = open_store(dir);
  fill(*store);
  auto p = query_page(*store, Filter{}, 20, 10).value();
  EXPECT_EQ(p.records.size(), 10u);
  EXPECT_FALSE(p.next);
}

TEST(AuditPaging, TheTimeRangeIsFoundAndEnds) {
  TempDir dir;
  auto store = open_store(dir);
  fill(*store);
  auto f = parse_filter(Params{{"from", "2026-11-02"}, {"to", "2026-11-02T00:05"}}).value();
  auto p = query_page(*store, f, 0, 100).value();
  EXPECT_EQ(seqs(p), (std::vector<std::uint64_t>{11, 12, 13, 14, 15}));
  EXPECT_FALSE(p.next) << "the range ended";
  // `after` beyond the range's start wins.
  EXPECT_EQ(seqs(query_page(*store, f, 13, 100).value()), (std::vector<std::uint64_t>{14, 15}));
  auto later = parse_filter(Params{{"from", "2026-12-01"}}).value();
  EXPECT_TRUE(query_page(*store, later, 0, 100).value().records.empty());
  auto first = parse_filter(Params{{"to", "2026-11-01T00:01:30"}}).value();
  EXPECT_EQ(seqs(query_page(*store, first, 0, 100).value()), (std::vector<std::uint64_t>{1, 2}));
}

TEST(AuditPaging, AScanIsBoundedAndCarriesOnFromWhereItStopped) {
  TempDir dir;
  auto store = open_store(dir);
  fill(*store);
  auto f = parse_filter(Params{{"recipient", "r9@dest.example"}}).value();
  auto p = query_page(*store, f, 0, 100, 8).value();
  EXPECT_TRUE(p.records.empty());
  EXPECT_EQ(p.scanned, 8u);
  ASSERT_TRUE(p.next);
  EXPECT_EQ(*p.next, 8u);
  auto q = query_page(*store, f, *p.next, 100, 8).value();
  EXPECT_EQ(seqs(q), (std::vector<std::uint64_t>{10}));
  EXPECT_EQ(*q.next, 16u);
}

TEST(AuditScan, TheFirstSeqAtATimeIsFoundByBinarySearch) {
  TempDir dir;
  auto store = open_store(dir);
  EXPECT_FALSE(first_seq_at(*store, 0).value()) << "empty";
  EXPECT_FALSE(stored_range(*store).value());
  fill(*store);
  EXPECT_EQ(first_seq_at(*store, 0).value(), 1u);
  EXPECT_EQ(first_seq_at(*store, kNov1).value(), 1u);
  EXPECT_EQ(first_seq_at(*store, kNov1 + 1).value(), 2u);
  EXPECT_EQ(first_seq_at(*store, kNov1 + kDay).value(), 11u);
  EXPECT_EQ(first_seq_at(*store, kNov1 + 2 * kDay + 9 * 60'000'000).value(), 30u);
  EXPECT_FALSE(first_seq_at(*store, kNov1 + 3 * kDay).value());
  auto range = stored_range(*store).value();
  ASSERT_TRUE(range);
  EXPECT_EQ(range->first, 1u);
  EXPECT_EQ(range->last, 30u);
}

}  // namespace
}  // namespace secmx::audit
