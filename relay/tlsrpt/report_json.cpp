#include "relay/tlsrpt/report_json.hpp"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "relay/common/ascii.hpp"

namespace secmx::tlsrpt {
namespace {

// ordered_json keeps the members in the RFC's order, which is what a reader of a report
// (and `secmxctl tlsrpt show`) expects to see.
using Json = nlohmann::ordered_json;

std::uint64_t add_saturating(std::uint64_t a, std::uint64_t b) {
  return b > std::numeric_limits<std::uint64_t>::max() - a
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

void put_string(Json& obj, const char* name, const std::string& value) {
  if (!value.empty()) obj[name] = value;
}

void put_strings(Json& obj, const char* name, const std::vector<std::string>& values) {
  if (!values.empty()) obj[name] = values;
}

// One "policies" entry while the rows are summed.
struct PolicyGroup {
  PolicyKey key;  // as reported (see reported())
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;
  std::vector<std::pair<const FailureDetail*, std::uint64_t>> details;  // first seen first
};

// The key as the report shows it: two rows that would print the same "policy" are one
// policy. A session with no policy has no policy text nor MX patterns (§4.4:
// "no-policy-found"), whatever the row carries; the domain is compared in lower case.
PolicyKey reported(const PolicyKey& key) {
  PolicyKey k = key;
  k.domain = ascii_lowercase(k.domain);
  if (k.type == PolicyType::NoPolicyFound) {
    k.strings.clear();
    k.mx_host.clear();
  }
  return k;
}

Json policy_json(const PolicyGroup& g) {
  Json policy = Json::object();
  policy["policy-type"] = to_string(g.key.type);
  put_strings(policy, "policy-string", g.key.strings);
  policy["policy-domain"] = g.key.domain;
  put_strings(policy, "mx-host", g.key.mx_host);

  Json entry = Json::object();
  entry["policy"] = std::move(policy);
  entry["summary"] = Json{{"total-successful-session-count", g.successes},
                          {"total-failure-session-count", g.failures}};
  if (!g.details.empty()) {
    Json details = Json::array();
    for (const auto& [d, n] : g.details) {
      Json f = Json::object();
      f["result-type"] = to_string(d->result);
      put_string(f, "sending-mta-ip", d->sending_mta_ip);
      put_string(f, "receiving-mx-hostname", d->receiving_mx_hostname);
      put_string(f, "receiving-mx-helo", d->receiving_mx_helo);
      put_string(f, "receiving-ip", d->receiving_ip);
      f["failed-session-count"] = n;
      put_string(f, "additional-information", d->additional_information);
      put_string(f, "failure-reason-code", d->failure_reason_code);
      details.push_back(std::move(f));
    }
    entry["failure-details"] = std::move(details);
  }
  return entry;
}

}  // namespace

std::string report_id(const std::string& day, const std::string& domain,
                      const std::string& submitter) {
  return day + "T00:00:00Z_" + domain + "@" + submitter;
}

std::string build_report(const ReportMeta& meta, const std::string& day,
                         const std::string& domain, const std::vector<Tally>& rows) {
  // Linear look-ups: a domain's day has a handful of policies and failure kinds, and the
  // order first seen must be kept anyway.
  std::vector<PolicyGroup> groups;
  for (const Tally& row : rows) {
    if (!iequals(row.session.policy.domain, domain)) continue;  // not this report's
    PolicyKey key = reported(row.session.policy);
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const PolicyGroup& x) { return x.key == key; });
    if (g == groups.end()) {
      PolicyGroup fresh;
      fresh.key = std::move(key);
      groups.push_back(std::move(fresh));
      g = groups.end() - 1;
    }
    if (!row.session.failure) {
      g->successes = add_saturating(g->successes, row.count);
      continue;
    }
    g->failures = add_saturating(g->failures, row.count);
    const FailureDetail& detail = *row.session.failure;
    auto d = std::find_if(g->details.begin(), g->details.end(),
                          [&](const auto& x) { return *x.first == detail; });
    if (d == g->details.end()) {
      g->details.emplace_back(&detail, row.count);
    } else {
      d->second = add_saturating(d->second, row.count);
    }
  }

  Json report = Json::object();
  report["organization-name"] = meta.organization;
  report["date-range"] = Json{{"start-datetime", day + "T00:00:00Z"},
                              {"end-datetime", day + "T23:59:59Z"}};
  report["contact-info"] = meta.contact;
  report["report-id"] = meta.report_id;
  Json policies = Json::array();
  for (const PolicyGroup& g : groups) policies.push_back(policy_json(g));
  report["policies"] = std::move(policies);
  // Peer words (an EHLO name) may not be UTF-8; JSON must be.
  return report.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace secmx::tlsrpt
