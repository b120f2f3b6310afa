// resolver_test.cpp - AresResolver on a real libuv loop against a scripted UDP DNS server
// on the same loop (127.0.0.1, ephemeral port): typed answers, TTLs and the cache, negative
// answers, SERVFAIL and timeouts (bounded), coalescing, and destruction with lookups in
// flight or from inside a callback (run under ASan too); with [dns] dnssec the DO and AD
// bits on the wire, the AD bit of replies as `secure` (cached with the answer), TLSA.
#include "relay/dns/resolver.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/unit/dns/dns_wire.hpp"

namespace secmx::dns {
namespace {

using namespace wire;
using ::testing::HasSubstr;
using Handler = std::function<std::optional<Message>(const std::string&, std::uint16_t)>;

// A UDP socket on the loop that answers each query with handler(qname, qtype); nullopt
// means no reply at all. The handle is freed in its close callback.
class ScriptedDnsServer {
 public:
  explicit ScriptedDnsServer(uv_loop_t* loop) : h_(new Handle) {
    h_->self = this;
    uv_udp_init(loop, &h_->udp);
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    EXPECT_EQ(uv_udp_bind(&h_->udp, reinterpret_cast<const sockaddr*>(&addr), 0), 0);
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_udp_getsockname(&h_->udp, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    uv_udp_recv_start(&h_->udp, on_alloc, on_recv);
  }
  ~ScriptedDnsServer() {
    h_->self = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&h_->udp),
             [](uv_handle_t* h) { delete reinterpret_cast<Handle*>(h); });
  }
  std::uint16_t port() const { return port_; }

  Handler handler;
  std::vector<std::string> received;  // "MX d.test"
  std::vector<QueryBits> bits;        // the DNSSEC bits of each query, in the same order

 private:
  struct Handle {
    uv_udp_t udp;
    ScriptedDnsServer* self;
    char buf[4096];
  };
  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* b) {
    auto* s = reinterpret_cast<Handle*>(h);
    *b = uv_buf_init(s->buf, sizeof s->buf);
  }
  static void on_recv(uv_udp_t* u, ssize_t n, const uv_buf_t* b, const sockaddr* from,
                      unsigned) {
    auto* s = reinterpret_cast<Handle*>(u);
    if (n <= 0 || !from || !s->self) return;
    std::uint16_t id = 0, qtype = 0;
    std::string qname;
    if (!parse_query(reinterpret_cast<const std::uint8_t*>(b->base), static_cast<size_t>(n),
                     id, qname, qtype)) {
      return;
    }
    ScriptedDnsServer& self = *s->self;
    self.received.push_back(type_name(qtype) + " " + qname);
    self.bits.push_back(query_bits(reinterpret_cast<const std::uint8_t*>(b->base),
                                   static_cast<std::size_t>(n)));
    std::optional<Message> reply = self.handler ? self.handler(qname, qtype) : std::nullopt;
    if (!reply) return;
    reply->id = id;
    reply->qname = qname;
    reply->qtype = qtype;
    Bytes out = reply->encode();
    uv_buf_t ob = uv_buf_init(reinterpret_cast<char*>(out.data()),
                              static_cast<unsigned>(out.size()));
    EXPECT_EQ(uv_udp_try_send(u, &ob, 1, from), static_cast<int>(out.size()));
  }
  static std::string type_name(std::uint16_t t) {
    switch (t) {
      case kA: return "A";
      case kAaaa: return "AAAA";
      case kMx: return "MX";
      case kSrv: return "SRV";
      case kTlsa: return "TLSA";
    }
    return std::to_string(t);
  }

  Handle* h_;
  std::uint16_t port_ = 0;
};

// Replies from a table: (qtype, qname) -> message; anything else NXDOMAIN with an SOA.
struct Zone {
  std::map<std::pair<std::uint16_t, std::string>, Message> answers;
  Handler handler() {
    return [this](const std::string& name, std::uint16_t type) -> std::optional<Message> {
      if (auto it = answers.find({type, name}); it != answers.end()) return it->second;
      Message m;
      m.rcode = kNxDomain;
      m.authority = {{"test", kSoa, 900, rdata_soa(42)}};
      return m;
    };
  }
};

class AresResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    server_ = std::make_unique<ScriptedDnsServer>(&loop_);
    server_->handler = zone_.handler();
  }

  void TearDown() override {
    resolver_.reset();
    server_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks free every handle
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a uv handle was left open";
  }

  AresResolver& make(ResolverOptions o = {}) {
    o.servers = {{"127.0.0.1", server_->port()}};
    auto r = AresResolver::create(&loop_, o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
    resolver_ = std::move(r.value());
    return *resolver_;
  }

  // Runs the loop until pred() holds or timeout_ms passes; returns pred().
  bool run_until(const std::function<bool()>& pred, int timeout_ms = 5000) {
    bool expired = false;
    uv_timer_t guard;
    uv_timer_init(&loop_, &guard);
    guard.data = &expired;
    uv_timer_start(
        &guard, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; },
        static_cast<std::uint64_t>(timeout_ms), 0);
    while (!pred() && !expired) uv_run(&loop_, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
    return pred();
  }

  void add(std::uint16_t type, const std::string& name, std::vector<Rr> answers) {
    Message m;
    m.answers = std::move(answers);
    zone_.answers[{type, name}] = m;
  }

  uv_loop_t loop_;
  Zone zone_;
  std::unique_ptr<ScriptedDnsServer> server_;
  std::unique_ptr<AresResolver> resolver_;
};

TEST_F(AresResolverTest, AddressesWithTheirTtl) {
  add(kA, "mx1.d.test", {{"mx1.d.test", kA, 120, rdata_a("127.0.0.21")},
                         {"mx1.d.test", kA, 60, rdata_a("127.0.0.22")}});
  add(kAaaa, "mx1.d.test", {{"mx1.d.test", kAaaa, 300, rdata_aaaa("::1")}});
  AresResolver& r = make();
  std::optional<AddressAnswer> a, aaaa;
  r.lookup_a("MX1.D.Test.", [&](AddressAnswer x) { a = std::move(x); });
  r.lookup_aaaa("mx1.d.test", [&](AddressAnswer x) { aaaa = std::move(x); });
  EXPECT_FALSE(a || aaaa) << "never called from inside lookup_*()";
  ASSERT_TRUE(run_until([&] { return a && aaaa; }));
  ASSERT_TRUE(a->ok()) << a->error;
  ASSERT_EQ(a->records.size(), 2u);
  EXPECT_EQ(a->records[0].to_string(), "127.0.0.21");
  EXPECT_EQ(a->records[1].to_string(), "127.0.0.22");
  EXPECT_EQ(a->ttl, 60u) << "the smallest TTL of the set";
  ASSERT_TRUE(aaaa->ok());
  EXPECT_EQ(aaaa->records.at(0).to_string(), "::1");
  EXPECT_EQ(aaaa->records.at(0).family, AF_INET6);
  EXPECT_EQ(server_->received, (std::vector<std::string>{"A mx1.d.test", "AAAA mx1.d.test"}));
}

