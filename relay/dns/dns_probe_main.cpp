// dns_probe_main.cpp - secmx-dns-probe: run discovery (or raw lookups) and print JSON.
//
//   secmx-dns-probe [--config FILE] [--server IP[:PORT]]... [--port N]
//                   [--discovery srv,mx51966,name|none] [--route DOMAIN=HOST]...
//                   [--timeout-ms N] [--tries N] [--seed N] [--repeat N] [--dnssec]
//                   [--lookup srv|mx|a|aaaa|tlsa] NAME...
//
// Without --lookup, each NAME is a recipient domain: one JSON object per line, the shape
// of discovery_json.hpp plus "pass". With --lookup TYPE, each NAME is queried as is and
// printed as {"name", "type", "pass", ...answer}. --dnssec (or [dns] dnssec in the config)
// asks with the DO and AD bits and adds the secure flags (discovery_json.hpp). Lines come
// in completion order. --repeat N runs the whole list N times ("pass" 1..N), a pass
// starting when the previous one has ended, on one resolver (so later passes show the
// cache). The last line is always
// {"stats": {"queries", "cache_hits", "coalesced", "temporary", "elapsed_ms"}}.
// Exit status: 0 after printing, 64 on bad usage, 1 when the resolver cannot start.
// Uses the same AresResolver and Discovery as the relay, on one libuv loop.
#include <uv.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <sstream>

#include "relay/common/log.hpp"
#include "relay/config/config.hpp"
#include "relay/config/config_reader.hpp"
#include "relay/dns/discovery.hpp"
#include "relay/dns/discovery_json.hpp"
#include "relay/dns/resolver.hpp"

namespace {

using namespace secmx;

struct Run {
  dns::AresResolver* resolver = nullptr;
  dns::Discovery* discovery = nullptr;
  std::string lookup;  // "" = discovery
  bool dnssec = false;
  std::vector<std::string> names;
  int passes = 1;
  int current = 0;  // 1-based number of the pass running
  std::size_t outstanding = 0;

  void print(const nlohmann::json& j) { std::cout << j.dump() << "\n" << std::flush; }

  template <class A>
  void print_answer(const std::string& name, const A& a) {
    nlohmann::json j = dns::to_json(a, dnssec);
    j["name"] = name;
    j["type"] = lookup;
    j["pass"] = current;
    print(j);
  }

  void one_done() {
    if (--outstanding == 0) pass();
  }

