// admin_server_test.cpp - the admin HTTP API over a real LMDB store, a fake QueueOps and
// real HTTP on loopback (cpp-httplib client).
#include "admin/admin_server.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/unit/admin/admin_test_util.hpp"

namespace secmx::admin {
namespace {

using nlohmann::json;

constexpr const char* kToken = "unit-test-token";

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.sub("token")) << kToken << "\n";
    auto cfg = std::make_shared<config::Config>();
    cfg->admin.listen = {"127.0.0.1", 0};
    cfg->admin.token_file = dir_.sub("token");
    config_ = cfg;
    auto held = test::envelope(2ull << 20, "b@x.example", {"r@held.example"});
    held.held = true;
    store_ = test::store_with(dir_, {test::envelope(1ull << 20, "a@x.example", {"r@y.example"}), held});
    ASSERT_TRUE(store_);
    engine_ = std::make_shared<policy::DefaultPolicyEngine>(config_->policy);
    start();
  }

  void start() {
    AdminDeps deps{config_, store_.get(), &ops_, &metrics_, engine_, [this] { return listeners_up_.load(); }};
    auto s = AdminServer::start(deps);
    ASSERT_TRUE(s.ok()) << s.error();
    server_ = std::move(s.value());
  }

  httplib::Client client(bool with_token = true) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_connection_timeout(2, 0);
    c.set_read_timeout(10, 0);
    if (with_token) c.set_bearer_token_auth(kToken);
    return c;
  }

  static json body(const httplib::Result& r) { return json::parse(r->body); }

  test::TempDir dir_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<queue::Store> store_;
  test::FakeOps ops_;
  RelayMetrics metrics_;
  std::shared_ptr<const policy::PolicyEngine> engine_;
  std::atomic<bool> listeners_up_{true};
  std::unique_ptr<AdminServer> server_;
};

TEST_F(AdminServerTest, ApiNeedsTheToken) {
  auto c = client(false);
  auto r = c.Get("/api/v1/queue");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer realm=\"secmx-relay\"");
  EXPECT_EQ(body(r)["code"], "unauthorized");

  c.set_bearer_token_auth("wrong-token");
  r = c.Post("/api/v1/queue/0000000000100000/hold");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(ops_.calls().empty());  // refused before the operation ran

  // /healthz and /metrics are open.
  auto open = client(false);
  EXPECT_EQ(open.Get("/healthz")->status, 200);
  EXPECT_EQ(open.Get("/metrics")->status, 200);
}

TEST_F(AdminServerTest, ListAndShow) {
  auto c = client();
  auto r = c.Get("/api/v1/queue");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = body(r);
  ASSERT_EQ(j["messages"].size(), 2u);
  EXPECT_EQ(j["messages"][0]["id"], "0000000000100000");
  EXPECT_TRUE(j["next"].is_null());

  r = c.Get("/api/v1/queue?state=held");
  ASSERT_EQ(r->status, 200);
  ASSERT_EQ(body(r)["messages"].size(), 1u);
  EXPECT_EQ(body(r)["messages"][0]["id"], "0000000000200000");

  r = c.Get("/api/v1/queue?limit=1");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(body(r)["next"], "0000000000100000");

  EXPECT_EQ(c.Get("/api/v1/queue?state=bogus")->status, 400);
  EXPECT_EQ(c.Get("/api/v1/queue?limit=0")->status, 400);

  r = c.Get("/api/v1/queue/0000000000100000");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(body(r)["recipients"][0]["address"], "r@y.example");
  EXPECT_EQ(body(r)["recipients"][0]["rule"], "default");

  r = c.Get("/api/v1/queue/00000000DEADBEEF");
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(body(r)["code"], "not_found");
  EXPECT_EQ(c.Get("/api/v1/queue/not-an-id")->status, 400);
  EXPECT_EQ(c.Get("/api/v1/nothing")->status, 404);
}

TEST_F(AdminServerTest, MutationsGoToQueueOps) {
  auto c = client();
  auto r = c.Post("/api/v1/queue/0000000000100000/hold");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body(r)["operation"], "hold");
  EXPECT_EQ(body(r)["message"]["id"], "0000000000100000");
  EXPECT_EQ(c.Post("/api/v1/queue/0000000000100000/release")->status, 200);
  EXPECT_EQ(c.Post("/api/v1/queue/0000000000100000/flush")->status, 200);
  EXPECT_EQ(c.Delete("/api/v1/queue/0000000000100000")->status, 200);
  EXPECT_EQ(c.Post("/api/v1/queue/0000000000100000/bounce", R"({"reason":"spam"})", "application/json")->status, 200);
  r = c.Post("/api/v1/queue/flush", R"({"domain":"y.example"})", "application/json");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(body(r)["messages"], 3);
  EXPECT_EQ(c.Post("/api/v1/queue/flush")->status, 200);

  auto calls = ops_.calls();
  ASSERT_EQ(calls.size(), 7u);
  EXPECT_EQ(calls[0].op, "hold");
  EXPECT_EQ(calls[0].arg, "0000000000100000");
  EXPECT_EQ(calls[1].op, "release");
  EXPECT_EQ(calls[2].op, "flush");
  EXPECT_EQ(calls[3].op, "delete");
  EXPECT_EQ(calls[4].op, "bounce");
  EXPECT_EQ(calls[4].arg, "0000000000100000 spam");
  EXPECT_EQ(calls[5].op, "flush_all");
  EXPECT_EQ(calls[5].arg, "y.example");
  EXPECT_EQ(calls[6].arg, "*");
}

