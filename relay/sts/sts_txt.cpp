#include "relay/sts/sts_txt.hpp"

#include "relay/sts/sts_syntax.hpp"

namespace secmx::sts {
namespace {

constexpr std::string_view kVersion = "v=STSv1";

// sts-ext-value: printable ASCII but SP, ";" and "=".
bool is_ext_value(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7e || c == ';' || c == '=') return false;
  }
  return true;
}

bool is_id(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s) {
    if (!is_alnum(c)) return false;
  }
  return true;
}

std::size_t skip_wsp(std::string_view s, std::size_t i) {
  while (i < s.size() && is_wsp(s[i])) ++i;
  return i;
}

std::string field_error(std::size_t n, std::string_view what) {
  return "field " + std::to_string(n) + ": " + std::string(what);
}

}  // namespace

const char* to_string(TxtProblem p) {
  switch (p) {
    case TxtProblem::NoRecord: return "no-record";
    case TxtProblem::Several: return "several";
    case TxtProblem::Invalid: return "invalid";
  }
  return "invalid";
}

Result<StsTxt, std::string> parse_sts_txt(std::string_view txt) {
  if (!txt.starts_with(kVersion)) return fail(std::string("does not begin with v=STSv1"));
  StsTxt out;
  bool have_id = false;
  std::size_t fields = 0;  // after v=STSv1, counted from 1 as the messages say
  std::size_t i = kVersion.size();
  while (i < txt.size()) {
    // sts-field-delim, then a field unless the delimiter ended the record.
    i = skip_wsp(txt, i);
    if (i == txt.size() || txt[i] != ';') {
      return fail(fields == 0 ? std::string("v=STSv1 is not followed by ';'")
                              : field_error(fields, "not followed by ';'"));
    }
    i = skip_wsp(txt, i + 1);
    if (i == txt.size()) break;
    ++fields;
    std::size_t end = i;
    while (end < txt.size() && txt[end] != ';' && !is_wsp(txt[end])) ++end;
    std::string_view field = txt.substr(i, end - i);
    i = end;

    std::size_t eq = field.find('=');
    if (eq == std::string_view::npos) return fail(field_error(fields, "has no '='"));
    std::string_view name = field.substr(0, eq);
    std::string_view value = field.substr(eq + 1);
    if (!is_ext_name(name)) return fail(field_error(fields, "invalid field name"));
    if (name == "id" && !have_id) {
      if (!is_id(value)) return fail(field_error(fields, "id must be 1 to 32 letters or digits"));
      out.id = std::string(value);
      have_id = true;
    } else if (!is_ext_value(value)) {
      // Extensions, and a repeated v or id, which is ignored but must still be a field.
      return fail(field_error(fields, "invalid value (printable ASCII without ';' or '=')"));
    }
  }
  if (fields == 0) return fail(std::string("no field after v=STSv1"));
  if (!have_id) return fail(std::string("no id field (names are case-sensitive)"));
  return out;
}

Result<StsTxt, TxtError> select_sts_txt(std::span<const TxtStrings> records) {
  std::vector<std::string> kept;
  for (const TxtStrings& strings : records) {
    std::string record;
    for (const std::string& s : strings) record += s;
    if (!record.starts_with(kVersion)) continue;
    std::size_t after = skip_wsp(record, kVersion.size());
    if (after < record.size() && record[after] == ';') kept.push_back(std::move(record));
  }
  if (kept.empty()) {
    return fail(TxtError{TxtProblem::NoRecord, "no TXT record begins with v=STSv1;"});
  }
  if (kept.size() > 1) {
    return fail(TxtError{TxtProblem::Several,
                         std::to_string(kept.size()) + " TXT records begin with v=STSv1;"});
  }
  auto parsed = parse_sts_txt(kept.front());
  if (!parsed) return fail(TxtError{TxtProblem::Invalid, "invalid record: " + parsed.error()});
  return std::move(parsed).value();
}

}  // namespace secmx::sts
