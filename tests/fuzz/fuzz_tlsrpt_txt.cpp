// fuzz_tlsrpt_txt.cpp - libFuzzer target for the _smtp._tls TXT record of TLS reporting
// (relay/tlsrpt/tlsrpt_txt).
//
// The input is one record for parse_tlsrpt_txt(); split at LF into records, it is also an
// RRset for select_tlsrpt_record().
// Invariants: an accepted record begins with v=TLSRPTv1 and is printable ASCII and WSP
// only; its rua is non-empty, at most kMaxRua long, without duplicates, and holds only
// mailto addresses (local@domain, printable ASCII, no space or comma) and https URIs as
// written in the record; whitespace does not matter where the grammar allows it (all of it
// removed, or more added around each ';', reads the same targets); a refusal is one short
// printable line. The RRset verdict is exactly §3's: no record, several, or the one
// record's own parse.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "relay/tlsrpt/tlsrpt_txt.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/fuzz_text.hpp"

using namespace secmx::tlsrpt;

using secmx::fuzz::printable_line;

namespace {

bool starts_with_https(std::string_view s) {
  constexpr std::string_view kScheme = "https://";
  if (s.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != kScheme[i]) return false;
  }
  return true;
}

void check_target(std::string_view in, const Rua& r) {
  FUZZ_CHECK(!r.target.empty());
  for (char c : r.target) FUZZ_CHECK(c > 0x20 && c < 0x7f);
  if (r.kind == Rua::Kind::Mailto) {
    std::size_t at = r.target.rfind('@');
    FUZZ_CHECK(at != std::string::npos && at > 0 && at + 1 < r.target.size());
    FUZZ_CHECK(r.target.find(',') == std::string::npos);
  } else {
    FUZZ_CHECK(r.kind == Rua::Kind::Https);
    FUZZ_CHECK(starts_with_https(r.target));
    FUZZ_CHECK(in.find(r.target) != std::string_view::npos);
  }
}

void check_record(std::string_view in, const secmx::Result<TlsRptRecord, std::string>& r) {
  if (!r.ok()) {
    FUZZ_CHECK(printable_line(r.error()));
    return;
  }
  FUZZ_CHECK(in.starts_with("v=TLSRPTv1"));
  for (char c : in) FUZZ_CHECK(c == '\t' || (c >= 0x20 && c <= 0x7e));
  const std::vector<Rua>& rua = r->rua;
  FUZZ_CHECK(!rua.empty() && rua.size() <= kMaxRua);
  for (std::size_t i = 0; i < rua.size(); ++i) {
    check_target(in, rua[i]);
    FUZZ_CHECK(std::find(rua.begin() + static_cast<std::ptrdiff_t>(i) + 1, rua.end(), rua[i]) ==
               rua.end());
  }

  // SP and HTAB in a valid record only sit in delimiters and around a rua list's commas.
  std::string tight, loose;
  for (char c : in) {
    if (c == ' ' || c == '\t') continue;
    tight += c;
    loose += c == ';' ? std::string(" \t; ") : std::string(1, c);
  }
  for (const std::string& variant : {tight, loose}) {
    auto again = parse_tlsrpt_txt(variant);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->rua == rua);
  }
}

void check_rrset(std::string_view in) {
  std::vector<std::string> records;
  for (std::string_view line : secmx::fuzz::split_lines(in)) records.emplace_back(line);
  std::vector<const std::string*> kept;
  for (const std::string& record : records) {
    if (secmx::fuzz::begins_with_version(record, "v=TLSRPTv1")) kept.push_back(&record);
  }
  auto r = select_tlsrpt_record(records);
  if (kept.size() != 1) {
    FUZZ_CHECK(!r.ok());
    FUZZ_CHECK(printable_line(r.error()));
    return;
  }
  auto one = parse_tlsrpt_txt(*kept.front());
  FUZZ_CHECK(r.ok() == one.ok());
  if (one.ok()) {
    FUZZ_CHECK(r->rua == one->rua);
  } else {
    FUZZ_CHECK(r.error() == "invalid record: " + one.error());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_record(in, parse_tlsrpt_txt(in));
  check_rrset(in);
  return 0;
}
