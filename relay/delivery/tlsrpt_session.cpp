// tlsrpt_session.cpp - an attempt's sessions as TLS-RPT results; see tlsrpt_session.hpp.
#include "relay/delivery/tlsrpt_session.hpp"

#include <openssl/x509_vfy.h>

#include <algorithm>
#include <array>

#include "relay/tlsrpt/tally_codec.hpp"

namespace secmx::delivery {
namespace {

using tlsrpt::PolicyType;
using tlsrpt::ResultType;

// Free text in a report stays short and printable: it ends up in JSON that the receiving
// domain parses, and part of it (the peer's name, OpenSSL's words) is not ours.
constexpr std::size_t kMaxText = 200;

std::string text_field(std::string_view in) {
  std::string out(in.substr(0, kMaxText));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7E) c = '?';
  }
  return out;
}

// The X.509 verify results a PKIX failure under MTA-STS is told apart by, with the names
// that go into failure-reason-code.
struct VerifyCode {
  long code;
  const char* name;
  ResultType result;
};
constexpr std::array<VerifyCode, 17> kVerifyCodes = {{
    {X509_V_ERR_CERT_HAS_EXPIRED, "X509_V_ERR_CERT_HAS_EXPIRED", ResultType::CertificateExpired},
    {X509_V_ERR_HOSTNAME_MISMATCH, "X509_V_ERR_HOSTNAME_MISMATCH",
     ResultType::CertificateHostMismatch},
    {X509_V_ERR_IP_ADDRESS_MISMATCH, "X509_V_ERR_IP_ADDRESS_MISMATCH",
     ResultType::CertificateHostMismatch},
    {X509_V_ERR_CERT_NOT_YET_VALID, "X509_V_ERR_CERT_NOT_YET_VALID",
     ResultType::CertificateNotTrusted},
    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT",
     ResultType::CertificateNotTrusted},
    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
     ResultType::CertificateNotTrusted},
    {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT",
     ResultType::CertificateNotTrusted},
    {X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN",
     ResultType::CertificateNotTrusted},
    {X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, "X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE",
     ResultType::CertificateNotTrusted},
    {X509_V_ERR_CERT_UNTRUSTED, "X509_V_ERR_CERT_UNTRUSTED", ResultType::CertificateNotTrusted},
    {X509_V_ERR_CERT_REJECTED, "X509_V_ERR_CERT_REJECTED", ResultType::CertificateNotTrusted},
    {X509_V_ERR_CERT_REVOKED, "X509_V_ERR_CERT_REVOKED", ResultType::CertificateNotTrusted},
    {X509_V_ERR_CERT_SIGNATURE_FAILURE, "X509_V_ERR_CERT_SIGNATURE_FAILURE",
     ResultType::CertificateNotTrusted},
    {X509_V_ERR_INVALID_CA, "X509_V_ERR_INVALID_CA", ResultType::CertificateNotTrusted},
    {X509_V_ERR_CERT_CHAIN_TOO_LONG, "X509_V_ERR_CERT_CHAIN_TOO_LONG",
     ResultType::CertificateNotTrusted},
    {X509_V_ERR_INVALID_PURPOSE, "X509_V_ERR_INVALID_PURPOSE", ResultType::CertificateNotTrusted},
    {X509_V_ERR_DANE_NO_MATCH, "X509_V_ERR_DANE_NO_MATCH", ResultType::TlsaInvalid},
}};

const VerifyCode* find_code(long code) {
  auto it = std::find_if(kVerifyCodes.begin(), kVerifyCodes.end(),
                         [code](const VerifyCode& v) { return v.code == code; });
  return it == kVerifyCodes.end() ? nullptr : &*it;
}

std::string code_name(long code) {
  if (code == 0) return {};
  if (const VerifyCode* v = find_code(code)) return v->name;
  return "X509 verify error " + std::to_string(code);
}

// PKIX under an MTA-STS policy: what kind of certificate problem. Any other verify error
// is a certificate the sender could not trust; none at all (no certificate, a resumed
// session checked for other names) is a failure of validation as such.
ResultType pkix_result(long code) {
  if (code == 0) return ResultType::ValidationFailure;
  const VerifyCode* v = find_code(code);
  if (v == nullptr || v->result == ResultType::TlsaInvalid) {
    return ResultType::CertificateNotTrusted;
  }
  return v->result;
}

std::string tlsa_string(const dns::TlsaRecord& r) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = std::to_string(r.usage) + " " + std::to_string(r.selector) + " " +
                    std::to_string(r.matching_type) + " ";
  out.reserve(out.size() + 2 * r.data.size());
  for (std::uint8_t b : r.data) {
    out += kHex[b >> 4];
    out += kHex[b & 0x0F];
  }
  return out;
}

// The policy's lines as served, without their line ends.
std::vector<std::string> policy_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.emplace_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

void set_sts(tlsrpt::PolicyKey& key, const sts::StsPolicy& policy) {
  key.type = PolicyType::Sts;
  key.strings = policy_lines(policy.text);
  key.mx_host = policy.mx;
}

bool sts_in_force(const sts::StsState& sts) {
  return sts.policy && sts.policy->mode != sts::Mode::None;
}

}  // namespace

