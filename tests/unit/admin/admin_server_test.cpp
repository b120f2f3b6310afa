// admin_server_test.cpp - the admin HTTP API over a real LMDB store, a fake QueueOps and
// real HTTP on loopback (cpp-httplib client).
#include "admin/admin_server.hpp"

#include <functional>
#include <thread>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "admin/admin_token.hpp"
#include "queue/audit_chain.hpp"
#include "relay/config/admin_tokens.hpp"
#include "tests/unit/admin/admin_test_util.hpp"

namespace secmx::admin {
namespace {

using nlohmann::json;

constexpr const char* kToken = "unit-test-token";

// Raw HTTP: sends `request` whole (the server may stop reading early), then reads until the
// server closes (5 s at most). Requests below say "Connection: close".
std::string exchange(std::uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    for (std::size_t off = 0; off < request.size();) {
      auto n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

int status_of(const std::string& response) {
  return response.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(response.c_str() + 9) : 0;
}

std::string header_of(const std::string& response, const std::string& name) {
  auto at = response.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  at += name.size() + 4;
  return response.substr(at, response.find("\r\n", at) - at);
}

std::string head(const std::string& request_line, const std::string& extra = "") {
  return request_line + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken +
         "\r\nConnection: close\r\n" + extra + "\r\n";
}

const std::string kPolicyJson = R"({"sender":"a@b.example","recipients":["r@c.example"]})";

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
    deps.reload = reload_;
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
  metrics::RelayMetrics metrics_;
  std::shared_ptr<const policy::PolicyEngine> engine_;
  std::atomic<bool> listeners_up_{true};
  std::function<void(const Operator&, std::function<void(ReloadAnswer)>)> reload_;  // before start()
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
  for (const auto& call : calls) EXPECT_EQ(call.by, "admin@127.0.0.1") << call.op;
}

TEST_F(AdminServerTest, NamedOperatorsActUnderTheirNames) {
  auto alice = new_operator_token("alice");
  ASSERT_TRUE(alice.ok()) << alice.error();
  auto cfg = std::make_shared<config::Config>(*config_);
  ASSERT_TRUE(config::parse_admin_tokens(alice->line, "tokens", cfg->admin.operators).empty());
  server_->update(cfg, nullptr);
  config_ = cfg;

  auto c = client(false);
  c.set_bearer_token_auth(alice->token);
  ASSERT_EQ(c.Post("/api/v1/queue/0000000000100000/hold")->status, 200);
  ASSERT_EQ(c.Post("/api/v1/queue/flush", R"({"domain":"y.example"})", "application/json")->status, 200);
  auto admin = client();  // token_file's token still works, as "admin"
  ASSERT_EQ(admin.Post("/api/v1/queue/0000000000100000/release")->status, 200);
  auto calls = ops_.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].by, "alice@127.0.0.1");
  EXPECT_EQ(calls[1].by, "alice@127.0.0.1");
  EXPECT_EQ(calls[2].by, "admin@127.0.0.1");

  // The flush's audit record is the scheduler's to write (queue_flush_test), not this
  // server's: it must exist even when the server's wait runs out.
  auto links = store_->audit_links(0, 10);
  ASSERT_TRUE(links.ok());
  EXPECT_TRUE(links->empty());

