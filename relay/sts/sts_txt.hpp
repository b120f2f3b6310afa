// sts_txt.hpp - the _mta-sts.D TXT record of MTA-STS (RFC 8461 §3.1): does D publish a
// policy, and under which id.
//
// Pure: the caller looks the TXT RRset up and hands its records over; nothing here does
// DNS. The grammar, as published (with its *WSP around ";"):
//   sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//   sts-field-delim = *WSP ";" *WSP        sts-version = %s"v=STSv1"
//   sts-field       = sts-id / sts-extension
//   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//   sts-extension   = sts-ext-name "=" 1*(%x21-3A / %x3C / %x3E-7E)
// Names are case-sensitive: "ID=x" is an extension, and a record without "id=" is
// invalid. Unknown fields are ignored; of a repeated "v" or "id" the first counts and the
// others only have to be well-formed extensions (§3.2, last paragraph, which speaks of
// TXT records and policies alike).
//
// Failure: a record that is not exactly of this grammar is refused with a one-line reason
// that names the field by position and never quotes the record, so it can go to logs and
// reports as it is. Per §3.1 every refusal means "D has no available policy" (a cached
// one may still apply, §5.1: the caller's business).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "relay/common/result.hpp"

namespace secmx::sts {

struct StsTxt {
  std::string id;  // 1..32 letters and digits; a new id means a new policy to fetch
};

// One record, its strings already concatenated.
Result<StsTxt, std::string> parse_sts_txt(std::string_view txt);

// The character-strings of one TXT resource record, in order.
using TxtStrings = std::vector<std::string>;

enum class TxtProblem {
  NoRecord,  // no record begins with v=STSv1: D does not use MTA-STS
  Several,   // more than one does: ambiguous, so none counts
  Invalid,   // exactly one does, and it breaks the grammar
};
const char* to_string(TxtProblem p);  // "no-record", "several", "invalid"

struct TxtError {
  TxtProblem problem = TxtProblem::NoRecord;
  std::string message;
};

// §3.1 over the whole RRset: each record's strings are concatenated without spaces; the
// records that do not begin with "v=STSv1;" (or "v=STSv1" *WSP ";", the grammar's own
// delimiter) are discarded; the one left is parsed. Any other count is an error.
Result<StsTxt, TxtError> select_sts_txt(std::span<const TxtStrings> records);

}  // namespace secmx::sts