tlsrpt::PolicyKey session_policy(std::string_view domain, const dns::Candidate& candidate,
                                 const HostTerms& terms, const sts::StsState& sts) {
  tlsrpt::PolicyKey key;
  key.domain = std::string(domain);
  // DANE takes precedence (RFC 8461 §2), also when its lookup failed or its records are
  // all unusable: that is the policy the session was held to.
  bool tlsa = terms.binding == Binding::Dane || terms.binding == Binding::Encrypt ||
              candidate.tlsa.status == dns::TlsaStatus::Failed;
  if (tlsa) {
    key.type = PolicyType::Tlsa;
    for (const auto& r : candidate.tlsa.records) key.strings.push_back(tlsa_string(r));
    key.mx_host.push_back(candidate.host);
  } else if (terms.sts_applies && sts_in_force(sts)) {
    set_sts(key, *sts.policy);
  }
  return key;
}

std::optional<tlsrpt::SessionResult> session_result(std::string_view domain,
                                                    const dns::Candidate& candidate,
                                                    std::string_view receiving_ip,
                                                    const HostTerms& terms,
                                                    const sts::StsState& sts,
                                                    const SessionEnd& end, std::int64_t now_us) {
  if (candidate.method == dns::Method::Route) return std::nullopt;
  if (end.admission == Admission::Open && !end.handshake_failed && !end.tls_active &&
      end.starttls_offered && !end.tls_attempted) {
    return std::nullopt;  // TLS was not tried on this connection: nothing to report
  }
  tlsrpt::SessionResult s;
  s.time_us = now_us;
  s.policy = session_policy(domain, candidate, terms, sts);

  std::optional<ResultType> result;
  std::string info;
  std::string reason_code;
  if (end.admission == Admission::TlsaFailed) {
    result = ResultType::DnssecInvalid;
    info = "TLSA lookup failed: " + candidate.tlsa.detail;
  } else if (end.admission == Admission::NotInPolicy) {
    result = ResultType::ValidationFailure;
    info = "MX host not in the MTA-STS policy";
  } else if (end.handshake_failed) {
    result = ResultType::ValidationFailure;
    info = "TLS handshake failed";
    reason_code = std::string(end.error);
  } else if (!end.tls_active) {
    result = ResultType::StarttlsNotSupported;
    if (end.tls_attempted) info = "STARTTLS refused";
  } else if (s.policy.type == PolicyType::Tlsa) {
    if (terms.binding == Binding::Dane && end.auth != TlsAuth::Dane) {
      result = ResultType::TlsaInvalid;
      info = std::string(end.error);
      reason_code = code_name(end.verify_code);
    }
  } else if (s.policy.type == PolicyType::Sts) {
    if (!terms.sts_listed) {
      result = ResultType::ValidationFailure;  // a testing policy: tried all the same
      info = "MX host not in the MTA-STS policy";
    } else if (end.auth != TlsAuth::MtaSts) {
      result = pkix_result(end.verify_code);
      info = std::string(end.error);
      reason_code = code_name(end.verify_code);
    }
  }
  if (result) {
    tlsrpt::FailureDetail& f = s.failure.emplace();
    f.result = *result;
    f.sending_mta_ip = std::string(end.local_ip);
    f.receiving_mx_hostname = candidate.host;
    f.receiving_mx_helo = text_field(end.peer_helo);
    f.receiving_ip = std::string(receiving_ip);
    f.additional_information = text_field(info);
    f.failure_reason_code = text_field(reason_code);
  }
  return s;
}

std::optional<tlsrpt::SessionResult> sts_failure_result(std::string_view domain,
                                                        const sts::StsState& sts,
                                                        std::int64_t now_us) {
  if (sts.failure == sts::StsFailure::None || sts.from_cache) return std::nullopt;
  tlsrpt::SessionResult s;
  s.time_us = now_us;
  s.policy.domain = std::string(domain);
  if (sts_in_force(sts)) set_sts(s.policy, *sts.policy);
  tlsrpt::FailureDetail& f = s.failure.emplace();
  switch (sts.failure) {
    case sts::StsFailure::FetchError: f.result = ResultType::StsPolicyFetchError; break;
    case sts::StsFailure::Invalid: f.result = ResultType::StsPolicyInvalid; break;
    case sts::StsFailure::WebPki: f.result = ResultType::StsWebpkiInvalid; break;
    case sts::StsFailure::None: break;
  }
  f.additional_information = text_field(sts.detail);
  return s;
}

bool tlsrpt_counting(const config::Config& config, const std::string& domain) {
  return config.tlsrpt.enabled && !config.tlsrpt.excluded(domain);
}

void add_session_count(const tlsrpt::SessionResult& session, std::vector<queue::CounterAdd>& out) {
  auto add = tlsrpt::tally_add(session);
  if (!add) return;
  auto same = std::find_if(out.begin(), out.end(),
                           [&](const queue::CounterAdd& a) { return a.key == add->key; });
  if (same != out.end()) {
    same->n += add->n;
    return;
  }
  out.push_back(std::move(*add));
}

void add_session_counts(const config::Config& config,
                        const std::vector<tlsrpt::SessionResult>& sessions,
                        std::vector<queue::CounterAdd>& out) {
  for (const auto& s : sessions) {
    if (tlsrpt_counting(config, s.policy.domain)) add_session_count(s, out);
  }
}

}  // namespace secmx::delivery
