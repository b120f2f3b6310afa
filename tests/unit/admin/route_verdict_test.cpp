// route_verdict_test.cpp - secmxctl route's verdict per policy: the probe's facts through
// delivery::decide(), as an attempt would feed them.
#include "admin/route_verdict.hpp"

#include <gtest/gtest.h>

namespace secmx::admin {
namespace {

dns::DiscoveryResult found(const std::string& domain) {
  dns::DiscoveryResult r;
  r.domain = domain;
  r.status = dns::DiscoveryStatus::Ok;
  return r;
}

ProbedHost host(const std::string& name, std::optional<client::SessionInfo> info) {
  ProbedHost h;
  h.name = name + "[127.0.0.1]:25";
  h.remote = name;
  h.info = std::move(info);
  return h;
}

client::SessionInfo session(bool starttls, bool tls, bool verified) {
  client::SessionInfo i;
  i.status = client::OpenStatus::Ok;
  i.stage = "ehlo";
  i.starttls_offered = starttls;
  i.tls_attempted = starttls;
  i.tls.active = tls;
  i.tls.verified = verified;
  i.tls.protocol = tls ? "TLSv1.3" : "";
  i.tls.cipher = tls ? "TLS_AES_256_GCM_SHA384" : "";
  if (tls && !verified) i.tls.verify_error = "self-signed certificate";
  return i;
}

const RouteVerdict& of(const std::vector<RouteVerdict>& v, const std::string& policy) {
  for (const auto& x : v) {
    if (x.policy == policy) return x;
  }
  ADD_FAILURE() << "no verdict for " << policy;
  return v.front();
}

TEST(RouteVerdict, NoStarttlsDeliversBesAndBouncesSos) {
  auto r = found("d.test");
  std::vector<ProbedHost> hosts{host("mx.d.test", session(false, false, false))};
  auto v = route_verdicts(&r, hosts, true);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(of(v, "BES").action, "deliver");
  EXPECT_EQ(of(v, "BES").host, "mx.d.test[127.0.0.1]:25");
  EXPECT_EQ(of(v, "BES").detail, "no STARTTLS: plaintext");
  for (const char* sos : {"SOS encrypt", "SOS verify"}) {
    EXPECT_EQ(of(v, sos).action, "bounce") << sos;
    EXPECT_EQ(of(v, sos).status, "5.7.10") << sos;
    EXPECT_NE(of(v, sos).detail.find("mx.d.test[127.0.0.1]:25"), std::string::npos) << of(v, sos).detail;
  }
}

TEST(RouteVerdict, UnverifiedTlsIsEnoughForEncryptNotForVerify) {
  auto r = found("d.test");
  std::vector<ProbedHost> hosts{host("mx.d.test", session(true, true, false))};
  auto v = route_verdicts(&r, hosts, true);
  EXPECT_EQ(of(v, "BES").action, "deliver");
  EXPECT_NE(of(v, "BES").detail.find("STARTTLS offered, TLSv1.3"), std::string::npos) << of(v, "BES").detail;
  EXPECT_EQ(of(v, "SOS encrypt").action, "deliver");
  EXPECT_EQ(of(v, "SOS verify").action, "bounce");
  EXPECT_EQ(of(v, "SOS verify").status, "5.7.10");
}

TEST(RouteVerdict, SosGoesToTheNextHostThatDoesTls) {
  auto r = found("d.test");
  std::vector<ProbedHost> hosts{host("plain.d.test", session(false, false, false)),
                                host("tls.d.test", session(true, true, true))};
  auto v = route_verdicts(&r, hosts, true);
  EXPECT_EQ(of(v, "BES").host, "plain.d.test[127.0.0.1]:25");
  EXPECT_EQ(of(v, "SOS verify").action, "deliver");
  EXPECT_EQ(of(v, "SOS verify").host, "tls.d.test[127.0.0.1]:25");
}

TEST(RouteVerdict, IncompleteDnsDefersSosInsteadOfBouncing) {
  auto r = found("d.test");
  r.secmx_incomplete = true;
  std::vector<ProbedHost> hosts{host("mx.d.test", session(false, false, false))};
  auto v = route_verdicts(&r, hosts, true);
  EXPECT_EQ(of(v, "SOS encrypt").action, "defer");
  EXPECT_EQ(of(v, "SOS encrypt").status, "4.7.10");
}

TEST(RouteVerdict, PermanentDiscoveryFailureBouncesEveryPolicy) {
  dns::DiscoveryResult r;
  r.domain = "nx.test";
  r.status = dns::DiscoveryStatus::Permanent;
  r.enhanced_code = "5.1.2";
  r.reason = "nx.test: no such domain";
  auto v = route_verdicts(&r, {}, true);
  for (const auto& x : v) {
    EXPECT_EQ(x.action, "bounce") << x.policy;
    EXPECT_EQ(x.status, "5.1.2") << x.policy;
    EXPECT_EQ(x.detail, "nx.test: no such domain");
  }
}

TEST(RouteVerdict, UnreachableHostsDefer) {
  auto r = found("d.test");
  client::SessionInfo refused;
  refused.status = client::OpenStatus::ConnectFailed;
  refused.stage = "connect";
  refused.error = "connection refused";
  std::vector<ProbedHost> hosts{host("mx.d.test", refused)};
  auto v = route_verdicts(&r, hosts, true);
  EXPECT_EQ(of(v, "BES").action, "defer");
  EXPECT_EQ(of(v, "BES").status, "4.4.1");
  EXPECT_EQ(of(v, "SOS encrypt").status, "4.7.10") << "unreachable is never 'no TLS'";
}

TEST(RouteVerdict, WhatWasNotProbedIsNotGuessed) {
  auto r = found("d.test");
  std::vector<ProbedHost> hosts{host("mx.d.test", std::nullopt)};
  for (const auto& x : route_verdicts(&r, hosts, true)) EXPECT_EQ(x.action, "unknown") << x.policy;
  // Hosts left out (max_addresses): after the probed ones fail, the answer is open.
  hosts = {host("mx.d.test", session(false, false, false))};
  EXPECT_EQ(of(route_verdicts(&r, hosts, false), "SOS encrypt").action, "unknown");
  for (const auto& x : route_verdicts(nullptr, {}, true)) EXPECT_EQ(x.action, "unknown");
}

}  // namespace
}  // namespace secmx::admin
