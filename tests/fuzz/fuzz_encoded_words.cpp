// fuzz_encoded_words.cpp - libFuzzer target for RFC 2047 encoded-words and the marking
// reader over the decoded text (relay/policy headers and marking).
//
// Byte 0 chooses the header limits, whether words are folded onto continuation lines and
// B or Q encoding for the re-encoded copy; the rest is a header section. Invariants:
//  - decode_encoded_words: text without "=?" comes back unchanged and without error; an
//    error only where "=?" was; the output is at most a small multiple of the input; ASCII
//    input that decodes without error gives valid UTF-8; decoding again changes nothing
//    once no "=?" is left;
//  - a Subject or X-Protective-Marking field with a decode error makes the classification
//    unknown, and so does a truncated section;
//  - never read lower: every "[SEC=<level>]" and configured "[WORD]" in a decoded Subject,
//    and the level of every X-Protective-Marking, is at most the classification's level,
//    or the classification is unknown;
//  - encoding does not change the reading: the Subject and X-Protective-Marking values,
//    written again as UTF-8 encoded-words (B or Q, split and possibly folded), decode to
//    the same text and classify to the same level and the same unknown flag.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/policy/headers.hpp"
#include "relay/model/levels.hpp"
#include "relay/policy/marking.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace secmx::policy;

namespace {

const std::vector<std::string>& subject_words() {
  static const std::vector<std::string> words{"[IN-CONFIDENCE]", "[SENSITIVE]", "[RESTRICTED]",
                                              "[TOP SECRET]", "CONFIDENTIAL"};
  return words;
}

const MarkingReader& reader() {
  static const MarkingReader r(subject_words());
  return r;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    std::uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (std::size_t k = 1; k < n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3F);
    }
    static const std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

bool ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

void check_decode(std::string_view in) {
  DecodedText d = decode_encoded_words(in);
  if (in.find("=?") == std::string_view::npos) {
    FUZZ_CHECK(d.text == in && d.error.empty());
    return;
  }
  FUZZ_CHECK(d.text.size() <= 8 * in.size() + 64);
  if (ascii(in) && d.error.empty()) FUZZ_CHECK(valid_utf8(d.text));
  if (d.error.empty() && d.text.find("=?") == std::string::npos) {
    DecodedText again = decode_encoded_words(d.text);
    FUZZ_CHECK(again.text == d.text && again.error.empty());
  }
}

bool has_error(const Classification& c, MarkingSource s) {
  return std::any_of(c.markings.begin(), c.markings.end(),
                     [s](const Marking& m) { return m.source == s && !m.error.empty(); });
}

// At least `l`, or unknown: what the text says is never read lower.
void check_not_lower(const Classification& c, secmx::model::Level l) {
  FUZZ_CHECK(c.unknown || (c.level && secmx::model::rank(*c.level) >= secmx::model::rank(l)));
}

void check_subject(std::string_view subject, const Classification& c) {
  for (std::size_t at = subject.find("[SEC="); at != std::string_view::npos;
       at = subject.find("[SEC=", at + 1)) {
    std::size_t end = subject.find(']', at);
    if (end == std::string_view::npos) break;
    std::string_view inner = subject.substr(at + 5, end - at - 5);
    if (inner.find('[') != std::string_view::npos) continue;
    if (auto l = secmx::model::parse_level(inner.substr(0, inner.find(',')))) check_not_lower(c, *l);
  }
  for (const std::string& w : subject_words()) {
    if (w.front() == '[' && subject.find(w) != std::string_view::npos) {
      check_not_lower(c, *secmx::model::parse_level(w.substr(1, w.size() - 2)));
    }
  }
}

// ---- The same values written again as encoded-words. ----

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 3) {
    std::uint32_t v = static_cast<unsigned char>(s[i]) << 16;
    if (i + 1 < s.size()) v |= static_cast<unsigned char>(s[i + 1]) << 8;
    if (i + 2 < s.size()) v |= static_cast<unsigned char>(s[i + 2]);
    out += kB64[v >> 18 & 63];
    out += kB64[v >> 12 & 63];
    out += i + 1 < s.size() ? kB64[v >> 6 & 63] : '=';
    out += i + 2 < s.size() ? kB64[v & 63] : '=';
  }
  return out;
}

