// discovery_test.cpp - the async driver over a scripted Resolver: which lookups it makes in
// which phase, that it calls back exactly once and never from inside discover(), and that
// destroying it with lookups in flight is safe (run under ASan too).
#include "relay/dns/discovery.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/unit/dns/scripted_resolver.hpp"

namespace secmx::dns {
namespace {

template <class R>
Answer<R> ok(std::vector<R> records) {
  Answer<R> x;
  x.status = LookupStatus::Ok;
  x.ttl = 300;
  x.records = std::move(records);
  return x;
}

AddressAnswer ip(const char* text) { return ok(std::vector<IpAddress>{*IpAddress::parse(text)}); }

std::vector<std::string> texts(const DiscoveryResult& r) {
  std::vector<std::string> out;
  for (const Candidate& c : r.candidates) out.push_back(c.to_string());
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

void publish_full(ScriptedResolver& r) {
  r.srv["_secmx._tcp.d.test"] = ok<SrvRecord>({{10, 1, 2525, "sor.d.test"}});
  r.mx["d.test"] = ok<MxRecord>({{10, "mx1.d.test"}, {51966, "cafe.d.test"}});
  r.a["sor.d.test"] = ip("127.0.0.10");
  r.a["cafe.d.test"] = ip("127.0.0.30");
  r.a["secmx.d.test"] = ip("127.0.0.40");
  r.a["mx1.d.test"] = ip("127.0.0.21");
  r.aaaa["mx1.d.test"] = ip("::1");
}

TEST(Discovery, TwoPhasesAndOneCallback) {
  ScriptedResolver res;
  publish_full(res);
  Discovery d(res, DiscoveryOptions{}, 1);
  int calls = 0;
  DiscoveryResult got;
  d.discover("D.Test.", [&](DiscoveryResult r) {
    ++calls;
    got = std::move(r);
  });
  EXPECT_EQ(calls, 0) << "never called from inside discover()";
  EXPECT_EQ(sorted(res.asked), sorted({"MX d.test", "SRV _secmx._tcp.d.test", "A secmx.d.test",
                                       "AAAA secmx.d.test"}))
      << "phase 1 asks everything about the domain at once";
  res.run();
  ASSERT_EQ(calls, 1);
  EXPECT_EQ(got.domain, "d.test");
  EXPECT_TRUE(got.ok()) << got.reason;
  EXPECT_TRUE(got.complete());
  EXPECT_EQ(texts(got), (std::vector<std::string>{"srv sor.d.test:2525 [127.0.0.10]",
                                                  "mx51966 cafe.d.test:25 [127.0.0.30]",
                                                  "name secmx.d.test:25 [127.0.0.40]",
                                                  "mx mx1.d.test:25 [127.0.0.21] [::1]"}));
  // Phase 2: each host once, secmx.d.test not again.
  std::vector<std::string> phase2(res.asked.begin() + 4, res.asked.end());
  EXPECT_EQ(sorted(phase2), sorted({"A sor.d.test", "AAAA sor.d.test", "A cafe.d.test",
                                    "AAAA cafe.d.test", "A mx1.d.test", "AAAA mx1.d.test"}));
}

TEST(Discovery, MethodsOffAreNotAsked) {
  ScriptedResolver res;
  publish_full(res);
  DiscoveryOptions o;
  o.srv = o.mx51966 = o.name = false;
  Discovery d(res, o, 1);
  std::optional<DiscoveryResult> got;
  d.discover("d.test", [&](DiscoveryResult r) { got = std::move(r); });
  EXPECT_EQ(res.asked, std::vector<std::string>{"MX d.test"});
  res.run();
  ASSERT_TRUE(got);
  EXPECT_EQ(texts(*got), (std::vector<std::string>{"mx mx1.d.test:25 [127.0.0.21] [::1]",
                                                   "mx cafe.d.test:25 [127.0.0.30]"}));
}

TEST(Discovery, NxDomainFailsPermanently) {
  ScriptedResolver res;  // nothing published: everything NXDOMAIN
  Discovery d(res, DiscoveryOptions{}, 1);
  std::optional<DiscoveryResult> got;
  d.discover("gone.test", [&](DiscoveryResult r) { got = std::move(r); });
  res.run();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, DiscoveryStatus::Permanent);
  EXPECT_EQ(got->enhanced_code, "5.1.2");
}

TEST(Discovery, RouteLiteralNeedsNoDnsAndStillCallsBackLater) {
  ScriptedResolver res;
  DiscoveryOptions o;
  config::Route r;
  r.domain = "d.test";
  r.host = "[127.0.0.5]:2526";
  o.routes.push_back(r);
  Discovery d(res, o, 1);
  int calls = 0;
  DiscoveryResult got;
  d.discover("d.test", [&](DiscoveryResult x) {
    ++calls;
    got = std::move(x);
  });
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(res.asked.empty());
  res.run();
  ASSERT_EQ(calls, 1);
  EXPECT_EQ(texts(got), std::vector<std::string>{"route 127.0.0.5:2526 [127.0.0.5]"});
}

TEST(Discovery, RouteHostNameIsResolvedOnly) {
  ScriptedResolver res;
  res.a["hub.test"] = ip("127.0.0.6");
  DiscoveryOptions o;
  config::Route r;
  r.domain = "d.test";
  r.host = "hub.test:2600";
  o.routes.push_back(r);
  Discovery d(res, o, 1);
  std::optional<DiscoveryResult> got;
  d.discover("d.test", [&](DiscoveryResult x) { got = std::move(x); });
  EXPECT_EQ(sorted(res.asked), sorted({"A hub.test", "AAAA hub.test"}));
  res.run();
  ASSERT_TRUE(got);
  EXPECT_EQ(texts(*got), std::vector<std::string>{"route hub.test:2600 [127.0.0.6]"});
}

TEST(Discovery, AddressLiteralDomain) {
  ScriptedResolver res;
  Discovery d(res, DiscoveryOptions{}, 1);
  std::optional<DiscoveryResult> got;
  d.discover("[IPv6:::1]", [&](DiscoveryResult x) { got = std::move(x); });
  res.run();
  ASSERT_TRUE(got);
  EXPECT_TRUE(res.asked.empty());
  EXPECT_EQ(texts(*got), std::vector<std::string>{"implicit ::1:25 [::1]"});
}

TEST(Discovery, DestroyedWithLookupsInFlightNeverCallsBack) {
  ScriptedResolver res;
  publish_full(res);
  int calls = 0;
  {
    Discovery d(res, DiscoveryOptions{}, 1);
    d.discover("d.test", [&](DiscoveryResult) { ++calls; });
    d.discover("other.test", [&](DiscoveryResult) { ++calls; });
    ASSERT_GT(res.queued(), 0u);
  }
  res.run();  // the answers arrive after the Discovery is gone
  EXPECT_EQ(calls, 0);
}

TEST(Discovery, DestroyedBetweenThePhases) {
  ScriptedResolver res;
  publish_full(res);
  int calls = 0;
  auto d = std::make_unique<Discovery>(res, DiscoveryOptions{}, 1);
  d->discover("d.test", [&](DiscoveryResult) { ++calls; });
  ASSERT_EQ(res.queued(), 4u) << "phase 1: MX, SRV, A and AAAA of secmx.D";
  // Queued behind the four answers: the last of them starts phase 2, whose answers are
  // queued behind this, so they arrive after the Discovery is gone.
  res.post([&] { d.reset(); });
  res.run();
  EXPECT_EQ(d, nullptr);
  EXPECT_EQ(calls, 0);
  EXPECT_GT(res.asked.size(), 4u) << "phase 2 had started";
}

TEST(Discovery, CallbackMayDestroyTheDiscovery) {
  ScriptedResolver res;
  publish_full(res);
  auto d = std::make_unique<Discovery>(res, DiscoveryOptions{}, 1);
  int calls = 0;
  d->discover("[127.0.0.1]", [&](DiscoveryResult) {
    ++calls;
    d.reset();  // the other discovery is still in flight
  });
  d->discover("d.test", [&](DiscoveryResult) { ++calls; });
  res.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(d, nullptr);
}

TEST(Discovery, ManyAtOnceEachAnsweredOnce) {
  ScriptedResolver res;
  publish_full(res);
  Discovery d(res, DiscoveryOptions{}, 1);
  std::map<std::string, int> calls;
  for (const char* dom : {"d.test", "x.test", "d.test", "[127.0.0.1]"}) {
    d.discover(dom, [&calls, dom](DiscoveryResult) { ++calls[dom]; });
  }
  res.run();
  EXPECT_EQ(calls["d.test"], 2);
  EXPECT_EQ(calls["x.test"], 1);
  EXPECT_EQ(calls["[127.0.0.1]"], 1);
}

}  // namespace
}  // namespace secmx::dns
