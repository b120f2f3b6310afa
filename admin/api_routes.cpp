// api_routes.cpp - the route table and its matcher; see the header.
#include "admin/api_routes.hpp"

#include <array>

namespace secmx::admin {

namespace {

struct RouteEntry {
  std::string_view method;
  std::string_view pattern;  // "*": one non-empty segment, captured as arg
  Endpoint endpoint;
  std::string_view op;       // QueueOp only
};

constexpr std::array<RouteEntry, 23> kRoutes = {{
    {"GET", "/healthz", Endpoint::Healthz, ""},
    {"GET", "/metrics", Endpoint::Metrics, ""},
    {"GET", "/api/v1/stats", Endpoint::Stats, ""},
    {"GET", "/api/v1/queue", Endpoint::QueueList, ""},
    {"POST", "/api/v1/queue/flush", Endpoint::QueueFlush, ""},
    {"GET", "/api/v1/queue/*", Endpoint::QueueShow, ""},
    {"DELETE", "/api/v1/queue/*", Endpoint::QueueDelete, ""},
    {"POST", "/api/v1/queue/*/flush", Endpoint::QueueOp, "flush"},
    {"POST", "/api/v1/queue/*/hold", Endpoint::QueueOp, "hold"},
    {"POST", "/api/v1/queue/*/release", Endpoint::QueueOp, "release"},
    {"POST", "/api/v1/queue/*/bounce", Endpoint::QueueOp, "bounce"},
    {"GET", "/api/v1/route/*", Endpoint::Route, ""},
    {"POST", "/api/v1/policy/test", Endpoint::PolicyTest, ""},
    {"GET", "/api/v1/sts/*", Endpoint::StsShow, ""},
    {"DELETE", "/api/v1/sts/*", Endpoint::StsPurge, ""},
    {"POST", "/api/v1/sts/*/fetch", Endpoint::StsFetch, ""},
    {"GET", "/api/v1/tlsrpt", Endpoint::TlsRptList, ""},
    {"GET", "/api/v1/tlsrpt/report", Endpoint::TlsRptReport, ""},
    {"POST", "/api/v1/tlsrpt/send", Endpoint::TlsRptSend, ""},
    {"POST", "/api/v1/reload", Endpoint::Reload, ""},
    {"GET", "/api/v1/audit", Endpoint::AuditSearch, ""},
    {"GET", "/api/v1/audit/report", Endpoint::AuditReport, ""},
    {"GET", "/api/v1/audit/verify", Endpoint::AuditVerify, ""},
}};

// Segment by segment; "*" takes one non-empty segment into `arg`.
bool matches(std::string_view pattern, std::string_view path, std::string& arg) {
  if (path.empty() || path.front() != '/') return false;
  pattern.remove_prefix(1);
  path.remove_prefix(1);
  for (;;) {
    auto pe = pattern.find('/');
    auto se = path.find('/');
    std::string_view pseg = pattern.substr(0, pe);
    std::string_view sseg = path.substr(0, se);
    if (pseg == "*") {
      if (sseg.empty()) return false;
      arg = std::string(sseg);
    } else if (pseg != sseg) {
      return false;
    }
    if (pe == std::string_view::npos || se == std::string_view::npos) {
      return pe == std::string_view::npos && se == std::string_view::npos;
    }
    pattern.remove_prefix(pe + 1);
    path.remove_prefix(se + 1);
  }
}

}  // namespace

RouteMatch match_route(std::string_view method, std::string_view path) {
  const std::string_view as = method == "HEAD" ? std::string_view("GET") : method;
  RouteMatch out;
  bool get = false, post = false, del = false;
  for (const auto& r : kRoutes) {
    std::string arg;
    if (!matches(r.pattern, path, arg)) continue;
    if (r.method == as) {
      out.kind = RouteMatch::Kind::Found;
      out.endpoint = r.endpoint;
      out.arg = std::move(arg);
      out.op = std::string(r.op);
      return out;
    }
    get |= r.method == "GET";
    post |= r.method == "POST";
    del |= r.method == "DELETE";
  }
  if (!get && !post && !del) return out;  // NotFound
  out.kind = RouteMatch::Kind::MethodNotAllowed;
  auto add = [&](std::string_view m) {
    if (!out.allow.empty()) out.allow += ", ";
    out.allow += m;
  };
  if (get) {
    add("GET");
    add("HEAD");
  }
  if (post) add("POST");
  if (del) add("DELETE");
  return out;
}

}  // namespace secmx::admin