TEST_F(AresResolverTest, MxAndSrvIncludingTheRootTarget) {
  add(kMx, "d.test", {{"d.test", kMx, 300, rdata_mx(51966, "Cafe.D.Test")},
                      {"d.test", kMx, 200, rdata_mx(10, "mx1.d.test")}});
  add(kMx, "null.test", {{"null.test", kMx, 300, rdata_mx(0, ".")}});
  add(kSrv, "_secmx._tcp.d.test", {{"_secmx._tcp.d.test", kSrv, 100, rdata_srv(10, 60, 2525, "sor.d.test")}});
  add(kSrv, "_secmx._tcp.none.test", {{"_secmx._tcp.none.test", kSrv, 100, rdata_srv(0, 0, 0, ".")}});
  AresResolver& r = make();
  std::optional<MxAnswer> mx, null_mx;
  std::optional<SrvAnswer> srv, none;
  r.lookup_mx("d.test", [&](MxAnswer x) { mx = std::move(x); });
  r.lookup_mx("null.test", [&](MxAnswer x) { null_mx = std::move(x); });
  r.lookup_srv("_secmx._tcp.d.test", [&](SrvAnswer x) { srv = std::move(x); });
  r.lookup_srv("_secmx._tcp.none.test", [&](SrvAnswer x) { none = std::move(x); });
  ASSERT_TRUE(run_until([&] { return mx && null_mx && srv && none; }));
  ASSERT_TRUE(mx->ok());
  ASSERT_EQ(mx->records.size(), 2u);
  EXPECT_EQ(mx->records[0].preference, 51966);
  EXPECT_EQ(mx->records[0].host, "cafe.d.test") << "normalised";
  EXPECT_EQ(mx->ttl, 200u);
  ASSERT_TRUE(null_mx->ok());
  ASSERT_EQ(null_mx->records.size(), 1u);
  EXPECT_EQ(null_mx->records[0].host, "") << "\".\" is the empty name";
  ASSERT_TRUE(srv->ok());
  EXPECT_EQ(srv->records.at(0).priority, 10);
  EXPECT_EQ(srv->records.at(0).weight, 60);
  EXPECT_EQ(srv->records.at(0).port, 2525);
  EXPECT_EQ(srv->records.at(0).target, "sor.d.test");
  EXPECT_EQ(srv->ttl, 100u);
  ASSERT_TRUE(none->ok());
  EXPECT_EQ(none->records.at(0).target, "");
}

TEST_F(AresResolverTest, SecondLookupComesFromTheCache) {
  add(kMx, "d.test", {{"d.test", kMx, 300, rdata_mx(10, "mx1.d.test")}});
  AresResolver& r = make();
  std::optional<MxAnswer> first, second;
  r.lookup_mx("d.test", [&](MxAnswer x) { first = std::move(x); });
  ASSERT_TRUE(run_until([&] { return first.has_value(); }));
  EXPECT_FALSE(first->from_cache);
  r.lookup_mx("D.TEST.", [&](MxAnswer x) { second = std::move(x); });
  EXPECT_FALSE(second) << "a cache hit is delivered later too, never inside the call";
  ASSERT_TRUE(run_until([&] { return second.has_value(); }));
  EXPECT_TRUE(second->from_cache);
  ASSERT_TRUE(second->ok());
  EXPECT_EQ(second->records.at(0).host, "mx1.d.test");
  EXPECT_EQ(server_->received.size(), 1u);
  EXPECT_EQ(r.stats().queries, 1u);
  EXPECT_EQ(r.stats().cache_hits, 1u);
  EXPECT_EQ(r.cache_entries(), 1u);
  r.clear_cache();
  std::optional<MxAnswer> third;
  r.lookup_mx("d.test", [&](MxAnswer x) { third = std::move(x); });
  ASSERT_TRUE(run_until([&] { return third.has_value(); }));
  EXPECT_FALSE(third->from_cache);
  EXPECT_EQ(server_->received.size(), 2u);
}

TEST_F(AresResolverTest, TtlIsClampedAndZeroIsNotKept) {
  add(kA, "long.test", {{"long.test", kA, 9999999, rdata_a("127.0.0.1")}});
  add(kA, "zero.test", {{"zero.test", kA, 0, rdata_a("127.0.0.2")}});
  ResolverOptions o;
  o.min_ttl = 0;
  o.max_ttl = 600;
  AresResolver& r = make(o);
  std::optional<AddressAnswer> lng, z1, z2;
  r.lookup_a("long.test", [&](AddressAnswer x) { lng = std::move(x); });
  r.lookup_a("zero.test", [&](AddressAnswer x) { z1 = std::move(x); });
  ASSERT_TRUE(run_until([&] { return lng && z1; }));
  EXPECT_EQ(lng->ttl, 600u);
  EXPECT_EQ(z1->ttl, 0u);
  r.lookup_a("zero.test", [&](AddressAnswer x) { z2 = std::move(x); });
  ASSERT_TRUE(run_until([&] { return z2.has_value(); }));
  EXPECT_FALSE(z2->from_cache) << "a TTL of 0 expires at once";
  EXPECT_EQ(r.stats().queries, 3u);
}

