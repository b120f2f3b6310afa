// main.cpp - the secmx-relay daemon: load the config, open the queue, serve SMTP.
//
// Start-up errors end the process with a message naming what is wrong (exceptions are
// allowed here and nowhere in the core). SIGTERM/SIGINT: stop accepting, close sessions,
// drain the commit writer, close LMDB, exit 0.
#include <signal.h>
#include <uv.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "queue/commit_writer.hpp"
#include "queue/store.hpp"
#include "relay/common/log.hpp"
#include "relay/config/config.hpp"
#include "relay/policy/policy_engine.hpp"
#include "relay/server/smtp_server.hpp"
#include "relay/tls/tls_context.hpp"

namespace {

using namespace secmx;

const char* policy_name(queue::RcptPolicy p) {
  switch (p) {
    case queue::RcptPolicy::BES: return "BES";
    case queue::RcptPolicy::SOS: return "SOS";
    case queue::RcptPolicy::HOLD: return "HOLD";
  }
  return "?";
}

const char* state_name(queue::RcptState s) {
  switch (s) {
    case queue::RcptState::Pending: return "pending";
    case queue::RcptState::Held: return "held";
    case queue::RcptState::Delivered: return "delivered";
    case queue::RcptState::Failed: return "failed";
  }
  return "?";
}

// Offline listing of the queue as JSON lines, for operators and the test suite.
int dump_queue(const config::Config& cfg, bool with_bodies) {
  auto store = queue::open_lmdb_store({cfg.queue.path, cfg.queue.map_size});
  if (!store) {
    std::cerr << "cannot open queue " << cfg.queue.path << ": " << store.error().message << "\n";
    return 1;
  }
  queue::QueueId after{};
  for (;;) {
    auto page = (*store)->list(after, 1000);
    if (!page) {
      std::cerr << "queue read error: " << page.error().message << "\n";
      return 1;
    }
    if (page->empty()) break;
    for (const auto& env : *page) {
      nlohmann::json j;
      j["id"] = env.id.to_string();
      j["arrival_us"] = env.arrival_us;
      j["sender"] = env.sender;
      j["body_type"] = static_cast<int>(env.body_type);
      j["smtputf8"] = env.smtputf8;
      j["requiretls"] = env.requiretls;
      j["ret"] = env.ret == queue::Ret::Full ? "FULL" : env.ret == queue::Ret::Hdrs ? "HDRS" : "";
      j["envid"] = env.envid;
      j["client_address"] = env.client_address;
      j["client_helo"] = env.client_helo;
      j["tls_protocol"] = env.tls_protocol;
      j["tls_cipher"] = env.tls_cipher;
      j["held"] = env.held;
      j["attempts"] = env.attempts;
      j["next_attempt_us"] = env.next_attempt_us;
      j["body_size"] = env.body_size;
      auto& rcpts = j["recipients"] = nlohmann::json::array();
      for (const auto& r : env.recipients) {
        nlohmann::json notify = nlohmann::json::array();
        if (r.notify & queue::kNotifyNever) notify.push_back("NEVER");
        if (r.notify & queue::kNotifySuccess) notify.push_back("SUCCESS");
        if (r.notify & queue::kNotifyFailure) notify.push_back("FAILURE");
        if (r.notify & queue::kNotifyDelay) notify.push_back("DELAY");
        rcpts.push_back({{"address", r.address},
                         {"orcpt", r.orcpt},
                         {"notify", notify},
                         {"state", state_name(r.state)},
                         {"policy", policy_name(r.policy)},
                         {"tls", r.tls == queue::RcptTls::Verify    ? "verify"
                                 : r.tls == queue::RcptTls::Encrypt ? "encrypt"
                                                                    : "none"},
                         {"reason", r.policy_reason}});
      }
      if (with_bodies) {
        auto body = (*store)->load_body(env.id);
        j["body"] = body ? *body : std::string();
      }
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      after = env.id;
    }
  }
  return 0;
}

struct Daemon {
  uv_loop_t loop{};
  uv_signal_t sigterm{}, sigint{};
  secmx::server::SmtpServer* server = nullptr;
};

void on_signal(uv_signal_t* handle, int signum) {
  auto* d = static_cast<Daemon*>(handle->data);
  log::logger("main")->info("signal {}: shutting down", signum);
  d->server->shutdown();
  uv_close(reinterpret_cast<uv_handle_t*>(&d->sigterm), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&d->sigint), nullptr);
}

