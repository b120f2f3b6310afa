// route_probe.cpp - discovery plus one SMTP/STARTTLS session per candidate address, on a
// private libuv loop run by the calling thread.
#include "admin/route_probe.hpp"

#include <uv.h>

#include <memory>
#include <optional>
#include <vector>

#include "admin/route_verdict.hpp"
#include "relay/client/smtp_client.hpp"
#include "relay/common/clock.hpp"
#include "relay/common/log.hpp"
#include "relay/delivery/host_terms.hpp"
#include "relay/dns/discovery.hpp"
#include "relay/dns/discovery_json.hpp"
#include "relay/dns/resolver.hpp"
#include "relay/sts/sts_cache.hpp"
#include "relay/tls/tls_context.hpp"

namespace secmx::admin {

namespace {

using nlohmann::json;

struct HostProbe {
  const dns::Candidate* candidate = nullptr;
  dns::IpAddress address;
  delivery::HostTerms terms;  // what its DANE records and its domain's MTA-STS ask
  std::unique_ptr<client::SmtpClient> client;
  std::optional<client::SessionInfo> info;
  bool closed = false;  // quit finished (or never needed)
};

// Everything one probe owns; lives on the calling thread's stack.
struct Probe {
  uv_loop_t loop{};
  uv_timer_t tick{};
  const std::atomic<bool>* cancel = nullptr;
  std::chrono::steady_clock::time_point deadline;
  std::unique_ptr<dns::AresResolver> resolver;
  std::unique_ptr<dns::Discovery> discovery;
  std::optional<dns::DiscoveryResult> result;
  std::vector<HostProbe> hosts;
  sts::StsState sts;    // the domain's cached MTA-STS policy, as delivery would use it
  std::string stopped;  // "", "cancelled", "deadline"
  bool all_probed = true;  // no address left out for max_addresses

  bool finished() const {
    if (!result) return false;
    for (const auto& h : hosts) {
      if (!h.closed) return false;
    }
    return true;
  }

