// privileges_test.cpp - account look-ups, the queue directory hand-over, and the
// privilege drop itself. Dropping is for good, so every drop happens in a forked child
// that reports back through a pipe; the tests that need root skip when not run as root
// (CI runs them as root).
#include "relay/common/privileges.hpp"
#include "tests/unit/temp_dir.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

namespace secmx::privileges {
namespace {

namespace fs = std::filesystem;

constexpr uid_t kNobody = 65534;

// The dropped child must be able to look inside.
class TempDir : public secmx::test::TempDir {
 public:
  TempDir() : secmx::test::TempDir("secmx-priv-test") { ::chmod(path().c_str(), 0755); }
};

void write_file(const std::string& path, mode_t mode) {
  std::ofstream(path) << "x";
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

// Runs `body` in a child process; its returned text ("" for success) comes back as the
// result. The child ends with _exit so that nothing of the test runner runs twice.
std::string in_child(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    std::string out = body();
    if (out.empty()) out = "OK";
    ssize_t w = ::write(fds[1], out.data(), out.size());
    ::_exit(w == static_cast<ssize_t>(out.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string got;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) return "child died: " + got;
  return got == "OK" ? std::string() : got;
}

// Binds a TCP socket to the wildcard address and `port`; 0 or errno.
int try_bind(std::uint16_t port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  int rc = ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
  ::close(s);
  return rc;
}

std::string status_field(const std::string& name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":\t", 0) == 0) return line.substr(name.size() + 2);
  }
  return {};
}

#define REQUIRE_ROOT()                                          \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (CI runs the unit tests as root)"

TEST(Privileges, LooksUpUsersAndGroups) {
  auto root = lookup_user("root");
  ASSERT_TRUE(root.ok()) << root.error();
  EXPECT_EQ(root->uid, 0u);
  EXPECT_EQ(root->gid, 0u);
  EXPECT_EQ(root->group, "root");

  auto nobody = lookup_user("nobody");
  ASSERT_TRUE(nobody.ok()) << nobody.error();
  EXPECT_EQ(nobody->uid, kNobody);

  auto missing = lookup_user("no-such-user-secmx");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), "unknown user 'no-such-user-secmx'");

  auto g = lookup_group("nogroup");
  ASSERT_TRUE(g.ok()) << g.error();
  EXPECT_EQ(*g, 65534u);
  auto gmissing = lookup_group("no-such-group-secmx");
  ASSERT_FALSE(gmissing.ok());
  EXPECT_EQ(gmissing.error(), "unknown group 'no-such-group-secmx'");
  EXPECT_FALSE(lookup_user("").ok());
}

TEST(Privileges, ResolveAccountTakesTheGroupOverride) {
  auto a = resolve_account("nobody", "");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->gid, 65534u);
  auto b = resolve_account("nobody", "root");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->uid, kNobody);
  EXPECT_EQ(b->gid, 0u);
  EXPECT_EQ(b->group, "root");
  auto c = resolve_account("nobody", "no-such-group-secmx");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("unknown group"), std::string::npos);
}

TEST(Privileges, NoUserMeansNothingToDo) {
  auto r = become_run_user("", "", "/nonexistent/queue");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_FALSE(r->has_value());
}

TEST(Privileges, PrepareQueueDirCreatesItForTheUser) {
  REQUIRE_ROOT();
  TempDir t;
  auto who = resolve_account("nobody", "");
  ASSERT_TRUE(who.ok());
  const std::string queue = t.sub("lib/secmx/queue");
  ASSERT_TRUE(prepare_queue_dir(queue, *who).ok());
  auto q = stat_of(queue);
  EXPECT_TRUE(S_ISDIR(q.st_mode));
  EXPECT_EQ(q.st_mode & 07777, 0700u);
  EXPECT_EQ(q.st_uid, kNobody);
  EXPECT_EQ(q.st_gid, 65534u);
  // Parents it had to create are root's and only traversable by others.
  auto parent = stat_of(t.sub("lib/secmx"));
  EXPECT_EQ(parent.st_uid, 0u);
  EXPECT_EQ(parent.st_mode & 07777, 0755u);
}

