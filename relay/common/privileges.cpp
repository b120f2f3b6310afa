// privileges.cpp - see privileges.hpp.
#include "relay/common/privileges.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace secmx::privileges {
namespace {

std::string errno_text(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

// A file descriptor closed on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// glibc has no wrapper for capget/capset; libcap would be a dependency for two calls.
struct CapSets {
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
};

bool cap_get(CapSets& out) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  return ::syscall(SYS_capget, &hdr, out.data) == 0;
}

bool cap_set(const CapSets& in) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  return ::syscall(SYS_capset, &hdr, in.data) == 0;
}

bool cap_any(const CapSets& c) {
  for (const auto& d : c.data) {
    if (d.effective != 0 || d.permitted != 0 || d.inheritable != 0) return true;
  }
  return false;
}

// The proof that the drop holds: none of these may succeed any more. A success means we
// were root again for a moment; say so rather than carry on.
Status<std::string> verify_no_way_back(const Account& who) {
  if (::setuid(0) == 0 || ::seteuid(0) == 0) {
    return fail(std::string("privilege drop failed: setuid(0) still succeeds"));
  }
  if (who.gid != 0 && (::setgid(0) == 0 || ::setegid(0) == 0)) {
    return fail(std::string("privilege drop failed: setgid(0) still succeeds"));
  }
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (::getresuid(&ru, &eu, &su) != 0 || ::getresgid(&rg, &eg, &sg) != 0) {
    return fail(errno_text("getresuid", errno));
  }
  if (ru != who.uid || eu != who.uid || su != who.uid || rg != who.gid || eg != who.gid ||
      sg != who.gid) {
    return fail(std::string("privilege drop failed: ids are not all those of ") + who.user);
  }
  return Ok{};
}

Status<std::string> make_parents(const std::string& path) {
  for (std::size_t pos = 1; pos < path.size(); ++pos) {
    if (path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return fail(errno_text("mkdir " + prefix, errno));
    }
  }
  return Ok{};
}

