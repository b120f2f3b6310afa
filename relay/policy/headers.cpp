// headers.cpp - header section splitting, RFC 5322 unfolding and RFC 2047 decoding.
//
// Contract (see headers.hpp): one pass over at most limits.max_section_bytes of input;
// every loop advances through the input, so the cost is linear in what is read and the
// memory is bounded by the limits. Nothing here throws on hostile input; a line that is
// neither a field nor a continuation is skipped and counted (a lenient reader finds more
// markings, which can only raise protection).
#include "relay/policy/headers.hpp"
#include "relay/common/ascii.hpp"

#include <array>
#include <cstdint>

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

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// windows-1252 0x80..0x9F (0: undefined there, kept as the Latin-1 C1 control).
constexpr std::array<std::uint16_t, 32> kCp1252High = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

enum class Charset { Utf8, Latin1, Cp1252, Other };

Charset charset_of(std::string_view name) {
  // RFC 2231 adds "*language" to the charset of an encoded-word.
  std::string cs = ascii_lowercase(name.substr(0, name.find('*')));
  if (cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii") return Charset::Utf8;
  if (cs == "iso-8859-1" || cs == "iso8859-1" || cs == "iso_8859-1" || cs == "latin1" ||
      cs == "l1") {
    return Charset::Latin1;
  }
  if (cs == "windows-1252" || cs == "cp1252") return Charset::Cp1252;
  return Charset::Other;
}

void append_in_charset(std::string& out, std::string_view bytes, Charset cs) {
  if (cs == Charset::Utf8) {
    out.append(bytes);
    return;
  }
  for (unsigned char c : bytes) {
    std::uint32_t cp = c;
    if (cs == Charset::Cp1252 && c >= 0x80 && c <= 0x9F && kCp1252High[c - 0x80] != 0) {
      cp = kCp1252High[c - 0x80];
    }
    append_utf8(out, cp);
  }
}

bool decode_q(std::string_view text, std::string& out) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_') {
      out += ' ';
    } else if (c == '=') {
      if (i + 2 >= text.size()) return false;
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return true;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool decode_b(std::string_view text, std::string& out) {
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t pad = 0;
  for (char c : text) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) return false;  // data after padding
    int v = base64_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // Writers that leave out the padding are common enough to accept; a lone 6-bit tail
  // (length 1 mod 4) cannot come from any encoder.
  return pad <= 2 && bits != 6;
}

// Tries to read one encoded-word at text[i] ("=?cs?e?data?="). On success sets `end` one
// past the closing "?=" and appends the decoded UTF-8 to out.
bool encoded_word(std::string_view text, std::size_t i, std::size_t& end, std::string& out) {
  constexpr std::size_t kMaxCharset = 64;
  std::size_t j = i + 2;
  std::size_t cs_end = j;
  while (cs_end < text.size() && text[cs_end] != '?' && cs_end - j <= kMaxCharset) {
    char c = text[cs_end];
    if (c <= 32 || c >= 127) return false;
    ++cs_end;
  }
  if (cs_end >= text.size() || text[cs_end] != '?' || cs_end == j) return false;
  if (cs_end + 2 >= text.size() || text[cs_end + 2] != '?') return false;
  char enc = ascii_lower(text[cs_end + 1]);
  if (enc != 'b' && enc != 'q') return false;
  std::size_t d = cs_end + 3;
  std::size_t k = d;
  while (k < text.size() && text[k] != '?') {
    char c = text[k];
    if (c <= 32 || c >= 127) return false;  // encoded-text has no white space
    ++k;
  }
  if (k + 1 >= text.size() || text[k + 1] != '=') return false;
  Charset cs = charset_of(text.substr(j, cs_end - j));
  if (cs == Charset::Other) return false;
  std::string bytes;
  std::string_view data = text.substr(d, k - d);
  if (!(enc == 'b' ? decode_b(data, bytes) : decode_q(data, bytes))) return false;
  append_in_charset(out, bytes, cs);
  end = k + 2;
  return true;
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

std::string decode_encoded_words(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  std::size_t ws_start = 0, ws_len = 0;  // the white space run before the current position
  bool after_word = false;               // the last thing emitted was an encoded-word
  while (i < text.size()) {
    std::size_t end = 0;
    if (text[i] == '=' && i + 1 < text.size() && text[i + 1] == '?') {
      std::string decoded;
      if (encoded_word(text, i, end, decoded)) {
        // RFC 2047 6.2: white space between adjacent encoded-words is not displayed.
        if (!after_word) out.append(text.substr(ws_start, ws_len));
        ws_len = 0;
        out += decoded;
        after_word = true;
        i = end;
        continue;
      }
    }
    if (is_wsp(text[i]) || text[i] == '\r' || text[i] == '\n') {
      if (ws_len == 0) ws_start = i;
      ++ws_len;
      ++i;
      continue;
    }
    out.append(text.substr(ws_start, ws_len));
    ws_len = 0;
    after_word = false;
    out += text[i++];
  }
  out.append(text.substr(ws_start, ws_len));
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
    out.fields.push_back({std::move(name), std::string(trim(decode_encoded_words(value)))});
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