TEST(Privileges, PrepareQueueDirTakesOverAQueueLeftByRoot) {
  REQUIRE_ROOT();
  TempDir t;
  auto who = resolve_account("nobody", "");
  ASSERT_TRUE(who.ok());
  const std::string queue = t.sub("queue");
  ASSERT_EQ(::mkdir(queue.c_str(), 0755), 0);
  write_file(queue + "/data.mdb", 0644);
  write_file(queue + "/lock.mdb", 0664);
  ASSERT_TRUE(prepare_queue_dir(queue, *who).ok());
  EXPECT_EQ(stat_of(queue).st_mode & 07777, 0700u);
  EXPECT_EQ(stat_of(queue).st_uid, kNobody);
  for (const char* f : {"/data.mdb", "/lock.mdb"}) {
    auto st = stat_of(queue + f);
    EXPECT_EQ(st.st_uid, kNobody) << f;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << f;
  }
}

TEST(Privileges, PrepareQueueDirRefusesLinks) {
  REQUIRE_ROOT();
  TempDir t;
  auto who = resolve_account("nobody", "");
  ASSERT_TRUE(who.ok());

  // The queue path itself a symlink: refused, and its target left alone.
  const std::string real = t.sub("real");
  ASSERT_EQ(::mkdir(real.c_str(), 0755), 0);
  ASSERT_EQ(::symlink(real.c_str(), t.sub("link").c_str()), 0);
  auto r = prepare_queue_dir(t.sub("link"), *who);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("symbolic link"), std::string::npos) << r.error();
  EXPECT_EQ(stat_of(real).st_uid, 0u);

  // A symlink planted inside the queue must not make root chown its target.
  const std::string victim = t.sub("victim");
  write_file(victim, 0600);
  const std::string queue = t.sub("queue");
  ASSERT_EQ(::mkdir(queue.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(victim.c_str(), (queue + "/data.mdb").c_str()), 0);
  r = prepare_queue_dir(queue, *who);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("symbolic link"), std::string::npos) << r.error();
  EXPECT_EQ(stat_of(victim).st_uid, 0u);

  // Nor a hard link.
  const std::string queue2 = t.sub("queue2");
  ASSERT_EQ(::mkdir(queue2.c_str(), 0700), 0);
  ASSERT_EQ(::link(victim.c_str(), (queue2 + "/data.mdb").c_str()), 0);
  r = prepare_queue_dir(queue2, *who);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("more than one link"), std::string::npos) << r.error();
  EXPECT_EQ(stat_of(victim).st_uid, 0u);
}

TEST(Privileges, TightenQueueFiles) {
  TempDir t;
  write_file(t.sub("data.mdb"), 0644);
  write_file(t.sub("lock.mdb"), 0600);
  auto r = tighten_queue_files(t.path());
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0], "data.mdb");
  EXPECT_EQ(stat_of(t.sub("data.mdb")).st_mode & 07777, 0600u);
  EXPECT_EQ(stat_of(t.sub("lock.mdb")).st_mode & 07777, 0600u);

  ASSERT_EQ(::mkdir(t.sub("sub").c_str(), 0700), 0);
  auto bad = tighten_queue_files(t.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("not a regular file"), std::string::npos);
  EXPECT_FALSE(tighten_queue_files(t.sub("missing")).ok());
}

