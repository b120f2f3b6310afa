// marking.cpp - EPMS field lists, subject markers and the message's classification.
//
// Contract (see marking.hpp): pure, linear in the header values it is given (they are
// already bounded by the header limits), never throws. Every path that cannot read a
// marking records an error, which makes the classification unknown: the caller then
// applies policy.unknown_marking, so a marking that was not understood cannot lower the
// protection the message gets.
#include "relay/policy/marking.hpp"

#include <algorithm>
#include <array>

namespace secmx::policy {
namespace {

// Versions of the EPMS header grammar this parser was written against. 2012.2 is the
// earlier form some NZ and AU agencies still send; it has the same fields as 2012.3.
constexpr std::array<std::string_view, 4> kVersions = {"2012.2", "2012.3", "2018.1", "2024.1"};

// The order the EPMS writes its fields in; fields it does not name are not placed.
constexpr std::array<std::string_view, 10> kFieldOrder = {
    "VER", "NS", "SEC", "DLM", "CAVEAT", "EXPIRES", "DOWNTO", "ACCESS", "NOTE", "ORIGIN"};

// EPMS 2018.1 and 2024.1 (PSPF 2018 and 2024) in the gov.au namespace: the only SEC and
// ACCESS values, spelled exactly so; DLM was retired with 2012.3.
constexpr std::array<std::string_view, 6> kAuSec = {
    "UNOFFICIAL", "OFFICIAL", "OFFICIAL:Sensitive", "PROTECTED", "SECRET", "TOP-SECRET"};
constexpr std::array<std::string_view, 3> kAuAccess = {"Legal-Privilege", "Legislative-Secrecy",
                                                       "Personal-Privacy"};

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }

bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_upper(c);
  return out;
}

// For --explain and errors: at most kMaxMarkingText bytes, control characters as '?'.
std::string excerpt(std::string_view s, std::size_t max = kMaxMarkingText) {
  std::string out;
  for (char c : s.substr(0, max)) {
    out += (static_cast<unsigned char>(c) < 32 || c == 127) ? '?' : c;
  }
  if (s.size() > max) out += "...";
  return out;
}

void raise_to(std::optional<model::Level>& level, model::Level l) {
  if (!level || model::rank(l) > model::rank(*level)) level = l;
}

void add_error(Marking& m, std::string why, MarkingProblem problem = MarkingProblem::Syntax) {
  if (!m.error.empty()) return;  // the first problem explains the marking
  m.error = std::move(why);
  m.problem = problem;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_upper(a[i]) != ascii_upper(b[i])) return false;
  }
  return true;
}

// `value` must be one of `allowed` as written: a different case is a Case error, anything
// else a Value error.
template <std::size_t N>
void check_exact(Marking& m, std::string_view key, std::string_view value,
                 const std::array<std::string_view, N>& allowed, std::string_view version) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  for (auto a : allowed) {
    if (iequal(a, value)) {
      add_error(m, std::string(key) + "=" + excerpt(value, 64) + " is written " + std::string(a),
                MarkingProblem::Case);
      return;
    }
  }
  add_error(m, std::string(key) + "=" + excerpt(value, 64) + " is not allowed in VER=" +
                   std::string(version),
            MarkingProblem::Value);
}

// The rules of the current standard (VER 2018.1 and 2024.1, gov.au): exact SEC and ACCESS
// values, no DLM. Older versions and other namespaces are read as before.
void check_current_epms(Marking& m) {
  const auto& f = m.fields;
  if (f.version != "2018.1" && f.version != "2024.1") return;
  if (!f.ns.empty() && f.ns != "gov.au") return;
  if (!f.sec.empty()) check_exact(m, "SEC", f.sec, kAuSec, f.version);
  if (!f.dlm.empty()) {
    add_error(m, "DLM is not part of VER=" + f.version, MarkingProblem::Value);
  }
  for (const auto& a : f.access) check_exact(m, "ACCESS", a, kAuAccess, f.version);
}

// "KEY=" at the start of s (white space allowed around the key), case-insensitive.
bool starts_with_key(std::string_view s, std::string_view key) {
  s = trim(s);
  if (s.size() <= key.size()) return false;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (ascii_upper(s[i]) != key[i]) return false;
  }
  return trim(s.substr(key.size())).starts_with('=');
}

