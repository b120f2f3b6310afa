// reload.hpp - SIGHUP: read the configuration file again and build everything a reload
// swaps in - policy engine, STARTTLS certificate, client CA store - before anything is
// swapped, so that a reload is all or nothing: a file with a mistake, a rule that does not
// compile or a certificate that does not load leaves the running relay exactly as it was.
//
// The same reload can be asked for through the admin API (POST /api/v1/reload, `secmxctl
// reload`, the systemd unit's ExecReload): ReloadRequests carries the request from an
// admin thread to the main loop and the outcome - with the file:line errors - back.
//
// Each reload names who asked for it - the admin operator and client, or "signal" for
// SIGHUP - in its log line and, with [audit] on, in a "reload" record (record_reload()).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "queue/store.hpp"
#include "relay/common/result.hpp"
#include "relay/config/config.hpp"
#include "relay/policy/policy_engine.hpp"
#include "relay/tls/tls_context.hpp"

namespace secmx {

struct PreparedReload {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const policy::PolicyEngine> policy;
  std::shared_ptr<tls::TlsContext> server_tls;  // null: STARTTLS not offered
  std::shared_ptr<tls::TlsContext> client_tls;
  std::vector<std::string> restart_only;  // settings that changed but stay as they run
};

// Error: one line per problem, "file:line: message" where the config names one.
Result<PreparedReload, std::vector<std::string>> prepare_reload(const std::string& path,
                                                                 const config::Config& running);

// For the log: "rules=3 routes=2 starttls=on auth_users=4 pause=off ...".
std::string describe(const config::Config& config);

// What one reload did, for the log and for whoever asked.
struct ReloadOutcome {
  bool applied = false;
  std::string file;
  std::vector<std::string> errors;    // refused: "file:line: message", one per problem
  std::vector<std::string> warnings;  // applied: the file's warnings, restart-only settings
  std::string summary;                // applied: describe()
};

// Who asked for a reload: an admin operator (name, client address), or kSignalOperator.
struct ReloadRequester {
  std::string name;
  std::string client;
};
inline constexpr const char* kSignalOperator = "signal";

// Appends the "reload" audit record of `outcome` for `by` (relay/audit/operator_records.hpp)
// through libuv's thread pool, so that `loop` (the main loop, whose thread calls this) never
// waits on the store; a failure to write is logged. `store` must outlive the loop's run.
void record_reload(uv_loop_t* loop, queue::Store& store, const ReloadRequester& by,
                   const ReloadOutcome& outcome);

// Reloads asked for from other threads, run on one loop. Requests that arrive while one
// waits share its outcome (the file is read once). Thread affinity: start() and close()
// on the loop thread; request() from any thread.
class ReloadRequests {
 public:
  using Apply = std::function<ReloadOutcome()>;  // runs on the loop thread
  using Done = std::function<void(ReloadOutcome)>;
  // Runs on the loop thread after a reload, once for each requester it answers.
  using Record = std::function<void(const ReloadRequester&, const ReloadOutcome&)>;

  ReloadRequests() = default;
  ReloadRequests(const ReloadRequests&) = delete;
  ReloadRequests& operator=(const ReloadRequests&) = delete;

  // From now on requests run `apply` on `loop`, then `record` (may be null) for each
  // requester. Error: the libuv handle could not be made.
  Status<std::string> start(uv_loop_t* loop, Apply apply, Record record = {});
  // Before start() or after close(): refused at once, on the calling thread.
  void request(ReloadRequester by, Done done);
  // No more requests; waiting ones are refused. The handle is closed by the loop's next
  // turn, which must come before this object is destroyed.
  void close();

 private:
  static void on_async(uv_async_t* handle);
  static ReloadOutcome refused(const std::string& why);

  std::mutex mutex_;
  bool open_ = false;          // guarded by mutex_
  struct Waiting {
    ReloadRequester by;
    Done done;
  };
  std::vector<Waiting> waiting_;  // guarded by mutex_
  uv_async_t async_{};
  Apply apply_;
  Record record_;
};

}  // namespace secmx
