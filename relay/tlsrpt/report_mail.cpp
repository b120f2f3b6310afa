#include "relay/tlsrpt/report_mail.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "relay/dsn/dsn_format.hpp"
#include "relay/tlsrpt/tlsrpt_types.hpp"

namespace secmx::tlsrpt {
namespace {

namespace format = dsn::format;

constexpr std::int64_t kDaySeconds = 86'400;
constexpr std::size_t kBase64Chunk = 57;  // 57 octets are 76 base64 columns (RFC 2045 §6.8)

// Hex SHA-256 of what makes this message one of a kind: the same report to the same
// address at the same moment is the same message, anything else another.
std::string unique_hex(const ReportMail& m) {
  std::string input = m.report_id + '\n' + m.to + '\n' + std::to_string(m.now_us);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    std::abort();  // SHA-256 is always there: a broken invariant
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

std::string base64_lines(std::string_view data) {
  std::string out;
  out.reserve((data.size() + kBase64Chunk - 1) / kBase64Chunk * 78);
  unsigned char line[80];
  for (std::size_t i = 0; i < data.size(); i += kBase64Chunk) {
    std::size_t n = std::min(kBase64Chunk, data.size() - i);
    int len = EVP_EncodeBlock(line, reinterpret_cast<const unsigned char*>(data.data() + i),
                              static_cast<int>(n));
    out.append(reinterpret_cast<const char*>(line), static_cast<std::size_t>(len));
    out += "\r\n";
  }
  return out;
}

// A MIME quoted-string (RFC 2045 §5.1, RFC 5322 §3.2.4).
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// Header text from the caller made one line of ASCII: a domain or address with a CR or LF
// must not add header fields of its own.
std::string one_line(std::string_view s) { return format::clean(s, false); }

}  // namespace

std::string report_filename(const std::string& submitter, const std::string& domain,
                            const std::string& day) {
  std::int64_t begin = day_start_us(day).value_or(0) / 1'000'000;
  // The end is the last second the report covers, as its date-range's end-datetime says.
  return submitter + "!" + domain + "!" + std::to_string(begin) + "!" +
         std::to_string(begin + kDaySeconds - 1) + ".json.gz";
}

std::string build_report_mail(const ReportMail& mail) {
  const std::string domain = one_line(mail.domain);
  const std::string submitter = one_line(mail.submitter);
  const std::string filename = one_line(report_filename(submitter, domain, mail.day));
  const std::string unique = unique_hex(mail);

  std::string text = format::wrap(
      "This is an aggregate TLS report (RFC 8460) from " + submitter + " for the policy domain " +
          domain + ", covering " + one_line(mail.day) +
          " from 00:00:00 to 23:59:59 UTC. The report is attached as " + filename + ".",
      "", "");
  // '_' is no base64 character, so no line of the attachment can hold the boundary; the
  // loop keeps it out of the text part and the part headers too, whatever the domain.
  std::string boundary = "=_tlsrpt_" + unique.substr(32, 24);
  for (int n = 1; text.find(boundary) != std::string::npos ||
                  filename.find(boundary) != std::string::npos;
       ++n) {
    boundary = "=_tlsrpt_" + unique.substr(32, 24) + "_" + std::to_string(n);
  }

  std::string out;
  out.reserve(mail.gzipped_json.size() * 4 / 3 + 2048);
  out += format::field("From", "<" + one_line(mail.from) + ">");
  out += format::field("To", "<" + one_line(mail.to) + ">");
  out += format::field("Date", format::date(mail.now_us));
  out += format::field("Message-ID", "<tlsrpt." + unique.substr(0, 32) + "@" +
                                         one_line(mail.message_id_host) + ">");
  out += format::field("Subject", "Report Domain: " + domain + " Submitter: " + submitter +
                                      " Report-ID: <" + one_line(mail.report_id) + ">");
  out += format::field("TLS-Report-Domain", domain);
  out += format::field("TLS-Report-Submitter", submitter);
  // RFC 3834: no vacation notice or other automatic answer should come back to `from`.
  out += "Auto-Submitted: auto-generated\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += format::field("Content-Type",
                       "multipart/report; report-type=\"tlsrpt\"; boundary=\"" + boundary + "\"");
  out += "\r\nThis is a multipart message in MIME format.\r\n\r\n";

  out += "--" + boundary + "\r\n";
  out += "Content-Type: text/plain; charset=us-ascii\r\n";
  out += "Content-Transfer-Encoding: 7bit\r\n\r\n";
  out += text;
  out += "\r\n--" + boundary + "\r\n";
  out += format::field("Content-Type", "application/tlsrpt+gzip; name=" + quoted(filename));
  out += "Content-Transfer-Encoding: base64\r\n";
  out += format::field("Content-Disposition", "attachment; filename=" + quoted(filename));
  out += "\r\n";
  out += base64_lines(mail.gzipped_json);  // ends in CRLF, the closing delimiter's own
  out += "--" + boundary + "--\r\n";
  return out;
}

}  // namespace secmx::tlsrpt
