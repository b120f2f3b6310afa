// dsn_format_test.cpp - the text-level helpers (dates, folding, wrapping, RFC 6533
// address forms, header sections), status codes, and the SOS host list parser.
#include "relay/dsn/dsn_format.hpp"

#include <gtest/gtest.h>

#include <string>

#include "relay/dsn/dsn_status.hpp"
#include "relay/dsn/dsn_text.hpp"

namespace secmx::dsn {
namespace {

// Undo RFC 5322 folding: drop every CRLF that is followed by a space or tab.
std::string unfold(std::string s) {
  for (auto p = s.find("\r\n "); p != std::string::npos; p = s.find("\r\n ")) s.erase(p, 2);
  return s;
}

TEST(DsnFormat, Date) {
  EXPECT_EQ(format::date(1'700'000'000'000'000), "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_EQ(format::date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
}

TEST(DsnFormat, FieldFoldsAtSpacesAndUnfoldsToTheSameValue) {
  EXPECT_EQ(format::field("Status", "5.1.1"), "Status: 5.1.1\r\n");
  std::string value = "smtp; 550 5.7.1";
  for (int i = 0; i < 60; ++i) value += " word" + std::to_string(i);
  std::string f = format::field("Diagnostic-Code", value);
  EXPECT_EQ(unfold(f), "Diagnostic-Code: " + value + "\r\n");
  EXPECT_LE(format::longest_line(f), 78u);
  EXPECT_TRUE(f.ends_with("\r\n"));
  // Double spaces survive; no line holds only white space.
  std::string spaced = format::field("X", std::string(70, 'a') + "  b");
  EXPECT_EQ(unfold(spaced), "X: " + std::string(70, 'a') + "  b\r\n");
  EXPECT_EQ(spaced.find("\r\n \r\n"), std::string::npos);
}

TEST(DsnFormat, FieldSplitsATokenLongerThanALine) {
  std::string f = format::field("X", std::string(2500, 'z'));
  EXPECT_LE(format::longest_line(f), format::kMaxLine);
  std::string u = unfold(f);
  std::string z;
  for (char c : u) {
    if (c == 'z') z += c;
  }
  EXPECT_EQ(z.size(), 2500u);
}

TEST(DsnFormat, WrapIndentsAndKeepsLinesShort) {
  std::string w = format::wrap("one two three four five six seven", "  - ", "    ", 16);
  EXPECT_EQ(w, "  - one two\r\n    three four\r\n    five six\r\n    seven\r\n");
  EXPECT_EQ(format::wrap(std::string(1200, 'x'), "", "").size(), format::kMaxLine + 2);
}

TEST(DsnFormat, CleanAsciiAndUtf8) {
  EXPECT_EQ(format::clean("a\r\nb\tc\x01", false), "a  b c?");
  EXPECT_EQ(format::clean("gr\xC3\xBC\xC3\x9F"
                          "e",
                          false),
            "gr????e");
  EXPECT_EQ(format::clean("gr\xC3\xBC\xC3\x9F"
                          "e",
                          true),
            "gr\xC3\xBC\xC3\x9F"
            "e");
  EXPECT_EQ(format::clean("bad\xC3(", true), "bad?(");  // truncated sequence
  EXPECT_EQ(format::clean("\xC0\xAF", true), "??");     // overlong '/'
  EXPECT_EQ(format::clean("\xC2\x85", true), "??");     // C1 control NEL
}

TEST(DsnFormat, AddressForms) {
  EXPECT_EQ(format::address_value("bob@example.org", false), "rfc822; bob@example.org");
  EXPECT_EQ(format::address_value("b\xC3\xB8"
                                  "b@example.org",
                                  true),
            "utf-8; b\xC3\xB8"
            "b@example.org");
  EXPECT_EQ(format::address_value("b\xC3\xB8"
                                  "b@example.org",
                                  false),
            "utf-8; b\\x{F8}b@example.org");
  EXPECT_EQ(format::orcpt_value("rfc822;Bob@Example.org", false), "rfc822; Bob@Example.org");
  EXPECT_EQ(format::orcpt_value("RFC822;a+b@x.org", true), "rfc822; a+b@x.org");
  EXPECT_EQ(format::orcpt_value("utf-8;\xE7\x94\xA8@x.org", false), "utf-8; \\x{7528}@x.org");
  EXPECT_EQ(format::orcpt_value("utf-8;a=b@x.org", false), "utf-8; a\\x{3D}b@x.org");
  EXPECT_EQ(format::orcpt_value("", false), "");
  EXPECT_EQ(format::orcpt_value("x400;whatever", false), "");
}

TEST(DsnFormat, HeaderSection) {
  EXPECT_EQ(format::header_section("A: 1\r\nB: 2\r\n\r\nbody\r\n"), "A: 1\r\nB: 2\r\n");
  EXPECT_EQ(format::header_section("\r\nbody only\r\n"), "");
  EXPECT_EQ(format::header_section("A: 1\r\n"), "A: 1\r\n");
}

TEST(DsnFormat, LongLines) {
  std::string text = "short\r\n" + std::string(1500, 'y') + "\r\nend";
  EXPECT_EQ(format::longest_line(text), 1500u);
  std::string cut = format::cut_long_lines(text);
  EXPECT_EQ(format::longest_line(cut), format::kMaxLine);
  EXPECT_TRUE(cut.starts_with("short\r\n"));
  EXPECT_TRUE(cut.ends_with("\r\nend"));
}

TEST(DsnStatus, ValidAndNormalized) {
  EXPECT_TRUE(valid_status("5.7.10"));
  EXPECT_TRUE(valid_status("2.0.0"));
  EXPECT_TRUE(valid_status("4.4.7"));
  EXPECT_FALSE(valid_status("5.7"));
  EXPECT_FALSE(valid_status("3.0.0"));
  EXPECT_FALSE(valid_status("5.07.1"));
  EXPECT_FALSE(valid_status("5.1.1000"));
  EXPECT_FALSE(valid_status(""));

  EXPECT_EQ(normalize_status(Event::Failure, "5.7.10"), "5.7.10");
  EXPECT_EQ(normalize_status(Event::Failure, "4.7.10"), "5.7.10");  // SOS lifetime over
  EXPECT_EQ(normalize_status(Event::Failure, "4.4.7"), "5.4.7");
  EXPECT_EQ(normalize_status(Event::Delay, "5.4.7"), "4.4.7");
  EXPECT_EQ(normalize_status(Event::Delay, "4.4.1"), "4.4.1");
  EXPECT_EQ(normalize_status(Event::Failure, "2.0.0"), "5.0.0");
  EXPECT_EQ(normalize_status(Event::Failure, ""), "5.0.0");
  EXPECT_EQ(normalize_status(Event::Delivered, "2.6.0"), "2.6.0");
  EXPECT_EQ(normalize_status(Event::Delivered, "5.1.1"), "2.0.0");
  EXPECT_EQ(normalize_status(Event::Relayed, "junk"), "2.0.0");
}

TEST(DsnStatus, ReplyCodeMapping) {
  EXPECT_EQ(status_for_reply_code(421), "4.4.2");
  EXPECT_EQ(status_for_reply_code(450), "4.2.0");
  EXPECT_EQ(status_for_reply_code(451), "4.3.0");
  EXPECT_EQ(status_for_reply_code(452), "4.3.1");
  EXPECT_EQ(status_for_reply_code(550), "5.0.0");
  EXPECT_EQ(status_for_reply_code(551), "5.1.6");
  EXPECT_EQ(status_for_reply_code(552), "5.2.2");
  EXPECT_EQ(status_for_reply_code(553), "5.1.3");
  EXPECT_EQ(status_for_reply_code(554), "5.0.0");
  EXPECT_EQ(status_for_reply_code(250), "2.0.0");
  EXPECT_EQ(status_for_reply_code(454), "4.0.0");
}

TEST(DsnStatus, Texts) {
  EXPECT_NE(status_text("5.7.10").find("encryption needed"), std::string::npos);
  EXPECT_NE(status_text("5.1.10").find("null MX"), std::string::npos);
  EXPECT_NE(status_text("5.1.2").find("domain does not exist"), std::string::npos);
  EXPECT_EQ(status_text("5.4.7"), "delivery time expired");
  EXPECT_EQ(status_text("4.4.7"), "delivery time expired");
  EXPECT_EQ(status_text("5.2.99"), "mailbox status");
  EXPECT_EQ(status_text("2.0.0"), "success");
  EXPECT_EQ(status_text("x"), "unknown status");
}

TEST(DsnFormat, TlsEvidence) {
  const std::string cert(64, 'f');
  EXPECT_EQ(format::tls_evidence("TLSv1.3/TLS_AES_256_GCM_SHA384/dane", cert, "secure"),
            "TLSv1.3/TLS_AES_256_GCM_SHA384/dane; cert=sha256:" + cert + "; dnssec=secure");
  EXPECT_EQ(format::tls_evidence("none", "", "off"), "none; dnssec=off");
  EXPECT_EQ(format::tls_evidence("none", "", ""), "none");
  EXPECT_EQ(format::tls_evidence("", cert, "secure"), "") << "no attempt recorded: nothing";
  // From the queue, so cleaned like every other stored text: one line, ASCII.
  EXPECT_EQ(format::tls_evidence("TLSv1.3/X\r\nFake: y/pkix", "", "off"),
            "TLSv1.3/X  Fake: y/pkix; dnssec=off");
}

TEST(DsnText, SplitHosts) {
  auto h = text::split_hosts(
      "no secure (TLS) receiver: mx1.example.org[127.0.0.5]:25: does not offer STARTTLS; "
      "mx2.example.org[127.0.0.6]:25: TLS handshake failed: alert 40; retry later; "
      "[192.0.2.7]:2525: 554 5.7.1 no");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].first, "mx1.example.org[127.0.0.5]:25");
  EXPECT_EQ(h[0].second, "does not offer STARTTLS");
  EXPECT_EQ(h[1].first, "mx2.example.org[127.0.0.6]:25");
  EXPECT_EQ(h[1].second, "TLS handshake failed: alert 40; retry later");
  EXPECT_EQ(h[2].first, "[192.0.2.7]:2525");
  EXPECT_TRUE(text::split_hosts("no secure (TLS) receiver: no receiving host found").empty());
  EXPECT_TRUE(text::split_hosts("smtp; 550 5.7.10 need TLS").empty());
}

}  // namespace
}  // namespace secmx::dsn
