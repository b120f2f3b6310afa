// address.hpp - RFC 5321 4.1.2 paths and mailboxes, with RFC 6531 UTF-8 extensions.
//
// Pure scanners used by the MAIL/RCPT parameter parser (params.hpp). parse_path() reads
// "<...>" at the start of its input and returns views into that input, so the input must
// outlive the result. Non-ASCII bytes are accepted where RFC 6531 allows them and reported
// in `non_ascii`; whether that is acceptable (SMTPUTF8) is the caller's decision.
#pragma once

#include <cstddef>
#include <string_view>

namespace secmx::smtp {

enum class PathError {
  None,
  Syntax,
  LocalTooLong,    // local part over 64 octets (RFC 5321 4.5.3.1.1)
  DomainTooLong,   // domain over 255 octets (4.5.3.1.2)
  PathTooLong,     // path over 256 octets with its punctuation (4.5.3.1.3)
  BadUtf8,         // non-ASCII bytes that are not well-formed UTF-8
};

struct ParsedPath {
  PathError error = PathError::None;
  std::size_t consumed = 0;     // octets of input taken by "<...>"
  std::string_view mailbox;     // "local@domain", source route removed; empty for "<>"
  std::string_view local;
  std::string_view domain;      // empty for "<>" and for bare "postmaster"
  bool null_path = false;       // "<>"
  bool bare_postmaster = false; // "<postmaster>" (any case), RFC 5321 4.1.1.3
  bool non_ascii = false;       // a byte >= 0x80 occurs in the mailbox
};

// Reads a Path or "<>" (with an optional, ignored source route) at the start of `in`.
ParsedPath parse_path(std::string_view in);

// RFC 5321 Domain (LDH labels; U-labels as raw UTF-8 octets are let through).
bool is_domain(std::string_view text);
// "[...]": an IPv4 or "IPv6:" address literal.
bool is_address_literal(std::string_view text);
// Well-formed UTF-8: no overlong forms, surrogates or code points above U+10FFFF.
bool is_valid_utf8(std::string_view text);

}  // namespace secmx::smtp
