// fuzz_sts_policy.cpp - libFuzzer target for the MTA-STS policy (relay/sts/sts_policy) and
// the MX matching it feeds (relay/sts/mx_match).
//
// The input is a policy body. Invariants: an accepted policy has a mode, a max_age within
// 0..31557600 and mx patterns unless its mode is none; each pattern is lower case without
// a final dot and matches a host made from it (a wildcard: one label more, not zero or
// two); the body holds no control byte but HTAB and line ends, and no empty line. Written
// back in canonical form it reads the same, and the canonical form is a fixed point.
// Line ends do not matter: the body with LF lines and with CRLF lines gives the same
// verdict, message included. An unknown field added at the end changes nothing. A refusal
// is one short printable line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "relay/sts/mx_match.hpp"
#include "relay/sts/sts_policy.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/fuzz_text.hpp"

using namespace secmx::sts;

using secmx::fuzz::printable_line;

namespace {

using Parsed = secmx::Result<StsPolicy, std::string>;

bool same(const Parsed& a, const Parsed& b) {
  if (a.ok() != b.ok()) return false;
  if (!a.ok()) return a.error() == b.error();
  return a->mode == b->mode && a->max_age == b->max_age && a->mx == b->mx;
}

void check_pattern(const StsPolicy& p, const std::string& pattern) {
  FUZZ_CHECK(!pattern.empty() && !pattern.ends_with('.'));
  for (char c : pattern) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
  if (pattern.starts_with("*.")) {
    const std::string domain = pattern.substr(2);
    FUZZ_CHECK(domain.find('*') == std::string::npos);
    FUZZ_CHECK(!mx_matches(pattern, domain));
    FUZZ_CHECK(!mx_matches(pattern, "x.y." + domain));
    // A domain of 252 or 253 characters leaves no room for a label: such a pattern
    // matches nothing, which is safe (it only narrows what enforce allows).
    if (domain.size() + 2 <= 253) {
      FUZZ_CHECK(mx_matches(pattern, "x." + domain));
      FUZZ_CHECK(mx_matches(pattern, "X." + domain + "."));
      FUZZ_CHECK(policy_allows(p, "x." + domain));
    }
  } else {
    FUZZ_CHECK(pattern.find('*') == std::string::npos);
    FUZZ_CHECK(mx_matches(pattern, pattern));
    FUZZ_CHECK(mx_matches(pattern, pattern + "."));
    FUZZ_CHECK(!mx_matches(pattern, "x." + pattern));
    FUZZ_CHECK(policy_allows(p, pattern));
  }
}

void check_accepted(std::string_view in, const StsPolicy& p) {
  FUZZ_CHECK(p.text == in);
  FUZZ_CHECK(p.mode == Mode::Enforce || p.mode == Mode::Testing || p.mode == Mode::None);
  FUZZ_CHECK(p.max_age.count() >= 0 && p.max_age <= kMaxMaxAge);
  FUZZ_CHECK(p.mode == Mode::None || !p.mx.empty());
  for (const std::string& pattern : p.mx) check_pattern(p, pattern);

  for (std::size_t i = 0; i < in.size(); ++i) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c == '\r') FUZZ_CHECK(i + 1 < in.size() && in[i + 1] == '\n');
    FUZZ_CHECK(c >= 0x20 || c == '\t' || c == '\r' || c == '\n');
    FUZZ_CHECK(c != 0x7f);
  }
  FUZZ_CHECK(!in.starts_with("\n") && !in.starts_with("\r\n"));
  FUZZ_CHECK(in.find("\n\n") == std::string_view::npos);
  FUZZ_CHECK(in.find("\n\r\n") == std::string_view::npos);

  const std::string text = canonical_text(p);
  auto again = parse_sts_policy(text);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->mode == p.mode && again->max_age == p.max_age && again->mx == p.mx);
  FUZZ_CHECK(canonical_text(*again) == text);

  std::string extended(in);
  if (!extended.ends_with('\n')) extended += "\n";
  extended += "x-unknown.field: some value\r\n";
  auto more = parse_sts_policy(extended);
  FUZZ_CHECK(more.ok());
  FUZZ_CHECK(more->mode == p.mode && more->max_age == p.max_age && more->mx == p.mx);
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  std::size_t start = 0;
  for (std::size_t at = s.find(from); at != std::string_view::npos; at = s.find(from, start)) {
    out.append(s.substr(start, at - start)).append(to);
    start = at + from.size();
  }
  out.append(s.substr(start));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Parsed r = parse_sts_policy(in);
  if (r.ok()) {
    check_accepted(in, *r);
  } else {
    FUZZ_CHECK(printable_line(r.error()));
  }
  if (in.size() > kMaxPolicyBytes / 2) return 0;

  // A CR that does not end a line stays a CR in both forms, so compare only without one.
  const std::string lf = replace_all(in, "\r\n", "\n");
  if (lf.find('\r') != std::string::npos) return 0;
  const std::string crlf = replace_all(lf, "\n", "\r\n");
  FUZZ_CHECK(same(r, parse_sts_policy(lf)));
  FUZZ_CHECK(same(r, parse_sts_policy(crlf)));
  return 0;
}
