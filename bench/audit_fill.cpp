// audit_fill.cpp - secmx-audit-fill: appends N synthetic audit records to a queue store, for
// bench/audit-report.sh. The records are of schema v1, built by relay/audit/audit_record.hpp
// as the relay builds them, and shaped like a working day's traffic: per message an accept
// and one outcome per recipient, a mix of classifications, policies, outcomes and TLS
// authentication, a few DSNs, rejects for unreadable markings, policy holds and releases.
// Appended through Store::append_audit in large transactions, checkpointed after each one
// when a key file is given. Deterministic: the same arguments give the same records.
//
//   secmx-audit-fill --queue DIR --count N [--start 2026-11-01] [--days 30] [--batch 20000]
//                    [--key-file F]
#include <CLI/CLI.hpp>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "bench/fill_store.hpp"
#include "queue/store.hpp"
#include "relay/audit/audit_query.hpp"
#include "relay/audit/audit_record.hpp"
#include "relay/audit/audit_verify.hpp"

namespace {

using namespace secmx;
using nlohmann::json;

struct Gen {
  std::mt19937_64 rng{20261101};
  std::uint64_t next_id = 1;

  int pick(int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); }
  bool chance(int per_mille) { return pick(1000) < per_mille; }

  model::Envelope envelope() {
    static const char* kClasses[] = {"OFFICIAL", "OFFICIAL", "OFFICIAL:Sensitive", "PROTECTED", "none"};
    model::Envelope env;
    env.id = model::QueueId{next_id++};
    env.sender = "user" + std::to_string(pick(500)) + "@agency" + std::to_string(pick(20)) + ".gov.example";
    env.message_id = std::to_string(env.id.value) + "." + std::to_string(rng() % 1000000) + "@mail.agency.gov.example";
    env.classification = kClasses[pick(5)];
    env.requiretls = chance(20);
    return env;
  }

  model::Recipient recipient(const model::Envelope& env) {
    model::Recipient r;
    r.address = "person" + std::to_string(pick(5000)) + "@dest" + std::to_string(pick(300)) + ".example";
    bool secure = env.classification == "PROTECTED" || env.classification == "OFFICIAL:Sensitive";
    r.policy = secure ? model::Policy::SOS : model::Policy::BES;
    r.tls = secure ? model::TlsLevel::Verify : model::TlsLevel::None;
    r.policy_reason = secure ? "rule=2(marking >= OFFICIAL:Sensitive)" : "default";
    if (chance(10)) {
      r.policy = model::Policy::HOLD;
      r.policy_reason = "rule=5(hold for review)";
    }
    return r;
  }

  std::string tls(const model::Recipient& r) {
    static const char* kSos[] = {"dane", "dane", "mta-sts", "mta-sts", "pkix"};
    static const char* kBes[] = {"none", "none", "pkix", "mta-sts", "dane"};
    std::string auth = r.policy == model::Policy::SOS ? kSos[pick(5)] : kBes[pick(5)];
    if (r.policy == model::Policy::SOS && chance(2)) auth = "none";  // the report's first list
    return "TLSv1.3/TLS_AES_256_GCM_SHA384/" + auth;
  }
};