  // Drop whatever is still running: its callbacks are never called after this.
  void abandon(const char* why) {
    stopped = why;
    discovery.reset();
    for (auto& h : hosts) {
      h.client.reset();
      h.closed = true;
    }
  }
};

bool answered(const client::SessionInfo& i) {
  using S = client::OpenStatus;
  if (i.status == S::ConnectFailed) return false;
  if ((i.status == S::Timeout || i.status == S::Broken) &&
      (i.stage == "connect" || i.stage == "greeting")) {
    return false;
  }
  return true;
}

// What delivery would do with this host for a BES message and for SOS at either level,
// by the same rules (delivery::decide_tls over the host's terms and what the probe saw).
json verdicts(const HostProbe& h) {
  json v = json::object();
  for (auto [name, policy, level] :
       {std::tuple{"BES", model::Policy::BES, model::TlsLevel::None},
        std::tuple{"SOS encrypt", model::Policy::SOS, model::TlsLevel::Encrypt},
        std::tuple{"SOS verify", model::Policy::SOS, model::TlsLevel::Verify}}) {
    (void)policy;
    std::string word;
    if (h.terms.admission != delivery::Admission::Open) {
      word = std::string("not tried (") + delivery::to_string(h.terms.admission) + ")";
    } else if (!h.info) {
      word = "not probed";
    } else if (const auto& i = *h.info; i.status != client::OpenStatus::Ok) {
      word = std::string("no session (") + client::to_string(i.status) + ")";
    } else {
      delivery::TlsObservation seen;
      seen.starttls_offered = i.starttls_offered;
      seen.handshake_attempted = i.tls_attempted;
      seen.handshake_ok = i.tls.active;
      seen.auth = delivery::auth_of(h.terms, i.tls);
      seen.verified = seen.auth != delivery::TlsAuth::None;
      seen.verify_error = i.tls.verify_error;
      auto d = delivery::decide_tls(level, h.terms.binding, seen);
      word = d.verdict == delivery::TlsVerdict::Proceed
                 ? (i.tls.active ? std::string("send over TLS (") + delivery::to_string(seen.auth) + ")"
                                 : std::string("send in plaintext"))
                 : std::string(delivery::to_string(d.verdict)) +
                       (d.reason.empty() ? "" : ": " + d.reason);
    }
    v[name] = word;
  }
  return v;
}

// The cached policy as delivery would read it now (an expired one is none), for the
// answer's "mta_sts" and the hosts' terms. The probe never fetches: `secmxctl sts fetch`.
json cached_sts(const sts::StsCache* cache, const std::string& domain, sts::StsState& state) {
  if (cache == nullptr) return json{{"enabled", false}};
  auto cached = cache->get(domain);
  if (!cached) return json{{"enabled", true}, {"cached", false}};
  std::int64_t now = unix_now_us();
  json j{{"enabled", true},
         {"cached", true},
         {"id", cached->id},
         {"mode", sts::to_string(cached->policy.mode)},
         {"mx", cached->policy.mx},
         {"max_age", cached->policy.max_age.count()},
         {"age_seconds", (now - cached->fetched_us) / 1000000},
         {"expired", cached->expired(now)}};
  if (!cached->expired(now)) {
    state.policy = cached->policy;
    state.id = cached->id;
    state.from_cache = true;
    state.fetched_us = cached->fetched_us;
  }
  return j;
}

json host_json(const HostProbe& h, bool dnssec) {
  const auto& c = *h.candidate;
  json j{{"host", c.host},
         {"port", c.port},
         {"method", dns::to_string(c.method)},
         {"secmx", c.secmx()},
         {"address", h.address.to_string()}};
  if (dnssec) {
    // The host as DANE sees it: both its name and its addresses must be secure.
    j["dnssec"] = c.name_secure && c.addresses_secure ? "secure" : "insecure";
    j["tlsa"] = dns::to_json(c.tlsa);
  }
  j["binding"] = delivery::to_string(h.terms.binding);
  if (h.terms.sts_applies) j["mta_sts_listed"] = h.terms.sts_listed;
  if (!h.info) {
    // Delivery would not connect to a host its terms rule out, and neither does the probe.
    bool ruled_out = h.terms.admission != delivery::Admission::Open;
    j["status"] = ruled_out ? "not tried" : "not probed";
    j["answered"] = nullptr;
    if (ruled_out) j["verdict"] = verdicts(h);
    return j;
  }
  const auto& i = *h.info;
  bool tls_ok = i.tls.active;
  j["status"] = client::to_string(i.status);
  j["stage"] = i.stage;
  j["error"] = i.error;
  j["answered"] = answered(i);
  j["reply"] = i.code ? json(std::to_string(i.code) + (i.text.empty() ? "" : " " + i.text)) : json(nullptr);
  j["starttls"] = i.starttls_offered;
  j["tls"] = json{{"completed", tls_ok},
                  {"protocol", i.tls.protocol},
                  {"cipher", i.tls.cipher},
                  {"verified", tls_ok && i.tls.verified},
                  {"verify_error", i.tls.verify_error},
                  {"auth", delivery::to_string(delivery::auth_of(h.terms, i.tls))},
                  {"cert_sha256", i.tls.cert_sha256}};
  j["verdict"] = verdicts(h);
  return j;
}

// The probe's hosts, in the order delivery tries them, as route_verdicts() reads them.
json verdicts_json(const Probe& p) {
  std::vector<ProbedHost> hosts;
  for (const auto& h : p.hosts) {
    const auto& c = *h.candidate;
    hosts.push_back(ProbedHost{c.host + "[" + h.address.to_string() + "]:" + std::to_string(c.port),
                               c.host, c.tlsa.detail, h.terms, h.info});
  }
  json out = json::array();
  for (const auto& v : route_verdicts(p.result ? &*p.result : nullptr, hosts, p.all_probed)) {
    out.push_back(to_json(v));
  }
  return out;
}

void on_tick(uv_timer_t* t) {
  auto* p = static_cast<Probe*>(t->data);
  if (p->finished()) {
    uv_timer_stop(t);
    return;
  }
  if (p->cancel->load()) {
    p->abandon("cancelled");
  } else if (std::chrono::steady_clock::now() >= p->deadline) {
    p->abandon("deadline");
  }
  if (p->finished()) uv_timer_stop(t);
}

void start_hosts(Probe& p, const RouteProbeOptions& options,
                 const std::shared_ptr<tls::TlsContext>& tls, const std::string& helo) {
  for (const auto& c : p.result->candidates) {
    for (const auto& a : c.addresses) {
      if (p.hosts.size() >= options.max_addresses) {
        p.all_probed = false;
        break;
      }
      p.hosts.push_back(HostProbe{&c, a, delivery::host_terms(c, p.sts), nullptr, std::nullopt, false});
    }
  }
  client::ClientOptions copts;
  copts.helo_name = helo;
  copts.tls = tls;
  copts.connect_timeout = options.connect_timeout;
  copts.greeting_timeout = copts.command_timeout = copts.quit_timeout = options.command_timeout;
  // The vector is complete: pointers into it stay valid from here on.
  for (auto& h : p.hosts) {
    if (h.terms.admission != delivery::Admission::Open) {
      h.closed = true;
      continue;
    }
    h.client = client::SmtpClient::create(&p.loop, copts);
    h.client->set_peer_verify(h.terms.verify);
    sockaddr_storage ss{};
    h.address.to_sockaddr(h.candidate->port, ss);
    HostProbe* hp = &h;
    h.client->open(reinterpret_cast<const sockaddr*>(&ss), h.candidate->host, true, nullptr,
                   [hp](client::SessionInfo info) {
                     bool open = info.status == client::OpenStatus::Ok;
                     hp->info = std::move(info);
                     if (!open) {
                       hp->client.reset();
                       hp->closed = true;
                       return;
                     }
                     hp->client->quit([hp] { hp->closed = true; });
                   });
  }
}

}  // namespace

Result<json, std::string> probe_route(const config::Config& cfg, const std::string& domain,
                                      const std::atomic<bool>& cancel, RouteProbeOptions options,
                                      const sts::StsCache* sts_cache) {
  auto tls = tls::TlsContext::create_client(cfg.delivery.client_tls());
  if (!tls) return fail("TLS client context: " + tls.error().message);

  Probe p;
  p.cancel = &cancel;
  json sts = cached_sts(sts_cache, dns::normalize_name(domain), p.sts);
  p.deadline = std::chrono::steady_clock::now() + options.deadline;
  if (int rc = uv_loop_init(&p.loop); rc != 0) return fail(std::string("uv_loop_init: ") + uv_strerror(rc));
  auto resolver = dns::AresResolver::create(&p.loop, dns::ResolverOptions::from_config(cfg));
  if (!resolver) {
    uv_loop_close(&p.loop);
    return fail("resolver: " + resolver.error());
  }
  p.resolver = std::move(resolver.value());
  p.discovery = std::make_unique<dns::Discovery>(*p.resolver, dns::DiscoveryOptions::from_config(cfg));

  uv_timer_init(&p.loop, &p.tick);
  p.tick.data = &p;
  uv_timer_start(&p.tick, on_tick, 50, 50);

  std::string helo = cfg.hostname;
  auto tls_ctx = *tls;
  p.discovery->discover(domain, [&p, &options, tls_ctx, helo](dns::DiscoveryResult r) {
    p.result = std::move(r);
    if (p.result->ok()) start_hosts(p, options, tls_ctx, helo);
  });

  while (!p.finished() && p.stopped.empty()) uv_run(&p.loop, UV_RUN_ONCE);

  // Tear down on this thread: clients and resolver close their handles, then the loop
  // runs until every close callback has been called.
  for (auto& h : p.hosts) h.client.reset();
  p.discovery.reset();
  p.resolver.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&p.tick), nullptr);
  uv_run(&p.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&p.loop) != 0) log::logger("admin")->warn("route probe: loop not closed cleanly");

  json out;
  if (p.result) {
    out = dns::to_json(*p.result);
  } else {
    out = json{{"domain", domain}, {"status", "temporary"}, {"reason", "discovery did not finish"}};
  }
  json hosts = json::array();
  std::size_t answering = 0, starttls = 0, tls_done = 0, verified = 0;
  bool dnssec = p.result && p.result->dnssec;
  for (const auto& h : p.hosts) {
    hosts.push_back(host_json(h, dnssec));
    if (h.info && answered(*h.info)) ++answering;
    if (h.info && h.info->starttls_offered) ++starttls;
    if (h.info && h.info->tls.active) ++tls_done;
    if (h.info && h.info->tls.active && h.info->tls.verified) ++verified;
  }
  out["mta_sts"] = std::move(sts);
  out["hosts"] = std::move(hosts);
  out["summary"] = json{{"hosts", p.hosts.size()},
                        {"answering", answering},
                        {"starttls", starttls},
                        {"tls", tls_done},
                        {"verified", verified}};
  if (!p.stopped.empty()) out["probe_stopped"] = p.stopped;
  out["verdicts"] = verdicts_json(p);
  return out;
}

}  // namespace secmx::admin
