// fuzz_ehlo.cpp - libFuzzer target for a receiver's replies as the SMTP client reads them:
// ReplyParser (relay/smtp) fed line by line, parse_ehlo (relay/client/extensions) over
// each positive reply, then what the client does with the extensions it read: the local
// checks (message_check) and the MAIL and RCPT lines it sends (client_commands).
//
// Byte 0 chooses the message's sender, body type, SMTPUTF8, REQUIRETLS and RET, byte 1
// the recipient's NOTIFY and ORCPT, byte 2 the ENVID and the body's size; the rest is what
// the peer sends, split at LF as a transport would. Invariants:
//  - a completed reply has a code of 200..599 and at least one line;
//  - every extension parse_ehlo reports is named by the first word of some line after the
//    first; a line that is exactly a keyword turns it on; SIZE's limit is the decimal
//    number written after it, never more; the result does not depend on the order of the
//    lines (bar several SIZE lines) or on their case;
//  - a message over the peer's SIZE is refused 552 5.3.4 before MAIL; any local refusal
//    is 552, 550 or 554 with an enhanced code of class 5;
//  - the MAIL and RCPT lines are one CRLF-terminated line each, carry a parameter only
//    when its extension was offered, and our own server's parsers (relay/smtp/params),
//    offered the same extensions, read back exactly what the message asked for.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/client/client_commands.hpp"
#include "relay/client/extensions.hpp"
#include "relay/client/message_check.hpp"
#include "relay/smtp/params.hpp"
#include "relay/smtp/reply_parser.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace secmx;
using secmx::client::Extensions;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool same_word(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (upper(a[i]) != upper(b[i])) return false;
  }
  return true;
}

std::string_view first_word(std::string_view line) {
  line = trim(line);
  return line.substr(0, line.find(' '));
}

// Some line after the first starts with `keyword` (any case) as its first word.
bool named(const smtp::ParsedReply& r, std::string_view keyword) {
  for (std::size_t i = 1; i < r.lines.size(); ++i) {
    if (same_word(first_word(r.lines[i]), keyword)) return true;
  }
  return false;
}

bool exactly(const smtp::ParsedReply& r, std::string_view keyword) {
  for (std::size_t i = 1; i < r.lines.size(); ++i) {
    if (same_word(trim(r.lines[i]), keyword)) return true;
  }
  return false;
}

