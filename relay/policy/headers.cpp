// headers.cpp - header section splitting, RFC 5322 unfolding and RFC 2047 decoding.
//
// Contract (see headers.hpp): one pass over at most limits.max_section_bytes of input;
// every loop advances through the input, so the cost is linear in what is read and the
// memory is bounded by the limits. Nothing here throws on hostile input; a line that is
// neither a field nor a continuation is skipped and counted (a lenient reader finds more
// markings, which can only raise protection).
#include "relay/policy/headers.hpp"

#include <iconv.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>

#include "relay/common/ascii.hpp"
#include "relay/common/base64.hpp"

namespace secmx::policy {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  // Decoded text may carry CR/LF (=0D=0A in an encoded-word); trim those too.
  auto ws = [](char c) { return is_wsp(c) || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 5322 field-name: printable US-ASCII except ':'.
bool valid_field_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c <= 32 || c >= 127 || c == ':') return false;
  }
  return true;
}

bool decode_q(std::string_view text, std::string& out) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_') {
      out += ' ';
    } else if (c == '=') {
      if (i + 2 >= text.size()) return false;
      int hi = hex_digit_value(text[i + 1]);
      int lo = hex_digit_value(text[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return true;
}

// One encoded-word as written: "=?charset?e?data?=". Recognising the form is apart from
// decoding it, so that a word the relay cannot decode is reported instead of being
// mistaken for plain text.
struct Word {
  std::string charset;    // lower case, RFC 2231 "*language" removed; may be empty
  char encoding = 0;      // 'b' or 'q' (anything else is an error when decoding)
  std::string_view data;  // the encoded-text
  std::size_t end = 0;    // one past the closing "?="
};

// Printable ASCII without white space or '?': what RFC 2047 allows in a charset token and
// in encoded-text. Anything else ends the attempt: "=?" followed by ordinary prose
// ("what=? next") is plain text, as every mail reader shows it.
bool word_char(char c) { return c > 32 && c < 127 && c != '?'; }

std::optional<Word> match_word(std::string_view text, std::size_t i) {
  std::size_t cs_end = i + 2;
  while (cs_end < text.size() && word_char(text[cs_end])) ++cs_end;
  if (cs_end + 2 >= text.size() || text[cs_end] != '?' || text[cs_end + 2] != '?') {
    return std::nullopt;
  }
  std::size_t d = cs_end + 3;
  std::size_t k = d;
  while (k < text.size() && word_char(text[k])) ++k;
  if (k + 1 >= text.size() || text[k] != '?' || text[k + 1] != '=') return std::nullopt;
  Word w;
  std::string_view cs = text.substr(i + 2, cs_end - i - 2);
  w.charset = ascii_lowercase(cs.substr(0, cs.find('*')));
  w.encoding = ascii_lower(text[cs_end + 1]);
  w.data = text.substr(d, k - d);
  w.end = k + 2;
  return w;
}

// Converts `bytes` in `charset` to UTF-8 with glibc's iconv, appending to out. Every
// charset glibc knows is decoded; an unknown name or a byte sequence that is not valid in
// the charset is an error (what could not be read may hide a marking).
bool to_utf8(const std::string& charset, std::string_view bytes, std::string& out,
             std::string& error) {
  constexpr std::size_t kMaxCharsetName = 40;
  if (charset.empty()) {
    error = "encoded-word without a charset";
    return false;
  }
  // iconv reads "//TRANSLIT" and "//IGNORE" suffixes out of a name; a sender must not be
  // able to ask for bytes to be dropped.
  bool name_ok = charset.size() <= kMaxCharsetName;
  for (char c : charset) {
    bool alnum = (c >= '0' && c <= '9') || (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'z');
    if (!(alnum || c == '-' || c == '_' || c == '.' || c == ':' || c == '+')) {
      name_ok = false;
    }
  }
  if (!name_ok) {
    error = "encoded-word charset '" + charset.substr(0, kMaxCharsetName) + "' is not a charset name";
    return false;
  }
  iconv_t cd = iconv_open("UTF-8", charset.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    error = "encoded-word in unknown charset '" + charset + "'";
    return false;
  }
  std::unique_ptr<void, int (*)(iconv_t)> close(cd, iconv_close);
  char* in = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  const std::size_t start = out.size();
  std::size_t room = bytes.size() * 3 + 16;
  bool flushed = false;
  for (;;) {
    std::size_t used = out.size();
    out.resize(used + room);
    char* o = out.data() + used;
    std::size_t o_left = room;
    // Then a call without input flushes the shift state of stateful charsets
    // (ISO-2022-JP must end in ASCII mode).
    std::size_t rc = in_left ? iconv(cd, &in, &in_left, &o, &o_left)
                             : iconv(cd, nullptr, nullptr, &o, &o_left);
    int err = errno;
    out.resize(used + (room - o_left));
    if (rc != static_cast<std::size_t>(-1)) {
      if (in_left == 0 && flushed) return true;
      if (in_left == 0) flushed = true;
      continue;
    }
    if (err != E2BIG) break;  // EILSEQ, EINVAL (a cut-off sequence)
  }
  out.resize(start);
  error = "encoded-word bytes are not valid " + charset;
  return false;
}

}  // namespace

std::string unfold(std::string_view folded) {
  std::string out;
  out.reserve(folded.size());
  for (std::size_t i = 0; i < folded.size(); ++i) {
    char c = folded[i];
    if (c == '\r' && i + 2 < folded.size() && folded[i + 1] == '\n' &&
        is_wsp(folded[i + 2])) {
      ++i;  // skip CR LF, keep the white space
      continue;
    }
    if (c == '\n' && i + 1 < folded.size() && is_wsp(folded[i + 1])) continue;
    out += c;
  }
  return out;
}

DecodedText decode_encoded_words(std::string_view text) {
  DecodedText out;
  out.text.reserve(text.size());
  auto fail = [&](std::string why) {
    if (out.error.empty()) out.error = std::move(why);
  };
  // Adjacent encoded-words in one charset are converted together: RFC 2047 wants every
  // word to hold whole characters, but writers that split a multi-byte character across
  // two words are common, and what a mail reader shows is the joined text.
  std::string run_charset, run_bytes;
  bool in_run = false;
  std::size_t run_begin = 0, run_end = 0;  // the run's words as written
  auto end_run = [&] {
    if (!in_run) return;
    std::string why;
    if (!to_utf8(run_charset, run_bytes, out.text, why)) {
      fail(std::move(why));
      out.text.append(text.substr(run_begin, run_end - run_begin));  // kept as written
    }
    run_bytes.clear();
    in_run = false;
  };

  std::size_t i = 0;
  std::size_t ws_start = 0, ws_len = 0;  // the white space run before the current position
  bool after_word = false;               // the last thing read was an encoded-word
  while (i < text.size()) {
    if (text[i] == '=' && i + 1 < text.size() && text[i + 1] == '?') {
      if (auto w = match_word(text, i)) {
        std::string bytes;
        bool ok = w->encoding == 'b'   ? base64_decode(w->data, bytes, Base64Padding::Optional)
                  : w->encoding == 'q' ? decode_q(w->data, bytes)
                                       : false;
        if (ok) {
          // RFC 2047 6.2: white space between adjacent encoded-words is not displayed.
          if (!after_word || !in_run || w->charset != run_charset) {
            end_run();
            if (!after_word) out.text.append(text.substr(ws_start, ws_len));
            run_charset = w->charset;
            in_run = true;
            run_begin = i;
          }
          ws_len = 0;
          run_bytes += bytes;
          run_end = w->end;
          after_word = true;
          i = w->end;
          continue;
        }
        // Kept as written, and reported: what it hides cannot be read.
        fail(w->encoding == 'b' || w->encoding == 'q'
                 ? std::string("encoded-word with broken ") +
                       (w->encoding == 'b' ? "base64" : "quoted-printable")
                 : "encoded-word with unknown encoding '" + std::string(1, w->encoding) + "'");
        end_run();
        out.text.append(text.substr(ws_start, ws_len));
        ws_len = 0;
        after_word = false;
        out.text.append(text.substr(i, w->end - i));
        i = w->end;
        continue;
      }
    }
    if (is_wsp(text[i]) || text[i] == '\r' || text[i] == '\n') {
      if (ws_len == 0) ws_start = i;
      ++ws_len;
      ++i;
      continue;
    }
    end_run();
    out.text.append(text.substr(ws_start, ws_len));
    ws_len = 0;
    after_word = false;
    out.text += text[i++];
  }
  end_run();
  out.text.append(text.substr(ws_start, ws_len));
  return out;
}

std::vector<std::string_view> HeaderSection::values(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& f : fields) {
    if (iequals(f.name, name)) out.push_back(f.value);
  }
  return out;
}

