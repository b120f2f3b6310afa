// queue_fill.cpp - secmx-queue-fill: writes N deferred messages straight into a queue store,
// for bench/queue-scale.sh. Filling a million through SMTP and a refused first attempt
// takes the better part of an hour on the bench machine; the records written here are what
// that leaves behind - one recipient at DOMAIN, pending, tried once ("4.4.1 connection
// refused"), due again DUE_IN seconds from now - written by the relay's own store code
// (Store::insert_batch, the record codec), so the relay reads them as its own. Ids come
// from the relay's IdGenerator, seeded past what the store holds: run it several times on
// one queue for several domains. Deterministic but for the ids and times. Prints the count
// and the first and last id written.
//
//   secmx-queue-fill --queue DIR --count N --domain D [--due-in 14400] [--size 1024]
//                    [--batch 5000] [--map-size-gib 8]
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "bench/fill_store.hpp"
#include "queue/store.hpp"

namespace {

using namespace secmx;

std::int64_t unix_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

queue::NewMessage deferred(model::QueueId id, std::uint64_t n, const std::string& domain,
                           const std::string& body, std::int64_t now, std::int64_t due) {
  queue::NewMessage m;
  auto& env = m.envelope;
  env.id = id;
  env.arrival_us = now;
  env.sender = "user" + std::to_string(n % 500) + "@agency.gov.example";
  env.client_address = "127.0.0.1";
  env.client_helo = "fill.bench.example";
  env.message_id = id.to_string() + "@fill.bench.example";
  env.classification = "none";
  env.attempts = 1;
  env.next_attempt_us = due;
  env.body_size = body.size();
  model::Recipient r;
  r.address = "rcpt" + std::to_string(n % 1000) + "@" + domain;
  r.policy = model::Policy::BES;
  r.policy_reason = "default";
  r.state = model::RcptState::Pending;
  r.attempts = 1;
  r.last_status = "4.4.1";
  r.last_reply = "connect to " + domain + ": Connection refused";
  r.last_attempt_us = now;
  env.recipients.push_back(std::move(r));
  m.body = body;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"secmx-queue-fill: write deferred messages into a queue store (benchmarks)"};
  bench::FillStore store(app, "secmx-queue-fill");
  std::string domain = "deferred.bench";
  std::uint64_t count = 1000000;
  std::int64_t due_in = 14400;
  std::size_t size = 1024, batch = 5000;
  std::uint64_t map_gib = 8;
  app.add_option("--count", count, "messages to write");
  app.add_option("--domain", domain, "the one recipient's domain");
  app.add_option("--due-in", due_in, "seconds from now until each is due again");
  app.add_option("--size", size, "body bytes");
  app.add_option("--batch", batch, "messages per transaction");
  app.add_option("--map-size-gib", map_gib, "LMDB map size (as the relay's [queue] map_size)");
  CLI11_PARSE(app, argc, argv);

  if (!store.open(map_gib << 30)) return 1;
  std::string body = "From: fill@agency.gov.example\r\nTo: rcpt@" + domain +
                     "\r\nSubject: deferred\r\n\r\n";
  while (body.size() + 2 < size) body += std::string(std::min<std::size_t>(76, size - body.size() - 2), 'x') + "\r\n";
  model::IdGenerator ids(store->last_id());
  auto now = unix_now_us();
  auto due = now + due_in * 1'000'000;
  std::vector<queue::NewMessage> pending;
  pending.reserve(batch);
  std::uint64_t written = 0;
  model::QueueId first{}, last{};
  auto commit = [&]() -> bool {
    for (const auto& st : store->insert_batch(pending)) {
      if (!store.ok(st)) return false;
    }
    written += pending.size();
    pending.clear();
    return true;
  };
  for (std::uint64_t n = 0; n < count; ++n) {
    last = ids.next();
    if (n == 0) first = last;
    pending.push_back(deferred(last, n, domain, body, now, due));
    if (pending.size() >= batch && !commit()) return 1;
  }
  if (!pending.empty() && !commit()) return 1;
  if (!store.sync()) return 1;
  std::cout << written << " " << first.to_string() << " " << last.to_string() << "\n";
  return 0;
}
