#include "relay/tlsrpt/tlsrpt_txt.hpp"

#include <algorithm>
#include <optional>

#include "relay/common/ascii.hpp"
#include "relay/common/hostname.hpp"
#include "relay/sts/sts_syntax.hpp"

namespace secmx::tlsrpt {
namespace {

constexpr std::string_view kVersion = "v=TLSRPTv1";

using sts::is_alnum;
using sts::is_ext_name;
using sts::is_wsp;

// tlsrpt-ext-value: printable ASCII but SP, ";" and "=".
bool is_ext_value(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7e || c == ';' || c == '=') return false;
  }
  return true;
}

// What RFC 3986 lets a URI hold unescaped, less the ",", ";" and "!" that §3 wants
// %-encoded in a tlsrpt-uri ("%" is checked apart, with its two hex digits).
bool is_uri_char(char c) {
  if (is_alnum(c)) return true;
  switch (c) {
    case '-': case '.': case '_': case '~':                        // unreserved
    case ':': case '/': case '?': case '#': case '[': case ']': case '@':  // gen-delims
    case '$': case '&': case '\'': case '(': case ')': case '*': case '+': case '=':
      return true;
    default:
      return false;
  }
}

std::size_t skip_wsp(std::string_view s, std::size_t i) {
  while (i < s.size() && is_wsp(s[i])) ++i;
  return i;
}

std::string_view trim_wsp(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":". Returns the
// scheme's length, or 0 when `uri` does not begin with one.
std::size_t scheme_length(std::string_view uri) {
  std::size_t colon = uri.find(':');
  if (colon == 0 || colon == std::string_view::npos) return 0;
  if (!is_alnum(uri[0]) || (uri[0] >= '0' && uri[0] <= '9')) return 0;
  for (std::size_t i = 1; i < colon; ++i) {
    char c = uri[i];
    if (!is_alnum(c) && c != '+' && c != '-' && c != '.') return 0;
  }
  return colon;
}

// Every character a URI character and every "%" followed by two hex digits.
bool uri_syntax_ok(std::string_view uri) {
  for (std::size_t i = 0; i < uri.size(); ++i) {
    if (uri[i] == '%') {
      if (i + 2 >= uri.size() || hex_digit_value(uri[i + 1]) < 0 || hex_digit_value(uri[i + 2]) < 0) {
        return false;
      }
      i += 2;
    } else if (!is_uri_char(uri[i])) {
      return false;
    }
  }
  return true;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_digit_value(s[i + 1]) >= 0 && hex_digit_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit_value(s[i + 1]) * 16 + hex_digit_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// RFC 5322 atext, and "." between atoms: the local parts a report can be sent to without
// quoting (a quoted local part is not worth the risk of a header we get wrong).
bool is_local_part(std::string_view s) {
  if (s.empty() || s.size() > 64 || s.front() == '.' || s.back() == '.') return false;
  if (s.find("..") != std::string_view::npos) return false;
  for (char c : s) {
    if (is_alnum(c) || c == '.') continue;
    if (std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) == std::string_view::npos) return false;
  }
  return true;
}

// Where one URI of a rua field leads: a usable Rua, nothing (a scheme we do not send to),
// or the reason it is unusable.
struct UriVerdict {
  std::vector<Rua> rua;
  std::string problem;  // non-empty: a mailto/https URI we cannot use
};

// RFC 6068: "mailto:" to ["?" hfields]; `to` is addr-spec *("," addr-spec), its commas
// %-encoded here (§3), so the list is split after decoding. Header fields are ignored.
UriVerdict mailto_target(std::string_view uri, std::size_t scheme_len) {
  UriVerdict v;
  std::string_view to = uri.substr(scheme_len + 1);
  to = to.substr(0, to.find('?'));
  if (to.empty()) {
    v.problem = "mailto URI without an address";
    return v;
  }
  // One bad address makes the whole URI unusable: the domain meant it as one list.
  auto unusable = [&v](const char* problem) {
    v.rua.clear();
    v.problem = problem;
    return v;
  };
  std::string decoded = percent_decode(to);
  std::string_view rest = decoded;
  while (true) {
    std::size_t comma = rest.find(',');
    std::string_view addr = rest.substr(0, comma);
    std::size_t at = addr.rfind('@');
    if (at == std::string_view::npos) return unusable("mailto address without '@'");
    std::string_view local = addr.substr(0, at);
    std::string_view domain = addr.substr(at + 1);
    if (!is_local_part(local)) return unusable("mailto address with an unusable local part");
    if (!valid_hostname(domain)) return unusable("mailto address with an invalid domain");
    if (domain.ends_with('.')) domain.remove_suffix(1);
    v.rua.push_back(Rua{Rua::Kind::Mailto, std::string(local) + "@" + std::string(domain)});
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return v;
}

// RFC 3986 §3.2: "https://" authority path; the authority a host (a DNS name or an IP
// literal) and an optional port. User information is refused: a report has no business
// carrying credentials written into DNS.
UriVerdict https_target(std::string_view uri, std::size_t scheme_len) {
  UriVerdict v;
  std::string_view rest = uri.substr(scheme_len + 1);
  if (!rest.starts_with("//")) {
    v.problem = "https URI without '//'";
    return v;
  }
  rest.remove_prefix(2);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    v.problem = "https URI with user information";
    return v;
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) {
      v.problem = "https URI with a broken IP literal";
      return v;
    }
    for (char c : authority.substr(1, close - 1)) {
      if (hex_digit_value(c) < 0 && c != ':' && c != '.') {
        v.problem = "https URI with a broken IP literal";
        return v;
      }
    }
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      v.problem = "https URI with a broken IP literal";
      return v;
    }
    if (!after.empty()) port = after.substr(1);
  } else {
    std::size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (!valid_hostname(host)) {
      v.problem = "https URI with an invalid host";
      return v;
    }
  }
  if (authority.size() != host.size()) {  // a ":" was there: the port must be 1..65535
    bool digits = !port.empty() && port.size() <= 5 &&
                  std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoul(std::string(port)) == 0 || std::stoul(std::string(port)) > 65535) {
      v.problem = "https URI with an invalid port";
      return v;
    }
  }
  v.rua.push_back(Rua{Rua::Kind::Https, std::string(uri)});
  return v;
}