TEST(Privileges, DropToLeavesNoWayBack) {
  REQUIRE_ROOT();
  TempDir t;
  const std::string secret = t.sub("secret");
  write_file(secret, 0600);  // root's
  std::string err = in_child([&]() -> std::string {
    auto who = resolve_account("nobody", "");
    if (!who) return who.error();
    if (auto st = drop_to(*who); !st) return "drop_to: " + st.error();
    uid_t r, e, s;
    ::getresuid(&r, &e, &s);
    if (r != kNobody || e != kNobody || s != kNobody) return "uids not nobody";
    gid_t gr, ge, gs;
    ::getresgid(&gr, &ge, &gs);
    if (gr != 65534 || ge != 65534 || gs != 65534) return "gids not nogroup";
    if (::setuid(0) == 0) return "setuid(0) succeeded";
    if (::setgid(0) == 0) return "setgid(0) succeeded";
    gid_t groups[64];
    int n = ::getgroups(64, groups);
    for (int i = 0; i < n; ++i) {
      if (groups[i] == 0) return "still in group root";
    }
    if (::open(secret.c_str(), O_RDONLY) >= 0) return "could read a root-only file";
    if (status_field("CapEff") != "0000000000000000") return "CapEff " + status_field("CapEff");
    if (status_field("CapPrm") != "0000000000000000") return "CapPrm " + status_field("CapPrm");
    // Dropping again needs root, which is gone.
    if (drop_to(*who).ok()) return "second drop_to succeeded";
    auto again = become_run_user("root", "", t.sub("q"));
    if (again.ok()) return "become_run_user(root) succeeded after the drop";
    if (again.error().find("needs starting as root") == std::string::npos) return again.error();
    auto same = become_run_user("nobody", "", t.sub("q"));
    if (!same.ok() || same->has_value()) return "running as the user already should be a no-op";
    return "";
  });
  EXPECT_EQ(err, "");
}

TEST(Privileges, BindsBelow1024BetweenBeginAndFinish) {
  REQUIRE_ROOT();
  std::string err = in_child([]() -> std::string {
    // A private network namespace: port 25 here collides with nothing on the host.
    if (::unshare(CLONE_NEWNET) != 0) return "SKIP";
    auto who = resolve_account("nobody", "");
    if (!who) return who.error();
    if (auto st = begin_drop(*who); !st) return "begin_drop: " + st.error();
    if (::geteuid() != kNobody) return "effective uid is not nobody after begin_drop";
    if (int rc = try_bind(25); rc != 0) return "bind :25 after begin_drop: " + std::to_string(rc);
    // A thread started in between (like the queue's commit writer) must lose everything
    // too: finish_drop() checks every thread.
    bool stop = false;
    std::thread worker([&] {
      while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) ::usleep(1000);
    });
    auto st = finish_drop(*who);
    __atomic_store_n(&stop, true, __ATOMIC_RELEASE);
    worker.join();
    if (!st) return "finish_drop: " + st.error();
    if (int rc = try_bind(26); rc != EACCES) {
      return "bind :26 after finish_drop gave " + std::to_string(rc) + ", want EACCES";
    }
    if (::setuid(0) == 0) return "setuid(0) succeeded";
    return "";
  });
  if (err == "SKIP") GTEST_SKIP() << "no network namespaces here (unshare failed)";
  EXPECT_EQ(err, "");
}

TEST(Privileges, BecomeRunUserPreparesTheQueueThenDrops) {
  REQUIRE_ROOT();
  TempDir t;
  const std::string queue = t.sub("queue");
  const std::string log_file = t.write("relay.log", "opened by root\n");
  std::string err = in_child([&]() -> std::string {
    auto r = become_run_user("nobody", "", queue, log_file);
    if (!r) return r.error();
    if (!r->has_value()) return "expected an account to finish the drop with";
    // Files made between the two steps belong to the user.
    std::ofstream(queue + "/data.mdb") << "x";
    if (auto st = finish_drop(**r); !st) return st.error();
    return "";
  });
  EXPECT_EQ(err, "");
  EXPECT_EQ(stat_of(queue).st_uid, kNobody);
  EXPECT_EQ(stat_of(queue + "/data.mdb").st_uid, kNobody);
  EXPECT_EQ(stat_of(log_file).st_uid, kNobody) << "the user can reopen it after rotation";
  auto unknown = become_run_user("no-such-user-secmx", "", queue);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error(), "unknown user 'no-such-user-secmx'");
}

}  // namespace
}  // namespace secmx::privileges