TEST_F(AdminServerTest, OperationErrorsMapToStatuses) {
  auto c = client();
  ops_.unknown.push_back(queue::QueueId{0xABCull});
  auto r = c.Post("/api/v1/queue/0000000000000ABC/hold");
  EXPECT_EQ(r->status, 404);
  ops_.next_error = OpError{OpError::Kind::Busy, "being delivered"};
  r = c.Post("/api/v1/queue/0000000000100000/hold");
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(body(r)["error"], "being delivered");
  ops_.next_error = OpError{OpError::Kind::Error, "disk on fire"};
  EXPECT_EQ(c.Delete("/api/v1/queue/0000000000100000")->status, 500);
}

TEST_F(AdminServerTest, WithoutQueueOpsMutationsAnswer503) {
  server_->stop();
  AdminDeps deps{config_, store_.get(), nullptr, &metrics_, engine_, nullptr};
  auto s = AdminServer::start(deps);
  ASSERT_TRUE(s.ok());
  server_ = std::move(s.value());
  auto c = client();
  EXPECT_EQ(c.Post("/api/v1/queue/0000000000100000/hold")->status, 503);
  EXPECT_EQ(c.Get("/api/v1/queue/0000000000100000")->status, 200);  // reads still work
}

TEST_F(AdminServerTest, MissingTokenFileDisablesTheApiOnly) {
  server_->stop();
  auto cfg = std::make_shared<config::Config>(*config_);
  cfg->admin.token_file = dir_.sub("missing-token");
  config_ = cfg;
  start();
  auto c = client();
  auto r = c.Get("/api/v1/stats");
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(body(r)["code"], "no_token");
  EXPECT_NE(body(r)["error"].get<std::string>().find("missing-token"), std::string::npos);
  EXPECT_EQ(c.Get("/healthz")->status, 200);
}

TEST_F(AdminServerTest, HealthzFollowsListeners) {
  auto c = client(false);
  auto r = c.Get("/healthz");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body(r)["status"], "ok");
  listeners_up_ = false;
  r = c.Get("/healthz");
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(body(r)["listeners"], "down");
}

TEST_F(AdminServerTest, MetricsAndStats) {
  metrics_.received.inc(queue::RcptPolicy::SOS, 4);
  metrics_.inbound_connections.set(2);
  auto c = client();
  auto r = c.Get("/metrics");
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  EXPECT_NE(r->body.find("secmx_recipients_received_total{policy=\"SOS\"} 4\n"), std::string::npos);
  EXPECT_NE(r->body.find("secmx_queue_messages 2\n"), std::string::npos);
  EXPECT_NE(r->body.find("secmx_queue_held_messages 1\n"), std::string::npos);

  r = c.Get("/api/v1/stats");
  ASSERT_EQ(r->status, 200);
  auto j = body(r);
  EXPECT_EQ(j["queue"]["messages"], 2);
  EXPECT_EQ(j["queue"]["held"], 1);
  EXPECT_EQ(j["received"]["SOS"], 4);
  EXPECT_EQ(j["connections"]["inbound"], 2);
}

TEST_F(AdminServerTest, PolicyTest) {
  auto c = client();
  auto r = c.Post("/api/v1/policy/test",
                  R"({"sender":"a@b.example","recipients":["r@c.example"],"requiretls":true})",
                  "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body(r)["policy"], "SOS");
  EXPECT_EQ(body(r)["rule"], "requiretls");
  EXPECT_EQ(c.Post("/api/v1/policy/test", "{nope", "application/json")->status, 400);
  EXPECT_EQ(c.Post("/api/v1/policy/test", "{}", "application/json")->status, 400);
}

TEST_F(AdminServerTest, StopIsBoundedWithAKeepAliveClientConnected) {
  auto c = client();
  c.set_keep_alive(true);
  ASSERT_EQ(c.Get("/api/v1/stats")->status, 200);
  auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, std::chrono::seconds(5));
  auto again = client().Get("/healthz");
  EXPECT_FALSE(again);  // nobody listens any more
}

}  // namespace
}  // namespace secmx::admin
