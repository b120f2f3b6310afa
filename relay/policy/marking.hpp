// marking.hpp - protective markings: what classification a message says it carries.
//
// Three sources, all read (docs/policy.md "Markings"):
//  - every X-Protective-Marking header field (Australian EPMS: comma-separated KEY=value
//    fields VER, NS, SEC, DLM, CAVEAT, EXPIRES, DOWNTO, ACCESS, NOTE, ORIGIN; values may be
//    quoted, with commas inside the quotes);
//  - every [SEC=...] / [DLM=...] marker in the Subject (the EPMS subject form);
//  - the operator's policy.subject_markers, e.g. "[IN-CONFIDENCE]", found in the Subject.
// The highest level read counts. The X-Protective-Marking field is checked against the
// EPMS (field order and case, values per VER, ACCESS only from OFFICIAL:Sensitive up, one
// field per message) and takes precedence over the subject: a subject [SEC=...] that
// disagrees with it makes the classification unknown (the higher level still counts). A
// marking that cannot be parsed, names an unknown level,
// sits in a Subject or X-Protective-Marking with an encoded-word that cannot be decoded
// (headers.hpp), or may have been cut off by the header limits makes the classification
// `unknown`; its
// level (if any was read) still counts, so an unreadable second marking can add caution
// but never remove it. EXPIRES and DOWNTO are parsed but never lower the level.
// MarkingReader is built once from the config, then immutable and safe to share between
// threads; everything here is pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/policy/headers.hpp"
#include "relay/model/levels.hpp"

namespace secmx::policy {

// Encoding: a field that carries markings (or that a rule reads) held an encoded-word the
// relay could not decode; its text is the field name.
enum class MarkingSource : std::uint8_t { Header, SubjectSec, SubjectWord, Limits, Encoding };
std::string_view to_string(MarkingSource s);  // "X-Protective-Marking", "Subject [SEC=]", ...

// Which rule an unreadable marking broke: the label of secmx_markings_invalid_total.
//   syntax     not a KEY=value list, a bad quote, no SEC, no or unknown VER, a field twice
//   order      EPMS fields out of the standard's order (VER, NS, SEC, DLM, CAVEAT, EXPIRES,
//              DOWNTO, ACCESS, NOTE, ORIGIN)
//   case       a field name, or under VER 2018.1 / 2024.1 a value, not spelled as the
//              standard spells it ("sec=", "SEC=Protected")
//   value      a level, DLM or ACCESS value the VER does not allow (DLM after 2012.3)
//   access     ACCESS on a level below OFFICIAL:Sensitive
//   duplicate  more than one X-Protective-Marking field
//   subject    the subject's [SEC=...] disagrees with the X-Protective-Marking field
//   unreadable an undecodable encoded-word, or markings cut off by the header limits
enum class MarkingProblem : std::uint8_t {
  Syntax, Order, Case, Value, Access, Duplicate, Subject, Unreadable
};
inline constexpr std::size_t kMarkingProblems = 8;
std::string_view to_string(MarkingProblem p);

// The EPMS fields as written (values unquoted, otherwise untouched).
struct EpmsFields {
  std::string version, ns, sec, dlm, expires, downto, note, origin;
  std::vector<std::string> caveats, access;
};

struct Marking {
  MarkingSource source = MarkingSource::Header;
  std::string text;            // what was read, cut to kMaxMarkingText bytes (for --explain)
  std::optional<model::Level> level;  // the level it states, when one could be read
  std::string error;           // non-empty: malformed or unknown level -> classification unknown
  MarkingProblem problem = MarkingProblem::Syntax;  // with error: which rule it broke
  EpmsFields fields;
};

inline constexpr std::size_t kMaxMarkingText = 256;
inline constexpr std::size_t kMaxMarkings = 32;  // more on one message: treated as unknown

// Parses an EPMS field list: the value of X-Protective-Marking (source Header) or the
// inside of a subject's [SEC=...] (source SubjectSec).
Marking parse_epms(std::string_view text, MarkingSource source);

struct Classification {
  std::optional<model::Level> level;     // the highest level read from any marking
  bool unknown = false;           // some marking could not be read (see markings[].error)
  std::vector<Marking> markings;  // in the order found: header fields, then the subject

  // Why it is unknown, for reasons and --explain ("" when it is not).
  std::string unknown_why() const;
};

// Records that `f` held an encoded-word that could not be decoded (f.decode_error set):
// what it hides is unread, so the classification becomes unknown.
void add_undecodable(const HeaderField& f, Classification& out);

class MarkingReader {
 public:
  explicit MarkingReader(const std::vector<std::string>& subject_markers);
  Classification classify(const HeaderSection& headers) const;

 private:
  struct Word {
    std::string text;        // as configured
    bool bracketed = false;  // "[X]": matched against bracketed subject tokens
    std::string key;         // bracketed: normalised inside; otherwise the text itself
    std::optional<model::Level> level;
  };
  void scan_subject(std::string_view subject, Classification& out) const;
  std::vector<Word> words_;
};

}  // namespace secmx::policy