  void pass() {
    if (current >= passes) return;
    ++current;
    outstanding = names.size();
    for (const std::string& n : names) {
      if (lookup.empty()) {
        discovery->discover(n, [this](dns::DiscoveryResult r) {
          nlohmann::json j = dns::to_json(r);
          j["pass"] = current;
          print(j);
          one_done();
        });
      } else if (lookup == "srv") {
        resolver->lookup_srv(n, [this, n](dns::SrvAnswer a) { print_answer(n, a); one_done(); });
      } else if (lookup == "mx") {
        resolver->lookup_mx(n, [this, n](dns::MxAnswer a) { print_answer(n, a); one_done(); });
      } else if (lookup == "a") {
        resolver->lookup_a(n, [this, n](dns::AddressAnswer a) { print_answer(n, a); one_done(); });
      } else if (lookup == "tlsa") {
        resolver->lookup_tlsa(n, [this, n](dns::TlsaAnswer a) { print_answer(n, a); one_done(); });
      } else {
        resolver->lookup_aaaa(n,
                              [this, n](dns::AddressAnswer a) { print_answer(n, a); one_done(); });
      }
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"secmx-dns-probe: SecMX receiver discovery as the relay does it, as JSON"};
  std::string config_file;
  std::vector<std::string> servers;
  int port = 0;
  std::string discovery;
  std::vector<std::string> routes;
  int timeout_ms = 0;
  int tries = 0;
  std::uint64_t seed = std::random_device{}();
  int repeat = 1;
  std::string lookup;
  bool dnssec = false;
  std::string log_level = "warn";
  std::vector<std::string> names;
  app.add_option("--config", config_file, "relay config: [dns], [delivery] port, "
                 "policy.discovery and [[route]]s")->check(CLI::ExistingFile);
  app.add_option("--server", servers, "DNS server IP[:PORT] (repeatable; overrides config)")
      ->allow_extra_args(false);
  app.add_option("--port", port, "SMTP port for MX, secmx.D and implicit targets")
      ->check(CLI::Range(1, 65535));
  app.add_option("--discovery", discovery, "comma list of srv,mx51966,name, or none");
  app.add_option("--route", routes, "static route DOMAIN=HOST (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--timeout-ms", timeout_ms, "first-try timeout")->check(CLI::Range(1, 60000));
  app.add_option("--tries", tries, "rounds over the servers")->check(CLI::Range(1, 10));
  app.add_option("--seed", seed, "random seed for SRV weights and MX ties");
  app.add_option("--repeat", repeat, "passes over the names")->check(CLI::Range(1, 1000));
  app.add_option("--lookup", lookup, "raw lookup instead of discovery")
      ->check(CLI::IsMember({"srv", "mx", "a", "aaaa", "tlsa"}));
  app.add_flag("--dnssec", dnssec, "ask with the DO and AD bits and show the secure flags");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  // The names are taken raw from what CLI11 leaves over: a positional list option would
  // read an address literal such as "[127.0.0.1]" as a bracketed list and strip it.
  app.allow_extras();
  app.footer("NAME...: recipient domains (or, with --lookup, names to query)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 64;
  }
  names = app.remaining();
  if (names.empty()) {
    std::cerr << "no NAME given\n" << app.help();
    return 64;
  }
  for (const std::string& n : names) {
    if (n.starts_with('-')) {
      std::cerr << "unknown option '" << n << "'\n";
      return 64;
    }
  }
  log::init_logging(log_level, "stderr");

  config::Config cfg;
  if (!config_file.empty()) {
    auto loaded = config::load_config(config_file);
    if (!loaded) {
      for (const auto& issue : loaded.error()) std::cerr << issue.to_string() << "\n";
      return 64;
    }
    cfg = std::move(loaded.value());
  }
  dns::ResolverOptions ropts = dns::ResolverOptions::from_config(cfg);
  dns::DiscoveryOptions dopts = dns::DiscoveryOptions::from_config(cfg);
  if (!servers.empty()) {
    ropts.servers.clear();
    for (const std::string& s : servers) {
      auto ep = config::detail::parse_endpoint(s, 53);  // the grammar of [dns] servers
      if (!ep) {
        std::cerr << "bad --server '" << s << "': want IP, IP:PORT or [IPv6]:PORT\n";
        return 64;
      }
      ropts.servers.push_back(*ep);
    }
  }
  if (timeout_ms) ropts.timeout = std::chrono::milliseconds(timeout_ms);
  if (tries) ropts.tries = tries;
  if (dnssec) ropts.dnssec = dopts.dnssec = true;
  if (port) dopts.port = static_cast<std::uint16_t>(port);
  if (!discovery.empty()) {
    dopts.srv = dopts.mx51966 = dopts.name = false;
    std::stringstream in(discovery);
    for (std::string m; std::getline(in, m, ',');) {
      if (m == "srv") {
        dopts.srv = true;
      } else if (m == "mx51966") {
        dopts.mx51966 = true;
      } else if (m == "name") {
        dopts.name = true;
      } else if (m != "none") {
        std::cerr << "bad --discovery method '" << m << "'\n";
        return 64;
      }
    }
  }
  for (const std::string& r : routes) {
    auto eq = r.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == r.size()) {
      std::cerr << "bad --route '" << r << "': want DOMAIN=HOST\n";
      return 64;
    }
    config::Route route;
    route.domain = r.substr(0, eq);
    route.host = r.substr(eq + 1);
    dopts.routes.push_back(route);
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  auto started = std::chrono::steady_clock::now();
  nlohmann::json stats;
  {
    auto resolver = dns::AresResolver::create(&loop, ropts);
    if (!resolver) {
      std::cerr << "resolver: " << resolver.error() << "\n";
      return 1;
    }
    dns::Discovery disc(**resolver, dopts, seed);
    Run run;
    run.resolver = resolver->get();
    run.discovery = &disc;
    run.lookup = lookup;
    run.dnssec = ropts.dnssec;
    run.names = names;
    run.passes = repeat;
    run.pass();
    uv_run(&loop, UV_RUN_DEFAULT);
    const dns::ResolverStats& s = (*resolver)->stats();
    stats = {{"queries", s.queries}, {"cache_hits", s.cache_hits},
             {"coalesced", s.coalesced}, {"temporary", s.temporary}};
  }
  uv_run(&loop, UV_RUN_DEFAULT);  // let the resolver's handles close
  uv_loop_close(&loop);
  stats["elapsed_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started).count();
  std::cout << nlohmann::json{{"stats", stats}}.dump() << "\n";
  return 0;
}
