// discovery.cpp - drives the lookups of one discovery per Job; the rules are elsewhere.
#include "relay/dns/discovery.hpp"

#include <chrono>
#include <optional>

#include "relay/common/idna.hpp"
#include "relay/common/log.hpp"
#include "relay/dns/tlsa_select.hpp"

namespace secmx::dns {

struct Discovery::Shared {
  bool alive = true;
  DiscoveryOptions opts;
  Rng rng;
  std::shared_ptr<spdlog::logger> log;
};

// One discovery in flight. Kept alive by the lookup callbacks that capture it.
struct Discovery::Job : std::enable_shared_from_this<Discovery::Job> {
  enum class Phase { Domain, Hosts, Tlsa };

  std::shared_ptr<Shared> shared;
  Resolver* resolver = nullptr;
  std::string domain;
  Callback cb;
  Phase phase = Phase::Domain;
  int pending = 0;
  DomainAnswers answers;
  AddressMap addresses;
  Plan plan;
  std::optional<DiscoveryResult> result;  // from phase Tlsa on: the candidates
  TlsaAnswers tlsa;                       // by query name: one lookup per name
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  void lookup_addresses(const std::string& host) {
    auto self = shared_from_this();
    addresses[host];  // both answers arrive before anyone reads them
    pending += 2;
    resolver->lookup_a(host, [self, host](AddressAnswer a) {
      self->addresses[host].a = std::move(a);
      self->step();
    });
    resolver->lookup_aaaa(host, [self, host](AddressAnswer a) {
      self->addresses[host].aaaa = std::move(a);
      self->step();
    });
  }

  void start_domain() {
    auto self = shared_from_this();
    const DiscoveryOptions& o = shared->opts;
    phase = Phase::Domain;
    pending = 1;
    resolver->lookup_mx(domain, [self](MxAnswer a) {
      self->answers.mx = std::move(a);
      self->step();
    });
    if (o.srv) {
      ++pending;
      resolver->lookup_srv(srv_name(domain), [self](SrvAnswer a) {
        self->answers.srv = std::move(a);
        self->step();
      });
    }
    if (o.name) lookup_addresses(secmx_name(domain));
  }

  // Resolves what the plan still lacks, or finishes.
  void start_hosts() {
    phase = Phase::Hosts;
    std::vector<std::string> hosts = plan.hosts_to_resolve(addresses);
    if (hosts.empty()) {
      start_tlsa();
      return;
    }
    for (const std::string& h : hosts) lookup_addresses(h);
  }

  // The candidates are known: DANE's TLSA lookups, round by round (a CNAME'd host may
  // need a second), all names of a round at once, or deliver.
  void start_tlsa() {
    phase = Phase::Tlsa;
    if (!result) result = finish(std::move(plan), addresses);
    std::vector<std::string> names = tlsa_lookups(*result, addresses, tlsa);
    if (names.empty()) {
      apply_tlsa(*result, addresses, tlsa);
      deliver();
      return;
    }
    auto self = shared_from_this();
    pending = static_cast<int>(names.size());
    for (const std::string& n : names) {
      resolver->lookup_tlsa(n, [self, n](TlsaAnswer a) {
        self->tlsa[n] = std::move(a);
        self->step();
      });
    }
  }

  void step() {
    if (--pending > 0 || !shared->alive) return;
    if (phase == Phase::Domain) {
      plan = plan_discovery(shared->opts, domain, answers, shared->rng);
      start_hosts();
    } else {
      start_tlsa();
    }
  }

  void deliver() {
    if (!shared->alive) return;
    DiscoveryResult r = result ? std::move(*result) : finish(std::move(plan), addresses);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started).count();
    shared->log->debug("discovery domain={} status={} dsn={} candidates={} complete={} ms={}",
                       log::escape(r.domain), to_string(r.status),
                       r.enhanced_code.empty() ? "-" : r.enhanced_code, r.candidates.size(),
                       r.complete() ? "yes" : "no", ms);
    Callback done = std::move(cb);
    done(std::move(r));  // last: the callback may destroy the Discovery or the Resolver
  }
};

Discovery::Discovery(Resolver& resolver, DiscoveryOptions options, std::uint64_t seed)
    : resolver_(resolver), shared_(std::make_shared<Shared>()) {
  shared_->opts = std::move(options);
  shared_->rng.seed(seed);
  shared_->log = log::logger("dns");
}

Discovery::~Discovery() { shared_->alive = false; }

const DiscoveryOptions& Discovery::options() const { return shared_->opts; }

void Discovery::set_options(DiscoveryOptions options) { shared_->opts = std::move(options); }

void Discovery::discover(std::string domain, Callback cb) {
  auto job = std::make_shared<Job>();
  job->shared = shared_;
  job->resolver = &resolver_;
  job->cb = std::move(cb);
  if (auto p = plan_static(shared_->opts, domain)) {
    job->domain = p->result.domain;
    job->plan = std::move(*p);
    if (job->plan.done) {
      resolver_.post([job] { job->deliver(); });
    } else {
      job->start_hosts();
    }
    return;
  }
  job->domain = lookup_name(domain).value_or("");  // plan_static has checked it
  job->start_domain();
}

}  // namespace secmx::dns
