// ctl_test.cpp - secmxctl's address/token resolution, error mapping and table output.
#include <gtest/gtest.h>

#include <fstream>

#include "admin/ctl_client.hpp"
#include "admin/ctl_format.hpp"
#include "queue/envelope_json.hpp"
#include "tests/unit/admin/admin_test_util.hpp"

namespace secmx::admin {
namespace {

using nlohmann::json;

TEST(CtlClient, ParseUrl) {
  auto u = parse_url("http://127.0.0.1:8025");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->first, "127.0.0.1");
  EXPECT_EQ(u->second, 8025);
  u = parse_url("[::1]:9000/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->first, "::1");
  EXPECT_EQ(u->second, 9000);
  u = parse_url("localhost");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->second, 8025);
  EXPECT_FALSE(parse_url("https://127.0.0.1:8025"));
  EXPECT_FALSE(parse_url("127.0.0.1:99999"));
  EXPECT_FALSE(parse_url("::1"));
  EXPECT_FALSE(parse_url(""));
}

TEST(CtlClient, TargetFromConfigAndFlags) {
  test::TempDir dir;
  std::ofstream(dir.sub("token")) << "tok-1\n";
  std::ofstream(dir.sub("other")) << "tok-2\n";
  std::ofstream(dir.sub("relay.toml")) << "[admin]\nlisten = \"127.0.0.1:9911\"\ntoken_file = \""
                                        << dir.sub("token") << "\"\n";
  auto t = resolve_target(dir.sub("relay.toml"), true, "", "");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->port, 9911);
  EXPECT_EQ(t->token, "tok-1");

  t = resolve_target(dir.sub("relay.toml"), true, "http://127.0.0.1:1234", dir.sub("other"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->port, 1234);
  EXPECT_EQ(t->token, "tok-2");

  // No config needed when both flags are given.
  t = resolve_target(dir.sub("absent.toml"), false, "127.0.0.1:1", dir.sub("other"));
  EXPECT_TRUE(t.ok());

  t = resolve_target(dir.sub("absent.toml"), false, "", "");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().exit_code, kExitUsage);
  t = resolve_target(dir.sub("relay.toml"), true, "", dir.sub("missing-token"));
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("missing-token"), std::string::npos);
}

TEST(CtlClient, NothingListeningIsNotRunning) {
  // Port 1 on loopback: nothing listens there in a test environment.
  CtlTarget t{"127.0.0.1", 1, "x"};
  auto r = call(t, "GET", "/api/v1/stats");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().exit_code, kExitNotRunning);
  EXPECT_EQ(r.error().message, "secmx-relay is not running (no answer on 127.0.0.1:1)");
}

TEST(CtlFormat, TableAlignsColumns) {
  auto t = format_table({"A", "LONGER"}, {{"xyz", "1"}, {"q", "22"}});
  EXPECT_EQ(t, "A    LONGER\nxyz  1\nq    22\n");
}

TEST(CtlFormat, QueueListAndMessage) {
  json m{{"id", "0123456789ABCDEF"}, {"age_seconds", 4000}, {"state", "held"}, {"policy", "SOS"},
         {"size", 10}, {"sender", "a@b.example"}, {"recipients", 2}, {"pending", 1},
         {"domains", {"c.example"}}, {"last_status", "4.4.1"}, {"last_reply", "connection refused"}};
  auto text = format_queue_list(json::array({m}));
  EXPECT_NE(text.find("0123456789ABCDEF  66m"), std::string::npos) << text;
  EXPECT_NE(text.find("held"), std::string::npos);
  EXPECT_NE(text.find("1/2"), std::string::npos);
  EXPECT_NE(text.find("4.4.1 connection refused"), std::string::npos);
  EXPECT_NE(text.find("1 message\n"), std::string::npos);

  m["recipients"] = json::array({json{{"address", "r@c.example"}, {"state", "pending"}, {"policy", "SOS"},
                                      {"tls", "encrypt"}, {"rule", "requiretls"}, {"attempts", 3}}});
  m["sender"] = "";
  auto show = format_message(m);
  EXPECT_NE(show.find("sender:          <>\n"), std::string::npos) << show;
  EXPECT_NE(show.find("r@c.example"), std::string::npos);
  EXPECT_NE(show.find("requiretls"), std::string::npos);
  EXPECT_EQ(show.find("cert="), std::string::npos) << "no attempt, no evidence: " << show;

  // A recipient's last attempt: its reply, host and the evidence, on the recipient's row.
  m["recipients"][0]["last_status"] = "4.7.5";
  m["recipients"][0]["last_reply"] = "certificate does not match TLSA";
  m["recipients"][0]["remote_mta"] = "mx.c.example[192.0.2.1]:25";
  m["recipients"][0]["last_tls"] = "TLSv1.3/TLS_AES_256_GCM_SHA384/none";
  m["recipients"][0]["last_cert_sha256"] = std::string(64, 'e');
  m["recipients"][0]["last_dnssec"] = "secure";
  show = format_message(m);
  EXPECT_NE(show.find("4.7.5 certificate does not match TLSA (mx.c.example[192.0.2.1]:25) "
                      "tls=TLSv1.3/TLS_AES_256_GCM_SHA384/none cert=sha256:" +
                      std::string(64, 'e') + " dnssec=secure"),
            std::string::npos)
      << show;
}

