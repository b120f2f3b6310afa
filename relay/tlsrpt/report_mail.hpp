// report_mail.hpp - a TLS report as a mail message (RFC 8460 §5.3).
//
//   From: <from>            To: <rua address>        Date, Message-ID
//   Subject: Report Domain: <domain> Submitter: <submitter> Report-ID: <<report-id>>
//   TLS-Report-Domain: <domain>
//   TLS-Report-Submitter: <submitter>
//   MIME-Version: 1.0
//   Content-Type: multipart/report; report-type="tlsrpt"; boundary=...
//     part 1: text/plain, a short human-readable line
//     part 2: application/tlsrpt+gzip; name and Content-Disposition filename
//             "<submitter>!<domain>!<begin>!<end>.json.gz" (Unix seconds), base64 (76 cols)
//
// CRLF line ends, ASCII only (domains in A-label form). Pure; any thread.
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

// "<submitter>!<domain>!<begin>!<end>.json.gz" for the day (begin/end in Unix seconds).
std::string report_filename(const std::string& submitter, const std::string& domain,
                            const std::string& day);

}  // namespace secmx::tlsrpt
