// dsn_format.hpp - the text-level rules a DSN must keep: dates, header folding, line
// limits, ASCII cleaning, RFC 6533 address forms, the header section of a message.
//
// Pure string functions; any thread. Every output line ends in CRLF and is at most 998
// octets before it (RFC 5322 2.1.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace secmx::dsn::format {

constexpr std::size_t kMaxLine = 998;

// RFC 5322 date-time in UTC: "Tue, 02 Jan 2024 15:04:05 +0000".
std::string date(std::int64_t unix_us);

bool is_ascii(std::string_view text);

// Text from a peer or the queue made safe for one line of a DSN: CR, LF and tabs become
// spaces, other control bytes '?'; with `utf8` well-formed UTF-8 is kept, otherwise every
// non-ASCII byte becomes '?' too. Runs of spaces are kept (they may matter in a reply).
std::string clean(std::string_view text, bool utf8);

// "Name: value\r\n", folded at spaces so that lines stay within 78 columns where the
// words allow and never pass 998; unfolding gives back `value` exactly (bar a token
// longer than 998 octets, which is split).
std::string field(std::string_view name, std::string_view value);

// RFC 6533 3: an address as "rfc822; a@b" when ASCII; otherwise "utf-8; " followed by the
// raw address (global DSN) or its utf-8-addr-xtext form (\x{HEX} for non-ASCII, '\', '+',
// '=' and controls) in a plain DSN.
std::string address_value(std::string_view address, bool global);
// A stored ORCPT ("rfc822;a@b" or "utf-8;raw") written the same way; "" when unusable.
std::string orcpt_value(std::string_view orcpt, bool global);

// The header section of a stored message: up to and including the CRLF of the last
// header line (empty when the message starts with the empty line).
std::string_view header_section(std::string_view message);

// The evidence of a recipient's last attempt (DESIGN §10) as one value, for the
// per-recipient X-Secmx-TLS field and the notification text:
// "TLSv1.3/TLS_AES_256_GCM_SHA384/dane; cert=sha256:<hex>; dnssec=secure". Parts that are
// empty are left out; "" when `tls` is empty (no attempt recorded). Cleaned for one line.
std::string tls_evidence(std::string_view tls, std::string_view cert_sha256,
                         std::string_view dnssec);

// Longest line in octets, not counting its CRLF.
std::size_t longest_line(std::string_view text);

// Lines longer than `max` octets cut to `max` (returned content only: a cut header line
// is better than a DSN that a strict MTA refuses).
std::string cut_long_lines(std::string_view text, std::size_t max = kMaxLine);

// `text` wrapped at spaces to `width` columns: the first line starts with `first`, the
// others with `rest`; CRLF endings. A word too long for a line stands alone on it.
std::string wrap(std::string_view text, std::string_view first, std::string_view rest,
                 std::size_t width = 76);

}  // namespace secmx::dsn::format