// Reads one value at text[i] (after '='): a quoted string with backslash escapes, or
// everything up to the next comma. Leaves i at the comma or the end.
bool read_value(std::string_view text, std::size_t& i, std::string& value) {
  while (i < text.size() && is_wsp(text[i])) ++i;
  if (i < text.size() && text[i] == '"') {
    ++i;
    bool closed = false;
    while (i < text.size()) {
      char c = text[i++];
      if (c == '\\' && i < text.size()) {
        value += text[i++];
      } else if (c == '"') {
        closed = true;
        break;
      } else {
        value += c;
      }
    }
    if (!closed) return false;
    while (i < text.size() && is_wsp(text[i])) ++i;
    return i == text.size() || text[i] == ',';  // nothing but white space after the quote
  }
  std::size_t start = i;
  while (i < text.size() && text[i] != ',') ++i;
  value.assign(trim(text.substr(start, i - start)));
  return true;
}

void set_once(Marking& m, std::string& field, std::string_view key, std::string value) {
  if (!field.empty()) add_error(m, std::string(key) + " given more than once");
  field = std::move(value);
}

}  // namespace

std::string_view to_string(MarkingProblem p) {
  switch (p) {
    case MarkingProblem::Syntax: return "syntax";
    case MarkingProblem::Order: return "order";
    case MarkingProblem::Case: return "case";
    case MarkingProblem::Value: return "value";
    case MarkingProblem::Access: return "access";
    case MarkingProblem::Duplicate: return "duplicate";
    case MarkingProblem::Subject: return "subject";
    case MarkingProblem::Unreadable: return "unreadable";
  }
  return "?";
}

std::string_view to_string(MarkingSource s) {
  switch (s) {
    case MarkingSource::Header: return "X-Protective-Marking";
    case MarkingSource::SubjectSec: return "Subject [SEC=]";
    case MarkingSource::SubjectWord: return "Subject marker";
    case MarkingSource::Limits: return "header limits";
    case MarkingSource::Encoding: return "undecodable encoded-word";
  }
  return "?";
}

Marking parse_epms(std::string_view text, MarkingSource source) {
  Marking m;
  m.source = source;
  m.text = excerpt(trim(text));
  std::optional<model::Level> sec_level, dlm_level;
  std::vector<std::string> secs;  // SEC may be repeated by broken writers: read them all
  std::size_t last_field = 0;     // index in kFieldOrder of the furthest field so far

  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && text[i] != '=' && text[i] != ',') ++i;
    std::string_view key_text = trim(text.substr(start, i - start));
    if (i >= text.size() || text[i] == ',') {
      // A lone word: an empty item between commas is harmless, anything else is not EPMS.
      if (!key_text.empty()) add_error(m, "field without '=': '" + excerpt(key_text, 64) + "'");
      ++i;
      continue;
    }
    ++i;  // '='
    std::string value;
    if (!read_value(text, i, value)) {
      add_error(m, "bad quoted value for " + excerpt(key_text, 32));
      break;  // the rest cannot be split reliably
    }
    ++i;  // ',' (or past the end)
    std::string key = upper(key_text);
    if (!key.empty() && key != key_text) {
      add_error(m, "field name '" + excerpt(key_text, 32) + "' is written " + key,
                MarkingProblem::Case);
    }
    if (auto at = std::find(kFieldOrder.begin(), kFieldOrder.end(), key);
        at != kFieldOrder.end()) {
      auto pos = static_cast<std::size_t>(at - kFieldOrder.begin());
      if (pos < last_field) {
        add_error(m, key + " after " + std::string(kFieldOrder[last_field]),
                  MarkingProblem::Order);
      }
      last_field = std::max(last_field, pos);
    }
    auto& f = m.fields;
    if (key == "VER") {
      set_once(m, f.version, "VER", std::move(value));
    } else if (key == "NS") {
      set_once(m, f.ns, "NS", std::move(value));
    } else if (key == "SEC") {
      secs.push_back(value);
      if (f.sec.empty()) f.sec = std::move(value);
    } else if (key == "DLM") {
      set_once(m, f.dlm, "DLM", std::move(value));
    } else if (key == "CAVEAT") {
      if (f.caveats.size() < 16) f.caveats.push_back(std::move(value));
    } else if (key == "ACCESS") {
      if (f.access.size() < 16) f.access.push_back(std::move(value));
    } else if (key == "EXPIRES") {
      set_once(m, f.expires, "EXPIRES", std::move(value));
    } else if (key == "DOWNTO") {
      set_once(m, f.downto, "DOWNTO", std::move(value));
    } else if (key == "NOTE") {
      set_once(m, f.note, "NOTE", std::move(value));
    } else if (key == "ORIGIN") {
      set_once(m, f.origin, "ORIGIN", std::move(value));
    } else if (key.empty()) {
      add_error(m, "field without a name");
    }
    // Other keys are left alone: a future EPMS field must not make every marking unknown,
    // and no field but SEC and DLM carries the level.
  }

  if (secs.size() > 1) add_error(m, "SEC given more than once");
  for (const auto& s : secs) {
    if (auto l = model::parse_level(s)) {
      raise_to(sec_level, *l);
    } else {
      add_error(m, "unknown level '" + excerpt(s, 64) + "'", MarkingProblem::Value);
    }
  }
  if (!m.fields.dlm.empty()) {
    dlm_level = model::parse_dlm(m.fields.dlm);
    if (!dlm_level) {
      add_error(m, "unknown DLM '" + excerpt(m.fields.dlm, 64) + "'", MarkingProblem::Value);
    }
  }
  if (secs.empty() && m.fields.dlm.empty()) add_error(m, "no SEC");
  if (source == MarkingSource::Header) {
    // The subject form carries no version; the header must, or its grammar is a guess.
    if (m.fields.version.empty()) {
      add_error(m, "no VER");
    } else if (std::find(kVersions.begin(), kVersions.end(), m.fields.version) ==
               kVersions.end()) {
      add_error(m, "unknown VER '" + excerpt(m.fields.version, 32) + "'");
    }
  }
  if (source == MarkingSource::Header) check_current_epms(m);
  if (sec_level) raise_to(m.level, *sec_level);
  if (dlm_level) raise_to(m.level, *dlm_level);
  // An information management marker asks for care the baseline levels do not give.
  if (!m.fields.access.empty() && m.level &&
      model::rank(*m.level) < model::rank(model::Level::OfficialSensitive)) {
    add_error(m, "ACCESS on " + std::string(model::to_string(*m.level)) +
                     " (only OFFICIAL:Sensitive and above)",
              MarkingProblem::Access);
  }
  return m;
}

