// fuzz_sts_txt.cpp - libFuzzer target for the _mta-sts TXT record (relay/sts/sts_txt).
//
// The input is one record for parse_sts_txt(); split at LF into records, and each record
// into strings of a few bytes, it is also an RRset for select_sts_txt().
// Invariants: an accepted record is printable ASCII and WSP only, begins with v=STSv1 and
// has an id of 1..32 letters and digits that it names; whitespace around its ';' does not
// matter (all of it removed, or more added, reads the same id); the canonical
// "v=STSv1; id=ID;" reads the same id; a refusal is one short printable line. The RRset
// verdict is exactly §3.1's: no record, several, or the one record's own parse.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "relay/sts/sts_txt.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/fuzz_text.hpp"

using namespace secmx::sts;

using secmx::fuzz::printable_line;

namespace {

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void check_record(std::string_view in, const secmx::Result<StsTxt, std::string>& r) {
  if (!r.ok()) {
    FUZZ_CHECK(printable_line(r.error()));
    return;
  }
  const std::string& id = r->id;
  FUZZ_CHECK(in.starts_with("v=STSv1"));
  FUZZ_CHECK(!id.empty() && id.size() <= 32);
  for (char c : id) FUZZ_CHECK(alnum(c));
  FUZZ_CHECK(in.find("id=" + id) != std::string_view::npos);
  for (char c : in) FUZZ_CHECK(c == '\t' || (c >= 0x20 && c <= 0x7e));

  // Every SP and HTAB of a valid record belongs to a delimiter, and every ';' is one.
  std::string tight, loose;
  for (char c : in) {
    if (c == ' ' || c == '\t') continue;
    tight += c;
    loose += c == ';' ? std::string(" \t; ") : std::string(1, c);
  }
  for (const std::string& variant : {tight, loose}) {
    auto again = parse_sts_txt(variant);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->id == id);
  }
  auto canonical = parse_sts_txt("v=STSv1; id=" + id + ";");
  FUZZ_CHECK(canonical.ok());
  FUZZ_CHECK(canonical->id == id);
}

void check_rrset(std::string_view in) {
  std::vector<TxtStrings> records;
  std::vector<std::string_view> joined;
  const std::size_t chunk = 1 + in.size() % 5;  // where the strings of a record are cut
  for (std::string_view record : secmx::fuzz::split_lines(in)) {
    TxtStrings strings;
    for (std::size_t i = 0; i < record.size(); i += chunk) {
      strings.emplace_back(record.substr(i, chunk));
    }
    records.push_back(std::move(strings));
    joined.push_back(record);
  }

  std::vector<std::string_view> kept;
  for (std::string_view record : joined) {
    if (secmx::fuzz::begins_with_version(record, "v=STSv1")) kept.push_back(record);
  }
  auto r = select_sts_txt(records);
  if (kept.size() != 1) {
    FUZZ_CHECK(!r.ok());
    FUZZ_CHECK(r.error().problem == (kept.empty() ? TxtProblem::NoRecord : TxtProblem::Several));
    FUZZ_CHECK(printable_line(r.error().message));
    return;
  }
  auto one = parse_sts_txt(kept.front());
  FUZZ_CHECK(r.ok() == one.ok());
  if (one.ok()) {
    FUZZ_CHECK(r->id == one->id);
  } else {
    FUZZ_CHECK(r.error().problem == TxtProblem::Invalid);
    FUZZ_CHECK(r.error().message == "invalid record: " + one.error());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_record(in, parse_sts_txt(in));
  check_rrset(in);
  return 0;
}
