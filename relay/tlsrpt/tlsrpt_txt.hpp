// tlsrpt_txt.hpp - the _smtp._tls.D TXT record (RFC 8460 §3): where a domain wants its
// TLS reports.
//
//   tlsrpt-record    = %s"v=TLSRPTv1" 1*(field-delim tlsrpt-field) [field-delim]
//   field-delim      = *WSP ";" *WSP
//   tlsrpt-field     = tlsrpt-rua / tlsrpt-extension
//   tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//   tlsrpt-extension = ext-name "=" 1*(%x21-3A / %x3C / %x3E-7E)
//
// The version must come first and be exactly "v=TLSRPTv1"; names are case-sensitive, and
// a `rua` field must be present (every rua field counts, in order); other fields are
// ignored but must be well-formed. Whitespace only where the grammar has it: none inside a
// field but around a rua list's commas, and none after the last field unless a ';' follows.
// Each rua URI must be an RFC 3986 URI with ',', ';' and '!' %-encoded; `mailto:` (RFC 6068:
// the address list before '?', %-decoded, unquoted ASCII local parts and LDH domains) and
// `https:` (a host, an optional port, no user information) are used, other schemes are
// ignored. A mailto/https URI we cannot use is skipped; a record with no usable URI is
// invalid, its reason the first unusable URI's. Duplicates count once, and at most
// kMaxRua targets are kept (a record must not make us send without bound).
// Of a domain's TXT records only those that begin with "v=TLSRPTv1" *WSP ";" count; none,
// or more than one, gives no record (§3).
//
// Pure; any thread. Failure: a one-line reason in our own words naming the field or URI by
// position, never quoting the record, so it can go to logs as it is.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "relay/common/result.hpp"

namespace secmx::tlsrpt {

struct Rua {
  enum class Kind { Mailto, Https };
  Kind kind = Kind::Mailto;
  std::string target;  // Mailto: "reports@example.net"; Https: the whole URI
  bool operator==(const Rua&) const = default;
};

inline constexpr std::size_t kMaxRua = 8;

struct TlsRptRecord {
  std::vector<Rua> rua;  // in the record's order; never empty
};

// One TXT record, its character-strings already joined (without spaces).
Result<TlsRptRecord, std::string> parse_tlsrpt_txt(std::string_view text);

// A domain's TXT RRset (each record's strings joined): the one TLSRPTv1 record.
Result<TlsRptRecord, std::string> select_tlsrpt_record(const std::vector<std::string>& records);

// "_smtp._tls." + domain.
std::string tlsrpt_name(std::string_view domain);

}  // namespace secmx::tlsrpt