std::string q_encode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '_';
    } else {
      out += '=';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// UTF-8 text as encoded-words of at most 30 bytes of text each, split between characters,
// separated by a space or a fold.
std::string encode_words(std::string_view text, bool q, bool fold) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = std::min<std::size_t>(30, text.size() - i);
    while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) --n;
    std::string_view chunk = text.substr(i, n);
    if (!out.empty()) out += fold ? "\r\n " : " ";
    out += q ? "=?utf-8?Q?" + q_encode(chunk) + "?=" : "=?UTF-8?B?" + base64(chunk) + "?=";
    i += n;
  }
  return out;
}

bool encodable(std::string_view v) {
  if (v.empty() || !valid_utf8(v)) return false;
  return std::none_of(v.begin(), v.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
  });
}

bool marking_field(const HeaderField& f) {
  return iequals(f.name, "Subject") || iequals(f.name, "X-Protective-Marking");
}

void check_encoded_copy(const HeaderSection& h, const Classification& original, bool q,
                        bool fold) {
  if (h.truncated) return;
  HeaderSection plain;
  std::string raw;
  for (const HeaderField& f : h.fields) {
    if (!marking_field(f)) continue;
    if (!f.decode_error.empty() || !encodable(f.value)) return;
    plain.fields.push_back(f);
    raw += f.name + ": " + encode_words(f.value, q, fold) + "\r\n";
  }
  if (plain.fields.empty() || raw.size() > 64 * 1024) return;
  HeaderSection encoded = parse_header_section(raw);
  if (encoded.truncated) return;
  FUZZ_CHECK(encoded.fields.size() == plain.fields.size());
  for (std::size_t i = 0; i < plain.fields.size(); ++i) {
    FUZZ_CHECK(encoded.fields[i].decode_error.empty());
    FUZZ_CHECK(encoded.fields[i].value == plain.fields[i].value);
  }
  Classification a = reader().classify(plain);
  Classification b = reader().classify(encoded);
  FUZZ_CHECK(a.level == b.level && a.unknown == b.unknown);
  // Dropping the other fields cannot raise the reading above the whole message's.
  if (!original.unknown && a.level) {
    FUZZ_CHECK(original.level && secmx::model::rank(*a.level) <= secmx::model::rank(*original.level));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t bits = data[0];
  std::string_view raw(reinterpret_cast<const char*>(data + 1), size - 1);

  check_decode(raw);
  for (std::size_t start = 0; start < raw.size();) {  // each line by itself too
    std::size_t nl = std::min(raw.find('\n', start), raw.size());
    check_decode(raw.substr(start, nl - start));
    start = nl + 1;
  }

  HeaderLimits limits;
  if (bits & 1) {
    limits.max_section_bytes = 512;
    limits.max_fields = 8;
    limits.max_line_bytes = 80;
    limits.max_field_bytes = 200;
  }
  HeaderSection h = parse_header_section(raw, limits);
  Classification cls = reader().classify(h);
  if (h.truncated) FUZZ_CHECK(cls.unknown);

  std::size_t xpm = 0;
  for (const HeaderField& f : h.fields) {
    if (iequals(f.name, "Subject")) {
      if (!f.decode_error.empty()) {
        // Said as an undecodable word, or, past the 32-marking limit, by the one limit entry.
        FUZZ_CHECK(cls.unknown && (has_error(cls, MarkingSource::Encoding) ||
                                   has_error(cls, MarkingSource::Limits)));
      }
      check_subject(f.value, cls);
    } else if (iequals(f.name, "X-Protective-Marking")) {
      if (!f.decode_error.empty()) FUZZ_CHECK(cls.unknown);
      if (++xpm <= kMaxMarkings) {
        Marking m = parse_epms(f.value, MarkingSource::Header);
        if (m.level) check_not_lower(cls, *m.level);
        if (!m.error.empty()) FUZZ_CHECK(cls.unknown);
      }
    }
  }
  FUZZ_CHECK(cls.unknown == !cls.unknown_why().empty());

  check_encoded_copy(h, cls, bits & 2, bits & 4);
  return 0;
}
