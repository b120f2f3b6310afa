// fuzz_params.cpp - libFuzzer target for parse_mail, parse_rcpt and xtext.
//
// The first byte chooses which extensions are offered (and the size limit); the rest is
// the argument after MAIL / RCPT. Invariants: a refusal is one of the documented codes
// with an enhanced code and renders as clean CRLF lines; an accepted path is within the
// length limits and parses again by itself; xtext encoding round-trips.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "relay/smtp/params.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace secmx::smtp;

namespace {

void check_refusal(const Reply& r) {
  FUZZ_CHECK(r.code == 501 || r.code == 552 || r.code == 553 || r.code == 555);
  FUZZ_CHECK(!r.enhanced.empty() && r.enhanced[0] == '5');
  std::string wire = r.format();
  FUZZ_CHECK(wire.size() >= 2 && wire.substr(wire.size() - 2) == "\r\n");
  FUZZ_CHECK(wire.find('\r') == wire.size() - 2);
  FUZZ_CHECK(wire.find('\n') == wire.size() - 1);
}

bool has_non_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t bits = data[0];
  std::string_view arg(reinterpret_cast<const char*>(data + 1), size - 1);

  Offered offered;
  offered.size = bits & 1;
  offered.eightbitmime = bits & 2;
  offered.smtputf8 = bits & 4;
  offered.dsn = bits & 8;
  offered.requiretls = bits & 16;
  offered.chunking = bits & 32;
  offered.auth = bits & 64;
  offered.max_size = (bits & 128) ? 1000 : 0;

  auto mail = parse_mail(arg, offered);
  if (mail.ok()) {
    const MailParams& mp = *mail;
    FUZZ_CHECK(mp.reverse_path.size() <= 254);
    if (mp.size && offered.max_size) FUZZ_CHECK(*mp.size <= offered.max_size);
    FUZZ_CHECK(!has_non_ascii(mp.reverse_path) || mp.smtputf8);
    FUZZ_CHECK(mp.envid.size() <= 100);
    // The path stands on its own: parsing it again gives the same address.
    if (!mp.reverse_path.empty()) {
      Offered all;
      auto again = parse_mail("FROM:<" + mp.reverse_path + ">" + (mp.smtputf8 ? " SMTPUTF8" : ""),
                              all);
      FUZZ_CHECK(again.ok());
      FUZZ_CHECK(again->reverse_path == mp.reverse_path);
      FUZZ_CHECK(address_domain(mp.reverse_path).size() <= 255);
    }
  } else {
    check_refusal(mail.error());
  }

  const bool utf8_tx = bits & 4;
  auto rcpt = parse_rcpt(arg, offered, utf8_tx);
  if (rcpt.ok()) {
    const RcptParams& rp = *rcpt;
    FUZZ_CHECK(!rp.forward_path.empty() && rp.forward_path.size() <= 254);
    FUZZ_CHECK(!has_non_ascii(rp.forward_path) || utf8_tx);
    FUZZ_CHECK(!(rp.notify & secmx::model::kNotifyNever) ||
               rp.notify == secmx::model::kNotifyNever);
    FUZZ_CHECK(rp.orcpt.empty() || rp.orcpt.rfind("rfc822;", 0) == 0 ||
               rp.orcpt.rfind("utf-8;", 0) == 0);
    auto again = parse_rcpt("TO:<" + rp.forward_path + ">", Offered{}, utf8_tx);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->forward_path == rp.forward_path);
  } else {
    check_refusal(rcpt.error());
  }

  // xtext: encoding anything round-trips, and decoding is the inverse of encoding.
  std::string encoded = xtext_encode(arg);
  auto decoded = xtext_decode(encoded);
  FUZZ_CHECK(decoded && *decoded == arg);
  if (auto d = xtext_decode(arg)) {
    auto back = xtext_decode(xtext_encode(*d));
    FUZZ_CHECK(back && *back == *d);
  }
  return 0;
}