namespace {

// The one entry that stands for every marking past kMaxMarkings.
Marking over_limit() {
  Marking m;
  m.source = MarkingSource::Limits;
  m.error = "more than " + std::to_string(kMaxMarkings) + " markings";
  m.problem = MarkingProblem::Unreadable;
  return m;
}

// True when `out` holds kMaxMarkings already: the classification is unknown, said once by
// over_limit(), and nothing more is added, so the list stays bounded.
bool at_marking_limit(Classification& out) {
  if (out.markings.size() < kMaxMarkings) return false;
  if (!out.unknown) out.markings.push_back(over_limit());
  out.unknown = true;
  return true;
}

}  // namespace

std::string Classification::unknown_why() const {
  std::string out;
  for (const auto& m : markings) {
    if (m.error.empty()) continue;
    if (!out.empty()) out += "; ";
    out += std::string(to_string(m.source)) + ": " + m.error;
  }
  return out;
}

MarkingReader::MarkingReader(const std::vector<std::string>& subject_markers) {
  for (const auto& text : subject_markers) {
    Word w;
    w.text = text;
    std::string_view inner = trim(text);
    w.bracketed = inner.size() >= 2 && inner.front() == '[' && inner.back() == ']';
    if (w.bracketed) inner = trim(inner.substr(1, inner.size() - 2));
    w.level = model::parse_level(inner);
    // The config loader refuses markers that name no level; one that slips through here
    // would never match, so it is dropped rather than kept as a silent no-op.
    if (!w.level) continue;
    w.key = w.bracketed ? model::normalise_level_name(inner) : upper(inner);
    words_.push_back(std::move(w));
  }
}

