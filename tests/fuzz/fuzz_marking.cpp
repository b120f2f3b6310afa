// fuzz_marking.cpp - libFuzzer target for the policy's header parsing and protective
// markings (relay/policy headers, levels, marking): all of it reads text anyone can send.
//
// The first byte picks small or default header limits; the rest is a header section.
// Invariants: the limits hold; field names are RFC 5322 names and values are trimmed;
// unfolding never grows its input and text without "=?" decodes to itself; a marking
// without an error has a level; the classification is unknown exactly when some marking
// has an error (and always after truncation) and its level is the highest one read.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "relay/policy/headers.hpp"
#include "relay/policy/marking.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace secmx::policy;

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void check_marking(const Marking& m) {
  FUZZ_CHECK(m.text.size() <= kMaxMarkingText + 3);
  if (m.error.empty()) FUZZ_CHECK(m.level.has_value());
  FUZZ_CHECK(m.fields.caveats.size() <= 16 && m.fields.access.size() <= 16);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t bits = data[0];
  std::string_view raw(reinterpret_cast<const char*>(data + 1), size - 1);

  HeaderLimits limits;
  if (bits & 1) {
    limits.max_section_bytes = 512;
    limits.max_fields = 8;
    limits.max_line_bytes = 80;
    limits.max_field_bytes = 200;
  }
  HeaderSection h = parse_header_section(raw, limits);
  FUZZ_CHECK(h.fields.size() <= limits.max_fields);
  FUZZ_CHECK(h.truncated == !h.truncation.empty());
  for (const auto& f : h.fields) {
    FUZZ_CHECK(!f.name.empty() && f.name.find(':') == std::string::npos);
    for (char c : f.name) FUZZ_CHECK(c > 32 && c < 127);
    if (!f.value.empty()) {
      FUZZ_CHECK(!is_wsp(f.value.front()) && !is_wsp(f.value.back()));
    }
  }

  FUZZ_CHECK(unfold(raw).size() <= raw.size());
  if (raw.find("=?") == std::string_view::npos) FUZZ_CHECK(decode_encoded_words(raw).text == raw);

  check_marking(parse_epms(raw, MarkingSource::Header));
  check_marking(parse_epms(raw, MarkingSource::SubjectSec));

  static const MarkingReader reader({"[IN-CONFIDENCE]", "[SENSITIVE]", "[RESTRICTED]",
                                     "CONFIDENTIAL", "[TOP SECRET]"});
  Classification cls = reader.classify(h);
  FUZZ_CHECK(cls.markings.size() <= kMaxMarkings + 2);
  if (h.truncated) FUZZ_CHECK(cls.unknown);
  bool any_error = false;
  for (const auto& m : cls.markings) {
    if (m.source != MarkingSource::Limits) check_marking(m);
    any_error |= !m.error.empty();
    if (m.level) FUZZ_CHECK(cls.level && secmx::model::rank(*m.level) <= secmx::model::rank(*cls.level));
  }
  FUZZ_CHECK(cls.unknown == any_error);
  FUZZ_CHECK(cls.unknown == !cls.unknown_why().empty());
  // Every X-Protective-Marking the parser saw counts: none can lower the result.
  for (std::string_view v : h.values("X-Protective-Marking")) {
    Marking m = parse_epms(v, MarkingSource::Header);
    if (m.level && cls.markings.size() < kMaxMarkings) {
      FUZZ_CHECK(cls.level && secmx::model::rank(*m.level) <= secmx::model::rank(*cls.level));
    }
  }
  return 0;
}
