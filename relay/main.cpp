// main.cpp - the secmx-relay daemon: load the config, open the queue, serve SMTP.
//
// Start-up errors end the process with a message naming what is wrong (exceptions are
// allowed here and nowhere in the core). SIGTERM/SIGINT: stop accepting, close sessions,
// drain the commit writer, close LMDB, exit 0. SIGHUP: reload the configuration file
// (relay/reload.hpp); connections stay up, a bad file changes nothing.
#include <pthread.h>
#include <signal.h>
#include <openssl/crypto.h>
#include <unistd.h>
#include <uv.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "admin/admin_server.hpp"
#include "admin/admin_token.hpp"
#include "admin/ctl_audit.hpp"
#include "admin/scheduler_ops.hpp"
#include "queue/audit_chain.hpp"
#include "queue/commit_writer.hpp"
#include "queue/envelope_json.hpp"
#include "queue/store.hpp"
#include "relay/audit/audit_verify.hpp"
#include "relay/audit/audit_key.hpp"
#include "relay/audit/audit_service.hpp"
#include "relay/audit/audit_stream.hpp"
#include "relay/common/log.hpp"
#include "relay/common/privileges.hpp"
#include "relay/config/config.hpp"
#include "relay/config/config_paths.hpp"
#include "relay/delivery/scheduler.hpp"
#include "relay/delivery/worker_pool.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/policy/explain.hpp"
#include "relay/reload.hpp"
#include "relay/server/password_hash.hpp"
#include "relay/server/smtp_server.hpp"
#include "relay/tls/hex.hpp"
#include "relay/tls/tls_context.hpp"
#include "relay/tlsrpt/report_service.hpp"

