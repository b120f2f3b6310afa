// tlsrpt_types.hpp - what TLS reporting (RFC 8460) counts: one session (or one failure to
// have one) to one receiving host, under the policy that bound it, with the RFC's result
// type when it failed.
//
// Plain values. The delivery attempt produces a SessionResult per host it tried (or
// ruled out) and per MTA-STS policy failure; the scheduler turns them into durable
// counts (tally_codec.hpp) committed with the message's outcome; the report builder
// (report_json.hpp) reads the counts back as Tally rows. Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace secmx::tlsrpt {

// RFC 8460 §4.4 "policy-type".
enum class PolicyType { Sts, Tlsa, NoPolicyFound };
const char* to_string(PolicyType t);  // "sts", "tlsa", "no-policy-found"
std::optional<PolicyType> policy_type_from(std::string_view s);

// RFC 8460 §4.3 result types.
enum class ResultType {
  StarttlsNotSupported,     // "starttls-not-supported"
  CertificateHostMismatch,  // "certificate-host-mismatch"
  CertificateExpired,       // "certificate-expired"
  CertificateNotTrusted,    // "certificate-not-trusted"
  ValidationFailure,        // "validation-failure"
  TlsaInvalid,              // "tlsa-invalid"
  DnssecInvalid,            // "dnssec-invalid"
  DaneRequired,             // "dane-required"
  StsPolicyFetchError,      // "sts-policy-fetch-error"
  StsPolicyInvalid,         // "sts-policy-invalid"
  StsWebpkiInvalid,         // "sts-webpki-invalid"
};
inline constexpr std::size_t kResultTypes = static_cast<std::size_t>(ResultType::StsWebpkiInvalid) + 1;
const char* to_string(ResultType r);
std::optional<ResultType> result_type_from(std::string_view s);

// RFC 8460 §4.4 "policy": which policy the session was held to. Two sessions count
// together when their PolicyKeys are equal.
struct PolicyKey {
  PolicyType type = PolicyType::NoPolicyFound;
  std::string domain;                // "policy-domain": the recipient domain, lower case
  std::vector<std::string> strings;  // "policy-string": sts: the policy's lines as served
                                     // (no line ends); tlsa: each record in presentation
                                     // form "3 1 1 ABCD..." (hex upper case); none: empty
  std::vector<std::string> mx_host;  // "mx-host": sts: the policy's mx patterns; tlsa: the
                                     // host the records are for; none: empty
  bool operator==(const PolicyKey&) const = default;
};

// RFC 8460 §4.4 "failure-details": one kind of failed session. Sessions count together
// when their FailureDetails are equal. Empty strings are left out of the report.
struct FailureDetail {
  ResultType result = ResultType::ValidationFailure;
  std::string sending_mta_ip;         // our local address of the connection ("" if none)
  std::string receiving_mx_hostname;  // the host name tried ("" for a policy fetch failure)
  std::string receiving_mx_helo;      // its EHLO/greeting name when it gave one
  std::string receiving_ip;           // the address tried
  std::string additional_information; // a URI or our own short words (no message content)
  std::string failure_reason_code;    // e.g. the X.509 verify code "X509_V_ERR_CERT_HAS_EXPIRED"
  bool operator==(const FailureDetail&) const = default;
};

// One session as TLS-RPT counts it (RFC 8460 §4.1: a session is a connection attempt to a
// receiving host under a policy). `failure` empty: successful (TLS established and, where
// a policy binds, authenticated as it requires).
struct SessionResult {
  std::int64_t time_us = 0;  // when it happened (Unix µs): the UTC day it counts in
  PolicyKey policy;
  std::optional<FailureDetail> failure;
  bool operator==(const SessionResult&) const = default;
};

// One aggregated row of a day's counts for one policy domain: `count` sessions like
// `session` (its time_us is not meaningful in a row).
struct Tally {
  SessionResult session;
  std::uint64_t count = 0;
};

// "2026-12-03" for a Unix time in µs (UTC).
std::string utc_day(std::int64_t time_us);
// Midnight UTC (µs) at the start of a "YYYY-MM-DD" day; nullopt if it is not a valid date.
std::optional<std::int64_t> day_start_us(std::string_view day);

}  // namespace secmx::tlsrpt
