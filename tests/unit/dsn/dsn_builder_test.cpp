// dsn_builder_test.cpp - every kind of DSN, written to a file and parsed by a MIME parser
// we did not write (Python's email package, through check_dsn.py), then checked field by
// field: the message header, the MIME structure and boundaries, every field of the
// delivery-status part, the returned content, line lengths, and the DSN's envelope.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "relay/dsn/dsn.hpp"

namespace secmx::dsn {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::int64_t kArrival = 1'700'000'000'000'000;  // Tue, 14 Nov 2023 22:13:20
constexpr std::int64_t kNow = kArrival + 3'600'000'000;   // one hour later
constexpr const char* kArrivalDate = "Tue, 14 Nov 2023 22:13:20 +0000";
constexpr const char* kNowDate = "Tue, 14 Nov 2023 23:13:20 +0000";
constexpr const char* kQid = "18BD0F5E40000001";

const std::string kOriginal =
    "Received: from mail.agency.example (mail.agency.example [127.0.0.1])\r\n"
    "\tby relay.example (secmx-relay) with ESMTPS id 18BD0F5E40000001\r\n"
    "\tfor <bob@example.org>; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "From: Alice <alice@agency.example>\r\n"
    "To: Bob <bob@example.org>\r\n"
    "Subject: Quarterly report\r\n"
    "Message-ID: <m1@agency.example>\r\n"
    "Date: Tue, 14 Nov 2023 22:13:19 +0000\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "\r\n"
    "the report is below.\r\n";

model::Recipient rcpt(std::string address, model::Policy policy = model::Policy::BES,
                      model::TlsLevel tls = model::TlsLevel::None) {
  model::Recipient r;
  r.address = std::move(address);
  r.policy = policy;
  r.tls = tls;
  return r;
}

model::Envelope original(std::vector<model::Recipient> rcpts) {
  model::Envelope env;
  env.id = *model::QueueId::parse(kQid);
  env.arrival_us = kArrival;
  env.sender = "alice@agency.example";
  env.client_address = "127.0.0.1";
  env.recipients = std::move(rcpts);
  env.body_size = kOriginal.size();
  return env;
}

Options options() {
  Options o;
  o.reporting_mta = "relay.example";
  return o;
}

// Runs check_dsn.py over `body`; the summary as JSON.
json parse_with_python(const std::string& body) {
  std::string tmpl = (fs::temp_directory_path() / "secmx-dsn-XXXXXX").string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(fd);
  std::ofstream(tmpl, std::ios::binary) << body;
  // The source tree as CMake knows it: __FILE__ may be relative (compiler caches).
  fs::path script = fs::path(SECMX_SOURCE_DIR) / "tests/unit/dsn/check_dsn.py";
  std::string cmd = "/usr/bin/python3 '" + script.string() + "' '" + tmpl + "' 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  fs::remove(tmpl);
  if (rc != 0) throw std::runtime_error("check_dsn.py failed: " + out);
  return json::parse(out);
}

// Whitespace runs (line wraps included) as one space, for checking wrapped prose.
std::string squash(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool space = c == ' ' || c == '\r' || c == '\n' || c == '\t';
    if (space) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// What every DSN must have, whatever the event.
void expect_well_formed(const json& j, const std::string& to, const std::string& subject,
                        const std::string& report_type, const std::string& status_type,
                        const std::string& returned_type) {
  const json& h = j["headers"];
  EXPECT_EQ(h["Date"], kNowDate);
  EXPECT_EQ(h["From"], "Mail Delivery System <MAILER-DAEMON@relay.example>");
  EXPECT_EQ(h["To"], to);
  EXPECT_EQ(h["Subject"], subject);
  EXPECT_EQ(h["MIME-Version"], "1.0");
  EXPECT_EQ(h["Auto-Submitted"], "auto-replied");
  std::string mid = h["Message-ID"];
  EXPECT_TRUE(mid.starts_with(std::string("<dsn.") + kQid + ".")) << mid;
  EXPECT_TRUE(mid.ends_with("@relay.example>")) << mid;
  EXPECT_TRUE(j["duplicate_headers"].empty());
  EXPECT_EQ(j["content_type"], "multipart/report");
  EXPECT_EQ(j["report_type"], report_type);

  // Structure and boundaries: three parts, three delimiters, one closing delimiter, the
  // boundary nowhere else, and nothing the parser had to forgive.
  EXPECT_TRUE(j["defects"].empty()) << j["defects"].dump();
  EXPECT_EQ(j["delimiters"], 3);
  EXPECT_EQ(j["closers"], 1);
  EXPECT_EQ(j["boundary_elsewhere"], 0);
  EXPECT_LE(j["max_line"].get<int>(), 998);
  EXPECT_FALSE(j["bare_lf"]);
  EXPECT_FALSE(j["bare_cr"]);
  EXPECT_TRUE(j["ends_with_crlf"]);
  ASSERT_EQ(j["parts"].size(), 3u);
  EXPECT_EQ(j["parts"][0]["content_type"], "text/plain");
  EXPECT_EQ(j["parts"][0]["description"], "Notification");
  EXPECT_EQ(j["parts"][1]["content_type"], status_type);
  EXPECT_EQ(j["parts"][1]["description"], "Delivery report");
  EXPECT_EQ(j["parts"][2]["content_type"], returned_type);
  EXPECT_EQ(j["returned"]["content_type"], returned_type);
  EXPECT_TRUE(j["duplicate_fields"].empty());

  json per_message = {{"Reporting-MTA", "dns; relay.example"},
                      {"X-Secmx-Queue-ID", kQid},
                      {"Arrival-Date", kArrivalDate}};
  if (j["per_message"].contains("Original-Envelope-Id")) {
    per_message["Original-Envelope-Id"] = j["per_message"]["Original-Envelope-Id"];
  }
  EXPECT_EQ(j["per_message"], per_message);
}

void expect_envelope(const Built& b, const std::string& to, model::Policy policy,
                     model::TlsLevel tls) {
  const auto& env = b.message.envelope;
  EXPECT_EQ(env.id, model::QueueId{});  // the caller assigns it
  EXPECT_EQ(env.arrival_us, kNow);
  EXPECT_EQ(env.sender, "");
  EXPECT_EQ(env.ret, model::Ret::Unset);
  EXPECT_EQ(env.body_size, b.message.body.size());
  ASSERT_EQ(env.recipients.size(), 1u);
  EXPECT_EQ(env.recipients[0].address, to);
  EXPECT_EQ(env.recipients[0].policy, policy);
  EXPECT_EQ(env.recipients[0].tls, tls);
  EXPECT_EQ(env.recipients[0].state, model::RcptState::Pending);
}

std::string sos_diagnostic() {
  return "no secure (TLS) receiver: mx1.example.org[127.0.0.5]:25: STARTTLS not offered; "
         "mx2.example.org[127.0.0.6]:25: TLS handshake failed: error:0A000410:SSL "
         "routines::ssl/tls alert handshake failure";
}

TEST(DsnBuilder, SosFailureSaysNoSecureReceiverAndNamesEachHost) {
  auto env = original({rcpt("bob@example.org", model::Policy::SOS, model::TlsLevel::Encrypt)});
  env.recipients[0].policy_reason = "rule=3(classification=PROTECTED)";
  RcptReport r;
  r.index = 0;
  r.status = "5.7.10";
  r.diagnostic = sos_diagnostic();
  r.last_attempt_us = kNow - 1'000'000;
  auto b = build(env, kOriginal, Event::Failure, {r}, options(), kNow);
  ASSERT_TRUE(b);
  expect_envelope(*b, "alice@agency.example", model::Policy::SOS, model::TlsLevel::Encrypt);
  EXPECT_EQ(b->message.envelope.recipients[0].policy_reason, "dsn(sos)");
  EXPECT_EQ(b->message.envelope.body_type, model::BodyType::SevenBit);
  EXPECT_FALSE(b->message.envelope.smtputf8);

  json j = parse_with_python(b->message.body);
  expect_well_formed(j, "alice@agency.example",
                     "Undelivered Mail: secure delivery was not possible", "delivery-status",
                     "message/delivery-status", "text/rfc822-headers");
  ASSERT_EQ(j["recipients"].size(), 1u);
  EXPECT_EQ(j["recipients"][0], (json{{"Final-Recipient", "rfc822; bob@example.org"},
                                      {"Action", "failed"},
                                      {"Status", "5.7.10"},
                                      {"Diagnostic-Code", "X-Secmx-Relay; " + sos_diagnostic()},
                                      {"Last-Attempt-Date", "Tue, 14 Nov 2023 23:13:19 +0000"}}));
  // SOS failures return headers only by default: the body stays where it is.
  EXPECT_EQ(j["returned"]["headers"]["Subject"], "Quarterly report");
  EXPECT_EQ(j["returned"]["headers"]["Message-ID"], "<m1@agency.example>");
  EXPECT_EQ(j["parts"][0]["charset"], "us-ascii");

  std::string text = squash(j["text"]);
  EXPECT_NE(text.find("<bob@example.org>: NOT SENT: secure delivery was not possible. The "
                      "receiving mail servers for example.org refused TLS encryption (5.7.10)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("did not send it over an unencrypted connection"), std::string::npos);
  EXPECT_NE(text.find("Encryption was required because the message is marked PROTECTED "
                      "(policy rule 3)."),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("- mx1.example.org[127.0.0.5]:25: refused TLS: STARTTLS not offered"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("- mx2.example.org[127.0.0.6]:25: refused TLS: TLS handshake failed: "
                      "error:0A000410:SSL routines::ssl/tls alert handshake failure"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Status: 5.7.10 (encryption needed"), std::string::npos);
  EXPECT_NE(text.find("The headers of the message are attached."), std::string::npos);
  EXPECT_EQ(text.find("the report is below"), std::string::npos);
}

TEST(DsnBuilder, SosExpiredWithoutHostsExplainsInWords) {
  auto env = original({rcpt("bob@example.org", model::Policy::SOS, model::TlsLevel::Verify)});
  RcptReport r;
  r.status = "4.7.10";  // normalised to 5.7.10 in a failure report
  r.diagnostic = "no secure (TLS) receiver found within the SOS lifetime: no receiving host found";
  auto b = build(env, kOriginal, Event::Failure, {r}, options(), kNow);
  ASSERT_TRUE(b);
  expect_envelope(*b, "alice@agency.example", model::Policy::SOS, model::TlsLevel::Verify);
  json j = parse_with_python(b->message.body);
  EXPECT_EQ(j["recipients"][0]["Status"], "5.7.10");
  EXPECT_FALSE(j["recipients"][0].contains("Last-Attempt-Date"));
  EXPECT_FALSE(j["recipients"][0].contains("Remote-MTA"));
  std::string text = squash(j["text"]);
  EXPECT_NE(text.find("No receiving mail server was found for example.org within the time "
                      "allowed."),
            std::string::npos)
      << text;
}

TEST(DsnBuilder, RemoteRefusalWithOrcptAndEnvidListsEveryRecipientOnce) {
  auto bob = rcpt("bob@example.org");
  bob.orcpt = "rfc822;Bob.Original@example.org";
  auto env = original({bob, rcpt("carol@example.net"), rcpt("dave@example.org")});
  env.envid = "QQ314159";
  RcptReport r1;
  r1.index = 0;
  r1.status = "5.1.1";
  r1.diagnostic = "smtp; 550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown";
  r1.remote_mta = "mx.example.org[192.0.2.10]:25";
  r1.last_attempt_us = kNow;
  RcptReport r2;
  r2.index = 1;
  r2.status = "5.1.10";
  r2.diagnostic = "example.net publishes a null MX: it accepts no mail";
  r2.last_attempt_us = kNow;
  auto b = build(env, kOriginal, Event::Failure, {r1, r2, r1}, options(), kNow);
  ASSERT_TRUE(b);
  expect_envelope(*b, "alice@agency.example", model::Policy::BES, model::TlsLevel::None);
  EXPECT_EQ(b->message.envelope.recipients[0].policy_reason, "dsn");

  json j = parse_with_python(b->message.body);
  // Ordinary mail without RET: the whole message comes back (it is small).
  expect_well_formed(j, "alice@agency.example", "Undelivered Mail Returned to Sender",
                     "delivery-status", "message/delivery-status", "message/rfc822");
  EXPECT_EQ(j["per_message"]["Original-Envelope-Id"], "QQ314159");
  ASSERT_EQ(j["recipients"].size(), 2u);
  EXPECT_EQ(j["recipients"][0],
            (json{{"Original-Recipient", "rfc822; Bob.Original@example.org"},
                  {"Final-Recipient", "rfc822; bob@example.org"},
                  {"Action", "failed"},
                  {"Status", "5.1.1"},
                  {"Remote-MTA", "dns; mx.example.org"},
                  {"Diagnostic-Code",
                   "smtp; 550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown"},
                  {"Last-Attempt-Date", kNowDate}}));
  EXPECT_EQ(j["recipients"][1],
            (json{{"Final-Recipient", "rfc822; carol@example.net"},
                  {"Action", "failed"},
                  {"Status", "5.1.10"},
                  {"Diagnostic-Code",
                   "X-Secmx-Relay; example.net publishes a null MX: it accepts no mail"},
                  {"Last-Attempt-Date", kNowDate}}));
  EXPECT_EQ(j["parts"][2]["description"], "Undelivered Message");
  EXPECT_EQ(j["returned"]["headers"]["Subject"], "Quarterly report");
  EXPECT_EQ(j["returned"]["body"], "Hello Bob,\r\n\r\nthe report is below.\r\n");

  std::string text = squash(j["text"]);
  EXPECT_NE(text.find("<bob@example.org>: delivery failed: the recipient's mailbox does not "
                      "exist. The mail server mx.example.org[192.0.2.10]:25 said: 550 5.1.1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("<carol@example.net>: delivery failed: the recipient's domain does not "
                      "accept mail (null MX)."),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("dave@"), std::string::npos);
  EXPECT_NE(text.find("A copy of the message is attached."), std::string::npos);
}

TEST(DsnBuilder, DelayReportCarriesWillRetryUntilAndOnlyHeaders) {
  auto bob = rcpt("bob@example.org");
  bob.notify = model::kNotifyDelay | model::kNotifyFailure;
  auto env = original({bob});
  env.ret = model::Ret::Full;  // RET applies to failures; a warning returns headers only
  RcptReport r;
  r.status = "4.4.1";
  r.diagnostic = "mx.example.org[192.0.2.10]:25: connection timed out";
  r.last_attempt_us = kNow;
  r.will_retry_until_us = kArrival + 5LL * 86400 * 1'000'000;
  auto b = build(env, kOriginal, Event::Delay, {r}, options(), kNow);
  ASSERT_TRUE(b);
  expect_envelope(*b, "alice@agency.example", model::Policy::BES, model::TlsLevel::None);
  json j = parse_with_python(b->message.body);
  expect_well_formed(j, "alice@agency.example", "Delayed Mail (still being retried)",
                     "delivery-status", "message/delivery-status", "text/rfc822-headers");
  EXPECT_EQ(j["recipients"][0],
            (json{{"Final-Recipient", "rfc822; bob@example.org"},
                  {"Action", "delayed"},
                  {"Status", "4.4.1"},
                  {"Diagnostic-Code",
                   "X-Secmx-Relay; mx.example.org[192.0.2.10]:25: connection timed out"},
                  {"Last-Attempt-Date", kNowDate},
                  {"Will-Retry-Until", "Sun, 19 Nov 2023 22:13:20 +0000"}}));
  EXPECT_EQ(j["parts"][2]["description"], "Delayed Message Headers");
  std::string text = squash(j["text"]);
  EXPECT_NE(text.find("THIS IS A WARNING ONLY"), std::string::npos);
  EXPECT_NE(text.find("<bob@example.org>: not delivered yet: no answer from the receiving host."),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("keep trying until Sun, 19 Nov 2023 22:13:20 +0000."), std::string::npos);
}

TEST(DsnBuilder, DeliveredReport) {
  auto bob = rcpt("bob@example.org");
  bob.notify = model::kNotifySuccess;
  auto env = original({bob});
  RcptReport r;
  r.status = "2.0.0";
  r.diagnostic = "smtp; 250 2.0.0 Ok: queued as 4SxyZ1";
  r.remote_mta = "mx.example.org[192.0.2.10]:25";
  r.last_attempt_us = kNow;
  r.will_retry_until_us = kNow;  // not written outside delay reports
  auto b = build(env, kOriginal, Event::Delivered, {r}, options(), kNow);
  ASSERT_TRUE(b);
  json j = parse_with_python(b->message.body);
  expect_well_formed(j, "alice@agency.example", "Successful Mail Delivery Report",
                     "delivery-status", "message/delivery-status", "text/rfc822-headers");
  EXPECT_EQ(j["recipients"][0], (json{{"Final-Recipient", "rfc822; bob@example.org"},
                                      {"Action", "delivered"},
                                      {"Status", "2.0.0"},
                                      {"Remote-MTA", "dns; mx.example.org"},
                                      {"Diagnostic-Code", "smtp; 250 2.0.0 Ok: queued as 4SxyZ1"},
                                      {"Last-Attempt-Date", kNowDate}}));
  EXPECT_EQ(j["parts"][2]["description"], "Delivered Message Headers");
  std::string text = squash(j["text"]);
  EXPECT_NE(text.find("<bob@example.org>: delivered to mx.example.org[192.0.2.10]:25."),
            std::string::npos)
      << text;
}

// The evidence of the attempt that decided (DESIGN §10): an X-Secmx-TLS extension field
// per recipient (RFC 3464 2.4 extension-field) and a line of the notification text; none
// for a recipient without a recorded attempt.
TEST(DsnBuilder, EvidenceOfTheDecidingAttempt) {
  const std::string cert = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  auto bob = rcpt("bob@example.org");
  bob.last_tls = "TLSv1.3/TLS_AES_256_GCM_SHA384/dane";
  bob.last_cert_sha256 = cert;
  bob.last_dnssec = "secure";
  auto carol = rcpt("carol@example.org");  // failed before any attempt (an operator's bounce)
  auto env = original({bob, carol});
  RcptReport r1;
  r1.index = 0;
  r1.status = "5.1.1";
  r1.diagnostic = "smtp; 550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown";
  r1.remote_mta = "mx.example.org[192.0.2.10]:25";
  r1.last_attempt_us = kNow;
  RcptReport r2;
  r2.index = 1;
  r2.status = "5.0.0";
  r2.diagnostic = "bounced by the operator";
  auto b = build(env, kOriginal, Event::Failure, {r1, r2}, options(), kNow);
  ASSERT_TRUE(b);
  json j = parse_with_python(b->message.body);
  expect_well_formed(j, "alice@agency.example", "Undelivered Mail Returned to Sender",
                     "delivery-status", "message/delivery-status", "message/rfc822");
  ASSERT_EQ(j["recipients"].size(), 2u);
  EXPECT_EQ(j["recipients"][0]["X-Secmx-TLS"],
            "TLSv1.3/TLS_AES_256_GCM_SHA384/dane; cert=sha256:" + cert + "; dnssec=secure");
  EXPECT_FALSE(j["recipients"][1].contains("X-Secmx-TLS")) << j["recipients"][1].dump();
  std::string text = squash(j["text"]);
  EXPECT_NE(text.find("User unknown Connection security: TLSv1.3/TLS_AES_256_GCM_SHA384/dane; "
                      "cert=sha256:" + cert + "; dnssec=secure"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("Connection security", text.find("carol@")), std::string::npos) << text;

  // A delivery over plaintext says so.
  auto dave = rcpt("dave@example.org");
  dave.notify = model::kNotifySuccess;
  dave.last_tls = "none";
  dave.last_dnssec = "off";
  auto env2 = original({dave});
  RcptReport r3;
  r3.status = "2.0.0";
  r3.diagnostic = "smtp; 250 2.0.0 Ok";
  r3.last_attempt_us = kNow;
  auto b2 = build(env2, kOriginal, Event::Delivered, {r3}, options(), kNow);
  ASSERT_TRUE(b2);
  json j2 = parse_with_python(b2->message.body);
  EXPECT_EQ(j2["recipients"][0]["X-Secmx-TLS"], "none; dnssec=off");
  EXPECT_NE(squash(j2["text"]).find("Connection security: none; dnssec=off"), std::string::npos);
}

TEST(DsnBuilder, RelayedReport) {
  auto bob = rcpt("bob@example.org");
  bob.notify = model::kNotifySuccess | model::kNotifyFailure;
  bob.orcpt = "rfc822;bob@example.org";
  auto env = original({bob});
  RcptReport r;
  r.status = "2.0.0";
  r.diagnostic = "smtp; 250 2.1.5 Ok";
  r.remote_mta = "[192.0.2.20]:2525";
  r.last_attempt_us = kNow;
  auto b = build(env, kOriginal, Event::Relayed, {r}, options(), kNow);
  ASSERT_TRUE(b);
  json j = parse_with_python(b->message.body);
  expect_well_formed(j, "alice@agency.example", "Successful Mail Delivery Report",
                     "delivery-status", "message/delivery-status", "text/rfc822-headers");
  EXPECT_EQ(j["recipients"][0], (json{{"Original-Recipient", "rfc822; bob@example.org"},
                                      {"Final-Recipient", "rfc822; bob@example.org"},
                                      {"Action", "relayed"},
                                      {"Status", "2.0.0"},
                                      {"Remote-MTA", "dns; [192.0.2.20]"},
                                      {"Diagnostic-Code", "smtp; 250 2.1.5 Ok"},
                                      {"Last-Attempt-Date", kNowDate}}));
  std::string text = squash(j["text"]);
  EXPECT_NE(text.find("does not send delivery reports"), std::string::npos) << text;
  EXPECT_NE(text.find("<bob@example.org>: relayed to [192.0.2.20]:2525."), std::string::npos);
}

RcptReport failed550() {
  RcptReport r;
  r.status = "5.1.1";
  r.diagnostic = "smtp; 550 5.1.1 user unknown";
  r.remote_mta = "mx.example.org[192.0.2.10]:25";
  r.last_attempt_us = kNow;
  return r;
}

TEST(DsnBuilder, RetFullUnderTheCapReturnsTheMessageEvenForSos) {
  auto env = original({rcpt("bob@example.org", model::Policy::SOS, model::TlsLevel::Encrypt)});
  env.ret = model::Ret::Full;  // the sender asked for it, so SOS's default does not apply
  auto b = build(env, kOriginal, Event::Failure, {failed550()}, options(), kNow);
  ASSERT_TRUE(b);
  json j = parse_with_python(b->message.body);
  expect_well_formed(j, "alice@agency.example", "Undelivered Mail Returned to Sender",
                     "delivery-status", "message/delivery-status", "message/rfc822");
  EXPECT_EQ(j["returned"]["body"], "Hello Bob,\r\n\r\nthe report is below.\r\n");
  EXPECT_EQ(j["recipients"][0]["Status"], "5.1.1");
  // It carries the SOS content, so no trusted route may lower it (policy_over_route).
  EXPECT_EQ(b->message.envelope.recipients[0].policy_reason, "dsn(sos-full)");
}

TEST(DsnBuilder, SosRetFullOptionReturnsTheMessage) {
  auto env = original({rcpt("bob@example.org", model::Policy::SOS, model::TlsLevel::Encrypt)});
  Options o = options();
  o.sos_ret = model::Ret::Full;
  auto b = build(env, kOriginal, Event::Failure, {failed550()}, o, kNow);
  ASSERT_TRUE(b);
  json j = parse_with_python(b->message.body);
  EXPECT_EQ(j["returned"]["content_type"], "message/rfc822");
}

TEST(DsnBuilder, RetFullOverTheCapFallsBackToHeaders) {
  auto env = original({rcpt("bob@example.org")});
  env.ret = model::Ret::Full;
  std::string big = kOriginal;
  for (int i = 0; i < 100; ++i) big += std::string(70, 'a' + i % 26) + "\r\n";
  Options o = options();
  o.return_size_limit = 2048;
  auto b = build(env, big, Event::Failure, {failed550()}, o, kNow);
  ASSERT_TRUE(b);
  json j = parse_with_python(b->message.body);
  expect_well_formed(j, "alice@agency.example", "Undelivered Mail Returned to Sender",
                     "delivery-status", "message/delivery-status", "text/rfc822-headers");
  EXPECT_EQ(j["parts"][2]["description"], "Undelivered Message Headers");
  EXPECT_EQ(j["returned"]["headers"]["Subject"], "Quarterly report");
  EXPECT_EQ(b->message.body.find("aaaaaaaaaa"), std::string::npos);
  std::string text = squash(j["text"]);
  EXPECT_NE(text.find("the whole message is not, because it is larger than the 2048 bytes"),
            std::string::npos)
      << text;
}

TEST(DsnBuilder, RetFullWithOverlongLinesFallsBackToHeaders) {
  auto env = original({rcpt("bob@example.org")});
  env.ret = model::Ret::Full;
  std::string wide = kOriginal + std::string(1500, 'w') + "\r\n";
  auto b = build(env, wide, Event::Failure, {failed550()}, options(), kNow);
  ASSERT_TRUE(b);
  json j = parse_with_python(b->message.body);
  EXPECT_EQ(j["returned"]["content_type"], "text/rfc822-headers");
  EXPECT_LE(j["max_line"].get<int>(), 998);
  EXPECT_NE(squash(j["text"]).find("lines longer than 998"), std::string::npos);
}

TEST(DsnBuilder, RetHdrsReturnsHeadersOnly) {
  auto env = original({rcpt("bob@example.org")});
  env.ret = model::Ret::Hdrs;
  auto b = build(env, kOriginal, Event::Failure, {failed550()}, options(), kNow);
  ASSERT_TRUE(b);
  json j = parse_with_python(b->message.body);
  expect_well_formed(j, "alice@agency.example", "Undelivered Mail Returned to Sender",
                     "delivery-status", "message/delivery-status", "text/rfc822-headers");
  EXPECT_EQ(j["returned"]["headers"]["From"], "Alice <alice@agency.example>");
  EXPECT_EQ(j["returned"]["headers"]["Subject"], "Quarterly report");
  EXPECT_EQ(b->message.body.find("the report is below"), std::string::npos);
  EXPECT_NE(squash(j["text"]).find("The headers of the message are attached."), std::string::npos);
}

TEST(DsnBuilder, Smtputf8OriginalGetsAGlobalReport) {
  const std::string sender = "\xC3\xA5lice@agency.example";  // ålice
  const std::string bob =
      "b\xC3\xB8"
      "b@ex\xC3\xA4mple.org";  // bøb@exämple.org
  auto r0 = rcpt(bob);
  r0.orcpt = "utf-8;" + bob;
  auto env = original({r0});
  env.sender = sender;
  env.smtputf8 = true;
  env.body_type = model::BodyType::EightBitMime;
  std::string body = "From: " + sender +
                     "\r\nSubject: Gr\xC3\xBC\xC3\x9F"
                     "e\r\n\r\nHall\xC3\xB6\r\n";
  RcptReport r;
  r.status = "5.1.1";
  r.diagnostic = "smtp; 550 5.1.1 <" + bob + ">: unknown";
  r.remote_mta = "mx.xn--exmple-cua.org[192.0.2.10]:25";
  r.last_attempt_us = kNow;
  auto b = build(env, body, Event::Failure, {r}, options(), kNow);
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->message.envelope.smtputf8);  // the DSN's recipient is a UTF-8 address
  EXPECT_EQ(b->message.envelope.body_type, model::BodyType::EightBitMime);
  json j = parse_with_python(b->message.body);
  expect_well_formed(j, sender, "Undelivered Mail Returned to Sender", "global-delivery-status",
                     "message/global-delivery-status", "message/global");
  EXPECT_TRUE(j["eight_bit"]);
  EXPECT_EQ(j["parts"][0]["charset"], "utf-8");
  EXPECT_EQ(j["recipients"][0], (json{{"Original-Recipient", "utf-8; " + bob},
                                      {"Final-Recipient", "utf-8; " + bob},
                                      {"Action", "failed"},
                                      {"Status", "5.1.1"},
                                      {"Remote-MTA", "dns; mx.xn--exmple-cua.org"},
                                      {"Diagnostic-Code", "smtp; 550 5.1.1 <" + bob + ">: unknown"},
                                      {"Last-Attempt-Date", kNowDate}}));
  EXPECT_EQ(j["returned"]["headers"]["Subject"],
            "Gr\xC3\xBC\xC3\x9F"
            "e");
  EXPECT_NE(squash(j["text"]).find("<" + bob + ">: delivery failed"), std::string::npos);
}

TEST(DsnBuilder, Smtputf8OriginalFromAsciiSenderNeedsOnly8bitmime) {
  auto env =
      original({rcpt("b\xC3\xB8"
                     "b@example.org")});
  env.smtputf8 = true;
  env.ret = model::Ret::Hdrs;
  auto b =
      build(env, "Subject: \xC3\xBC\r\n\r\nx\r\n", Event::Failure, {failed550()}, options(), kNow);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->message.envelope.smtputf8);
  EXPECT_EQ(b->message.envelope.body_type, model::BodyType::EightBitMime);
  json j = parse_with_python(b->message.body);
  expect_well_formed(j, "alice@agency.example", "Undelivered Mail Returned to Sender",
                     "global-delivery-status", "message/global-delivery-status",
                     "message/global-headers");
  EXPECT_EQ(j["recipients"][0]["Final-Recipient"],
            "utf-8; b\xC3\xB8"
            "b@example.org");
}

TEST(DsnBuilder, PlainReportKeepsEightBitJunkOutOfItsFields) {
  auto bob = rcpt("bob@example.org");
  bob.orcpt =
      "utf-8;b\xC3\xB8"
      "b@example.org";  // a UTF-8 ORCPT outside SMTPUTF8
  auto env = original({bob});
  env.ret = model::Ret::Hdrs;
  RcptReport r = failed550();
  r.diagnostic = "smtp; 550 5.1.1 unknown \xC3\xBC\x01 user";
  auto b = build(env, kOriginal, Event::Failure, {r}, options(), kNow);
  ASSERT_TRUE(b);
  json j = parse_with_python(b->message.body);
  expect_well_formed(j, "alice@agency.example", "Undelivered Mail Returned to Sender",
                     "delivery-status", "message/delivery-status", "text/rfc822-headers");
  EXPECT_FALSE(j["eight_bit"]);
  EXPECT_EQ(j["recipients"][0]["Original-Recipient"], "utf-8; b\\x{F8}b@example.org");
  EXPECT_EQ(j["recipients"][0]["Diagnostic-Code"], "smtp; 550 5.1.1 unknown ??? user");
}

TEST(DsnBuilder, LongDiagnosticIsFoldedAndUnfoldsIntact) {
  auto env = original({rcpt("bob@example.org", model::Policy::SOS, model::TlsLevel::Encrypt)});
  std::string diag = "no secure (TLS) receiver: ";
  for (int i = 1; i <= 40; ++i) {
    if (i > 1) diag += "; ";
    diag += "mx" + std::to_string(i) + ".example.org[127.0.0." + std::to_string(i) +
            "]:25: STARTTLS not offered";
  }
  RcptReport r;
  r.status = "5.7.10";
  r.diagnostic = diag;
  auto b = build(env, kOriginal, Event::Failure, {r}, options(), kNow);
  ASSERT_TRUE(b);
  json j = parse_with_python(b->message.body);
  EXPECT_LE(j["max_line"].get<int>(), 998);
  EXPECT_EQ(j["recipients"][0]["Diagnostic-Code"], "X-Secmx-Relay; " + diag);
  std::string text = squash(j["text"]);
  EXPECT_NE(text.find("- mx40.example.org[127.0.0.40]:25: refused TLS: STARTTLS not offered"),
            std::string::npos);
}

TEST(DsnBuilder, PostmasterCopyOfABounce) {
  auto env = original({rcpt("bob@example.org")});
  env.sender = "";
  Options o = options();
  o.postmaster = "postmaster@agency.example";
  auto b = build(env, kOriginal, Event::Failure, {failed550()}, o, kNow);
  ASSERT_TRUE(b);
  expect_envelope(*b, "postmaster@agency.example", model::Policy::BES, model::TlsLevel::None);
  EXPECT_EQ(b->message.envelope.recipients[0].notify, model::kNotifyNever);
  json j = parse_with_python(b->message.body);
  expect_well_formed(j, "postmaster@agency.example", "Postmaster Copy: Undelivered Mail",
                     "delivery-status", "message/delivery-status", "message/rfc822");
  EXPECT_NE(squash(j["text"]).find("null sender <>"), std::string::npos);
}

TEST(DsnBuilder, HoldAndRequiretlsReportsTravelUnderSos) {
  auto env = original({rcpt("bob@example.org", model::Policy::HOLD)});
  auto b = build(env, kOriginal, Event::Failure, {failed550()}, options(), kNow);
  ASSERT_TRUE(b);
  expect_envelope(*b, "alice@agency.example", model::Policy::SOS, model::TlsLevel::Encrypt);
  EXPECT_FALSE(b->message.envelope.requiretls);
  EXPECT_EQ(parse_with_python(b->message.body)["returned"]["content_type"], "text/rfc822-headers");

  auto env2 = original({rcpt("bob@example.org")});
  env2.requiretls = true;
  auto b2 = build(env2, kOriginal, Event::Failure, {failed550()}, options(), kNow);
  ASSERT_TRUE(b2);
  expect_envelope(*b2, "alice@agency.example", model::Policy::SOS, model::TlsLevel::Encrypt);
  EXPECT_TRUE(b2->message.envelope.requiretls);
}

TEST(DsnBuilder, BoundaryNeverOccursInTheContent) {
  auto env = original({rcpt("bob@example.org")});
  // A message that quotes exactly the boundary the first attempt would use.
  std::string first = std::string(kQid) + "." + std::to_string(kNow / 1'000'000) + "/relay.example";
  std::string body = kOriginal + "--" + first + "\r\n" + first + "\r\n";
  auto b = build(env, body, Event::Failure, {failed550()}, options(), kNow);
  ASSERT_TRUE(b);
  json j = parse_with_python(b->message.body);
  EXPECT_NE(j["boundary"], first);
  expect_well_formed(j, "alice@agency.example", "Undelivered Mail Returned to Sender",
                     "delivery-status", "message/delivery-status", "message/rfc822");
  EXPECT_NE(j["returned"]["body"].get<std::string>().find("--" + first), std::string::npos);
}

TEST(DsnBuilder, OptionsFromConfig) {
  config::Config cfg;
  cfg.hostname = "relay.agency.example";
  cfg.dsn.return_size_limit = 4096;
  cfg.dsn.sos_ret = config::DsnRet::Full;
  cfg.dsn.postmaster = "pm@agency.example";
  cfg.dsn.delay_warning = std::chrono::hours(2);
  Options o = Options::from_config(cfg);
  EXPECT_EQ(o.reporting_mta, "relay.agency.example");
  EXPECT_EQ(o.return_size_limit, 4096u);
  EXPECT_EQ(o.sos_ret, model::Ret::Full);
  EXPECT_EQ(o.postmaster, "pm@agency.example");
  EXPECT_EQ(o.delay_warning, std::chrono::hours(2));
}

}  // namespace
}  // namespace secmx::dsn
