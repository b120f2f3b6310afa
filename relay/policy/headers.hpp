// headers.hpp - the message's header section as (name, value) pairs for policy decisions.
//
// parse_header_section() reads raw header lines (CRLF, or bare LF for files given to
// --explain) up to the first empty line, unfolds them (RFC 5322 2.2.3), decodes RFC 2047
// encoded-words and trims surrounding white space, so that rules and the marking parser
// see what a mail reader would show. The input comes from anyone, so the work is bounded
// by the limits below; when one is hit, parsing stops and `truncated` says so. Callers
// must treat a truncated section as possibly hiding a marking (the policy engine maps it to
// policy.unknown_marking) - what was not read must never lower protection.
// Pure functions, no I/O, no logging; the result owns its strings.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "relay/common/ascii.hpp"

namespace secmx::policy {

// Limits on what one message's header section may cost (documented in docs/policy.md).
inline constexpr std::size_t kMaxHeaderSectionBytes = 256 * 1024;
inline constexpr std::size_t kMaxHeaderFields = 1000;
inline constexpr std::size_t kMaxHeaderLineBytes = 8 * 1024;   // one physical line, w/o CRLF
inline constexpr std::size_t kMaxHeaderFieldBytes = 64 * 1024; // one field, folded lines joined

struct HeaderLimits {
  std::size_t max_section_bytes = kMaxHeaderSectionBytes;
  std::size_t max_fields = kMaxHeaderFields;
  std::size_t max_line_bytes = kMaxHeaderLineBytes;
  std::size_t max_field_bytes = kMaxHeaderFieldBytes;
};

struct HeaderField {
  std::string name;          // as written (trailing white space before ':' removed)
  std::string value;         // unfolded, RFC 2047-decoded, leading/trailing white space trimmed
  std::string decode_error;  // non-empty: an encoded-word in it could not be decoded (why)
};

struct HeaderSection {
  std::vector<HeaderField> fields;  // in message order
  bool truncated = false;           // a limit was hit: fields after that point were not read
  std::string truncation;           // which limit, for --explain ("header section over 262144 bytes")
  std::size_t skipped_lines = 0;    // lines that were neither a field nor a continuation

  // Every value of the fields named `name` (ASCII case-insensitive), in order.
  std::vector<std::string_view> values(std::string_view name) const;
};

HeaderSection parse_header_section(std::string_view raw, const HeaderLimits& limits = {});

// RFC 5322 unfolding: every CRLF (or LF) followed by a space or tab is removed.
std::string unfold(std::string_view folded);

// RFC 2047: decodes B and Q encoded-words in every charset glibc's iconv knows to UTF-8,
// drops the white space between adjacent encoded-words and converts adjacent words of one
// charset together. A word that cannot be decoded (unknown or empty charset, bytes not
// valid in it, broken base64 or quoted-printable, an unknown encoding) is left exactly as
// written and `error` says why: the caller must treat what it hides as unread.
struct DecodedText {
  std::string text;
  std::string error;  // the first word that could not be decoded; empty when all were
};
DecodedText decode_encoded_words(std::string_view text);

using secmx::iequals;  // ASCII case-insensitive (relay/common/ascii.hpp)

}  // namespace secmx::policy
