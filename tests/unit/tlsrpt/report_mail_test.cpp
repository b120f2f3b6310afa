// report_mail_test.cpp - the report as a mail (RFC 8460 §5.3), read back the way a receiver
// would: header fields unfolded, the multipart/report split at its boundary, the attachment
// base64-decoded and gunzipped, and the result compared with the JSON that went in.
#include "relay/tlsrpt/report_mail.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "relay/tlsrpt/gzip.hpp"
#include "relay/tlsrpt/report_json.hpp"
#include "tests/unit/tlsrpt/report_schema.hpp"

namespace secmx::tlsrpt {
namespace {

// A header section as name (lower case) -> unfolded value; repeated names are joined so a
// test can see them.
using Fields = std::multimap<std::string, std::string>;

struct Entity {
  Fields fields;
  std::string body;
};

Entity parse_entity(const std::string& text) {
  Entity e;
  std::size_t end = text.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos);
  std::string head = text.substr(0, end + 2);
  e.body = text.substr(end + 4);
  std::string name, value;
  auto flush = [&] {
    if (!name.empty()) e.fields.emplace(name, value);
    name.clear();
    value.clear();
  };
  std::size_t at = 0;
  while (at < head.size()) {
    std::size_t eol = head.find("\r\n", at);
    std::string line = head.substr(at, eol - at);
    at = eol + 2;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      value += line;  // RFC 5322 §2.2.3: unfolding removes the CRLF only
      continue;
    }
    flush();
    std::size_t colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << line;
    for (char c : line.substr(0, colon)) name += static_cast<char>(std::tolower(c));
    value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
  }
  flush();
  return e;
}

std::string field(const Entity& e, const std::string& name) {
  auto [first, last] = e.fields.equal_range(name);
  EXPECT_NE(first, last) << "no " << name;
  if (first == last) return "";
  EXPECT_EQ(std::next(first), last) << "several " << name;
  return first->second;
}

// A parameter of a structured field value, unquoted.
std::string param(const std::string& value, const std::string& name) {
  std::regex re(";\\s*" + name + "=(\"([^\"]*)\"|[^;\\s]+)", std::regex::icase);
  std::smatch m;
  if (!std::regex_search(value, m, re)) return "";
  return m[2].matched ? m[2].str() : m[1].str();
}