void MarkingReader::scan_subject(std::string_view subject, Classification& out) const {
  auto add = [&](Marking m) {
    if (at_marking_limit(out)) return false;
    out.markings.push_back(std::move(m));
    return true;
  };

  // Bracketed tokens: the innermost "[...]" ending at each ']', in one pass.
  std::size_t open = std::string_view::npos;
  for (std::size_t i = 0; i < subject.size(); ++i) {
    char c = subject[i];
    if (c == '[') {
      open = i;
    } else if (c == ']' && open != std::string_view::npos) {
      std::string_view inner = trim(subject.substr(open + 1, i - open - 1));
      open = std::string_view::npos;
      if (starts_with_key(inner, "SEC") || starts_with_key(inner, "DLM")) {
        if (!add(parse_epms(inner, MarkingSource::SubjectSec))) return;
        continue;
      }
      if (inner.size() > 64) continue;  // longer than any configured level word
      std::string key = model::normalise_level_name(inner);
      for (const auto& w : words_) {
        if (!w.bracketed || w.key != key) continue;
        Marking m;
        m.source = MarkingSource::SubjectWord;
        m.text = w.text;
        m.level = w.level;
        if (!add(std::move(m))) return;
        break;
      }
    }
  }
  if (open != std::string_view::npos) {
    std::string_view rest = subject.substr(open + 1);
    if (starts_with_key(rest, "SEC") || starts_with_key(rest, "DLM")) {
      Marking m = parse_epms(rest, MarkingSource::SubjectSec);
      m.error = "unterminated subject marking";
      m.problem = MarkingProblem::Syntax;
      m.text = excerpt(subject.substr(open));
      add(std::move(m));
    }
  }

  // Unbracketed operator words: whole words, ASCII case-insensitive.
  std::string up = upper(subject);
  for (const auto& w : words_) {
    if (w.bracketed || w.key.empty()) continue;
    for (std::size_t at = up.find(w.key); at != std::string::npos;
         at = up.find(w.key, at + 1)) {
      bool left = at == 0 || !is_alnum(up[at - 1]);
      std::size_t end = at + w.key.size();
      bool right = end == up.size() || !is_alnum(up[end]);
      if (!left || !right) continue;
      Marking m;
      m.source = MarkingSource::SubjectWord;
      m.text = w.text;
      m.level = w.level;
      add(std::move(m));
      break;  // one is enough: the same word again adds nothing
    }
  }
}

void add_undecodable(const HeaderField& f, Classification& out) {
  if (at_marking_limit(out)) return;  // as for any marking past the limit
  Marking m;
  m.source = MarkingSource::Encoding;
  m.text = excerpt(f.name);
  m.error = excerpt(f.name, 64) + ": " + f.decode_error;
  m.problem = MarkingProblem::Unreadable;
  out.markings.push_back(std::move(m));
  out.unknown = true;
}

Classification MarkingReader::classify(const HeaderSection& headers) const {
  Classification out;
  std::size_t header_fields = 0;
  if (headers.truncated) {
    // Whatever came after the cut could have been a marking.
    Marking m;
    m.source = MarkingSource::Limits;
    m.error = headers.truncation;
    m.problem = MarkingProblem::Unreadable;
    out.markings.push_back(std::move(m));
  }
  for (const auto& f : headers.fields) {
    if (!iequals(f.name, "X-Protective-Marking")) continue;
    if (out.markings.size() >= kMaxMarkings) {
      out.markings.push_back(over_limit());
      break;
    }
    if (!f.decode_error.empty()) add_undecodable(f, out);
    Marking m = parse_epms(f.value, MarkingSource::Header);
    // EPMS: at most one field per message; which of two would be meant is a guess.
    if (++header_fields > 1) {
      add_error(m, "more than one X-Protective-Marking field", MarkingProblem::Duplicate);
    }
    out.markings.push_back(std::move(m));
  }
  // The header takes precedence over the subject, which must agree with it.
  std::optional<model::Level> header_level;
  for (const auto& m : out.markings) {
    if (m.source == MarkingSource::Header && m.level) raise_to(header_level, *m.level);
  }
  const std::size_t subject_from = out.markings.size();
  for (const auto& f : headers.fields) {
    if (!iequals(f.name, "Subject")) continue;
    // The decoded part is still read: an unreadable word can add caution, never remove it.
    if (!f.decode_error.empty()) add_undecodable(f, out);
    scan_subject(f.value, out);
  }
  for (std::size_t i = subject_from; header_level && i < out.markings.size(); ++i) {
    Marking& m = out.markings[i];
    if (m.source != MarkingSource::SubjectSec || !m.level || *m.level == *header_level) continue;
    add_error(m,
              "subject says " + std::string(model::to_string(*m.level)) +
                  ", X-Protective-Marking says " + std::string(model::to_string(*header_level)),
              MarkingProblem::Subject);
  }
  for (const auto& m : out.markings) {
    if (m.level) raise_to(out.level, *m.level);
    if (!m.error.empty()) out.unknown = true;
  }
  return out;
}

}  // namespace secmx::policy