HeaderSection parse_header_section(std::string_view raw, const HeaderLimits& limits) {
  HeaderSection out;
  bool have = false;  // a field is being collected
  std::string name, value;
  auto flush = [&] {
    if (!have) return;
    DecodedText d = decode_encoded_words(value);
    out.fields.push_back({std::move(name), std::string(trim(d.text)), std::move(d.error)});
    name.clear();
    value.clear();
    have = false;
  };
  auto stop = [&](std::string why) {
    out.truncated = true;
    out.truncation = std::move(why);
    have = false;  // the field being read is incomplete: it does not count
  };

  std::size_t pos = 0;
  while (pos < raw.size()) {
    std::size_t nl = raw.find('\n', pos);
    std::size_t line_end = nl == std::string_view::npos ? raw.size() : nl;
    std::size_t next = nl == std::string_view::npos ? raw.size() : nl + 1;
    std::string_view line = raw.substr(pos, line_end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // A line that is cut off by a limit ends the field before it only when it does not
    // start with white space; otherwise it may have continued that field.
    bool starts_field = !line.empty() && !is_wsp(line.front());
    if (next > limits.max_section_bytes) {
      if (starts_field) flush();
      stop("header section over " + std::to_string(limits.max_section_bytes) + " bytes");
      break;
    }
    pos = next;
    if (line.size() > limits.max_line_bytes) {
      if (starts_field) flush();
      stop("header line over " + std::to_string(limits.max_line_bytes) + " bytes");
      break;
    }
    if (line.empty()) break;  // the end of the header section
    if (is_wsp(line.front())) {
      if (!have) {
        ++out.skipped_lines;
        continue;
      }
      if (value.size() + line.size() > limits.max_field_bytes) {
        stop("header field over " + std::to_string(limits.max_field_bytes) + " bytes");
        break;
      }
      value.append(line);  // unfolding: the line break goes, the white space stays
      continue;
    }
    flush();
    std::size_t colon = line.find(':');
    std::string_view field_name = colon == std::string_view::npos ? "" : line.substr(0, colon);
    // RFC 5322 4.5 (obsolete syntax): white space before the colon.
    while (!field_name.empty() && is_wsp(field_name.back())) field_name.remove_suffix(1);
    if (!valid_field_name(field_name)) {
      ++out.skipped_lines;
      continue;
    }
    if (out.fields.size() >= limits.max_fields) {
      stop("more than " + std::to_string(limits.max_fields) + " header fields");
      break;
    }
    name.assign(field_name);
    value.assign(line.substr(colon + 1));
    have = true;
  }
  flush();
  return out;
}

}  // namespace secmx::policy