std::string base64_decode(const std::string& text) {
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=' || c == '\r' || c == '\n') continue;
    else {
      ADD_FAILURE() << "not base64: " << static_cast<int>(c);
      continue;
    }
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// The parts of a multipart body (RFC 2046 §5.1.1): between "--boundary" lines, the CRLF
// before each delimiter belonging to it, up to the "--boundary--" line.
std::vector<std::string> split_parts(const std::string& body, const std::string& boundary) {
  std::vector<std::string> parts;
  const std::string delim = "\r\n--" + boundary;
  std::string text = "\r\n" + body;  // the first delimiter may open the body
  std::size_t at = text.find(delim);
  EXPECT_NE(at, std::string::npos);
  while (at != std::string::npos) {
    std::size_t line_end = text.find("\r\n", at + delim.size());
    std::string rest = text.substr(at + delim.size(), line_end - at - delim.size());
    if (rest == "--") {
      EXPECT_EQ(line_end, text.size() - 2) << "text after the closing delimiter";
      return parts;
    }
    EXPECT_EQ(rest, "");
    std::size_t next = text.find(delim, line_end);
    parts.push_back(text.substr(line_end + 2, next - line_end - 2));
    at = next;
  }
  ADD_FAILURE() << "no closing delimiter";
  return parts;
}

struct Built {
  std::string json;
  ReportMail mail;
  std::string text;
};

Built sample(std::string domain = "example.net", std::string to = "tlsrpt@example.net") {
  Built b;
  PolicyKey k;
  k.type = PolicyType::Sts;
  k.domain = domain;
  k.strings = {"version: STSv1", "mode: enforce", "mx: mx.example.net", "max_age: 604800"};
  k.mx_host = {"mx.example.net"};
  Tally ok;
  ok.session.policy = k;
  ok.count = 1200;
  Tally bad = ok;
  bad.session.failure = FailureDetail{};
  bad.session.failure->result = ResultType::CertificateExpired;
  bad.session.failure->receiving_mx_hostname = "mx.example.net";
  bad.count = 3;
  const std::string day = "2026-12-03";
  ReportMeta meta{"Sender Org", "tlsrpt@mail.sender.example", "mail.sender.example",
                  report_id(day, domain, "mail.sender.example")};
  b.json = build_report(meta, day, domain, {ok, bad});
  b.mail.from = "tlsrpt@mail.sender.example";
  b.mail.to = to;
  b.mail.domain = domain;
  b.mail.submitter = "mail.sender.example";
  b.mail.report_id = meta.report_id;
  b.mail.day = day;
  b.mail.gzipped_json = gzip(b.json);
  b.mail.now_us = 1'796'346'245'123'456;  // 2026-12-04 01:04:05.123456 UTC
  b.mail.message_id_host = "relay.sender.example";
  b.text = build_report_mail(b.mail);
  return b;
}

TEST(ReportFilename, SubmitterDomainAndTheDaysFirstAndLastSecond) {
  EXPECT_EQ(report_filename("mail.sender.example", "example.net", "2016-04-01"),
            "mail.sender.example!example.net!1459468800!1459555199.json.gz");
  EXPECT_EQ(report_filename("s.example", "d.example", "2024-02-29"),
            "s.example!d.example!1709164800!1709251199.json.gz");
}

TEST(ReportMail, IsWellFormedMail) {
  const Built b = sample();
  const std::string& m = b.text;
  // CRLF only, ASCII only, no line past 998 octets and header lines within 78.
  for (std::size_t i = 0; i < m.size(); ++i) {
    ASSERT_LT(static_cast<unsigned char>(m[i]), 0x80u) << "at " << i;
    if (m[i] == '\n') {
      ASSERT_TRUE(i > 0 && m[i - 1] == '\r') << "bare LF at " << i;
    }
    if (m[i] == '\r') {
      ASSERT_TRUE(i + 1 < m.size() && m[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  std::size_t head_end = m.find("\r\n\r\n");
  for (std::size_t at = 0; at < m.size();) {
    std::size_t eol = m.find("\r\n", at);
    EXPECT_LE(eol - at, at < head_end ? 78u : 998u) << m.substr(at, eol - at);
    at = eol + 2;
  }
  EXPECT_TRUE(m.ends_with("--\r\n"));
}

TEST(ReportMail, HeaderFieldsOfRfc8460Section5_3) {
  const Built b = sample();
  const Entity mail = parse_entity(b.text);
  EXPECT_EQ(field(mail, "from"), "<tlsrpt@mail.sender.example>");
  EXPECT_EQ(field(mail, "to"), "<tlsrpt@example.net>");
  EXPECT_EQ(field(mail, "date"), "Fri, 04 Dec 2026 01:04:05 +0000");
  EXPECT_EQ(field(mail, "subject"),
            "Report Domain: example.net Submitter: mail.sender.example "
            "Report-ID: <2026-12-03T00:00:00Z_example.net@mail.sender.example>");
  EXPECT_EQ(field(mail, "tls-report-domain"), "example.net");
  EXPECT_EQ(field(mail, "tls-report-submitter"), "mail.sender.example");
  EXPECT_EQ(field(mail, "mime-version"), "1.0");
  EXPECT_EQ(field(mail, "auto-submitted"), "auto-generated");
  EXPECT_TRUE(std::regex_match(field(mail, "message-id"),
                               std::regex("<tlsrpt\\.[0-9a-f]{32}@relay\\.sender\\.example>")))
      << field(mail, "message-id");
  const std::string type = field(mail, "content-type");
  EXPECT_TRUE(type.starts_with("multipart/report;")) << type;
  EXPECT_EQ(param(type, "report-type"), "tlsrpt");
  const std::string boundary = param(type, "boundary");
  ASSERT_FALSE(boundary.empty());
  EXPECT_LE(boundary.size(), 70u);  // RFC 2046 §5.1.1
  EXPECT_NE(boundary.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
            std::string::npos)
      << "the boundary could occur in base64";
}

TEST(ReportMail, TheAttachmentIsTheGzippedReport) {
  const Built b = sample();
  const Entity mail = parse_entity(b.text);
  const std::string boundary = param(field(mail, "content-type"), "boundary");
  const std::vector<std::string> parts = split_parts(mail.body, boundary);
  ASSERT_EQ(parts.size(), 2u);

  const Entity text = parse_entity(parts[0]);
  EXPECT_EQ(field(text, "content-type"), "text/plain; charset=us-ascii");
  EXPECT_NE(text.body.find("mail.sender.example"), std::string::npos);
  EXPECT_NE(text.body.find("example.net"), std::string::npos);

  const Entity report = parse_entity(parts[1]);
  const std::string filename = "mail.sender.example!example.net!1796256000!1796342399.json.gz";
  EXPECT_EQ(filename, report_filename("mail.sender.example", "example.net", "2026-12-03"));
  const std::string type = field(report, "content-type");
  EXPECT_TRUE(type.starts_with("application/tlsrpt+gzip;")) << type;
  EXPECT_EQ(param(type, "name"), filename);
  const std::string disposition = field(report, "content-disposition");
  EXPECT_TRUE(disposition.starts_with("attachment;")) << disposition;
  EXPECT_EQ(param(disposition, "filename"), filename);
  EXPECT_EQ(field(report, "content-transfer-encoding"), "base64");

  // 76 columns but the last line; nothing but base64 on them.
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < report.body.size();) {
    std::size_t eol = report.body.find("\r\n", at);
    if (eol == std::string::npos) eol = report.body.size();
    lines.push_back(report.body.substr(at, eol - at));
    at = eol + 2;
  }
  ASSERT_FALSE(lines.empty());
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(lines[i].size(), 76u) << i;
  EXPECT_LE(lines.back().size(), 76u);
  EXPECT_FALSE(lines.back().empty());

  const std::string gz = base64_decode(report.body);
  EXPECT_EQ(gz, b.mail.gzipped_json);
  auto json = gunzip(gz);
  ASSERT_TRUE(json.ok()) << json.error();
  EXPECT_EQ(*json, b.json);
  auto parsed = nlohmann::json::parse(*json);
  EXPECT_TRUE(schema::check(parsed).empty());
  EXPECT_EQ(parsed["report-id"], "2026-12-03T00:00:00Z_example.net@mail.sender.example");
}

TEST(ReportMail, MessageIdsDifferPerRecipientAndStayForTheSameMail) {
  const Built a = sample();
  const Built again = sample();
  const Built other = sample("example.net", "second@example.net");
  EXPECT_EQ(a.text, again.text);  // pure: the same input gives the same message
  EXPECT_NE(field(parse_entity(a.text), "message-id"), field(parse_entity(other.text), "message-id"));
  Built later = sample();
  later.mail.now_us += 1;
  EXPECT_NE(field(parse_entity(build_report_mail(later.mail)), "message-id"),
            field(parse_entity(a.text), "message-id"));
}

TEST(ReportMail, TheBoundaryStaysOutOfTheTextPart) {
  const Built plain = sample();
  const std::string boundary = param(field(parse_entity(plain.text), "content-type"), "boundary");
  // A domain holding the boundary the mail would otherwise get (the id hashes do not
  // depend on it).
  Built tricky = sample();
  tricky.mail.domain = "x" + boundary + ".example";
  const std::string text = build_report_mail(tricky.mail);
  const Entity mail = parse_entity(text);
  const std::string b2 = param(field(mail, "content-type"), "boundary");
  EXPECT_NE(b2, boundary);
  EXPECT_EQ(split_parts(mail.body, b2).size(), 2u);
}

TEST(ReportMail, CallerTextCannotAddHeaderFields) {
  Built b = sample();
  b.mail.domain = "example.net\r\nBcc: victim@example.org";
  b.mail.to = "a@example.net\r\nX-Injected: 1";
  const Entity mail = parse_entity(build_report_mail(b.mail));
  EXPECT_EQ(mail.fields.count("bcc"), 0u);
  EXPECT_EQ(mail.fields.count("x-injected"), 0u);
}

}  // namespace
}  // namespace secmx::tlsrpt