// Decimal a <= b, for digit strings of any length.
bool decimal_le(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size();
  return a <= b;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool same_flags(const Extensions& a, const Extensions& b) {
  return a.esmtp == b.esmtp && a.pipelining == b.pipelining && a.starttls == b.starttls &&
         a.eightbitmime == b.eightbitmime && a.smtputf8 == b.smtputf8 && a.dsn == b.dsn &&
         a.requiretls == b.requiretls && a.chunking == b.chunking && a.enhanced == b.enhanced &&
         a.binarymime == b.binarymime && a.size_offered == b.size_offered;
}

void check_extensions(const smtp::ParsedReply& r, const Extensions& ext) {
  FUZZ_CHECK(ext.esmtp);
  const struct {
    bool on;
    std::string_view keyword;
  } flags[] = {{ext.pipelining, "PIPELINING"}, {ext.starttls, "STARTTLS"},
               {ext.eightbitmime, "8BITMIME"},  {ext.smtputf8, "SMTPUTF8"},
               {ext.dsn, "DSN"},                {ext.requiretls, "REQUIRETLS"},
               {ext.chunking, "CHUNKING"},      {ext.binarymime, "BINARYMIME"},
               {ext.enhanced, "ENHANCEDSTATUSCODES"}, {ext.size_offered, "SIZE"}};
  for (const auto& f : flags) {
    FUZZ_CHECK(f.on == named(r, f.keyword));
    if (exactly(r, f.keyword)) FUZZ_CHECK(f.on);
  }
  // SIZE: the limit is a number some SIZE line wrote, read exactly, never more.
  if (ext.size != 0) {
    FUZZ_CHECK(ext.size_offered);
    const std::string got = std::to_string(ext.size);
    bool written = false;
    for (std::size_t i = 1; i < r.lines.size(); ++i) {
      std::string_view line = trim(r.lines[i]);
      if (!same_word(first_word(line), "SIZE")) continue;
      std::size_t sp = line.find(' ');
      if (sp == std::string_view::npos) continue;
      std::string_view param = trim(line.substr(sp + 1));
      if (all_digits(param) && decimal_le(got, param) && decimal_le(param, got)) written = true;
    }
    FUZZ_CHECK(written);
  }

  // Order and case do not matter (the first line, the peer's name, stays first).
  smtp::ParsedReply reversed = r, upper_case = r, lower_case = r;
  std::size_t sizes = 0;
  for (std::size_t i = 1; i < r.lines.size(); ++i) {
    reversed.lines[i] = r.lines[r.lines.size() - i];
    for (char& c : upper_case.lines[i]) c = upper(c);
    for (char& c : lower_case.lines[i]) c = lower(c);
    sizes += same_word(first_word(r.lines[i]), "SIZE");
  }
  Extensions rev = client::parse_ehlo(reversed);
  FUZZ_CHECK(same_flags(rev, ext));
  if (sizes <= 1) FUZZ_CHECK(rev.size == ext.size);
  for (const auto* changed : {&upper_case, &lower_case}) {
    Extensions e = client::parse_ehlo(*changed);
    FUZZ_CHECK(same_flags(e, ext) && e.size == ext.size);
  }
}

bool one_line(std::string_view cmd) {
  return cmd.size() >= 2 && cmd.substr(cmd.size() - 2) == "\r\n" &&
         cmd.find('\r') == cmd.size() - 2 && cmd.find('\n') == cmd.size() - 1;
}

bool has(std::string_view cmd, std::string_view param) {
  return cmd.find(param) != std::string_view::npos;
}

struct Message {
  model::Envelope env;
  model::Recipient rcpt;
  std::string body;
};

Message make_message(std::uint8_t m, std::uint8_t r, std::uint8_t b) {
  static const char* const kSenders[] = {"alice@example.org", "", "ännchen@bücher.example",
                                         "x+y=z@[192.0.2.1]"};
  static const std::size_t kSizes[] = {0, 1, 1000, 100000};
  static const char* const kEnvids[] = {"", "QQ314159", "id+with=plus", "<x!~@y>"};
  // ORCPTs as our server stores them (it refuses any other): rfc822 with printable ASCII,
  // utf-8 with UTF-8 but neither '+' nor '='.
  static const char* const kOrcpts[] = {"", "rfc822;bob+tag@example.org", "rfc822;a=b+c@x",
                                        "utf-8;bob@example.org"};
  Message msg;
  msg.env.sender = kSenders[m & 3];
  msg.env.body_type = static_cast<model::BodyType>((m >> 2) % 3);
  msg.env.smtputf8 = m & 16;
  msg.env.requiretls = m & 32;
  msg.env.ret = static_cast<model::Ret>((m >> 6) % 3);
  msg.env.envid = kEnvids[b & 3];
  msg.body.assign(kSizes[(b >> 2) & 3], 'x');
  msg.rcpt.address = (r & 0x80) ? "rcpt@bücher.example" : "rcpt@example.net";
  msg.rcpt.notify = static_cast<std::uint8_t>(r & 0x0F);
  msg.rcpt.orcpt = kOrcpts[(r >> 4) & 3];
  if (b & 0x10) msg.rcpt.orcpt = "utf-8;jürgen@bücher.example";
  return msg;
}

bool non_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return true;
  }
  return false;
}