TEST_F(AresResolverTest, NegativeAnswersUseTheSoaAndAreCached) {
  Message nodata;  // NOERROR, no answer: the name exists without MX
  nodata.authority = {{"test", kSoa, 900, rdata_soa(30)}};
  zone_.answers[{kMx, "bare.test"}] = nodata;
  AresResolver& r = make();
  std::optional<MxAnswer> nx, nd, nx2;
  r.lookup_mx("gone.test", [&](MxAnswer x) { nx = std::move(x); });
  r.lookup_mx("bare.test", [&](MxAnswer x) { nd = std::move(x); });
  ASSERT_TRUE(run_until([&] { return nx && nd; }));
  EXPECT_EQ(nx->status, LookupStatus::NxDomain);
  EXPECT_EQ(nx->ttl, 42u) << "min(SOA TTL, SOA MINIMUM)";
  EXPECT_EQ(nd->status, LookupStatus::NoData);
  EXPECT_EQ(nd->ttl, 30u);
  r.lookup_mx("gone.test", [&](MxAnswer x) { nx2 = std::move(x); });
  ASSERT_TRUE(run_until([&] { return nx2.has_value(); }));
  EXPECT_EQ(nx2->status, LookupStatus::NxDomain);
  EXPECT_TRUE(nx2->from_cache);
}

TEST_F(AresResolverTest, ServfailIsTemporaryAndNotCached) {
  server_->handler = [](const std::string&, std::uint16_t) -> std::optional<Message> {
    Message m;
    m.rcode = kServFail;
    return m;
  };
  ResolverOptions o;
  o.tries = 2;
  AresResolver& r = make(o);
  std::optional<MxAnswer> a, b;
  r.lookup_mx("d.test", [&](MxAnswer x) { a = std::move(x); });
  ASSERT_TRUE(run_until([&] { return a.has_value(); }));
  EXPECT_EQ(a->status, LookupStatus::Temporary);
  EXPECT_THAT(a->error, HasSubstr("SERVFAIL"));
  EXPECT_EQ(server_->received.size(), 2u) << "one query per try";
  r.lookup_mx("d.test", [&](MxAnswer x) { b = std::move(x); });
  ASSERT_TRUE(run_until([&] { return b.has_value(); }));
  EXPECT_FALSE(b->from_cache);
  EXPECT_EQ(server_->received.size(), 4u);
  EXPECT_EQ(r.stats().temporary, 2u);
}

TEST_F(AresResolverTest, RefusedIsTemporary) {
  server_->handler = [](const std::string&, std::uint16_t) -> std::optional<Message> {
    Message m;
    m.rcode = kRefused;
    return m;
  };
  ResolverOptions o;
  o.tries = 1;
  AresResolver& r = make(o);
  std::optional<SrvAnswer> a;
  r.lookup_srv("_secmx._tcp.d.test", [&](SrvAnswer x) { a = std::move(x); });
  ASSERT_TRUE(run_until([&] { return a.has_value(); }));
  EXPECT_EQ(a->status, LookupStatus::Temporary);
  EXPECT_THAT(a->error, HasSubstr("REFUSED"));
}

TEST_F(AresResolverTest, SilentServerTimesOutWithinTheBound) {
  server_->handler = [](const std::string&, std::uint16_t) { return std::nullopt; };
  ResolverOptions o;
  o.timeout = std::chrono::milliseconds(100);
  o.tries = 2;  // 100 ms + 200 ms
  AresResolver& r = make(o);
  std::optional<AddressAnswer> a;
  auto t0 = std::chrono::steady_clock::now();
  r.lookup_a("slow.test", [&](AddressAnswer x) { a = std::move(x); });
  ASSERT_TRUE(run_until([&] { return a.has_value(); }, 5000));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(a->status, LookupStatus::Temporary);
  EXPECT_EQ(a->error, "timeout");
  EXPECT_GE(ms, 250);
  EXPECT_LT(ms, 2000);
  EXPECT_EQ(server_->received.size(), 2u);
}

