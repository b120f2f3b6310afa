// route_verdict.cpp - the probe's facts through delivery::decide(); see the header.
#include "admin/route_verdict.hpp"

#include "relay/delivery/decide.hpp"

namespace secmx::admin {

namespace {

using delivery::Decision;
using delivery::Event;
using delivery::Facts;
using delivery::Stage;

struct Level {
  const char* name;
  model::Policy policy;
  model::TlsLevel tls;
};
constexpr Level kLevels[] = {{"BES", model::Policy::BES, model::TlsLevel::None},
                             {"SOS encrypt", model::Policy::SOS, model::TlsLevel::Encrypt},
                             {"SOS verify", model::Policy::SOS, model::TlsLevel::Verify}};

RouteVerdict from_outcome(const char* policy, const delivery::RcptOutcome& o) {
  RouteVerdict v;
  v.policy = policy;
  v.action = o.verdict == delivery::RcptVerdict::Failed ? "bounce"
             : o.verdict == delivery::RcptVerdict::Deferred ? "defer"
                                                            : "deliver";
  v.status = o.status;
  v.detail = o.diagnostic;
  return v;
}

// The TLS a session that decide() accepted would carry the mail over.
std::string session_words(const client::SessionInfo& i, const delivery::TlsObservation& seen) {
  if (i.tls.active) {
    return "STARTTLS offered, " + i.tls.protocol + " " + i.tls.cipher + ", " +
           (seen.auth == delivery::TlsAuth::None ? std::string("not authenticated")
                                                 : std::string("authenticated: ") +
                                                       delivery::to_string(seen.auth));
  }
  return i.starttls_offered ? "STARTTLS offered but not used: plaintext" : "no STARTTLS: plaintext";
}

RouteVerdict one_level(const Level& level, const dns::DiscoveryResult& r,
                       std::span<const ProbedHost> hosts, bool all_probed) {
  // The policy and level an attempt would hold the message to on this route.
  model::Policy policy = delivery::policy_over_route(level.policy, "", r.route_trusted);
  Facts base;
  base.policy = policy;
  base.level = delivery::requirement_for(policy, level.tls, r.route_tls);
  base.dns_incomplete = !r.complete();
  base.domain = r.domain;

  Facts f = base;
  f.stage = Stage::Discovery;
  f.step = "discovery";
  f.code = r.ok() ? 250 : r.status == dns::DiscoveryStatus::Permanent ? 550 : 450;
  f.enhanced = r.enhanced_code;
  f.text = r.reason;
  f.last_candidate = hosts.empty() && all_probed;
  Decision d = delivery::decide(f);
  if (d.kind == Decision::Kind::Final) return from_outcome(level.name, d.outcome);

  std::vector<delivery::HostRecord> tried;
  for (std::size_t n = 0; n < hosts.size(); ++n) {
    const ProbedHost& h = hosts[n];
    Facts hf = base;
    hf.host = h.name;
    hf.remote = h.remote;
    hf.binding = h.terms.binding;
    hf.tried = tried;
    hf.last_candidate = n + 1 == hosts.size() && all_probed;
    hf.stage = Stage::Admission;
    hf.step = "admission";
    hf.admission = h.terms.admission;
    hf.error = h.tlsa_detail;
    d = delivery::decide(hf);
    if (d.kind == Decision::Kind::Continue) {
      if (!h.info) {
        return RouteVerdict{level.name, "unknown", h.name, "", "the probe did not finish this host"};
      }
      Facts sf = base;
      sf.host = h.name;
      sf.remote = h.remote;
      sf.binding = h.terms.binding;
      sf.tried = tried;
      sf.last_candidate = hf.last_candidate;
      delivery::open_facts(*h.info, h.terms, sf);
      d = delivery::decide(sf);
      if (d.kind == Decision::Kind::Continue) {
        return RouteVerdict{level.name, "deliver", h.name, "", session_words(*h.info, sf.tls)};
      }
      if (d.kind == Decision::Kind::RetryPlaintext) {
        return RouteVerdict{level.name, "deliver", h.name, "",
                            "in plaintext, after STARTTLS failed (" + h.info->error +
                                "); the plaintext retry itself was not probed"};
      }
    }
    if (d.kind == Decision::Kind::Final) return from_outcome(level.name, d.outcome);
    tried.push_back(d.host);
  }
  return RouteVerdict{level.name, "unknown", "", "",
                      "more addresses than the probe tries; none of the first " +
                          std::to_string(hosts.size()) + " would take the mail"};
}

}  // namespace

std::vector<RouteVerdict> route_verdicts(const dns::DiscoveryResult* discovery,
                                         std::span<const ProbedHost> hosts, bool all_probed) {
  std::vector<RouteVerdict> out;
  for (const auto& level : kLevels) {
    if (!discovery) {
      out.push_back(RouteVerdict{level.name, "unknown", "", "", "discovery did not finish"});
      continue;
    }
    out.push_back(one_level(level, *discovery, hosts, all_probed));
  }
  return out;
}

nlohmann::json to_json(const RouteVerdict& v) {
  return nlohmann::json{{"policy", v.policy}, {"action", v.action}, {"host", v.host},
                        {"status", v.status}, {"detail", v.detail}};
}

}  // namespace secmx::admin