int run(std::shared_ptr<const config::Config> cfg) {
  auto main_log = log::logger("main");
  auto store = queue::open_lmdb_store({cfg->queue.path, cfg->queue.map_size});
  if (!store) {
    main_log->critical("cannot open queue {}: {}", cfg->queue.path, store.error().message);
    return 1;
  }
  auto stats = (*store)->stats();
  if (stats) {
    main_log->info("queue {} opened: {} messages ({} held)", cfg->queue.path, stats->messages,
                   stats->held);
  }
  queue::IdGenerator ids((*store)->last_id());

  std::shared_ptr<tls::TlsContext> tls;
  if (!cfg->smtp.tls_cert.empty()) {
    auto ctx = tls::TlsContext::create_server(cfg->smtp.tls_cert, cfg->smtp.tls_key);
    if (!ctx) {
      main_log->critical("TLS: {}", ctx.error().message);
      return 1;
    }
    tls = std::move(ctx.value());
  }

  queue::CommitWriter::Options wopts;
  wopts.max_batch = cfg->queue.max_batch;
  wopts.commit_interval = std::chrono::duration_cast<std::chrono::microseconds>(cfg->queue.commit_interval);
  auto writer = queue::CommitWriter::start(**store, wopts);

  Daemon d;
  uv_loop_init(&d.loop);
  server::ServerDeps deps{cfg, writer.get(), &ids,
                          std::make_shared<policy::DefaultPolicyEngine>(cfg->policy), tls};
  auto server = std::make_unique<server::SmtpServer>(&d.loop, deps);
  d.server = server.get();
  if (auto st = server->listen(); !st) {
    main_log->critical("cannot listen: {}", st.error());
    server->shutdown();
    uv_run(&d.loop, UV_RUN_DEFAULT);
    writer->stop();
    return 1;
  }
  uv_signal_init(&d.loop, &d.sigterm);
  uv_signal_init(&d.loop, &d.sigint);
  d.sigterm.data = d.sigint.data = &d;
  uv_signal_start(&d.sigterm, on_signal, SIGTERM);
  uv_signal_start(&d.sigint, on_signal, SIGINT);
  main_log->info("secmx-relay started: hostname={} queue={}", cfg->hostname, cfg->queue.path);

  uv_run(&d.loop, UV_RUN_DEFAULT);
  writer->stop();
  auto cs = writer->stats();
  main_log->info("stopped: {} messages in {} commits", cs.messages, cs.batches);
  server.reset();
  uv_loop_close(&d.loop);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"secmx-relay: SecMX outbound mail relay"};
  std::string config_path = "etc/secmx-relay.toml";
  bool check = false, dump = false, with_bodies = false;
  app.add_option("-c,--config", config_path, "configuration file (TOML)");
  app.add_flag("--check", check, "validate the configuration and exit");
  app.add_flag("--queue-dump", dump, "print the queue as JSON lines and exit");
  app.add_flag("--with-bodies", with_bodies, "with --queue-dump: include message bodies");
  app.set_version_flag("--version", "secmx-relay 0.1.0");
  CLI11_PARSE(app, argc, argv);

  signal(SIGPIPE, SIG_IGN);
  auto loaded = config::load_config(config_path);
  if (!loaded) {
    for (const auto& issue : loaded.error()) std::cerr << issue.to_string() << "\n";
    return 1;
  }
  auto cfg = std::make_shared<const config::Config>(std::move(loaded.value()));
  if (check) {
    std::cout << config_path << ": OK\n";
    return 0;
  }
  log::init_logging(cfg->log.level, cfg->log.file.empty() ? "stderr" : cfg->log.file);
  if (dump) return dump_queue(*cfg, with_bodies);
  return run(cfg);
}