TEST_F(AresResolverTest, ConcurrentLookupsOfOneNameShareAQuery) {
  add(kA, "h.test", {{"h.test", kA, 300, rdata_a("127.0.0.7")}});
  AresResolver& r = make();
  int calls = 0;
  for (int i = 0; i < 3; ++i) {
    r.lookup_a("h.test", [&](AddressAnswer x) {
      EXPECT_TRUE(x.ok());
      ++calls;
    });
  }
  ASSERT_TRUE(run_until([&] { return calls == 3; }));
  EXPECT_EQ(server_->received.size(), 1u);
  EXPECT_EQ(r.stats().coalesced, 2u);
}

TEST_F(AresResolverTest, InvalidNameFailsWithoutAQuery) {
  AresResolver& r = make();
  std::optional<AddressAnswer> a;
  r.lookup_a(std::string(300, 'a'), [&](AddressAnswer x) { a = std::move(x); });
  ASSERT_TRUE(run_until([&] { return a.has_value(); }));
  EXPECT_EQ(a->status, LookupStatus::NxDomain);
  EXPECT_EQ(a->error, "invalid name");
  EXPECT_TRUE(server_->received.empty());
}

TEST_F(AresResolverTest, PostRunsLaterOnTheLoop) {
  AresResolver& r = make();
  bool ran = false;
  r.post([&] { ran = true; });
  EXPECT_FALSE(ran);
  ASSERT_TRUE(run_until([&] { return ran; }));
}

TEST_F(AresResolverTest, DestroyedWithLookupsInFlightDropsThem) {
  server_->handler = [](const std::string&, std::uint16_t) { return std::nullopt; };
  AresResolver& r = make();
  int calls = 0;
  r.lookup_a("a.test", [&](AddressAnswer) { ++calls; });
  r.lookup_mx("b.test", [&](MxAnswer) { ++calls; });
  r.post([&] { ++calls; });
  ASSERT_TRUE(run_until([&] { return server_->received.size() == 2; }));
  resolver_.reset();  // queries on the wire, sockets open, timer armed
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(calls, 1) << "only the post() had run; the lookups are dropped";
}

TEST_F(AresResolverTest, DestroyedBeforeTheLoopEverRan) {
  AresResolver& r = make();
  int calls = 0;
  r.lookup_a("a.test", [&](AddressAnswer) { ++calls; });
  r.post([&] { ++calls; });
  resolver_.reset();
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(calls, 0);
}

TEST_F(AresResolverTest, CallbackMayDestroyTheResolver) {
  add(kA, "h.test", {{"h.test", kA, 300, rdata_a("127.0.0.7")}});
  AresResolver& r = make();
  int calls = 0;
  std::optional<AddressAnswer> first;
  r.lookup_a("h.test", [&](AddressAnswer x) { first = std::move(x); });
  ASSERT_TRUE(run_until([&] { return first.has_value(); }));
  // Two answers become ready in the same loop turn (both cache hits); the first
  // callback destroys the resolver, the second must be dropped.
  r.lookup_a("h.test", [&](AddressAnswer) {
    ++calls;
    resolver_.reset();
  });
  r.lookup_a("h.test", [&](AddressAnswer) { ++calls; });
  ASSERT_TRUE(run_until([&] { return calls > 0; }));
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(resolver_, nullptr);
}

TEST_F(AresResolverTest, CreateRejectsABadServer) {
  ResolverOptions o;
  o.servers = {{"not-an-address", 53}};
  auto r = AresResolver::create(&loop_, o);
  EXPECT_FALSE(r.ok());
}