  c.set_bearer_token_auth(std::string(alice->token.size(), '0'));
  EXPECT_EQ(c.Post("/api/v1/queue/0000000000100000/hold")->status, 401);
  EXPECT_EQ(ops_.calls().size(), 3u);
}

TEST_F(AdminServerTest, OperationErrorsMapToStatuses) {
  auto c = client();
  ops_.unknown.push_back(model::QueueId{0xABCull});
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
  metrics_.received.inc(model::Policy::SOS, 4);
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

TEST_F(AdminServerTest, ReloadAnswersWhatTheDaemonDid) {
  auto c = client();
  // No reload wired: 503, never a silent success.
  auto r = c.Post("/api/v1/reload", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;

  server_->stop();
  ReloadAnswer next;
  std::string asked_by;
  // The answer comes from another thread, as the daemon's main loop gives it.
  reload_ = [&next, &asked_by](const Operator& by, std::function<void(ReloadAnswer)> done) {
    asked_by = by.name;
    std::thread([done, a = next] { done(a); }).detach();
  };
  start();
  auto c2 = client();
  next = ReloadAnswer{false, "/etc/r.toml", {"/etc/r.toml:7: route.host: expected a string"}, {}, ""};
  r = c2.Post("/api/v1/reload", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_EQ(body(r)["code"], "reload_refused");
  EXPECT_EQ(body(r)["errors"], json::array({"/etc/r.toml:7: route.host: expected a string"}));
  EXPECT_NE(body(r)["error"].get<std::string>().find("/etc/r.toml has errors"), std::string::npos);

  next = ReloadAnswer{true, "/etc/r.toml", {}, {"w"}, "rules=1"};
  r = c2.Post("/api/v1/reload", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body(r)["summary"], "rules=1");
  EXPECT_EQ(body(r)["warnings"], json::array({"w"}));
  EXPECT_EQ(asked_by, "admin");  // the token of token_file

  // A write like the others: the token is needed.
  auto anon = client(false);
  EXPECT_EQ(anon.Post("/api/v1/reload", "", "application/json")->status, 401);
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

// --- limits and methods ------------------------------------------------------------

TEST_F(AdminServerTest, ChunkedBodyOverTheLimitIs413) {
  // Valid JSON padded to 1 MiB: without a bound on chunked bodies it would be read whole
  // and answered 200.
  std::string body = kPolicyJson + std::string(1 << 20, ' ');
  std::string req = head("POST /api/v1/policy/test", "Transfer-Encoding: chunked\r\n");
  for (std::size_t i = 0; i < body.size(); i += 8192) {
    auto piece = body.substr(i, 8192);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    req += size + piece + "\r\n";
  }
  req += "0\r\n\r\n";
  auto res = exchange(server_->port(), req);
  EXPECT_EQ(status_of(res), 413) << res.substr(0, 300);
  EXPECT_NE(res.find("\"code\":\"payload_too_large\""), std::string::npos) << res;
  EXPECT_EQ(header_of(res, "Connection"), "close");

  // Within the limit, chunked works.
  std::string ok = head("POST /api/v1/policy/test", "Transfer-Encoding: chunked\r\n") + "10\r\n" +
                   kPolicyJson.substr(0, 16) + "\r\n" +
                   (std::stringstream() << std::hex << kPolicyJson.size() - 16).str() + "\r\n" +
                   kPolicyJson.substr(16) + "\r\n0\r\n\r\n";
  res = exchange(server_->port(), ok);
  EXPECT_EQ(status_of(res), 200) << res;
}

TEST_F(AdminServerTest, ContentLengthOverTheLimitIs413) {
  auto c = client();
  auto r = c.Post("/api/v1/policy/test", kPolicyJson + std::string(100 * 1024, ' '), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(AdminServerTest, ABodyWithoutLengthIsEmptyNotReadToTheEnd) {
  // No Content-Length, no chunking: the body is empty (RFC 9112 6.3); what follows is not
  // read until the client closes.
  auto t0 = std::chrono::steady_clock::now();
  auto res = exchange(server_->port(), head("POST /api/v1/policy/test") + kPolicyJson);
  EXPECT_EQ(status_of(res), 400) << res;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST_F(AdminServerTest, CompressedBodiesAre415) {
  auto res = exchange(server_->port(),
                      head("POST /api/v1/policy/test", "Content-Encoding: gzip\r\nContent-Length: 4\r\n") + "abcd");
  EXPECT_EQ(status_of(res), 415) << res;
}

TEST_F(AdminServerTest, LongUrlIs414AndTooManyHeadersAre431) {
  auto res = exchange(server_->port(), head("GET /api/v1/queue?domain=" + std::string(5000, 'a')));
  EXPECT_EQ(status_of(res), 414) << res.substr(0, 300);
  EXPECT_NE(res.find("\"code\":\"uri_too_long\""), std::string::npos) << res;

  std::string many;
  for (int i = 0; i < 100; ++i) many += "X-Filler-" + std::to_string(i) + ": x\r\n";
  res = exchange(server_->port(), head("GET /api/v1/stats", many));
  EXPECT_EQ(status_of(res), 431) << res.substr(0, 300);

  res = exchange(server_->port(), head("GET /api/v1/stats", "X-Big: " + std::string(10000, 'v') + "\r\n"));
  EXPECT_EQ(status_of(res), 431) << res.substr(0, 300);
}

TEST_F(AdminServerTest, WrongMethodIs405WithAllow) {
  struct Case {
    const char* request_line;
    const char* allow;
  };
  const Case cases[] = {
      {"PUT /api/v1/stats", "GET, HEAD"},
      {"DELETE /api/v1/stats", "GET, HEAD"},
      {"TRACE /api/v1/queue", "GET, HEAD"},
      {"PUT /healthz", "GET, HEAD"},
      {"TRACE /healthz", "GET, HEAD"},
      {"DELETE /metrics", "GET, HEAD"},
      {"PATCH /api/v1/queue/0000000000100000", "GET, HEAD, DELETE"},
      {"GET /api/v1/policy/test", "POST"},
      {"PUT /api/v1/queue/0000000000100000/hold", "POST"},
      {"OPTIONS /api/v1/route/x.example", "GET, HEAD"},
  };
  for (const auto& c : cases) {
    auto res = exchange(server_->port(), head(c.request_line, "Content-Length: 2\r\n") + "{}");
    EXPECT_EQ(status_of(res), 405) << c.request_line << "\n" << res;
    EXPECT_EQ(header_of(res, "Allow"), c.allow) << c.request_line;
    EXPECT_NE(res.find("\"code\":\"method_not_allowed\""), std::string::npos) << res;
  }
  EXPECT_TRUE(ops_.calls().empty());
  // The token is checked first; unknown paths stay 404; HEAD goes where GET goes.
  EXPECT_EQ(status_of(exchange(server_->port(), "PUT /api/v1/stats HTTP/1.1\r\nConnection: close\r\n\r\n")), 401);
  EXPECT_EQ(status_of(exchange(server_->port(), head("PUT /api/v1/nothing"))), 404);
  EXPECT_EQ(status_of(exchange(server_->port(), head("HEAD /healthz"))), 200);
  EXPECT_EQ(status_of(exchange(server_->port(), head("PROPFIND /healthz"))), 501);
}

TEST_F(AdminServerTest, PipelinedRequestsAreAnsweredInTurn) {
  auto res = exchange(server_->port(),
                      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + head("GET /api/v1/stats"));
  EXPECT_EQ(status_of(res), 200) << res;
  EXPECT_NE(res.find("HTTP/1.1 200 OK", 10), std::string::npos) << res;  // the second answer
  EXPECT_NE(res.find("\"uptime_seconds\""), std::string::npos) << res;
}

TEST_F(AdminServerTest, ExpectContinueGetsTheInterimAnswerBeforeTheBody) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(server_->port());
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  std::string h = head("POST /api/v1/policy/test", "Expect: 100-continue\r\nContent-Length: " +
                                                       std::to_string(kPolicyJson.size()) + "\r\n");
  ASSERT_EQ(::send(fd, h.data(), h.size(), MSG_NOSIGNAL), static_cast<ssize_t>(h.size()));
  std::string got;
  char buf[4096];
  while (got.find("\r\n\r\n") == std::string::npos) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0) << got;
    got.append(buf, static_cast<std::size_t>(n));
  }
  EXPECT_EQ(got, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_EQ(::send(fd, kPolicyJson.data(), kPolicyJson.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(kPolicyJson.size()));
  got.clear();
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  EXPECT_EQ(status_of(got), 200) << got;
}

}  // namespace
}  // namespace secmx::admin
