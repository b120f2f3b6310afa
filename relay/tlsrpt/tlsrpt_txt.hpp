// tlsrpt_txt.hpp - the _smtp._tls.D TXT record (RFC 8460 §3): where a domain wants its
// TLS reports.
//
//   tlsrpt-record = "v=TLSRPTv1" *WSP ";" *WSP "rua=" uri *("," uri) [*WSP ";" ...]
//
// The version must come first and be exactly "v=TLSRPTv1"; `rua` must be present; other
// fields (ext-name=ext-value) are ignored but must be well-formed. Each rua URI is
// `mailto:` (RFC 6068, the address part; %-escapes decoded) or `https:`; other schemes are
// ignored, and a record with no usable URI is invalid. Of a domain's TXT records only those
// that begin with "v=TLSRPTv1" count; none, or more than one, gives no record (§3).
//
// Pure; any thread. Failure: a one-line reason, never the input echoed unescaped.
#pragma once

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