// ---- DNSSEC ([dns] dnssec) ----

ResolverOptions dnssec_on() {
  ResolverOptions o;
  o.dnssec = true;
  return o;
}

TEST_F(AresResolverTest, WithoutDnssecNoBitsAreSentAndNothingIsSecure) {
  add(kA, "h.test", {{"h.test", kA, 300, rdata_a("127.0.0.7")}});
  zone_.answers[{kA, "h.test"}].ad = true;  // even a resolver that sets AD anyway
  AresResolver& r = make();
  std::optional<AddressAnswer> a;
  r.lookup_a("h.test", [&](AddressAnswer x) { a = std::move(x); });
  ASSERT_TRUE(run_until([&] { return a.has_value(); }));
  ASSERT_TRUE(a->ok());
  EXPECT_FALSE(a->secure) << "the AD bit means nothing unless we asked for it";
  ASSERT_EQ(server_->bits.size(), 1u);
  EXPECT_FALSE(server_->bits[0].ad);
  EXPECT_FALSE(server_->bits[0].do_bit);
  EXPECT_TRUE(server_->bits[0].opt) << "EDNS0 as before";
}

TEST_F(AresResolverTest, DnssecAsksWithDoAndAdAndReadsTheAdBit) {
  add(kMx, "signed.test", {{"signed.test", kMx, 300, rdata_mx(10, "mx.signed.test")}});
  zone_.answers[{kMx, "signed.test"}].ad = true;
  add(kMx, "plain.test", {{"plain.test", kMx, 300, rdata_mx(10, "mx.plain.test")}});
  AresResolver& r = make(dnssec_on());
  std::optional<MxAnswer> secure, insecure, gone;
  r.lookup_mx("signed.test", [&](MxAnswer x) { secure = std::move(x); });
  r.lookup_mx("plain.test", [&](MxAnswer x) { insecure = std::move(x); });
  r.lookup_mx("gone.test", [&](MxAnswer x) { gone = std::move(x); });
  ASSERT_TRUE(run_until([&] { return secure && insecure && gone; }));
  ASSERT_TRUE(secure->ok()) << secure->error;
  EXPECT_EQ(secure->records.at(0).host, "mx.signed.test");
  EXPECT_TRUE(secure->secure);
  ASSERT_TRUE(insecure->ok());
  EXPECT_FALSE(insecure->secure);
  EXPECT_EQ(gone->status, LookupStatus::NxDomain) << "the RCODE mapped as ares_query() does";
  EXPECT_EQ(gone->ttl, 42u);
  ASSERT_EQ(server_->bits.size(), 3u);
  for (const QueryBits& b : server_->bits) {
    EXPECT_TRUE(b.ad);
    EXPECT_TRUE(b.opt);
    EXPECT_TRUE(b.do_bit);
  }
}

TEST_F(AresResolverTest, DnssecNoDataAndSecureDenial) {
  Message nodata;
  nodata.ad = true;
  nodata.authority = {{"test", kSoa, 900, rdata_soa(30)}};
  zone_.answers[{kTlsa, "_25._tcp.mx.signed.test"}] = nodata;
  AresResolver& r = make(dnssec_on());
  std::optional<TlsaAnswer> a;
  r.lookup_tlsa("_25._tcp.mx.signed.test", [&](TlsaAnswer x) { a = std::move(x); });
  ASSERT_TRUE(run_until([&] { return a.has_value(); }));
  EXPECT_EQ(a->status, LookupStatus::NoData);
  EXPECT_EQ(a->ttl, 30u);
  EXPECT_TRUE(a->secure) << "a secure denial: no TLSA";
}

