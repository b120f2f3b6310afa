// privileges.hpp - run as an unprivileged account: look it up, hand it the queue
// directory, become it, and check that the way back to root is closed.
//
// Start-up only, on the main thread. capset() acts on the calling thread alone, so
// begin_drop() must run before any other thread exists; finish_drop() may run later
// because it works through setresuid(), which glibc applies to every thread.
// Every call reports failure as a value with a message fit for the operator; nothing here
// logs or throws. Linux-specific (capabilities, setresuid).
//
// The daemon's sequence when started as root with `user` set (see main.cpp):
//   prepare_queue_dir()  - as root: the queue directory exists, 0700, owned by the user
//   begin_drop(who)      - groups, gid and real/effective uid become the user's; only the
//                          saved uid stays 0, so CAP_NET_BIND_SERVICE can stay effective
//   ... open the queue and read the TLS key as the user, bind the listeners ...
//   finish_drop(who)     - the saved uid too: every capability is gone from every thread
//                          (glibc applies set*id to all threads) and root cannot return
// The queue is never opened as root, so no file in it can end up owned by root.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/common/result.hpp"

namespace secmx::privileges {

struct Account {
  std::string user;
  std::string group;  // the group name actually used (the user's primary one by default)
  uid_t uid = 0;
  gid_t gid = 0;
};

// getpwnam_r / getgrnam_r. Errors: "unknown user 'x'", "unknown group 'y'".
Result<Account, std::string> lookup_user(std::string_view user);
Result<gid_t, std::string> lookup_group(std::string_view group);
// The user with `group` as its group; empty `group`: the user's primary group.
Result<Account, std::string> resolve_account(std::string_view user, std::string_view group);

// Root only. Creates `path` if missing (missing parents 0755 owned by root, `path` 0700),
// makes it a 0700 directory owned by `who`, and gives `who` the regular files already in
// it (a queue last opened by root) with mode 0600. Never follows a symbolic link as the
// last component or inside the directory; refuses one with an error.
Status<std::string> prepare_queue_dir(const std::string& path, const Account& who);

// Root only. initgroups(), then real, effective and saved gid, then real and effective
// uid; the saved uid stays 0 and CAP_NET_BIND_SERVICE (only it) stays effective, so that
// ports below 1024 can still be bound. Files are created and opened as the user.
Status<std::string> begin_drop(const Account& who);

// After begin_drop(): the saved uid becomes the user's too, which clears every capability
// (permitted, effective, ambient) in every thread of the process. Verifies that no thread
// keeps a root id or a capability and that setuid(0) and setgid(0) fail.
Status<std::string> finish_drop(const Account& who);

// Root only: begin_drop() and finish_drop() at once, for a process that binds nothing.
Status<std::string> drop_to(const Account& who);

// Sets every regular file directly in `dir` that is readable or writable by group or
// others to 0600; returns the names it changed. Errors: the directory cannot be read, a
// file cannot be changed (not the caller's), or an entry is not a regular file.
Result<std::vector<std::string>, std::string> tighten_queue_files(const std::string& dir);

// The start-up decision for `user`/`group` from the config:
//   user empty                      -> nothing to do (nullopt)
//   started as root                 -> prepare_queue_dir(), the log file (if any, already
//                                      opened by root) handed to the user so that a reopen
//                                      after log rotation works, and begin_drop(); returns
//                                      the account, for finish_drop() once the listeners
//                                      are bound
//   already running as that user    -> nothing to do (nullopt), e.g. in a container
//   anyone else                     -> error: changing user needs root
Result<std::optional<Account>, std::string> become_run_user(std::string_view user,
                                                            std::string_view group,
                                                            const std::string& queue_dir,
                                                            const std::string& log_file = "");

}  // namespace secmx::privileges
