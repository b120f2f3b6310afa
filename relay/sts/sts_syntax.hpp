// sts_syntax.hpp - character classes shared by the two RFC 8461 grammars (the _mta-sts TXT
// record of §3.1 and the policy of §3.2), and by the RFC 8460 TLSRPT record, whose
// field grammar is the same (relay/tlsrpt/tlsrpt_txt.cpp). Pure, header-only.
#pragma once

#include <cstddef>
#include <string_view>

namespace secmx::sts {

constexpr bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

constexpr bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// sts-ext-name = sts-policy-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
// The registered names (v, id, version, mode, max_age, mx) are of this shape too.
constexpr bool is_ext_name(std::string_view s) {
  if (s.empty() || s.size() > 32 || !is_alnum(s.front())) return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '_' && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace secmx::sts