TEST_F(AresResolverTest, CacheKeepsTheSecureFlag) {
  add(kA, "mx.signed.test", {{"mx.signed.test", kA, 300, rdata_a("127.0.0.9")}});
  zone_.answers[{kA, "mx.signed.test"}].ad = true;
  AresResolver& r = make(dnssec_on());
  std::optional<AddressAnswer> first, second;
  r.lookup_a("mx.signed.test", [&](AddressAnswer x) { first = std::move(x); });
  ASSERT_TRUE(run_until([&] { return first.has_value(); }));
  r.lookup_a("mx.signed.test", [&](AddressAnswer x) { second = std::move(x); });
  ASSERT_TRUE(run_until([&] { return second.has_value(); }));
  EXPECT_TRUE(second->from_cache);
  EXPECT_TRUE(second->secure);
  EXPECT_EQ(summary(*second), "ok ttl=300 secure cached");
  EXPECT_EQ(server_->received.size(), 1u);
}

TEST_F(AresResolverTest, DnssecBogusServfailIsTemporaryNeverNoRecord) {
  server_->handler = [](const std::string&, std::uint16_t) -> std::optional<Message> {
    Message m;  // what a validating resolver answers for data that fails validation
    m.rcode = kServFail;
    return m;
  };
  ResolverOptions o = dnssec_on();
  o.tries = 1;
  AresResolver& r = make(o);
  std::optional<MxAnswer> a;
  r.lookup_mx("bogus.test", [&](MxAnswer x) { a = std::move(x); });
  ASSERT_TRUE(run_until([&] { return a.has_value(); }));
  EXPECT_EQ(a->status, LookupStatus::Temporary);
  EXPECT_THAT(a->error, HasSubstr("SERVFAIL"));
  EXPECT_FALSE(a->secure);
  EXPECT_EQ(r.cache_entries(), 0u);
}

TEST_F(AresResolverTest, TlsaRecordsThroughTheResolver) {
  add(kTlsa, "_25._tcp.mx.signed.test",
      {{"_25._tcp.mx.signed.test", kTlsa, 600, rdata_tlsa(3, 1, 1, {0xab, 0xcd})}});
  zone_.answers[{kTlsa, "_25._tcp.mx.signed.test"}].ad = true;
  AresResolver& r = make(dnssec_on());
  std::optional<TlsaAnswer> a;
  r.lookup_tlsa("_25._tcp.MX.signed.test.", [&](TlsaAnswer x) { a = std::move(x); });
  ASSERT_TRUE(run_until([&] { return a.has_value(); }));
  ASSERT_TRUE(a->ok()) << a->error;
  EXPECT_EQ(a->records.at(0), (TlsaRecord{3, 1, 1, {0xab, 0xcd}}));
  EXPECT_TRUE(a->secure);
  EXPECT_EQ(server_->received, (std::vector<std::string>{"TLSA _25._tcp.mx.signed.test"}));
}

TEST_F(AresResolverTest, DnssecInvalidNameFailsWithoutAQuery) {
  AresResolver& r = make(dnssec_on());
  std::optional<AddressAnswer> a;
  r.lookup_a(std::string(70, 'a') + ".test", [&](AddressAnswer x) { a = std::move(x); });
  ASSERT_TRUE(run_until([&] { return a.has_value(); }));
  EXPECT_EQ(a->status, LookupStatus::NxDomain);
  EXPECT_EQ(a->error, "invalid name");
  EXPECT_TRUE(server_->received.empty());
}

TEST(ResolverOptions, FromConfigTakesDnssec) {
  config::Config cfg;
  EXPECT_FALSE(ResolverOptions::from_config(cfg).dnssec);
  cfg.dns.dnssec = true;
  EXPECT_TRUE(ResolverOptions::from_config(cfg).dnssec);
}

TEST(ResolverOptions, FromConfigTakesTheServers) {
  config::Config cfg;
  cfg.dns.servers = {{"127.0.0.1", 5353}, {"::1", 53}};
  ResolverOptions o = ResolverOptions::from_config(cfg);
  ASSERT_EQ(o.servers.size(), 2u);
  EXPECT_EQ(o.servers[1].to_string(), "[::1]:53");
  EXPECT_GE(o.timeout.count(), 500);
  EXPECT_GE(o.tries, 1);
}

}  // namespace
}  // namespace secmx::dns