namespace {

using namespace secmx;

// Offline `audit verify` over the whole chain, reading LMDB directly (the relay may be
// running: LMDB lets readers in beside it). Exit 0 intact, 1 broken, 2 cannot check.
int verify_audit(const config::Config& cfg) {
  auto key = audit::read_key_file(cfg.audit.key_file);
  if (!key) {
    std::cerr << key.error() << "\n";
    return 2;
  }
  auto store = queue::open_lmdb_store({cfg.queue.path, cfg.queue.map_size});
  if (!store) {
    std::cerr << "cannot open queue " << cfg.queue.path << ": " << store.error().message << "\n";
    return 2;
  }
  auto report = audit::verify(**store, *key, std::nullopt, std::nullopt);
  if (!report) {
    std::cerr << "audit read error: " << report.error().message << "\n";
    return 2;
  }
  std::cout << admin::format_audit_verify(audit::verify_json(*report));
  return report->ok() ? 0 : 1;
}

// Offline listing of the queue as JSON lines, for operators and the test suite: one
// envelope_json() per message (docs/queue-schema.json), plus "body" with --with-bodies.
int dump_queue(const config::Config& cfg, bool with_bodies) {
  auto store = queue::open_lmdb_store({cfg.queue.path, cfg.queue.map_size});
  if (!store) {
    std::cerr << "cannot open queue " << cfg.queue.path << ": " << store.error().message << "\n";
    return 1;
  }
  model::QueueId after{};
  for (;;) {
    auto page = (*store)->list(after, 1000);
    if (!page) {
      std::cerr << "queue read error: " << page.error().message << "\n";
      return 1;
    }
    if (page->empty()) break;
    for (const auto& env : *page) {
      // The one shape of the model (queue/envelope_json.hpp), as the admin API shows it.
      nlohmann::json j = queue::envelope_json(env);
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

std::string hex_of(std::string_view bytes) {
  return tls::lower_hex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

// Offline listing of the audit trail, for operators and the test suite: one JSON line per
// record, {"seq": N, "record": {...}, "stored": "<hex of the stored link>"}, then one per
// checkpoint, {"checkpoint": N, "stored": "<hex>"} (queue/audit_chain.hpp decodes both).
int dump_audit(const config::Config& cfg) {
  auto store = queue::open_lmdb_store({cfg.queue.path, cfg.queue.map_size});
  if (!store) {
    std::cerr << "cannot open queue " << cfg.queue.path << ": " << store.error().message << "\n";
    return 1;
  }
  auto each = [&](bool links, auto&& print) {
    std::uint64_t from = 0;
    for (;;) {
      auto page = links ? (*store)->audit_links(from, 1000) : (*store)->audit_checkpoints(from, 1000);
      if (!page) {
        std::cerr << "audit read error: " << page.error().message << "\n";
        return false;
      }
      if (page->empty()) return true;
      for (const auto& e : *page) print(e);
      from = page->back().seq + 1;
    }
  };
  bool ok = each(true, [](const queue::AuditEntry& e) {
    nlohmann::json j;
    j["seq"] = e.seq;
    auto link = queue::audit::decode_link(e.stored);
    j["record"] = link ? nlohmann::json::parse(link->payload, nullptr, false) : nlohmann::json();
    if (!link) j["error"] = link.error();
    j["stored"] = hex_of(e.stored);
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  });
  ok = ok && each(false, [](const queue::AuditEntry& e) {
    nlohmann::json j{{"checkpoint", e.seq}, {"stored", hex_of(e.stored)}};
    std::cout << j.dump() << "\n";
  });
  return ok ? 0 : 1;
}

// For the calling thread (and every thread it starts afterwards).
void set_sighup_blocked(bool blocked) {
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &hup, nullptr);
}

struct Daemon {
  uv_loop_t loop{};
  uv_signal_t sigterm{}, sigint{}, sighup{};
  std::shared_ptr<const config::Config> config;  // in force; replaced by each reload
  secmx::metrics::RelayMetrics* metrics = nullptr;
  server::SmtpServer* server = nullptr;
  delivery::WorkerPool* pool = nullptr;
  delivery::Scheduler* scheduler = nullptr;
  admin::AdminServer* admin = nullptr;
  tlsrpt::ReportService* reports = nullptr;
  audit::AuditStream* audit_stream = nullptr;  // null: no audit.stream_file
  queue::Store* store = nullptr;  // for the reload's audit record
  ReloadRequests reloads;  // POST /api/v1/reload
};

metrics::ReportResult metric_of(tlsrpt::SendResult r) {
  switch (r) {
    case tlsrpt::SendResult::Sent: return metrics::ReportResult::Sent;
    case tlsrpt::SendResult::Failed: return metrics::ReportResult::Failed;
    case tlsrpt::SendResult::NoRecord: return metrics::ReportResult::NoRecord;
  }
  return metrics::ReportResult::Failed;
}

void on_signal(uv_signal_t* handle, int signum) {
  auto* d = static_cast<Daemon*>(handle->data);
  log::logger("main")->info("signal {}: shutting down", signum);
  d->server->shutdown();
  uv_close(reinterpret_cast<uv_handle_t*>(&d->sigterm), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&d->sigint), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&d->sighup), nullptr);
  d->reloads.close();
}

// On the main loop, between SMTP callbacks: the sessions of this loop see the new
// settings from their next command; the other threads take theirs at their next wake-up.
// For SIGHUP and for the admin API's POST /api/v1/reload alike.
ReloadOutcome reload_config(Daemon* d) {
  auto log = log::logger("main");
  // The audit stream is rotated like the log (its name is read at start-up).
  if (d->audit_stream) d->audit_stream->reopen();
  // Log rotation (logrotate renames the file, then SIGHUP) works whatever the new config
  // holds, so the file is reopened first; the reload's own lines go to the new file.
  if (auto reopened = log::reopen(); !reopened) {
    // Also on stderr (the journal under systemd): the line in the renamed file is easy to miss.
    log->error("log file not reopened, still writing to the old one: {}", reopened.error());
    std::cerr << "secmx-relay: log file not reopened, still writing to the old one: "
              << reopened.error() << std::endl;
  }
  ReloadOutcome outcome;
  // A copy: the config it comes from is released during the swap below.
  const std::string path = d->config->source_file;
  outcome.file = path;
  auto next = prepare_reload(path, *d->config);
  if (!next) {
    for (const auto& line : next.error()) log->error("reload refused: {}", line);
    log->error("reload refused: {} has errors; the running configuration stays in force", path);
    d->metrics->config_reload_failures.inc();
    outcome.errors = std::move(next.error());
    return outcome;
  }
  for (const auto& w : next->config->warnings) {
    log->warn("reload: {}", w.to_string());
    outcome.warnings.push_back(w.to_string());
  }
  for (const auto& name : next->restart_only) {
    log->warn("reload: {} changed; it takes effect at the next restart", name);
    outcome.warnings.push_back(path + ": warning: " + name +
                               " changed; it takes effect at the next restart");
  }
  d->config = next->config;
  log::set_level(d->config->log.level);
  d->server->reload(d->config, next->policy, next->server_tls);
  d->pool->reload(d->config, next->client_tls);
  d->scheduler->reload(d->config);
  d->admin->update(d->config, next->policy);
  d->reports->reload(d->config);
  d->metrics->config_reloads.inc();
  outcome.applied = true;
  outcome.summary = describe(*d->config);
  log->info("reload: {} loaded: {}", path, outcome.summary);
  return outcome;
}

// The reload's audit record, when the configuration now in force keeps a trail.
void audit_reload(Daemon* d, const ReloadRequester& by, const ReloadOutcome& outcome) {
  if (d->config->audit.enabled) record_reload(&d->loop, *d->store, by, outcome);
}

void on_reload(uv_signal_t* handle, int) {
  auto* d = static_cast<Daemon*>(handle->data);
  auto outcome = reload_config(d);
  log::logger("main")->info("reload operator={}: {}", kSignalOperator,
                            outcome.applied ? "applied" : "refused");
  audit_reload(d, ReloadRequester{kSignalOperator, ""}, outcome);
}

int run(std::shared_ptr<const config::Config> cfg) {
  auto main_log = log::logger("main");
  // The first start makes the admin token, before any privilege change, so that it can be
  // given to the account the relay is about to become. The token itself is never logged.
  std::optional<privileges::Account> owner;
  if (::geteuid() == 0 && !cfg->user.empty()) {
    if (auto who = privileges::resolve_account(cfg->user, cfg->group)) owner = *who;
  }
  if (auto made = admin::AdminToken::create_if_missing(cfg->admin.token_file, owner); !made) {
    main_log->error("event=admin-token-error {}", made.error());
  } else if (*made) {
    main_log->info("event=admin-token-created file={} mode=0600", cfg->admin.token_file);
  }
  // The audit trail's checkpoint key, made the same way. Where the first try fails (its
  // directory is made with the queue's below), it is tried again once the queue is open.
  std::optional<Result<audit::AuditKey, std::string>> audit_key;
  if (cfg->audit.enabled) audit_key = audit::prepare_audit_key(cfg->audit.key_file, owner);
  // Started as root with `user` set: hand the queue directory to the user and become it,
  // keeping only the right to bind ports below 1024 until the listeners are bound. The
  // queue is never opened as root.
  auto dropped =
      privileges::become_run_user(cfg->user, cfg->group, cfg->queue.path, cfg->log.file);
  if (!dropped) {
    main_log->critical("cannot run as user {}: {}", cfg->user, dropped.error());
    return 1;
  }
  if (*dropped) {
    main_log->info("running as user={} uid={} group={} gid={}", (*dropped)->user, (*dropped)->uid,
                   (*dropped)->group, (*dropped)->gid);
  }
  auto store = queue::open_lmdb_store({cfg->queue.path, cfg->queue.map_size});
  if (!store) {
    main_log->critical("cannot open queue {}: {}", cfg->queue.path, store.error().message);
    return 1;
  }
  if (auto changed = privileges::tighten_queue_files(cfg->queue.path); !changed) {
    main_log->warn("queue permissions: {}", changed.error());
  } else {
    for (const auto& f : *changed) main_log->warn("queue file {} was open to others: now 0600", f);
  }
  // Without its key nobody could verify a checkpoint: a key that cannot be made or read,
  // or that others can read, stops the start.
  if (audit_key && !*audit_key) audit_key = audit::prepare_audit_key(cfg->audit.key_file, std::nullopt);
  if (audit_key && !*audit_key) {
    main_log->critical("event=audit-key-error {}", (*audit_key).error());
    return 1;
  }
  if (audit_key && (**audit_key).created) {
    main_log->info("event=audit-key-created file={} mode=0600", cfg->audit.key_file);
  }
  auto stats = (*store)->stats();
  if (stats) {
    main_log->info("queue {} opened: {} messages ({} held)", cfg->queue.path, stats->messages,
                   stats->held);
  }
  model::IdGenerator ids((*store)->last_id());

  std::shared_ptr<tls::TlsContext> tls;
  if (!cfg->smtp.tls_cert.empty()) {
    auto ctx = tls::TlsContext::create_server(cfg->smtp.tls_cert, cfg->smtp.tls_key,
                                                cfg->smtp.tls);
    if (!ctx) {
      main_log->critical("TLS: {}", ctx.error().message);
      return 1;
    }
    tls = std::move(ctx.value());
  }

  metrics::RelayMetrics metrics;
  queue::CommitWriter::Options wopts;
  wopts.max_batch = cfg->queue.max_batch;
  wopts.commit_interval = std::chrono::duration_cast<std::chrono::microseconds>(cfg->queue.commit_interval);
  wopts.on_commit = metrics.commit_observer();
  std::unique_ptr<audit::AuditStream> audit_stream;
  if (cfg->audit.enabled && !cfg->audit.stream_file.empty()) {
    audit_stream = std::make_unique<audit::AuditStream>(cfg->audit.stream_file);
  }
  wopts.on_audit = [&metrics, stream = audit_stream.get()](
                       std::span<const queue::AuditRecord> records) {
    metrics.audit_records.inc(records.size());
    if (stream) stream->append(records);
  };
  auto writer = queue::CommitWriter::start(**store, wopts);
  // Checkpoints and retention: on their own thread, stopped after the writer has drained
  // so that the shutdown checkpoint covers every record.
  std::unique_ptr<audit::AuditService> audit_service;
  if (cfg->audit.enabled) {
    audit::ServiceOptions aopts;
    aopts.store = store->get();
    aopts.key = (**audit_key).key;
    aopts.checkpoint_interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(cfg->audit.checkpoint_interval);
    aopts.retention =
        std::chrono::duration_cast<std::chrono::microseconds>(cfg->audit.retention);
    aopts.on_checkpoint = [&metrics](std::int64_t at_us) {
      metrics.audit_checkpoints.inc();
      metrics.audit_last_checkpoint.set(at_us / 1000000);
    };
    aopts.on_pruned = [&metrics](std::size_t n) { metrics.audit_pruned.inc(n); };
    audit_service = std::make_unique<audit::AuditService>(std::move(aopts));
    audit_service->start();
  }

  auto policy_engine = policy::RuleEngine::create(cfg->policy);
  if (!policy_engine) {
    main_log->critical("policy: {}", policy_engine.error());
    writer->stop();
    return 1;
  }
  std::shared_ptr<const policy::PolicyEngine> engine = std::move(policy_engine.value());

  Daemon d;
  uv_loop_init(&d.loop);
  // The scheduler starts after the listeners (privileges are final by then); until it
  // exists, new mail is simply found by its first scan.
  std::atomic<delivery::Scheduler*> scheduler_ptr{nullptr};
  std::atomic<bool> listening{false};
  server::ServerDeps deps{cfg, writer.get(), &ids, engine, tls};
  deps.metrics = &metrics;
  deps.on_queued = [&scheduler_ptr] {
    if (auto* s = scheduler_ptr.load(std::memory_order_acquire)) s->kick();
  };
  auto server = std::make_unique<server::SmtpServer>(&d.loop, deps);
  d.server = server.get();
  auto abort_start = [&](const std::string& what) {
    main_log->critical("{}", what);
    server->shutdown();
    uv_run(&d.loop, UV_RUN_DEFAULT);
    writer->stop();
    return 1;
  };
  auto st = server->listen();
  if (st && *dropped) st = privileges::finish_drop(**dropped);
  if (!st) return abort_start("cannot listen: " + st.error());
  listening = true;

  // Delivery: workers first (they report to the scheduler), then the scheduler, which
  // starts handing out due mail at once - including everything queued before a restart.
  auto pool = delivery::WorkerPool::start(
      cfg,
      [&scheduler_ptr](delivery::JobResult r) {
        scheduler_ptr.load(std::memory_order_acquire)->post_result(std::move(r));
      },
      &metrics);
  if (!pool) return abort_start("delivery: " + pool.error());
  auto scheduler = delivery::Scheduler::start(cfg, **store, *writer, ids, **pool, &metrics);
  scheduler_ptr.store(scheduler.get(), std::memory_order_release);
  scheduler->kick();

  // TLS reports (RFC 8460): idle while [tlsrpt] is disabled, so that a reload can enable it.
  queue::Store* store_ptr = store->get();
  auto reports = tlsrpt::ReportService::start(
      {cfg, store_ptr, writer.get(), &ids,
       [&scheduler_ptr] {
         if (auto* s = scheduler_ptr.load(std::memory_order_acquire)) s->kick();
       },
       [&metrics](tlsrpt::SendResult r) { metrics.tlsrpt_reports.inc(metric_of(r)); }});
  if (!reports) {
    scheduler->stop();
    (*pool)->stop();
    return abort_start("TLS reports: " + reports.error());
  }

  admin::SchedulerQueueOps queue_ops(*scheduler);
  delivery::WorkerPool* workers = pool->get();
  tlsrpt::ReportService* report_service = reports->get();
  admin::AdminTlsRpt admin_tlsrpt{
      [store_ptr](const std::string& day) { return tlsrpt::read_rows(*store_ptr, day, ""); },
      [store_ptr](const config::Config& config, const std::string& day, const std::string& domain) {
        return tlsrpt::report_for(*store_ptr, config, day, domain);
      },
      [report_service](std::string day, std::optional<std::string> domain,
                       admin::AdminTlsRpt::SendDone done) {
        report_service->send_now(std::move(day), std::move(domain), std::move(done));
      }};
  admin::AdminDeps admin_deps{cfg, store_ptr, &queue_ops, &metrics, engine,
                              [&listening] { return listening.load(); }};
  admin_deps.reload = [&d](const admin::Operator& by, std::function<void(admin::ReloadAnswer)> done) {
    d.reloads.request(ReloadRequester{by.name, by.client}, [done = std::move(done)](ReloadOutcome o) {
      done(admin::ReloadAnswer{o.applied, std::move(o.file), std::move(o.errors),
                               std::move(o.warnings), std::move(o.summary)});
    });
  };
  auto admin_server = admin::AdminServer::start(
      std::move(admin_deps),
      {&workers->sts_cache(),
       [workers](const std::string& domain, std::function<void(sts::StsState)> done) {
         workers->sts_refresh(domain, std::move(done));
       }},
      std::move(admin_tlsrpt));
  if (!admin_server) {
    (*reports)->stop();
    scheduler->stop();
    (*pool)->stop();
    return abort_start("admin API: " + admin_server.error());
  }

  d.config = cfg;
  d.metrics = &metrics;
  d.pool = pool->get();
  d.scheduler = scheduler.get();
  d.admin = admin_server->get();
  d.reports = report_service;
  d.audit_stream = audit_stream.get();
  d.store = store_ptr;
  uv_signal_init(&d.loop, &d.sigterm);
  uv_signal_init(&d.loop, &d.sigint);
  uv_signal_init(&d.loop, &d.sighup);
  d.sigterm.data = d.sigint.data = d.sighup.data = &d;
  uv_signal_start(&d.sigterm, on_signal, SIGTERM);
  uv_signal_start(&d.sigint, on_signal, SIGINT);
  uv_signal_start(&d.sighup, on_reload, SIGHUP);
  if (auto started = d.reloads.start(
          &d.loop, [&d] { return reload_config(&d); },
          [&d](const ReloadRequester& by, const ReloadOutcome& o) { audit_reload(&d, by, o); });
      !started) {
    main_log->error("admin reload requests unavailable: {}", started.error());
  }
  set_sighup_blocked(false);
  main_log->info("secmx-relay started: hostname={} queue={} admin={}:{}", cfg->hostname,
                 cfg->queue.path, cfg->admin.listen.host, (*admin_server)->port());

  uv_run(&d.loop, UV_RUN_DEFAULT);
  listening = false;
  // Outcomes already reported are written; attempts still running are abandoned and their
  // messages stay due for the next start.
  (*admin_server)->stop();
  (*reports)->stop();  // before the writer: its report mail is submitted there
  scheduler->stop();
  (*pool)->stop();
  writer->stop();
  if (audit_service) audit_service->stop();
  auto cs = writer->stats();
  main_log->info("stopped: {} messages in {} commits", cs.messages, cs.batches);
  server.reset();
  uv_loop_close(&d.loop);
  return 0;
}

// --explain: the policy decision for a message file, without running the relay.
int explain_message(const config::Config& cfg, const std::string& file,
                    policy::ExplainRequest req, bool json) {
  auto engine = policy::RuleEngine::create(cfg.policy);
  if (!engine) {
    std::cerr << "policy: " << engine.error() << "\n";
    return 1;
  }
  std::ifstream in;
  if (file != "-") {
    in.open(file, std::ios::binary);
    if (!in) {
      std::cerr << "cannot read " << file << "\n";
      return 1;
    }
  }
  std::ostringstream text;
  text << (file == "-" ? std::cin.rdbuf() : in.rdbuf());
  req.message = text.str();
  auto e = policy::explain(**engine, std::move(req));
  std::cout << (json ? policy::render_json(e) + "\n" : policy::render_text(e));
  return 0;
}

// --hash-password: the first line of stdin (without its newline) hashed with yescrypt,
// printed as the hash to put after "name:" in [smtp.auth] users_file.
int print_password_hash() {
  std::string password;
  std::getline(std::cin, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    std::cerr << "--hash-password: no password on stdin\n";
    return 2;
  }
  auto hash = server::make_password_hash(password);
  OPENSSL_cleanse(password.data(), password.size());
  if (!hash) {
    std::cerr << "--hash-password: crypt(3) could not make a yescrypt hash\n";
    return 1;
  }
  std::cout << *hash << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"secmx-relay: SecMX outbound mail relay"};
  std::string config_path = "etc/secmx-relay.toml";
  bool check = false, dump = false, with_bodies = false, verbose = false;
  app.add_option("-c,--config", config_path, "configuration file (TOML)");
  app.add_flag("--check", check, "validate the configuration and exit");
  app.add_flag("-v,--verbose", verbose, "with --check: print every path as resolved");
  app.add_flag("--queue-dump", dump, "print the queue as JSON lines and exit");
  app.add_flag("--with-bodies", with_bodies, "with --queue-dump: include message bodies");
  bool audit_verify = false;
  app.add_flag("--audit-verify", audit_verify,
               "verify the audit trail's hash chain and checkpoints in the queue store and exit "
               "(0 intact, 1 broken, 2 cannot check)");
  bool audit_dump = false;
  app.add_flag("--audit-dump", audit_dump, "print the audit trail as JSON lines and exit");
  std::string explain_file;
  policy::ExplainRequest explain_req;
  bool explain_json = false;
  app.add_option("--explain", explain_file,
                 "print the policy decision for a message file ('-': stdin) and exit");
  app.add_option("--from", explain_req.sender, "with --explain: envelope sender");
  app.add_option("--rcpt", explain_req.recipients, "with --explain: envelope recipient(s)");
  app.add_flag("--requiretls", explain_req.requiretls, "with --explain: MAIL FROM REQUIRETLS");
  app.add_flag("--json", explain_json, "with --explain: one JSON object");
  bool hash_password = false;
  app.add_flag("--hash-password", hash_password,
               "read a password from stdin, print a users_file hash for it and exit");
  app.set_version_flag("--version", "secmx-relay 0.1.0");
  CLI11_PARSE(app, argc, argv);
  if (hash_password) return print_password_hash();
  if (!explain_file.empty() && explain_req.recipients.empty()) {
    std::cerr << "--explain needs at least one --rcpt\n";
    return 2;
  }

  signal(SIGPIPE, SIG_IGN);
  // A reload requested before the loop can handle it must neither end the process nor be
  // lost: SIGHUP stays blocked (in every thread started from here) until its handler is
  // in place; the main thread then unblocks it and a pending one is delivered.
  set_sighup_blocked(true);
  auto loaded = config::load_config(config_path);
  if (!loaded) {
    for (const auto& issue : loaded.error()) std::cerr << issue.to_string() << "\n";
    return 1;
  }
  auto cfg = std::make_shared<const config::Config>(std::move(loaded.value()));
  for (const auto& w : cfg->warnings) std::cerr << w.to_string() << "\n";
  if (check) {
    std::cout << config_path << ": OK\n";
    if (verbose) {
      for (const auto& [key, path] : config::path_settings(*cfg)) {
        std::cout << key << " = " << (path.empty() ? "(none)" : path) << "\n";
      }
    }
    return 0;
  }
  if (!explain_file.empty()) return explain_message(*cfg, explain_file, explain_req, explain_json);
  log::init_logging(cfg->log.level, cfg->log.file.empty() ? "stderr" : cfg->log.file,
                    cfg->log.format == "postfix" ? log::Format::Postfix : log::Format::Secmx,
                    cfg->hostname);
  if (dump) return dump_queue(*cfg, with_bodies);
  if (audit_verify) return verify_audit(*cfg);
  if (audit_dump) return dump_audit(*cfg);
  return run(cfg);
}