// Give one entry of the queue directory to `who`, 0600. Opened without following links,
// and only when it has a single link: a hard link planted by the directory's owner must
// not make root chown a file elsewhere.
Status<std::string> hand_over_file(int dirfd, const std::string& dir, const char* name,
                                   const Account& who) {
  const std::string shown = dir + "/" + name;
  Fd fd(::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    if (errno == ELOOP) return fail(shown + ": a symbolic link in the queue directory");
    return fail(errno_text("open " + shown, errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(errno_text("stat " + shown, errno));
  if (!S_ISREG(st.st_mode)) return fail(shown + ": not a regular file");
  if (st.st_nlink != 1) return fail(shown + ": has more than one link");
  if ((st.st_uid != who.uid || st.st_gid != who.gid) && ::fchown(fd.get(), who.uid, who.gid) != 0) {
    return fail(errno_text("chown " + shown, errno));
  }
  if ((st.st_mode & 07777) != 0600 && ::fchmod(fd.get(), 0600) != 0) {
    return fail(errno_text("chmod " + shown, errno));
  }
  return Ok{};
}

// Entries of an open directory (without "." and ".."); the fd stays the caller's.
Result<std::vector<std::string>, std::string> entries_of(int dirfd, const std::string& dir) {
  int dup = ::dup(dirfd);
  if (dup < 0) return fail(errno_text("dup", errno));
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    int err = errno;
    ::close(dup);
    return fail(errno_text("opendir " + dir, err));
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.emplace_back(e->d_name);
    }
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return fail(errno_text("readdir " + dir, err));
  return names;
}

bool read_small_file(const std::string& path, std::string& out) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return false;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// Every thread's ids and capabilities as the kernel reports them: a thread that escaped
// the drop (capset is per thread) would show here and nowhere else.
Status<std::string> verify_threads(const Account& who) {
  const std::string tasks = "/proc/self/task";
  Fd dir(::open(tasks.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return fail(errno_text("open " + tasks, errno));
  auto tids = entries_of(dir.get(), tasks);
  if (!tids) return fail(tids.error());
  const std::string uid = std::to_string(who.uid), gid = std::to_string(who.gid);
  const std::string want_uid = uid + "\t" + uid + "\t" + uid + "\t" + uid;
  const std::string want_gid = gid + "\t" + gid + "\t" + gid + "\t" + gid;
  for (const auto& tid : *tids) {
    std::string status;
    if (!read_small_file(tasks + "/" + tid + "/status", status)) continue;  // thread gone
    auto field = [&](const char* name) {
      auto at = status.find(std::string("\n") + name + ":\t");
      if (at == std::string::npos) return std::string();
      at += std::strlen(name) + 3;
      return status.substr(at, status.find('\n', at) - at);
    };
    if (field("Uid") != want_uid || field("Gid") != want_gid) {
      return fail("privilege drop failed: thread " + tid + " has Uid " + field("Uid") +
                  ", Gid " + field("Gid"));
    }
    for (const char* set : {"CapPrm", "CapEff", "CapAmb"}) {
      std::string v = field(set);
      if (!v.empty() && v.find_first_not_of('0') != std::string::npos) {
        return fail("privilege drop failed: thread " + tid + " keeps " + set + " " + v);
      }
    }
  }
  return Ok{};
}

}  // namespace

Result<Account, std::string> lookup_user(std::string_view user) {
  std::string name(user);
  if (name.empty()) return fail(std::string("empty user name"));
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  int rc;
  while ((rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0) return fail(errno_text("looking up user '" + name + "'", rc));
  if (found == nullptr) return fail("unknown user '" + name + "'");
  Account a;
  a.user = name;
  a.uid = pw.pw_uid;
  a.gid = pw.pw_gid;
  group gr{};
  group* gfound = nullptr;
  std::vector<char> gbuf(16384);
  while ((rc = ::getgrgid_r(a.gid, &gr, gbuf.data(), gbuf.size(), &gfound)) == ERANGE) {
    gbuf.resize(gbuf.size() * 2);
  }
  a.group = (rc == 0 && gfound != nullptr) ? std::string(gr.gr_name) : std::to_string(a.gid);
  return a;
}

Result<gid_t, std::string> lookup_group(std::string_view group_name) {
  std::string name(group_name);
  if (name.empty()) return fail(std::string("empty group name"));
  group gr{};
  group* found = nullptr;
  std::vector<char> buf(16384);
  int rc;
  while ((rc = ::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found)) == ERANGE) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0) return fail(errno_text("looking up group '" + name + "'", rc));
  if (found == nullptr) return fail("unknown group '" + name + "'");
  return gr.gr_gid;
}

Result<Account, std::string> resolve_account(std::string_view user, std::string_view group) {
  auto a = lookup_user(user);
  if (!a) return a;
  if (!group.empty()) {
    auto g = lookup_group(group);
    if (!g) return fail(g.error());
    a->gid = *g;
    a->group = std::string(group);
  }
  return a;
}

Status<std::string> prepare_queue_dir(const std::string& path, const Account& who) {
  if (path.empty()) return fail(std::string("queue path is empty"));
  std::string dir = path;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (auto st = make_parents(dir); !st) return st;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return fail(errno_text("mkdir " + dir, errno));
  }
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ELOOP || errno == ENOTDIR) {
      return fail(dir + ": not a directory (a symbolic link is refused: name the real path)");
    }
    return fail(errno_text("open " + dir, errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(errno_text("stat " + dir, errno));
  if ((st.st_uid != who.uid || st.st_gid != who.gid) && ::fchown(fd.get(), who.uid, who.gid) != 0) {
    return fail(errno_text("chown " + dir, errno));
  }
  if ((st.st_mode & 07777) != 0700 && ::fchmod(fd.get(), 0700) != 0) {
    return fail(errno_text("chmod " + dir, errno));
  }
  auto names = entries_of(fd.get(), dir);
  if (!names) return fail(names.error());
  for (const auto& name : *names) {
    if (auto s = hand_over_file(fd.get(), dir, name.c_str(), who); !s) return s;
  }
  return Ok{};
}

Status<std::string> begin_drop(const Account& who) {
  if (::geteuid() != 0) return fail(std::string("changing user needs root"));
  if (who.uid == 0) return fail("user '" + who.user + "' is root: nothing would be dropped");
  // Ambient capabilities would survive the uid change and any later exec.
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (::initgroups(who.user.c_str(), who.gid) != 0) {
    return fail(errno_text("initgroups " + who.user, errno));
  }
  if (::setresgid(who.gid, who.gid, who.gid) != 0) {
    return fail(errno_text("setresgid " + std::to_string(who.gid), errno));
  }
  // The effective uid leaving 0 empties the effective set; the saved uid 0 keeps the
  // permitted set, from which the one capability binding needs is raised again.
  if (::setresuid(who.uid, who.uid, 0) != 0) {
    return fail(errno_text("setresuid " + std::to_string(who.uid), errno));
  }
  CapSets caps;
  if (!cap_get(caps)) return fail(errno_text("capget", errno));
  for (auto& d : caps.data) d.effective = 0;
  caps.data[CAP_TO_INDEX(CAP_NET_BIND_SERVICE)].effective = CAP_TO_MASK(CAP_NET_BIND_SERVICE);
  if (!cap_set(caps)) return fail(errno_text("capset(CAP_NET_BIND_SERVICE)", errno));
  return Ok{};
}

Status<std::string> finish_drop(const Account& who) {
  ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (::setresuid(who.uid, who.uid, who.uid) != 0) {
    return fail(errno_text("setresuid " + std::to_string(who.uid), errno));
  }
  CapSets left;
  if (!cap_get(left)) return fail(errno_text("capget", errno));
  if (cap_any(left)) return fail(std::string("privilege drop failed: capabilities remain"));
  if (auto st = verify_threads(who); !st) return st;
  return verify_no_way_back(who);
}

Status<std::string> drop_to(const Account& who) {
  if (auto st = begin_drop(who); !st) return st;
  return finish_drop(who);
}

Result<std::vector<std::string>, std::string> tighten_queue_files(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return fail(errno_text("open " + dir, errno));
  auto names = entries_of(fd.get(), dir);
  if (!names) return fail(names.error());
  std::vector<std::string> changed;
  for (const auto& name : *names) {
    struct stat st {};
    if (::fstatat(fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return fail(errno_text("stat " + dir + "/" + name, errno));
    }
    if (!S_ISREG(st.st_mode)) return fail(dir + "/" + name + ": not a regular file");
    if ((st.st_mode & 077) == 0) continue;
    if (::fchmodat(fd.get(), name.c_str(), 0600, 0) != 0) {
      return fail(errno_text("chmod " + dir + "/" + name, errno));
    }
    changed.push_back(name);
  }
  return changed;
}

Result<std::optional<Account>, std::string> become_run_user(std::string_view user,
                                                            std::string_view group,
                                                            const std::string& queue_dir,
                                                            const std::string& log_file) {
  if (user.empty()) return std::optional<Account>();
  auto who = resolve_account(user, group);
  if (!who) return fail(who.error());
  if (::geteuid() == 0) {
    if (auto st = prepare_queue_dir(queue_dir, *who); !st) return fail(st.error());
    if (!log_file.empty() && ::chown(log_file.c_str(), who->uid, who->gid) != 0) {
      return fail(errno_text("log file " + log_file, errno));
    }
    if (auto st = begin_drop(*who); !st) return fail(st.error());
    // A parent directory the user cannot search (left 0700 by an earlier run as root)
    // would otherwise surface as a puzzling mkdir error from the store.
    if (::access(queue_dir.c_str(), R_OK | W_OK | X_OK) != 0) {
      return fail(errno_text("queue directory " + queue_dir + " is not usable by user " +
                                 who->user + " (check the parent directories' modes)",
                             errno));
    }
    return std::optional<Account>(*who);
  }
  if (::geteuid() == who->uid && ::getegid() == who->gid) return std::optional<Account>();
  return fail("user = \"" + who->user + "\" needs starting as root (running as uid " +
              std::to_string(::geteuid()) + ")");
}

}  // namespace secmx::privileges
