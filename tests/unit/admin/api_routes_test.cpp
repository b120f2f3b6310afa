// api_routes_test.cpp - the route table: every endpoint, 404 for unknown paths, 405 with
// the methods the path takes.
#include "admin/api_routes.hpp"

#include <gtest/gtest.h>

namespace secmx::admin {
namespace {

using Kind = RouteMatch::Kind;

TEST(ApiRoutes, EveryEndpoint) {
  struct Case {
    const char* method;
    const char* path;
    Endpoint endpoint;
    const char* arg;
    const char* op;
  };
  const Case cases[] = {
      {"GET", "/healthz", Endpoint::Healthz, "", ""},
      {"HEAD", "/metrics", Endpoint::Metrics, "", ""},
      {"GET", "/api/v1/stats", Endpoint::Stats, "", ""},
      {"GET", "/api/v1/queue", Endpoint::QueueList, "", ""},
      {"POST", "/api/v1/queue/flush", Endpoint::QueueFlush, "", ""},
      {"GET", "/api/v1/queue/0000000000100000", Endpoint::QueueShow, "0000000000100000", ""},
      {"DELETE", "/api/v1/queue/0000000000100000", Endpoint::QueueDelete, "0000000000100000", ""},
      {"POST", "/api/v1/queue/0000000000100000/hold", Endpoint::QueueOp, "0000000000100000", "hold"},
      {"POST", "/api/v1/queue/ab/release", Endpoint::QueueOp, "ab", "release"},
      {"POST", "/api/v1/queue/ab/flush", Endpoint::QueueOp, "ab", "flush"},
      {"POST", "/api/v1/queue/ab/bounce", Endpoint::QueueOp, "ab", "bounce"},
      {"GET", "/api/v1/route/d.example", Endpoint::Route, "d.example", ""},
      {"POST", "/api/v1/policy/test", Endpoint::PolicyTest, "", ""},
      {"GET", "/api/v1/tlsrpt", Endpoint::TlsRptList, "", ""},
      {"HEAD", "/api/v1/tlsrpt", Endpoint::TlsRptList, "", ""},
      {"GET", "/api/v1/tlsrpt/report", Endpoint::TlsRptReport, "", ""},
      {"POST", "/api/v1/tlsrpt/send", Endpoint::TlsRptSend, "", ""},
      {"POST", "/api/v1/reload", Endpoint::Reload, "", ""},
      {"GET", "/api/v1/audit", Endpoint::AuditSearch, "", ""},
      {"GET", "/api/v1/audit/report", Endpoint::AuditReport, "", ""},
      {"HEAD", "/api/v1/audit/verify", Endpoint::AuditVerify, "", ""},
  };
  for (const auto& c : cases) {
    auto m = match_route(c.method, c.path);
    ASSERT_EQ(m.kind, Kind::Found) << c.method << " " << c.path;
    EXPECT_EQ(m.endpoint, c.endpoint) << c.path;
    EXPECT_EQ(m.arg, c.arg) << c.path;
    EXPECT_EQ(m.op, c.op) << c.path;
  }
}

TEST(ApiRoutes, WrongMethodIs405WithWhatThePathTakes) {
  struct Case {
    const char* method;
    const char* path;
    const char* allow;
  };
  const Case cases[] = {
      {"PUT", "/healthz", "GET, HEAD"},
      {"TRACE", "/metrics", "GET, HEAD"},
      {"DELETE", "/api/v1/stats", "GET, HEAD"},
      {"POST", "/api/v1/queue", "GET, HEAD"},
      {"OPTIONS", "/api/v1/queue", "GET, HEAD"},
      {"GET", "/api/v1/policy/test", "POST"},
      {"PATCH", "/api/v1/queue/0000000000100000", "GET, HEAD, DELETE"},
      {"GET", "/api/v1/queue/0000000000100000/hold", "POST"},
      {"PUT", "/api/v1/queue/flush", "GET, HEAD, POST, DELETE"},  // also an {id} path
      {"CONNECT", "/api/v1/route/x", "GET, HEAD"},
      {"POST", "/api/v1/tlsrpt", "GET, HEAD"},
      {"GET", "/api/v1/tlsrpt/send", "POST"},
      {"DELETE", "/api/v1/tlsrpt/report", "GET, HEAD"},
  };
  for (const auto& c : cases) {
    auto m = match_route(c.method, c.path);
    ASSERT_EQ(m.kind, Kind::MethodNotAllowed) << c.method << " " << c.path;
    EXPECT_EQ(m.allow, c.allow) << c.method << " " << c.path;
  }
}

TEST(ApiRoutes, UnknownPathsAre404) {
  for (const char* path : {"/", "", "healthz", "/healthz/", "/api/v1", "/api/v1/queue/", "/api/v1/queue//hold",
                           "/api/v1/queue/a/b", "/api/v1/queue/a/unknown", "/api/v2/stats", "/api/v1/route/"}) {
    EXPECT_EQ(match_route("GET", path).kind, Kind::NotFound) << path;
    EXPECT_EQ(match_route("PUT", path).kind, Kind::NotFound) << path;
  }
}

}  // namespace
}  // namespace secmx::admin