void check_commands(const Extensions& ext, const Message& msg) {
  client::MessageSpec spec;
  spec.envelope = &msg.env;
  spec.recipients = {&msg.rcpt};
  spec.body = &msg.body;
  std::optional<client::LocalRefusal> refusal = client::check_message(spec, ext);
  if (ext.size != 0 && msg.body.size() > ext.size) {
    FUZZ_CHECK(refusal && refusal->code == 552 && refusal->enhanced == "5.3.4");
  }
  if (refusal) {
    FUZZ_CHECK(refusal->code == 552 || refusal->code == 550 || refusal->code == 554);
    FUZZ_CHECK(refusal->enhanced.size() == 5 && refusal->enhanced[0] == '5');
    return;  // MAIL is never sent
  }
  const model::Envelope& env = msg.env;
  std::string mail = client::mail_command(env, msg.body.size(), ext);
  FUZZ_CHECK(one_line(mail));
  FUZZ_CHECK(has(mail, " SIZE=") == ext.size_offered);
  if (has(mail, "BODY=8BITMIME")) FUZZ_CHECK(ext.eightbitmime);
  if (has(mail, "BODY=BINARYMIME")) FUZZ_CHECK(ext.binarymime && ext.chunking);
  if (has(mail, " SMTPUTF8")) FUZZ_CHECK(ext.smtputf8);
  if (has(mail, " REQUIRETLS")) FUZZ_CHECK(ext.requiretls);
  if (has(mail, " RET=") || has(mail, " ENVID=")) FUZZ_CHECK(ext.dsn);

  // Our own server, offering what the peer offered, reads back what we asked for. (An
  // envelope with a non-ASCII sender but no SMTPUTF8 is one it never accepts.)
  smtp::Offered offered;
  offered.size = ext.size_offered;
  offered.eightbitmime = ext.eightbitmime;
  offered.smtputf8 = ext.smtputf8;
  offered.dsn = ext.dsn;
  offered.requiretls = ext.requiretls;
  offered.chunking = ext.chunking;
  offered.auth = false;
  offered.max_size = ext.size;
  if (non_ascii(env.sender) && !env.smtputf8) return;
  std::string_view arg(mail);
  arg = arg.substr(5, arg.size() - 7);  // "MAIL " ... "\r\n"
  auto parsed = smtp::parse_mail(arg, offered);
  FUZZ_CHECK(parsed.ok());
  const smtp::MailParams& mp = *parsed;
  FUZZ_CHECK(mp.reverse_path == env.sender);
  FUZZ_CHECK(mp.size == (ext.size_offered ? std::optional<std::uint64_t>(msg.body.size())
                                           : std::nullopt));
  model::BodyType body = model::BodyType::SevenBit;
  if (env.body_type == model::BodyType::EightBitMime && ext.eightbitmime) body = env.body_type;
  if (env.body_type == model::BodyType::BinaryMime && ext.binarymime && ext.chunking) {
    body = env.body_type;
  }
  FUZZ_CHECK(mp.body == body);
  FUZZ_CHECK(mp.smtputf8 == (env.smtputf8 && ext.smtputf8));
  FUZZ_CHECK(mp.requiretls == (env.requiretls && ext.requiretls));
  FUZZ_CHECK(mp.ret == (ext.dsn ? env.ret : model::Ret::Unset));
  FUZZ_CHECK(mp.envid == (ext.dsn ? env.envid : std::string()));

  std::string rcpt = client::rcpt_command(msg.rcpt, ext);
  FUZZ_CHECK(one_line(rcpt));
  if (has(rcpt, " NOTIFY=") || has(rcpt, " ORCPT=")) FUZZ_CHECK(ext.dsn);
  arg = rcpt;
  arg = arg.substr(5, arg.size() - 7);  // "RCPT " ... "\r\n"
  auto rp = smtp::parse_rcpt(arg, offered, mp.smtputf8);
  if (non_ascii(msg.rcpt.address) && !mp.smtputf8) {
    FUZZ_CHECK(!rp.ok());  // the server would have refused it too (553 5.6.7)
    return;
  }
  // A "utf-8" ORCPT goes out as RFC 6533 utf-8-addr-xtext (\x{HEX}); this target once
  // found it written as xtext ("+C3+BC"), which our own server refused with 501 5.5.4.
  FUZZ_CHECK(rp.ok());
  FUZZ_CHECK(rp->forward_path == msg.rcpt.address);
  std::uint8_t notify = msg.rcpt.notify;
  if (notify & model::kNotifyNever) notify = model::kNotifyNever;
  FUZZ_CHECK(rp->notify == (ext.dsn ? notify : model::kNotifyUnset));
  if (ext.dsn && !client::orcpt_value(msg.rcpt.orcpt).empty()) {
    FUZZ_CHECK(rp->orcpt == msg.rcpt.orcpt);
  } else {
    FUZZ_CHECK(rp->orcpt.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const Message msg = make_message(data[0], data[1], data[2]);
  std::string_view in(reinterpret_cast<const char*>(data + 3), size - 3);
  smtp::ReplyParser parser(64);
  while (!in.empty()) {
    std::size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    if (parser.feed(line) != smtp::ReplyStatus::Complete) continue;
    smtp::ParsedReply reply = parser.take();
    FUZZ_CHECK(reply.code >= 200 && reply.code <= 599 && !reply.lines.empty());
    if (reply.code >= 300) continue;  // the client reads EHLO keywords from 2xx only
    Extensions ext = client::parse_ehlo(reply);
    check_extensions(reply, ext);
    check_commands(ext, msg);
  }
  return 0;
}