// `queue show` lists each tried recipient's attempts from the model's one JSON shape, one
// line each in order: time, host[address], method, TLS, DNSSEC, status, reply; then how
// many older ones were dropped. A recipient never tried has no attempts block.
TEST(CtlFormat, MessageShowsEachRecipientsAttempts) {
  model::Envelope env;
  env.sender = "a@b.example";
  env.message_id = "1@b.example";
  env.classification = "PROTECTED";
  model::Recipient tried;
  tried.address = "r@c.example";
  tried.attempts = 3;
  tried.history_dropped = 1;
  tried.history.push_back({1'764'824'400'000'000, "mx.c.example", "192.0.2.7:25", "mx", "none",
                           "", "insecure", "4.2.0", "451 4.2.0 busy"});
  tried.history.push_back({1'764'824'460'000'000, "mx6.c.example", "[2001:db8::7]:25", "srv",
                           "TLSv1.3/TLS_AES_256_GCM_SHA384/pkix", std::string(64, 'e'), "secure",
                           "2.0.0", "250 2.0.0 queued"});
  model::Recipient untried;
  untried.address = "s@c.example";
  env.recipients = {tried, untried};
  auto show = format_message(queue::envelope_json(env));
  EXPECT_NE(show.find("message-id:      <1@b.example>\n"), std::string::npos) << show;
  EXPECT_NE(show.find("classification:  PROTECTED\n"), std::string::npos) << show;
  auto block = show.find("attempts of <r@c.example>:\n");
  ASSERT_NE(block, std::string::npos) << show;
  auto first = show.find("2025-12-04T05:00:00.000000Z  mx.c.example[192.0.2.7:25]", block);
  auto second = show.find("2025-12-04T05:01:00.000000Z  mx6.c.example[[2001:db8::7]:25]", block);
  ASSERT_NE(first, std::string::npos) << show;
  ASSERT_NE(second, std::string::npos) << show;
  EXPECT_LT(first, second);
  auto line1 = show.substr(first, show.find('\n', first) - first);
  auto line2 = show.substr(second, show.find('\n', second) - second);
  for (const char* part : {" mx ", " none ", " insecure ", " 4.2.0 ", "451 4.2.0 busy"}) {
    EXPECT_NE(line1.find(part), std::string::npos) << part << " in " << line1;
  }
  for (const char* part : {" srv ", "TLSv1.3/TLS_AES_256_GCM_SHA384/pkix", " secure ", " 2.0.0 ",
                           "250 2.0.0 queued"}) {
    EXPECT_NE(line2.find(part), std::string::npos) << part << " in " << line2;
  }
  EXPECT_NE(show.find("(1 older attempt not kept)\n", second), std::string::npos) << show;
  EXPECT_EQ(show.find("attempts of <s@c.example>"), std::string::npos) << show;

  env.recipients[0].history_dropped = 7;
  show = format_message(queue::envelope_json(env));
  EXPECT_NE(show.find("(7 older attempts not kept)\n"), std::string::npos) << show;
}

TEST(CtlFormat, Route) {
  json r{{"domain", "d.test"}, {"status", "ok"},
         {"hosts", json::array({json{{"method", "srv"}, {"host", "sor.d.test"}, {"port", 2525},
                                     {"address", "127.0.0.10"}, {"answered", true}, {"starttls", true},
                                     {"status", "ok"},
                                     {"tls", {{"completed", true}, {"protocol", "TLSv1.3"}, {"verified", false},
                                              {"verify_error", "self-signed certificate"}}}},
                                json{{"method", "mx"}, {"host", "mx.d.test"}, {"port", 25},
                                     {"address", "127.0.0.11"}, {"answered", true}, {"starttls", false},
                                     {"status", "ok"},
                                     {"tls", {{"completed", false}, {"verified", false}}}}})}};
  auto text = format_route(r);
  EXPECT_NE(text.find("TLSv1.3"), std::string::npos) << text;
  EXPECT_NE(text.find("no self-signed certificate"), std::string::npos);
  EXPECT_NE(text.find("mx.d.test"), std::string::npos);
}

