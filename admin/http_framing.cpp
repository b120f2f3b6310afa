// http_framing.cpp - request line, headers and body framing with hard limits; see the
// header. Every size is checked before anything is copied, against the bytes already
// read: a limit is refused as soon as the input proves it exceeded, not when it ends.
#include "admin/http_framing.hpp"

#include <array>
#include <cstdint>

namespace secmx::admin {

namespace {

constexpr std::array<std::string_view, 9> kMethods = {"GET",     "HEAD",  "POST",  "PUT",  "DELETE",
                                                      "OPTIONS", "TRACE", "PATCH", "CONNECT"};

FrameResult refuse(int status, std::string code, std::string text) {
  FrameResult r;
  r.state = FrameState::Error;
  r.error = FrameError{status, std::move(code), std::move(text)};
  return r;
}

FrameResult need_more(bool expect_continue = false) {
  FrameResult r;
  r.expect_continue = expect_continue;
  return r;
}

bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal digits only, no sign, no overflow; above `max` reports max + 1.
bool parse_length(std::string_view s, std::uint64_t max, std::uint64_t& out) {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (v <= max) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v > max ? max + 1 : v;
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

enum class Framing { None, Length, Chunked };

struct Head {
  std::string_view method, target;
  std::string_view request_line;  // with its CRLF
  Framing framing = Framing::None;
  std::uint64_t length = 0;
  bool expect_continue = false;
  std::size_t size = 0;  // bytes of the head, blank line included
};

// The request line: method SP origin-form SP HTTP/1.x CRLF.
FrameResult check_request_line(std::string_view line, Head& head) {
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return refuse(400, "bad_request", "malformed request line");
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return refuse(400, "bad_request", "malformed request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1, line.size() - sp2 - 3);
  for (unsigned char c : method) {
    if (!is_tchar(c)) return refuse(400, "bad_request", "malformed request line");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return refuse(400, "bad_request", "malformed request line: HTTP/1.0 or HTTP/1.1 expected");
  }
  if (target.empty() || target.front() != '/') {
    return refuse(400, "bad_request", "request target must be a path starting with '/'");
  }
  for (unsigned char c : target) {
    if (c <= 0x20 || c >= 0x7f) return refuse(400, "bad_request", "request target: raw control, space or non-ASCII byte");
  }
  bool known = false;
  for (auto m : kMethods) known |= m == method;
  if (!known) return refuse(501, "not_implemented", "method not implemented");
  head.method = method;
  head.target = target;
  return need_more();
}

}  // namespace

FrameResult frame_request(std::string_view in, const HttpLimits& limits) {
  Head head;
  // --- request line
  auto eol = in.find('\n');
  if (eol == std::string_view::npos) {
    if (in.size() > limits.max_request_line) return refuse(414, "uri_too_long", "request line too long");
    return need_more();
  }
  if (eol + 1 > limits.max_request_line) return refuse(414, "uri_too_long", "request line too long");
  if (eol == 0 || in[eol - 1] != '\r') return refuse(400, "bad_request", "request line must end in CRLF");
  head.request_line = in.substr(0, eol + 1);
  if (auto r = check_request_line(head.request_line, head); r.state == FrameState::Error) return r;

  // --- header lines
  std::string kept;  // header lines passed on, CRLF included
  std::size_t pos = eol + 1;
  std::size_t count = 0;
  bool have_length = false;
  bool have_chunked = false;
  for (;;) {
    auto end = in.find('\n', pos);
    if (end == std::string_view::npos) {
      // A partial line counts as far as it goes (+1: it may be the blank line's CR, which
      // the complete head does not count), so a prefix is never refused for a limit the
      // complete request keeps.
      if (in.size() - pos > limits.max_header_line ||
          in.size() - (eol + 1) > limits.max_header_bytes + 1) {
        return refuse(431, "header_too_large", "request header fields too large");
      }
      return need_more();
    }
    std::string_view line = in.substr(pos, end + 1 - pos);
    pos = end + 1;
    if (line.size() < 2 || line[line.size() - 2] != '\r') {
      return refuse(400, "bad_request", "header line must end in CRLF");
    }
    if (line.size() == 2) break;  // the blank line
    if (line.size() > limits.max_header_line || pos - (eol + 1) > limits.max_header_bytes ||
        ++count > limits.max_headers) {
      return refuse(431, "header_too_large", "request header fields too large");
    }
    if (line.front() == ' ' || line.front() == '\t') {
      return refuse(400, "bad_request", "folded header line");
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return refuse(400, "bad_request", "malformed header line");
    std::string_view name = line.substr(0, colon);
    for (unsigned char c : name) {
      if (!is_tchar(c)) return refuse(400, "bad_request", "malformed header name");
    }
    std::string_view raw_value = line.substr(colon + 1, line.size() - colon - 3);
    for (unsigned char c : raw_value) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return refuse(400, "bad_request", "control byte in a header value");
      }
    }
    std::string_view value = trim(raw_value);
    if (iequals(name, "Content-Length")) {
      std::uint64_t n = 0;
      if (!parse_length(value, limits.max_body, n)) return refuse(400, "bad_request", "malformed Content-Length");
      if (have_length && n != head.length) return refuse(400, "bad_request", "conflicting Content-Length");
      have_length = true;
      head.length = n;
    } else if (iequals(name, "Transfer-Encoding")) {
      if (have_chunked) return refuse(400, "bad_request", "repeated Transfer-Encoding");
      if (!iequals(value, "chunked")) return refuse(501, "not_implemented", "transfer coding not implemented");
      have_chunked = true;
    } else if (iequals(name, "Content-Encoding")) {
      if (!iequals(value, "identity")) {
        return refuse(415, "unsupported_media_type", "compressed request bodies are not accepted");
      }
    } else if (iequals(name, "Expect")) {
      if (!iequals(value, "100-continue")) return refuse(417, "expectation_failed", "only Expect: 100-continue");
      head.expect_continue = true;
    } else {
      kept.append(line);
    }
  }
  if (have_length && have_chunked) {
    return refuse(400, "bad_request", "both Content-Length and Transfer-Encoding");
  }
  if (have_length && head.length > limits.max_body) {
    return refuse(413, "payload_too_large", "request body over " + std::to_string(limits.max_body) + " bytes");
  }
  head.framing = have_chunked ? Framing::Chunked : have_length ? Framing::Length : Framing::None;
  head.size = pos;

  // --- body
  std::string body;
  std::size_t body_end = head.size;
  const bool wants_continue = head.expect_continue && head.framing != Framing::None;
  if (head.framing == Framing::Length) {
    if (in.size() - head.size < head.length) return need_more(wants_continue);
    body.assign(in.substr(head.size, static_cast<std::size_t>(head.length)));
    body_end = head.size + static_cast<std::size_t>(head.length);
  } else if (head.framing == Framing::Chunked) {
    // First pass: validate and size, without copying; second pass (below) copies.
    std::size_t p = head.size;
    std::size_t decoded = 0;
    auto over_wire = [&](std::size_t at) { return at - head.size > limits.max_chunked_wire; };
    for (;;) {
      auto e = in.find('\n', p);
      if (e == std::string_view::npos) {
        if (in.size() - p > limits.max_chunk_line) return refuse(400, "bad_request", "chunk size line too long");
        if (over_wire(in.size())) return refuse(413, "payload_too_large", "chunked body framing too long");
        return need_more(wants_continue);
      }
      if (e + 1 - p > limits.max_chunk_line) return refuse(400, "bad_request", "chunk size line too long");
      if (e == p || in[e - 1] != '\r') return refuse(400, "bad_request", "chunk size line must end in CRLF");
      std::string_view size_line = in.substr(p, e - 1 - p);
      std::size_t size = 0;
      std::size_t digits = 0;
      for (char c : size_line) {
        int d = hex_digit(c);
        if (d < 0) break;
        if (size <= limits.max_body) size = size * 16 + static_cast<std::size_t>(d);
        ++digits;
      }
      if (digits == 0) return refuse(400, "bad_request", "malformed chunk size");
      std::string_view rest = size_line.substr(digits);
      rest = trim(rest);
      if (!rest.empty() && rest.front() != ';') return refuse(400, "bad_request", "malformed chunk size");
      for (unsigned char c : rest) {
        if ((c < 0x20 && c != '\t') || c == 0x7f) return refuse(400, "bad_request", "control byte in a chunk extension");
      }
      p = e + 1;
      if (over_wire(p)) return refuse(413, "payload_too_large", "chunked body framing too long");
      if (size > limits.max_body || decoded + size > limits.max_body) {
        return refuse(413, "payload_too_large", "request body over " + std::to_string(limits.max_body) + " bytes");
      }
      if (size == 0) break;
      if (in.size() - p < size + 2) {
        if (over_wire(in.size())) return refuse(413, "payload_too_large", "chunked body framing too long");
        return need_more(wants_continue);
      }
      if (in.substr(p + size, 2) != "\r\n") return refuse(400, "bad_request", "chunk data must end in CRLF");
      decoded += size;
      p += size + 2;
      if (over_wire(p)) return refuse(413, "payload_too_large", "chunked body framing too long");
    }
    // Trailer section: header-like lines up to a blank line; checked, then dropped.
    for (;;) {
      auto e = in.find('\n', p);
      if (e == std::string_view::npos) {
        if (in.size() - p > limits.max_chunk_line) return refuse(431, "header_too_large", "trailer line too long");
        if (over_wire(in.size())) return refuse(413, "payload_too_large", "chunked body framing too long");
        return need_more(wants_continue);
      }
      if (e + 1 - p > limits.max_chunk_line) return refuse(431, "header_too_large", "trailer line too long");
      if (e == p || in[e - 1] != '\r') return refuse(400, "bad_request", "trailer line must end in CRLF");
      bool blank = e == p + 1;
      for (std::size_t i = p; i + 1 < e; ++i) {
        auto c = static_cast<unsigned char>(in[i]);
        if ((c < 0x20 && c != '\t') || c == 0x7f) return refuse(400, "bad_request", "control byte in a trailer");
      }
      p = e + 1;
      if (over_wire(p)) return refuse(413, "payload_too_large", "chunked body framing too long");
      if (blank) break;
    }
    body_end = p;
    // Second pass: copy the chunk data (already validated above).
    body.reserve(decoded);
    std::size_t q = head.size;
    for (;;) {
      auto e = in.find('\n', q);
      std::size_t size = 0;
      for (std::size_t i = q; i < e; ++i) {
        int d = hex_digit(in[i]);
        if (d < 0) break;
        size = size * 16 + static_cast<std::size_t>(d);
      }
      q = e + 1;
      if (size == 0) break;
      body.append(in.substr(q, size));
      q += size + 2;
    }
  }

  FrameResult r;
  r.state = FrameState::Done;
  r.consumed = body_end;
  r.method = std::string(head.method);
  r.target = std::string(head.target);
  r.body_size = body.size();
  r.request.reserve(head.request_line.size() + kept.size() + 32 + body.size());
  r.request.append(head.request_line);
  r.request.append(kept);
  r.request.append("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  r.request.append(body);
  return r;
}

}  // namespace secmx::admin