json accept(std::int64_t t, const model::Envelope& env, const std::vector<model::Recipient>& rcpts,
            audit::Event event, bool unreadable) {
  auto j = audit::message_frame(event, t, env);
  j["client"] = {{"address", "10.1.2.3"}, {"helo", "exch01.agency.gov.example"}, {"auth_user", ""},
                 {"tls_protocol", "TLSv1.3"}, {"tls_cipher", "TLS_AES_256_GCM_SHA384"}};
  j["size"] = 20000 + env.id.value % 50000;
  j["markings"] = json::array();
  if (env.classification != "none") {
    j["markings"].push_back({{"source", "X-Protective-Marking"},
                             {"text", "VER=2018.4, NS=gov.au, SEC=" + env.classification + ", ORIGIN=a@b"},
                             {"level", unreadable ? json(nullptr) : json(env.classification)},
                             {"error", unreadable ? "unknown SEC value" : ""}});
  }
  j["recipients"] = json::array();
  for (const auto& r : rcpts) {
    j["recipients"].push_back({{"address", r.address}, {"policy", model::to_string(r.policy)},
                               {"tls", model::to_string(r.tls)}, {"rule", r.policy_reason}});
  }
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"secmx-audit-fill: append synthetic audit records to a queue store (benchmarks)"};
  bench::FillStore store(app, "secmx-audit-fill");
  std::string start = "2026-11-01", key_file;
  std::uint64_t count = 1000000;
  int days = 30;
  std::size_t batch = 20000;
  app.add_option("--count", count, "records to append");
  app.add_option("--start", start, "UTC date of the first record");
  app.add_option("--days", days, "days the records spread over");
  app.add_option("--batch", batch, "records per transaction");
  app.add_option("--key-file", key_file, "checkpoint key: a checkpoint after each transaction");
  CLI11_PARSE(app, argc, argv);

  auto t0 = audit::parse_time(start);
  if (!t0 || days <= 0 || batch == 0) {
    std::cerr << "secmx-audit-fill: bad --start, --days or --batch\n";
    return 2;
  }
  std::optional<std::string> key;
  if (!key_file.empty()) {
    auto k = audit::read_key_file(key_file);
    if (!k || !*k) {
      std::cerr << "secmx-audit-fill: cannot read key file " << key_file << "\n";
      return 2;
    }
    key = **k;
  }
  if (!store.open(16ull << 30)) return 2;
  const std::int64_t step = static_cast<std::int64_t>(days) * 86'400'000'000 / static_cast<std::int64_t>(count);
  Gen gen;
  std::vector<queue::AuditRecord> pending;
  std::uint64_t written = 0;
  std::int64_t now = *t0;
  auto add_record = [&](queue::AuditRecord r) {
    pending.push_back(std::move(r));
    now += std::max<std::int64_t>(step, 1);
  };
  auto add = [&](const json& j) { add_record(audit::to_record(j, now)); };
  while (written + pending.size() < count) {
    auto env = gen.envelope();
    std::vector<model::Recipient> rcpts{gen.recipient(env)};
    if (gen.chance(300)) rcpts.push_back(gen.recipient(env));
    if (env.classification != "none" && gen.chance(5)) {  // an unreadable marking, refused
      env.classification = "unknown";
      auto j = accept(now, env, rcpts, audit::Event::Reject, true);
      j["queue_id"] = "";
      j["reason"] = "rule=1(header \"X-Protective-Marking\" unreadable, refused)";
      j["reply"] = "550 5.7.1 Protective marking could not be read";
      add(j);
    } else {
      add(accept(now, env, rcpts, audit::Event::Accept, false));
      for (auto& r : rcpts) {
        if (r.policy == model::Policy::HOLD) {
          auto rel = audit::message_frame(audit::Event::Operator, now, env);
          rel["action"] = "release";
          rel["operator"] = "auditor" + std::to_string(gen.pick(3));
          rel["client"] = "127.0.0.1";
          rel["held_by_policy"] = true;
          rel["recipients"] = json::array({{{"address", r.address}, {"policy", "HOLD"}, {"state", "pending"}}});
          add(rel);
        }
        bool failed = gen.chance(40);
        std::string tls = gen.tls(r);
        model::Attempt a{now, "mx1." + r.address.substr(r.address.find('@') + 1), "192.0.2.25:25", "mx", tls,
                         "3f1c0a9be2d47c5a8b6e0d13f2a4c5b6e7f8091a2b3c4d5e6f708192a3b4c5d6", "secure",
                         failed ? "5.1.1" : "2.0.0", failed ? "550 5.1.1 no such user" : "250 2.0.0 Ok: queued as 4Xy"};
        r.state = failed ? model::RcptState::Failed : model::RcptState::Delivered;
        r.attempts = 1;
        r.last_status = a.status;
        r.last_reply = a.reply;
        std::string dsn = failed ? model::QueueId{gen.next_id++}.to_string() : "";
        add_record(audit::outcome_record(now, env, r, failed ? "failed" : "delivered", "delivery", &a, dsn));
        if (failed) {
          auto d = audit::message_frame(audit::Event::Dsn, now, env);
          d["dsn_id"] = dsn;
          d["kind"] = "failure";
          d["recipients"] = json::array({r.address});
          d["to"] = env.sender;
          add(d);
        }
      }
    }
    if (pending.size() >= batch) {
      if (!store.ok(store->append_audit(pending))) return 1;
      written += pending.size();
      pending.clear();
      if (key && !store->checkpoint_audit(*key, now)) {
        std::cerr << "secmx-audit-fill: checkpoint failed\n";
        return 1;
      }
    }
  }
  if (!pending.empty()) {
    if (!store.ok(store->append_audit(pending))) return 1;
    written += pending.size();
    if (key) (void)store->checkpoint_audit(*key, now);
  }
  if (!store.sync()) return 1;
  std::cout << written << "\n";
  return 0;
}
