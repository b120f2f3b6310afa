// config_reload_test.cpp - what a SIGHUP reload may change and what only a restart can.
#include <gtest/gtest.h>

#include "relay/config/config.hpp"

namespace secmx::config {
namespace {

using namespace std::chrono_literals;

Listener listener_at(Endpoint address) {
  Listener l;
  l.address = std::move(address);
  return l;
}

TEST(KeepRestartOnly, IdenticalConfigsChangeNothing) {
  Config running, next;
  EXPECT_TRUE(keep_restart_only(running, next).empty());
}

TEST(KeepRestartOnly, ReloadableSettingsPassThrough) {
  Config running, next;
  next.smtp.tls_cert = "new.pem";
  next.smtp.max_recipients = 7;
  next.policy.rules.push_back(PolicyRule{});
  next.routes.push_back(Route{3, "example.org", "[127.0.0.9]:25", model::TlsLevel::Verify});
  next.delivery.pause = true;
  next.delivery.retry = {1s};
  next.dsn.postmaster = "pm@example.org";
  next.log.level = "debug";
  EXPECT_TRUE(keep_restart_only(running, next).empty());
  EXPECT_EQ(next.smtp.tls_cert, "new.pem");
  EXPECT_EQ(next.smtp.max_recipients, 7u);
  EXPECT_EQ(next.routes.size(), 1u);
  EXPECT_TRUE(next.delivery.pause);
  EXPECT_EQ(next.log.level, "debug");
}

TEST(KeepRestartOnly, RestartOnlySettingsAreNamedAndKeptAsTheyRun) {
  Config running, next;
  running.smtp.listeners = {listener_at({"127.0.0.1", 2525})};
  next.smtp.listeners = {listener_at({"127.0.0.1", 2526})};
  next.queue.path = "elsewhere";
  next.queue.map_size = 1 << 20;
  next.dns.servers = {{"127.0.0.1", 53}};
  next.delivery.workers = 9;
  next.delivery.max_connections = 3;
  next.admin.listen = {"127.0.0.1", 9999};
  next.user = "nobody";
  next.log.file = "other.log";
  next.log.format = "postfix";
  next.delivery.destination_concurrency = 2;  // reloadable: stays

  auto changed = keep_restart_only(running, next);
  EXPECT_EQ(changed, (std::vector<std::string>{"user", "smtp.listen", "queue.path",
                                               "queue.map_size", "dns.servers",
                                               "delivery.workers", "delivery.max_connections",
                                               "admin.listen", "log.file", "log.format"}));
  EXPECT_EQ(next.smtp.listeners, running.smtp.listeners);
  EXPECT_EQ(next.queue.path, running.queue.path);
  EXPECT_EQ(next.queue.map_size, running.queue.map_size);
  EXPECT_EQ(next.dns.servers, running.dns.servers);
  EXPECT_EQ(next.delivery.workers, running.delivery.workers);
  EXPECT_EQ(next.admin.listen, running.admin.listen);
  EXPECT_EQ(next.user, running.user);
  EXPECT_EQ(next.log.file, running.log.file);
  EXPECT_EQ(next.delivery.destination_concurrency, 2u);
}

}  // namespace
}  // namespace secmx::config