std::string numbered(std::string_view what, std::size_t n, std::string_view problem) {
  return std::string(what) + " " + std::to_string(n) + ": " + std::string(problem);
}

}  // namespace

Result<TlsRptRecord, std::string> parse_tlsrpt_txt(std::string_view txt) {
  if (!txt.starts_with(kVersion)) return fail(std::string("does not begin with v=TLSRPTv1"));
  TlsRptRecord out;
  bool have_rua = false;
  std::size_t fields = 0;  // after the version, counted from 1 as the messages say
  std::size_t uris = 0;    // rua URIs, counted from 1 across every rua field
  std::string first_problem;
  std::size_t i = kVersion.size();
  while (i < txt.size()) {
    // field-delim (*WSP ";" *WSP), then a field unless the delimiter ended the record.
    i = skip_wsp(txt, i);
    if (i == txt.size() || txt[i] != ';') {
      if (fields == 0) return fail(std::string("v=TLSRPTv1 is not followed by ';'"));
      return fail(numbered("field", fields, i == txt.size() ? "trailing whitespace without ';'"
                                                            : "not followed by ';'"));
    }
    i = skip_wsp(txt, i + 1);
    if (i == txt.size()) break;
    ++fields;
    // A field runs to the next ';' (a URI has it %-encoded). Whitespace before that ';'
    // belongs to the delimiter; inside the field only a rua list may hold any.
    std::size_t end = txt.find(';', i);
    if (end == std::string_view::npos) end = txt.size();
    std::string_view field = txt.substr(i, end - i);
    while (!field.empty() && is_wsp(field.back())) field.remove_suffix(1);
    i += field.size();
    if (field.empty()) return fail(numbered("field", fields, "empty"));

    std::size_t eq = field.find('=');
    if (eq == std::string_view::npos) return fail(numbered("field", fields, "has no '='"));
    std::string_view name = field.substr(0, eq);
    std::string_view value = field.substr(eq + 1);
    if (!is_ext_name(name)) return fail(numbered("field", fields, "invalid field name"));
    if (name != "rua") {
      // Extensions (and a repeated v) are ignored but must be well-formed.
      if (!is_ext_value(value)) {
        return fail(numbered("field", fields, "invalid value (printable ASCII without ';' or '=')"));
      }
      continue;
    }
    // tlsrpt-rua = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri). Every rua field of the
    // record counts: the grammar allows more than one.
    have_rua = true;
    if (value.empty() || is_wsp(value.front())) {
      return fail(numbered("field", fields, "rua= is not followed by a URI"));
    }
    std::string_view list = value;
    while (true) {
      std::size_t comma = list.find(',');
      std::string_view uri = trim_wsp(list.substr(0, comma));
      ++uris;
      if (uri.empty()) return fail(numbered("rua URI", uris, "empty"));
      std::size_t scheme = scheme_length(uri);
      if (scheme == 0) return fail(numbered("rua URI", uris, "not a URI (no scheme)"));
      if (!uri_syntax_ok(uri)) {
        return fail(numbered("rua URI", uris,
                             "not a URI (a character that must be %-encoded, or a bad %-escape)"));
      }
      std::string_view scheme_name = uri.substr(0, scheme);
      std::optional<UriVerdict> verdict;
      if (iequals(scheme_name, "mailto")) verdict = mailto_target(uri, scheme);
      if (iequals(scheme_name, "https")) verdict = https_target(uri, scheme);
      // Other schemes are not ours to send to; §3 knows only these two.
      if (verdict) {
        if (!verdict->problem.empty() && first_problem.empty()) {
          first_problem = numbered("rua URI", uris, verdict->problem);
        }
        for (Rua& r : verdict->rua) {
          if (out.rua.size() < kMaxRua &&
              std::find(out.rua.begin(), out.rua.end(), r) == out.rua.end()) {
            out.rua.push_back(std::move(r));
          }
        }
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (fields == 0) return fail(std::string("no field after v=TLSRPTv1"));
  if (!have_rua) return fail(std::string("no rua field (names are case-sensitive)"));
  if (out.rua.empty()) {
    if (!first_problem.empty()) return fail(std::move(first_problem));
    return fail(std::string("no mailto: or https: URI in rua"));
  }
  return out;
}

Result<TlsRptRecord, std::string> select_tlsrpt_record(const std::vector<std::string>& records) {
  const std::string* kept = nullptr;
  std::size_t count = 0;
  for (const std::string& record : records) {
    if (!record.starts_with(kVersion)) continue;
    std::size_t after = skip_wsp(record, kVersion.size());
    if (after < record.size() && record[after] == ';') {
      ++count;
      kept = &record;
    }
  }
  if (count == 0) return fail(std::string("no TXT record begins with v=TLSRPTv1;"));
  if (count > 1) {
    return fail(std::to_string(count) + " TXT records begin with v=TLSRPTv1; (none counts)");
  }
  auto parsed = parse_tlsrpt_txt(*kept);
  if (!parsed) return fail("invalid record: " + parsed.error());
  return std::move(parsed).value();
}

std::string tlsrpt_name(std::string_view domain) { return "_smtp._tls." + std::string(domain); }

}  // namespace secmx::tlsrpt
