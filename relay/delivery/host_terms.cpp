// host_terms.cpp - a host's DANE and MTA-STS terms; see host_terms.hpp.
#include "relay/delivery/host_terms.hpp"

#include "relay/sts/mx_match.hpp"

namespace secmx::delivery {

HostTerms host_terms(const dns::Candidate& c, const sts::StsState& sts) {
  HostTerms t;
  t.sts_applies = sts.policy && sts.policy->mode != sts::Mode::None &&
                  c.method != dns::Method::Route;
  t.sts_listed = t.sts_applies && sts::policy_allows(*sts.policy, c.host);
  t.binding = c.tlsa.status == dns::TlsaStatus::Usable         ? Binding::Dane
              : t.sts_applies && sts.enforce()                  ? Binding::MtaSts
              : c.tlsa.status == dns::TlsaStatus::UnusableOnly  ? Binding::Encrypt
                                                                : Binding::None;
  t.sts_testing = t.sts_applies && sts.testing() && t.binding != Binding::Dane;
  if (t.binding == Binding::Dane) {
    // SNI and DANE-TA names: the TLSA base domain first, then the host name (RFC 7672 §3.2.2).
    if (!c.tlsa.base.empty()) t.verify.names.push_back(c.tlsa.base);
    if (c.tlsa.base != c.host) t.verify.names.push_back(c.host);
    for (const auto& r : c.tlsa.records) {
      t.verify.tlsa.push_back(tls::DaneRecord{r.usage, r.selector, r.matching_type, r.data});
    }
  } else {
    t.verify.names.push_back(c.host);
  }
  if (c.tlsa.status == dns::TlsaStatus::Failed) {
    t.admission = Admission::TlsaFailed;
  } else if (t.binding == Binding::MtaSts && !t.sts_listed) {
    t.admission = Admission::NotInPolicy;
  }
  return t;
}

TlsAuth auth_of(const HostTerms& t, const client::TlsInfo& tls) {
  if (!tls.active) return TlsAuth::None;
  if (!t.verify.tlsa.empty()) return tls.dane ? TlsAuth::Dane : TlsAuth::None;
  if (!tls.verified) return TlsAuth::None;
  if (t.binding == Binding::MtaSts || (t.sts_testing && t.sts_listed)) return TlsAuth::MtaSts;
  return TlsAuth::Pkix;
}

void open_facts(const client::SessionInfo& info, const HostTerms& terms, Facts& f) {
  using client::OpenStatus;
  f.step = info.stage;
  switch (info.status) {
    case OpenStatus::ConnectFailed:
    case OpenStatus::Timeout:
    case OpenStatus::Broken:
      f.stage = stage_of(info.stage, Stage::Connect);
      f.event = info.status == OpenStatus::Timeout ? Event::Timeout : Event::Lost;
      f.error = info.error;
      break;
    case OpenStatus::Refused:
      f.stage = stage_of(info.stage, Stage::Connect);
      f.code = info.code;
      f.enhanced = info.enhanced;
      f.text = info.text;
      break;
    case OpenStatus::TlsFailed:
      f.stage = Stage::TlsHandshake;
      // Cut by the connection, or refused by the peer (an alert, garbage).
      f.event = info.tls_connection_lost ? Event::Lost : Event::Reply;
      f.error = info.error;
      break;
    case OpenStatus::Ok:
      f.stage = Stage::Session;
      f.tls.starttls_offered = info.starttls_offered;
      f.tls.handshake_attempted = info.tls_attempted;
      f.tls.handshake_ok = info.tls.active;
      f.tls.auth = auth_of(terms, info.tls);
      f.tls.verified = f.tls.auth != TlsAuth::None;
      f.tls.verify_error = info.tls.verify_error;
      break;
  }
}

}  // namespace secmx::delivery
