// fuzz_audit_record.cpp - libFuzzer target for the audit trail's field scanner
// (relay/audit/audit_scan.hpp extract_fields), which reads stored records - bytes anyone
// who can write the queue directory could have changed - without a JSON parser.
//
// Invariants: it never crashes or reads out of bounds on any input; and it agrees with a
// full JSON parser (nlohmann) on what a record is: every text nlohmann reads as an object
// is accepted, with the same top-level "event", "sender", "queue_id" and "classification"
// strings. (The scanner may refuse more than nlohmann does - e.g. nesting too deep - but
// never reads a field differently.)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "relay/audit/audit_scan.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

int depth(const nlohmann::json& j) {
  int d = 0;
  if (j.is_structured()) {
    for (const auto& v : j) d = std::max(d, depth(v));
    return d + 1;
  }
  return 0;
}

std::string top_string(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  secmx::audit::RecordFields fields;
  bool ok = secmx::audit::extract_fields(payload, fields);

  // nlohmann's lexer takes a NUL for the end of the input; the scanner rightly refuses it.
  if (payload.find('\0') != std::string_view::npos) return 0;
  nlohmann::json j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  // Nesting the scanner refuses on purpose (a bound on its stack) is not a disagreement.
  if (j.is_discarded() || !j.is_object() || depth(j) > 60) return 0;
  FUZZ_CHECK(ok);
  FUZZ_CHECK(fields.event == top_string(j, "event"));
  FUZZ_CHECK(fields.sender == top_string(j, "sender"));
  FUZZ_CHECK(fields.queue_id == top_string(j, "queue_id"));
  FUZZ_CHECK(fields.classification == top_string(j, "classification"));
  return 0;
}
