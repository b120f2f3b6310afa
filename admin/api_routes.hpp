// api_routes.hpp - the admin API's route table: which (method, path) reaches which
// endpoint, and what a path allows when the method is wrong.
//
// Pure and the only spelling of the routes: admin_server asks match_route() in its
// pre-routing step (after the token check for /api/) and answers 404 or 405 from it, then
// dispatches on the endpoint it names. HEAD is allowed wherever GET is. `path` is the
// percent-decoded path without the query, as cpp-httplib gives it; a `{id}` or `{domain}`
// segment is any non-empty segment (its handler validates it).
#pragma once

#include <string>
#include <string_view>

namespace secmx::admin {

enum class Endpoint {
  Healthz,      // GET /healthz
  Metrics,      // GET /metrics
  Stats,        // GET /api/v1/stats
  QueueList,    // GET /api/v1/queue
  QueueFlush,   // POST /api/v1/queue/flush
  QueueShow,    // GET /api/v1/queue/{id}
  QueueDelete,  // DELETE /api/v1/queue/{id}
  QueueOp,      // POST /api/v1/queue/{id}/{flush|hold|release|bounce}
  Route,        // GET /api/v1/route/{domain}
  PolicyTest,   // POST /api/v1/policy/test
  StsShow,      // GET /api/v1/sts/{domain}
  StsPurge,     // DELETE /api/v1/sts/{domain}
  StsFetch,     // POST /api/v1/sts/{domain}/fetch
  TlsRptList,   // GET /api/v1/tlsrpt?day=D
  TlsRptReport, // GET /api/v1/tlsrpt/report?domain=X&day=D
  TlsRptSend,   // POST /api/v1/tlsrpt/send
  Reload,       // POST /api/v1/reload
  AuditSearch,  // GET /api/v1/audit?from=&to=&sender=&...&after=&limit=
  AuditReport,  // GET /api/v1/audit/report?from=&to=
  AuditVerify,  // GET /api/v1/audit/verify?from=&to=
};

struct RouteMatch {
  enum class Kind { Found, NotFound, MethodNotAllowed };
  Kind kind = Kind::NotFound;
  Endpoint endpoint = Endpoint::Healthz;  // Found
  std::string arg;                        // Found: the {id} or {domain} segment
  std::string op;                         // Found, QueueOp: "flush", "hold", ...
  std::string allow;                      // MethodNotAllowed: "GET, HEAD", "POST", ...
};

RouteMatch match_route(std::string_view method, std::string_view path);

}  // namespace secmx::admin