TEST(CtlFormat, RouteWithDnssecShowsEachHostsTlsa) {
  auto host = [](const char* name, const char* dnssec, json tlsa) {
    return json{{"method", "mx"}, {"host", name}, {"port", 25}, {"address", "127.0.0.1"},
                {"dnssec", dnssec}, {"tlsa", tlsa}, {"status", "connect failed"}};
  };
  json usable{{"status", "usable"}, {"base", "mx.d.test"}, {"detail", ""},
              {"records", json::array({"3 1 1 0aff", "2 0 1 abcd"})}};
  json failed{{"status", "failed"}, {"base", "bad.d.test"}, {"detail", "TLSA _25._tcp.bad.d.test: SERVFAIL"},
              {"records", json::array()}};
  json none{{"status", "not-asked"}, {"base", "plain.d.test"}, {"detail", ""}, {"records", json::array()}};
  json r{{"domain", "d.test"}, {"status", "ok"}, {"dnssec", true},
         {"candidates", json::array({json{{"host", "mx.d.test"}, {"port", 25}, {"tlsa", usable}}})},
         {"hosts", json::array({host("mx.d.test", "secure", usable), host("bad.d.test", "secure", failed),
                                host("plain.d.test", "insecure", none)})}};
  auto text = format_route(r);
  EXPECT_NE(text.find("dnssec:          on\n"), std::string::npos) << text;
  EXPECT_NE(text.find("DNSSEC"), std::string::npos) << text;
  EXPECT_NE(text.find("usable (2 records)"), std::string::npos) << text;
  EXPECT_NE(text.find("failed: TLSA _25._tcp.bad.d.test: SERVFAIL"), std::string::npos) << text;
  EXPECT_NE(text.find("insecure"), std::string::npos) << text;
  EXPECT_NE(text.find("_25._tcp.mx.d.test TLSA 3 1 1 0aff"), std::string::npos) << text;

  r.erase("dnssec");
  text = format_route(r);
  EXPECT_NE(text.find("dnssec:          off\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("DNSSEC"), std::string::npos) << "no columns without DNSSEC: " << text;
}

TEST(CtlFormat, QueueListCutsNothing) {
  std::string sender = "a-very-long-local-part-of-an-address@department.agency.example.gov.au";
  json m{{"id", "0123456789ABCDEF"}, {"age_seconds", 4}, {"state", "deferred"}, {"policy", "BES"},
         {"size", 10}, {"sender", sender}, {"recipients", 1}, {"pending", 1},
         {"domains", {"first-long-recipient-domain.example.org", "second.example.net"}},
         {"last_status", "4.4.1"}, {"last_reply", std::string(80, 'r')}};
  auto text = format_queue_list(json::array({m}));
  EXPECT_NE(text.find(sender), std::string::npos) << text;
  EXPECT_NE(text.find("first-long-recipient-domain.example.org,second.example.net"), std::string::npos) << text;
  EXPECT_NE(text.find(std::string(80, 'r')), std::string::npos) << text;
  EXPECT_EQ(text.find("..."), std::string::npos) << text;
}

TEST(CtlFormat, RouteEndsWithAVerdictPerPolicyAndShowsTheTraceWhenVerbose) {
  json r{{"domain", "d.test"}, {"status", "ok"}, {"trace", {"MX d.test: mx.d.test", "A mx.d.test: 192.0.2.1"}},
         {"hosts", json::array()},
         {"verdicts", json::array({json{{"policy", "BES"}, {"action", "deliver"},
                                        {"host", "mx.d.test[192.0.2.1]:25"}, {"status", ""},
                                        {"detail", "no STARTTLS: plaintext"}},
                                   json{{"policy", "SOS encrypt"}, {"action", "bounce"}, {"host", ""},
                                        {"status", "5.7.10"}, {"detail", "no secure (TLS) receiver: x"}},
                                   json{{"policy", "SOS verify"}, {"action", "unknown"}, {"host", ""},
                                        {"status", ""}, {"detail", "discovery did not finish"}}})}};
  auto text = format_route(r);
  EXPECT_NE(text.find("BES: would deliver to mx.d.test[192.0.2.1]:25 (no STARTTLS: plaintext)\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("SOS encrypt: would bounce 5.7.10: no secure (TLS) receiver: x\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("SOS verify: cannot tell: discovery did not finish\n"), std::string::npos) << text;
  // The verdicts come last, where the eye ends.
  EXPECT_EQ(text.substr(text.size() - std::string("discovery did not finish\n").size()),
            "discovery did not finish\n");
  EXPECT_EQ(text.find("MX d.test: mx.d.test"), std::string::npos) << "trace only with -v";
  text = format_route(r, true);
  EXPECT_NE(text.find("Discovery trace:\n  MX d.test: mx.d.test\n  A mx.d.test: 192.0.2.1\n"),
            std::string::npos) << text;
}

TEST(CtlFormat, RouteExitCodeFollowsDiscovery) {
  EXPECT_EQ(route_exit_code(json{{"status", "ok"}}), 0);
  EXPECT_EQ(route_exit_code(json{{"status", "permanent"}}), kRouteExitPermanent);
  EXPECT_EQ(route_exit_code(json{{"status", "temporary"}}), kRouteExitTemporary);
  EXPECT_NE(kRouteExitPermanent, kRouteExitTemporary);
}

TEST(CtlFormat, PolicyTestShowsTheClassification) {
  json a{{"policy", "SOS"},
         {"decisions", json::array({json{{"recipient", "r@c.example"}, {"policy", "SOS"}, {"tls", "verify"},
                                         {"rule", "rule=2(classification=PROTECTED)"}, {"rule_line", 40}}})},
         {"classification", {{"level", "PROTECTED"}, {"unknown", false}, {"unknown_why", ""},
                             {"markings", json::array({json{{"source", "X-Protective-Marking"},
                                                            {"text", "VER=2018.1, NS=gov.au, SEC=PROTECTED"},
                                                            {"level", "PROTECTED"}, {"error", ""}}})}}},
         {"marking_invalid", ""}, {"subject", "hello"}};
  auto text = format_policy_test(a);
  EXPECT_NE(text.find("classification:  PROTECTED\n"), std::string::npos) << text;
  EXPECT_NE(text.find("marking:         X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=PROTECTED -> PROTECTED\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("rule=2(classification=PROTECTED) line 40"), std::string::npos) << text;

  a["classification"] = {{"level", nullptr}, {"unknown", true}, {"unknown_why", "SEC before NS"},
                         {"markings", json::array({json{{"source", "X-Protective-Marking"},
                                                        {"text", "SEC=PROTECTED, VER=2018.1"},
                                                        {"level", nullptr}, {"error", "SEC before NS"}}})}};
  a["marking_invalid"] = "SEC before NS";
  text = format_policy_test(a);
  EXPECT_NE(text.find("classification:  unknown (SEC before NS)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("-> invalid: SEC before NS\n"), std::string::npos) << text;
  EXPECT_NE(text.find("invalid marking: SEC before NS\n"), std::string::npos) << text;

  a.erase("classification");
  EXPECT_EQ(format_policy_test(a).find("classification:"), std::string::npos);
}

TEST(CtlFormat, Reload) {
  json ok{{"applied", true}, {"file", "/etc/r.toml"}, {"summary", "rules=3 routes=1"},
          {"warnings", {"/etc/r.toml: warning: smtp.listen changed; it takes effect at the next restart"}}};
  EXPECT_EQ(format_reload(ok), "/etc/r.toml: warning: smtp.listen changed; it takes effect at the next restart\n"
                               "reloaded /etc/r.toml: rules=3 routes=1\n");
  json refused{{"error", "/etc/r.toml has errors; the running configuration stays in force"},
               {"code", "reload_refused"},
               {"errors", {"/etc/r.toml:12: policy.default: expected BES, SOS or HOLD"}}};
  EXPECT_EQ(format_reload_refused(refused),
            "/etc/r.toml:12: policy.default: expected BES, SOS or HOLD\n"
            "secmxctl: reload refused: /etc/r.toml has errors; the running configuration stays in force\n");
}

TEST(CtlFormat, Age) {
  EXPECT_EQ(format_age(5), "5s");
  EXPECT_EQ(format_age(600), "10m");
  EXPECT_EQ(format_age(3 * 3600), "3h");
  EXPECT_EQ(format_age(3 * 86400), "3d");
}

}  // namespace
}  // namespace secmx::admin
