// report_mail.hpp - a TLS report as a mail message (RFC 8460 §5.3).
//
//   From: <from>            To: <rua address>        Date, Message-ID
//   Subject: Report Domain: <domain> Submitter: <submitter> Report-ID: <<report-id>>
//   TLS-Report-Domain: <domain>
//   TLS-Report-Submitter: <submitter>
//   Auto-Submitted: auto-generated      (RFC 3834: nothing automatic should answer it)
//   MIME-Version: 1.0
//   Content-Type: multipart/report; report-type="tlsrpt"; boundary="=_tlsrpt_<hex>"
//     part 1: text/plain, a short human-readable paragraph
//     part 2: application/tlsrpt+gzip; name and Content-Disposition filename
//             "<submitter>!<domain>!<begin>!<end>.json.gz" (Unix seconds), base64 (76 cols)
//
// Date is RFC 5322 UTC (dsn::format::date); the Message-ID "<tlsrpt.<32 hex>@host>" and the
// boundary come from a SHA-256 of (report_id, to, now_us), so building the same mail twice
// gives the same text and two recipients get distinct ids. The boundary holds '_', which no
// base64 line can, and is kept out of the text part. Header fields folded at 78 columns.
//
// CRLF line ends, ASCII only (domains in A-label form; anything else, and any CR or LF, is
// replaced as dsn::format::clean does, so no field can add fields). Pure; any thread.
#pragma once

#include <cstdint>
#include <string>

namespace secmx::tlsrpt {

struct ReportMail {
  std::string from;       // our address: [tlsrpt] from
  std::string to;         // the rua mailto address
  std::string domain;     // the policy domain
  std::string submitter;  // our domain
  std::string report_id;
  std::string day;                 // "YYYY-MM-DD": the filename's begin/end
  std::string gzipped_json;        // the report, gzip-compressed
  std::int64_t now_us = 0;         // Date:
  std::string message_id_host;     // right-hand side of the Message-ID
};

// The whole message (header and body), ready for the queue.
std::string build_report_mail(const ReportMail& mail);

// "<submitter>!<domain>!<begin>!<end>.json.gz" for the day: begin its first second, end its
// last (start + 86399), as the report's date-range. `day` must be valid (day_start_us);
// an invalid one counts as 1970-01-01.
std::string report_filename(const std::string& submitter, const std::string& domain,
                            const std::string& day);

}  // namespace secmx::tlsrpt
