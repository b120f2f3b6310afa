"""Deployment: the relay started as root dropping to its own user, the Docker image checked
without a container engine, the sample configs, and a real Postfix relaying through it.

Needs root (CI runs as root): the privilege tests start the relay as root, create the
system user `secmx` if it is missing, and use private network namespaces (unshare) so
that port 25 and the container's 0.0.0.0:2525 collide with nothing on the machine and no
traffic leaves loopback. Every wait is a bounded poll.

The Dockerfile check (no docker/podman on the build machines) replays the runtime stage
into a directory: the runtime packages and their dependencies as installed on this
Debian 12 machine, the user and directories its RUN line makes, the files it COPYs, then
runs ENTRYPOINT+CMD there with chroot as the USER, in its own network namespace, checks
HEALTHCHECK and STOPSIGNAL. See docker/README.md for what this proves and what it does not.
"""
from __future__ import annotations

import ctypes
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import relaytest
from relaytest import REPO, ctl_bin, relay_bin, render_toml, swaks_queue_id, wait_until

RUN_USER = "secmx"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="deployment tests need root")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def run_user() -> pwd.struct_passwd:
    """The system account the relay drops to (created like the operator guide says)."""
    try:
        return pwd.getpwnam(RUN_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir",
                        "/var/lib/secmx-relay", "--shell", "/usr/sbin/nologin", RUN_USER],
                       check=True, capture_output=True, timeout=30)
        return pwd.getpwnam(RUN_USER)


@pytest.fixture
def open_dir():
    """A scratch directory every user may traverse (pytest's tmp_path is root-only 0700,
    which the dropped relay could not enter)."""
    d = Path(tempfile.mkdtemp(prefix="secmx-deploy-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


class NetNs:
    """A private network namespace with loopback up, held open by a sleeping process."""

    def __init__(self):
        self.holder = subprocess.Popen(
            ["unshare", "--net", "--", "sh", "-c", "ip link set lo up && exec sleep 600"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.path = f"/proc/{self.holder.pid}/ns/net"
        wait_until(lambda: self._ready(), 10, "network namespace with loopback up")

    def _ready(self) -> bool:
        if self.holder.poll() is not None:
            raise AssertionError("unshare --net failed: "
                                 + self.holder.stderr.read().decode(errors="replace"))
        r = subprocess.run(["nsenter", f"--net={self.path}", "ip", "-o", "addr", "show", "lo"],
                           capture_output=True, text=True, timeout=10)
        return "127.0.0.1/8" in r.stdout

    def cmd(self, *args) -> list[str]:
        return ["nsenter", f"--net={self.path}", *args]

    def run(self, *args, timeout=60) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(*args), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def close(self):
        if self.holder.poll() is None:
            self.holder.kill()
        self.holder.wait(timeout=10)


@pytest.fixture
def netns():
    ns = NetNs()
    yield ns
    ns.close()


class Proc:
    """A relay process we started some other way than relaytest.Relay (as root, in a
    namespace, in a chroot); its log goes to a file."""

    def __init__(self, argv: list[str], log_path: Path, **popen):
        self.log_path = log_path
        self._start = log_path.stat().st_size if log_path.exists() else 0
        with open(log_path, "ab") as logf:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, **popen)

    def log(self) -> str:
        try:
            return self.log_path.read_bytes()[self._start:].decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, text: str, timeout: float = 20):
        def seen():
            if text in self.log():
                return True
            if self.proc.poll() is not None:
                raise AssertionError(f"relay exited with {self.proc.returncode} before "
                                     f"logging {text!r}:\n{self.log()}")
            return False
        wait_until(seen, timeout, f"relay log line {text!r}")

    def stop(self, sig=signal.SIGTERM, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"relay did not exit within {timeout}s of {sig!r}:\n"
                                 + self.log())


def status_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def proc_status(pid: int) -> dict[str, str]:
    return status_file(Path(f"/proc/{pid}/status"))


def ids_of(field: str) -> list[int]:
    return [int(x) for x in field.split()]


def swaks_in(ns: NetNs, port: int, *args) -> subprocess.CompletedProcess:
    return ns.run("swaks", "--server", "127.0.0.1", "--port", str(port), "--helo",
                  "exchange.agency.test", "--timeout", "20", *args)


def dump(config: Path) -> list[dict]:
    return relaytest.queue_dump(config, with_bodies=False)


def assert_queue_private(queue: Path, uid: int, gid: int):
    st = queue.stat()
    assert stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode)
    assert (st.st_uid, st.st_gid) == (uid, gid)
    files = sorted(queue.iterdir())
    # The queue and, beside it, the MTA-STS policy cache (queue/sts_store.hpp).
    assert [f.name for f in files] == ["data.mdb", "lock.mdb", "mta-sts.mdb",
                                       "mta-sts.mdb-lock"], files
    for f in files:
        fs = f.lstat()
        assert stat.S_ISREG(fs.st_mode), f
        assert stat.S_IMODE(fs.st_mode) == 0o600, f"{f}: {oct(fs.st_mode)}"
        assert (fs.st_uid, fs.st_gid) == (uid, gid), f"{f} owned by {fs.st_uid}:{fs.st_gid}"


# --------------------------------------------------------------------------- (a) privileges


def _root_config(d: Path, user: str | None, listen: str) -> Path:
    token = d / "admin.token"
    token.write_text("deploy-test-token\n")
    cfg = {"hostname": relaytest.HOSTNAME}
    if user:
        cfg["user"] = user
    cfg.update({
        "smtp": {"listen": [listen], "relay_networks": ["127.0.0.0/8"]},
        "queue": {"path": str(d / "lib" / "queue")},
        # Onward delivery stays deferred (no resolver answers inside the namespace), so
        # the queue keeps what the test sends, and no query leaves loopback.
        "dns": {"servers": ["127.0.0.1:1"]},
        "admin": {"listen": "127.0.0.1:8025", "token_file": str(token)},
        "log": {"level": "info"},
    })
    path = d / "relay.toml"
    path.write_text(render_toml(cfg))
    return path


def test_started_as_root_binds_port_25_then_runs_as_its_user(run_user, open_dir, netns):
    uid, gid = run_user.pw_uid, run_user.pw_gid
    config = _root_config(open_dir, RUN_USER, "127.0.0.1:25")
    queue = open_dir / "lib" / "queue"
    log = open_dir / "relay.log"

    relay = Proc(netns.cmd(relay_bin(), "--config", str(config)), log, cwd=open_dir)
    try:
        relay.wait_log("listening on 127.0.0.1:25")
        relay.wait_log("secmx-relay started")
        # nsenter execs the relay itself: this pid is the relay.
        assert os.readlink(f"/proc/{relay.proc.pid}/exe") == os.path.realpath(relay_bin())
        # Every thread (main loop and queue writer) runs as the user with no capability.
        for task in Path(f"/proc/{relay.proc.pid}/task").iterdir():
            st = status_file(task / "status")
            assert ids_of(st["Uid"]) == [uid] * 4, (task.name, st["Uid"])
            assert ids_of(st["Gid"]) == [gid] * 4, (task.name, st["Gid"])
            assert 0 not in ids_of(st["Groups"]), st["Groups"]
            for cap in ("CapEff", "CapPrm", "CapAmb"):
                assert int(st[cap], 16) == 0, (task.name, cap, st[cap])
        assert f"running as user={RUN_USER} uid={uid}" in relay.log()

        # The listener on the privileged port is the relay's.
        ss = netns.run("ss", "-Hltnp", "sport", "= :25")
        assert "127.0.0.1:25" in ss.stdout and f"pid={relay.proc.pid}," in ss.stdout, ss.stdout

        assert_queue_private(queue, uid, gid)
        r = swaks_in(netns, 25, "--from", "alice@agency.test", "--to", "bob@remote.test")
        assert r.returncode == 0, r.stdout + r.stderr
        qid = swaks_queue_id(r.stdout)
        assert relay.stop() == 0
    finally:
        relay.stop()

    msgs = {m["id"]: m for m in dump(config)}
    assert qid in msgs and msgs[qid]["sender"] == "alice@agency.test"
    assert_queue_private(queue, uid, gid)  # the root --queue-dump left no root-owned file

    # A restart (as root again) finds the message and still accepts mail.
    relay = Proc(netns.cmd(relay_bin(), "--config", str(config)), log, cwd=open_dir)
    try:
        relay.wait_log("secmx-relay started")
        assert "queue" in relay.log() and "1 messages" in relay.log(), relay.log()
        r = swaks_in(netns, 25, "--from", "carol@agency.test", "--to", "dave@remote.test")
        assert r.returncode == 0, r.stdout + r.stderr
        qid2 = swaks_queue_id(r.stdout)
        assert relay.stop() == 0
    finally:
        relay.stop()
    ids = [m["id"] for m in dump(config)]
    assert qid in ids and qid2 in ids
    assert_queue_private(queue, uid, gid)


def test_queue_left_by_a_root_run_is_handed_to_the_user(run_user, open_dir, netns):
    """A queue once opened as root (no user set) is taken over, files 0600, on the next
    start with user set."""
    uid, gid = run_user.pw_uid, run_user.pw_gid
    as_root = _root_config(open_dir, None, "127.0.0.1:2525")
    queue = open_dir / "lib" / "queue"
    relay = Proc(netns.cmd(relay_bin(), "--config", str(as_root)), open_dir / "root.log")
    try:
        relay.wait_log("secmx-relay started")
    finally:
        assert relay.stop() == 0
    os.chmod(queue / "data.mdb", 0o644)
    assert queue.stat().st_uid == 0
    assert stat.S_IMODE((open_dir / "lib").stat().st_mode) == 0o700  # made by the root run

    # The parent the root run made is closed to the user: a clear refusal, not a crash.
    config = _root_config(open_dir, RUN_USER, "127.0.0.1:25")
    r = subprocess.run(netns.cmd(relay_bin(), "--config", str(config)), capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert f"queue directory {queue} is not usable by user {RUN_USER}" in r.stdout + r.stderr
    os.chmod(open_dir / "lib", 0o755)  # what the operator does about it

    relay = Proc(netns.cmd(relay_bin(), "--config", str(config)), open_dir / "user.log")
    try:
        relay.wait_log("secmx-relay started")
        assert_queue_private(queue, uid, gid)
        r = swaks_in(netns, 25, "--to", "bob@remote.test")
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        assert relay.stop() == 0


def test_token_made_at_a_root_start_belongs_to_the_run_user(run_user, open_dir, netns):
    """No token yet: the relay, started as root with user set, makes one before it drops
    its privileges, gives it to the user (0600), and then reads it as the user."""
    config = _root_config(open_dir, RUN_USER, "127.0.0.1:25")
    token = open_dir / "admin.token"
    token.unlink()
    relay = Proc(netns.cmd(relay_bin(), "--config", str(config)), open_dir / "relay.log",
                 cwd="/")
    try:
        relay.wait_log("secmx-relay started")
        st = token.stat()
        assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        assert (st.st_uid, st.st_gid) == (run_user.pw_uid, run_user.pw_gid)
        assert f"event=admin-token-created file={token} mode=0600" in relay.log()
        assert token.read_text().strip() not in relay.log()
        # The API took it (as the user): secmxctl authenticates with the same file.
        def ctl():
            r = netns.run(relaytest.ctl_bin(), "--config", str(config), "stats")
            return None if "cannot reach" in r.stderr else r
        r = wait_until(ctl, 10, "the admin API to answer secmxctl")
        assert r.returncode == 0, r.stdout + r.stderr
        assert relay.stop() == 0
    finally:
        relay.stop()


def test_unknown_user_is_a_check_error_with_its_line(tmp_path):
    cfg = tmp_path / "bad-user.toml"
    cfg.write_text('hostname = "relay.test.example"\n\nuser = "no-such-user-secmx"\n'
                   'group = "no-such-group-secmx"\n')
    r = subprocess.run([relay_bin(), "--config", str(cfg), "--check"], capture_output=True,
                       text=True, timeout=30)
    out = (r.stdout + r.stderr).splitlines()
    assert r.returncode == 1, out
    assert f"{cfg}:3: user: unknown user 'no-such-user-secmx'" in out, out
    assert f"{cfg}:4: group: unknown group 'no-such-group-secmx'" in out, out


def test_user_set_but_not_started_as_root_is_refused(run_user, open_dir):
    config = _root_config(open_dir, "root", "127.0.0.1:2525")
    os.chmod(config, 0o644)
    (open_dir / "admin.token").chmod(0o644)
    r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        relay_bin(), "--config", str(config)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'user = "root" needs starting as root' in r.stdout + r.stderr
    assert not (open_dir / "lib" / "queue").exists()


# --------------------------------------------------------------------------- sample configs


def _sample_configs() -> list[Path]:
    return sorted((REPO / "etc").rglob("*.toml")) + [REPO / "docker" / "secmx-relay.toml"]


@pytest.mark.parametrize("path", _sample_configs(), ids=lambda p: str(p.relative_to(REPO)))
def test_sample_config_passes_check(path, tmp_path):
    # The samples name certificate files the operator provides: stand them up beside a copy
    # of the sample at its place in a scratch checkout, since relative paths are taken
    # against the config file's directory (absolute paths must be the documented ones).
    text = path.read_text()
    copy = tmp_path / path.relative_to(REPO)
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(text)
    for key in ("tls_cert", "tls_key"):
        m = re.search(rf'^\s*{key}\s*=\s*"([^"]+)"', text, re.M)
        if m and not m.group(1).startswith("/"):
            f = copy.parent / m.group(1)
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text("placeholder")
    # The ECDSA pair is checked at load (EC key, matching): a real one, made as the run
    # script makes it.
    ec = [re.search(rf'^\s*{key}\s*=\s*"([^"]+)"', text, re.M)
          for key in ("tls_ecdsa_cert", "tls_ecdsa_key")]
    if all(ec) and not ec[0].group(1).startswith("/"):
        subprocess.run([str(REPO / "scripts" / "make-dev-cert.sh"), "--ecdsa",
                        str(copy.parent / ec[0].group(1)), str(copy.parent / ec[1].group(1)),
                        "relay.test"], check=True, capture_output=True, timeout=60)
    # From "/": the working directory plays no part.
    r = subprocess.run([relay_bin(), "--config", str(copy), "--check"], capture_output=True,
                       text=True, timeout=30, cwd="/")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{copy}: OK" in r.stdout


# --------------------------------------------------------------------------- (b) Dockerfile


class Dockerfile:
    """The instructions of docker/Dockerfile, per stage; continuation lines joined."""

    def __init__(self, path: Path):
        self.stages: list[dict] = []
        joined, cur = [], ""
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not cur and (not line or line.startswith("#")):
                continue
            if line.startswith("#"):
                continue  # a comment inside a continued instruction
            if line.endswith("\\"):
                cur += line[:-1] + " "
                continue
            joined.append(cur + line)
            cur = ""
        assert not cur, "Dockerfile ends inside a continued line"
        for ins in joined:
            op, _, arg = ins.partition(" ")
            op = op.upper()
            if op == "FROM":
                m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", arg.strip(), re.I)
                assert m, ins
                self.stages.append({"from": m.group(1), "name": m.group(2), "ins": []})
            else:
                assert self.stages, f"{op} before FROM"
                self.stages[-1]["ins"].append((op, arg.strip()))

    def stage(self, name: str) -> dict:
        return next(s for s in self.stages if s["name"] == name)

    @staticmethod
    def all(stage: dict, op: str) -> list[str]:
        return [a for o, a in stage["ins"] if o == op]

    @staticmethod
    def one(stage: dict, op: str) -> str:
        found = Dockerfile.all(stage, op)
        assert len(found) == 1, f"expected one {op} in stage {stage['name']}, got {found}"
        return found[0]


def run_commands(run: str) -> list[list[str]]:
    return [shlex.split(part) for part in run.split("&&") if part.strip()]


def apt_packages(stage: dict) -> list[str]:
    pkgs = []
    for run in Dockerfile.all(stage, "RUN"):
        for argv in run_commands(run):
            while argv and "=" in argv[0]:  # VAR=value prefixes
                argv = argv[1:]
            if argv[:2] == ["apt-get", "install"]:
                pkgs += [a for a in argv[2:] if not a.startswith("-")]
    return pkgs


def install_deps_build_packages() -> list[str]:
    text = (REPO / "scripts" / "install-deps.sh").read_text()
    m = re.search(r"build_pkgs=\((.*?)\)", text, re.S)
    assert m, "build_pkgs not found in scripts/install-deps.sh"
    return m.group(1).split()


class DpkgDb:
    """The installed packages of this machine, read once: status, Essential, Provides and
    dependencies, for resolving what apt would install on a Debian 12 base image."""

    def __init__(self):
        fmt = "${Package}\t${db:Status-Abbrev}\t${Essential}\t${Provides}\t${Pre-Depends}, ${Depends}\n"
        out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True,
                             timeout=120, check=True).stdout
        self.deps: dict[str, str] = {}
        self.essential: set[str] = set()
        self.providers: dict[str, str] = {}
        for line in out.splitlines():
            pkg, status, essential, provides, deps = line.split("\t")
            if not status.startswith("ii"):
                continue
            pkg = pkg.split(":")[0]
            self.deps[pkg] = deps
            if essential == "yes":
                self.essential.add(pkg)
            for v in provides.split(","):
                v = re.sub(r"\s*\(.*?\)", "", v).strip()
                if v:
                    self.providers.setdefault(v, pkg)

    def provider_of(self, name: str) -> str | None:
        """An installed package that is `name` or Provides it (virtual packages: awk)."""
        return name if name in self.deps else self.providers.get(name)

    def closure(self, pkgs) -> set[str]:
        """Packages reachable through Pre-Depends/Depends, first installed alternative."""
        seen: set[str] = set()
        todo = list(pkgs)
        while todo:
            p = todo.pop()
            if p in seen:
                continue
            assert p in self.deps, f"{p} is not installed on this machine (cannot replay it)"
            seen.add(p)
            for clause in self.deps[p].split(","):
                alts = [re.sub(r"\s*\(.*?\)|:any", "", a).strip() for a in clause.split("|")]
                alts = [a for a in alts if a]
                if not alts:
                    continue
                pick = next((q for q in map(self.provider_of, alts) if q), None)
                assert pick, f"no installed alternative for {clause.strip()} (dependency of {p})"
                todo.append(pick)
        return seen


def package_of(path: str) -> str:
    for candidate in (path, re.sub(r"^/usr/lib/", "/lib/", path)):
        r = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True,
                           timeout=30)
        if r.returncode == 0:
            return r.stdout.split(":")[0].split(",")[0].strip()
    raise AssertionError(f"no package owns {path}")


def shared_library_packages(binary: str) -> set[str]:
    r = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    pkgs = set()
    for line in r.stdout.splitlines():
        m = re.search(r"=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            pkgs.add(package_of(os.path.realpath(m.group(1))))
    return pkgs


# Runtime libraries of the sanitizer build the e2e suite runs with; not part of the image.
SANITIZER_PACKAGES = {"libasan8", "libubsan1", "libasan6", "libubsan"}


def replay_root(root: Path, packages: set[str]):
    """The files of `packages` under root, on a merged-/usr layout like Debian 12's, with
    the device nodes and /proc mount point an engine provides."""
    for d in ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc", "tmp", "var/lib", "proc",
              "dev"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for link in ("bin", "sbin", "lib", "lib64"):
        (root / link).symlink_to(f"usr/{link}")
    os.chmod(root / "tmp", 0o1777)
    for name, minor in (("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)):
        os.mknod(root / "dev" / name, stat.S_IFCHR | 0o666, os.makedev(1, minor))
        os.chmod(root / "dev" / name, 0o666)
    for p in sorted(packages):
        files = subprocess.run(["dpkg-query", "-L", p], capture_output=True, text=True,
                               timeout=30).stdout.splitlines()
        for f in files:
            if not f.startswith("/") or f.startswith(("/usr/share/doc", "/usr/share/man",
                                                      "/usr/share/locale", "/usr/share/info")):
                continue
            src = Path(f)
            dst = root / f.lstrip("/")
            if src.is_symlink():
                dst.parent.mkdir(parents=True, exist_ok=True)
                if not dst.exists() and not dst.is_symlink():
                    dst.symlink_to(os.readlink(src))
            elif src.is_dir():
                dst.mkdir(parents=True, exist_ok=True)
            elif src.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                if not dst.exists():
                    shutil.copy2(src, dst)


def replay_run(root: Path, argv: list[str], accounts: dict):
    """One command of the runtime stage's RUN line, done to the tree under root. Only the
    forms the Dockerfile uses are known: anything else fails, so that a change to the
    Dockerfile cannot go unchecked."""
    while argv and "=" in argv[0]:
        argv = argv[1:]
    cmd = argv[0]
    if argv[:2] in (["apt-get", "update"], ["apt-get", "install"]) or cmd == "rm":
        return  # packages: replayed from the host's files; rm: apt lists only
    def opt(name):
        return argv[argv.index(name) + 1] if name in argv else None
    if cmd == "groupadd":
        accounts["groups"][argv[-1]] = int(opt("--gid"))
    elif cmd == "useradd":
        g = opt("--gid")
        gid = accounts["groups"][g] if g in accounts["groups"] else int(g)
        accounts["users"][argv[-1]] = (int(opt("--uid")), gid, opt("--home-dir"),
                                       opt("--shell"))
    elif cmd == "install" and "-d" in argv:
        owner, group, mode = opt("-o"), opt("-g"), int(opt("-m"), 8)
        uid = 0 if owner == "root" else accounts["users"][owner][0]
        gid = 0 if group == "root" else accounts["groups"][group]
        skip = {"-o", "-g", "-m"}
        args, i = [], 1
        while i < len(argv):
            if argv[i] in skip:
                i += 2
                continue
            if not argv[i].startswith("-"):
                args.append(argv[i])
            i += 1
        for d in args:
            p = root / d.lstrip("/")
            p.mkdir(parents=True, exist_ok=True)
            os.chown(p, uid, gid)
            os.chmod(p, mode)
    else:
        raise AssertionError(f"test_deploy cannot replay this RUN command: {argv}")
    passwd = ["root:x:0:0:root:/root:/bin/bash"] + [
        f"{u}:x:{v[0]}:{v[1]}::{v[2]}:{v[3]}" for u, v in accounts["users"].items()]
    group = ["root:x:0:"] + [f"{g}:x:{gid}:" for g, gid in accounts["groups"].items()]
    (root / "etc" / "passwd").write_text("\n".join(passwd) + "\n")
    (root / "etc" / "group").write_text("\n".join(group) + "\n")


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_void_p]
CLONE_NEWNET, CLONE_NEWNS = 0x40000000, 0x00020000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 0x4000, 1 << 18


def in_container(root: Path, ns: NetNs, uid: int, gid: int, workdir: str):
    """preexec_fn: the container's view - its network namespace, its root with /proc
    (a private mount namespace, gone with the process), its user."""
    def check(rc, what):
        if rc != 0:
            raise OSError(ctypes.get_errno(), what)

    def enter():
        fd = os.open(ns.path, os.O_RDONLY)
        check(_libc.setns(fd, CLONE_NEWNET), "setns")
        os.close(fd)
        check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate")
        check(_libc.mount(b"proc", str(root / "proc").encode(), b"proc",
                          MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount proc")
        os.chroot(root)
        os.chdir(workdir)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return enter


def test_dockerfile_runtime_stage_replayed_without_a_container_engine(tmp_path, netns):
    df = Dockerfile(REPO / "docker" / "Dockerfile")

    # Shape: two stages on Debian 12; the runtime one has no compiler or -dev package.
    assert len(df.stages) == 2, [s["name"] for s in df.stages]
    build, runtime = df.stage("build"), df.stages[-1]
    for s in df.stages:
        assert re.fullmatch(r"debian:(12|bookworm)(-slim)?", s["from"]), s["from"]
    runtime_pkgs = apt_packages(runtime)
    assert runtime_pkgs and not [p for p in runtime_pkgs if p.endswith("-dev")
                                 or p in ("build-essential", "cmake", "g++", "gcc")], runtime_pkgs

    # The build stage installs what scripts/install-deps.sh says the build needs (tests
    # and developer tools aside), so the image does not drift from the supported build.
    not_for_image = {"ccache", "libgtest-dev", "libgmock-dev", "openssl", "ca-certificates"}
    missing = set(install_deps_build_packages()) - not_for_image - set(apt_packages(build))
    assert not missing, f"build stage lacks packages install-deps.sh builds with: {missing}"

    # ... and copies every source directory the top CMakeLists.txt builds (tests aside).
    copied = {a.split()[0].rstrip("/") for a in Dockerfile.all(build, "COPY")}
    subdirs = set(re.findall(r"^add_subdirectory\((\S+?)\)", (REPO / "CMakeLists.txt").read_text(),
                             re.M))
    lacking_src = {d for d in subdirs if not d.startswith("tests/")} - copied
    assert not lacking_src, f"build stage does not COPY {lacking_src}"

    # Runtime libraries: every shared library the relay (and secmxctl, when built) loads
    # comes from the runtime packages or what apt pulls in with them.
    db = DpkgDb()
    closure = db.closure(runtime_pkgs)
    binaries = {"/usr/local/sbin/secmx-relay": relay_bin()}
    ctl = Path(relay_bin()).resolve().parents[1] / "admin" / "secmxctl"
    if ctl.exists():
        binaries["/usr/local/bin/secmxctl"] = str(ctl)
    extra = set()
    for image_path, host_path in binaries.items():
        needed = shared_library_packages(host_path)
        extra |= needed & SANITIZER_PACKAGES
        lacking = needed - SANITIZER_PACKAGES - closure
        assert not lacking, f"{image_path} needs {lacking}, not in the runtime stage"

    # User, volume, ports, health check, entry point.
    user = df.one(runtime, "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, f"USER must be a numeric non-root uid: {user}"
    uid, gid = int(uid), int(gid or uid)
    volume = df.one(runtime, "VOLUME")
    assert "/var/lib/secmx-relay" in volume
    exposed = {int(p.split("/")[0]) for p in df.one(runtime, "EXPOSE").split()}
    container_cfg = (REPO / "docker" / "secmx-relay.toml").read_text()
    listen_ports = {int(p) for p in re.findall(r'"[^"]*:(\d+)"', re.search(
        r"^listen\s*=\s*\[(.*?)\]", container_cfg, re.M).group(1))}
    assert listen_ports == exposed, (listen_ports, exposed)
    assert 'path = "/var/lib/secmx-relay/queue"' in container_cfg
    health = df.one(runtime, "HEALTHCHECK")
    health_argv = eval(health[health.index("CMD") + 3:].strip())  # exec form: a JSON list
    assert isinstance(health_argv, list)
    assert df.one(runtime, "STOPSIGNAL") == "SIGTERM"
    argv = eval(df.one(runtime, "ENTRYPOINT")) + eval(df.one(runtime, "CMD"))
    assert argv[-2:] == ["--config", "/etc/secmx-relay/secmx-relay.toml"], argv
    workdir = df.one(runtime, "WORKDIR")

    # Replay the runtime stage into a directory.
    root = tmp_path / "rootfs"
    root.mkdir()
    os.chmod(tmp_path, 0o755)
    # debian:12-slim is the Essential packages (coreutils, dash, ...) and what they need.
    replay_root(root, closure | extra | db.closure(db.essential))
    accounts = {"users": {}, "groups": {}}
    for run in Dockerfile.all(runtime, "RUN"):
        for cmd in run_commands(run):
            replay_run(root, cmd, accounts)
    assert (uid, gid) in {(u[0], u[1]) for u in accounts["users"].values()}, \
        f"USER {uid}:{gid} is not the account the RUN line creates: {accounts}"
    for op, arg in runtime["ins"]:
        if op != "COPY":
            continue
        parts = arg.split()
        if parts[0].startswith("--from="):
            assert parts[0] == "--from=build" and parts[1:] == ["/out/usr/local/", "/usr/local/"]
            # Stand-in for the build stage's `DESTDIR=/out cmake --install`: the binaries
            # this test run was given, at the paths the install rules put them.
            assert "DESTDIR=/out cmake --install build --prefix /usr/local" in \
                " ".join(Dockerfile.all(build, "RUN"))
            for image_path, host_path in binaries.items():
                dst = root / image_path.lstrip("/")
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(host_path, dst)
        else:
            src, dst = parts
            target = root / dst.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / src, target)
    queue = root / "var/lib/secmx-relay/queue"
    assert queue.is_dir() and queue.stat().st_uid == uid

    # Run ENTRYPOINT + CMD as USER in WORKDIR, chrooted, in its own network namespace.
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": "/var/lib/secmx-relay"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):  # a sanitizer build keeps the suite's options
        if k in os.environ:
            env[k] = os.environ[k]
    port = sorted(exposed)[0]
    relay = Proc(argv, tmp_path / "container.log", env=env,
                 preexec_fn=in_container(root, netns, uid, gid, workdir))
    def health_rc():
        return subprocess.run(health_argv, env=env, capture_output=True, timeout=30,
                              preexec_fn=in_container(root, netns, uid, gid, workdir)).returncode
    try:
        relay.wait_log(f"listening on 0.0.0.0:{port}")
        assert ids_of(proc_status(relay.proc.pid)["Uid"]) == [uid] * 4
        # /healthz is served once the admin API is up, a moment after the SMTP listener
        # (the HEALTHCHECK's start period covers that).
        wait_until(lambda: health_rc() == 0, 10, "the HEALTHCHECK to pass against the relay")
        # The admin token, made at the first start on the volume, private to the user.
        token = root / "var/lib/secmx-relay/admin.token"
        tst = token.stat()
        assert stat.S_IMODE(tst.st_mode) == 0o600 and (tst.st_uid, tst.st_gid) == (uid, gid)
        r = swaks_in(netns, port, "--from", "app@agency.test", "--to", "x@remote.test")
        assert r.returncode == 0, r.stdout + r.stderr
        swaks_queue_id(r.stdout)
        assert_queue_private(queue, uid, gid)
        assert relay.stop(signal.SIGTERM, timeout=10) == 0, relay.log()
        assert "stopped:" in relay.log()
    finally:
        relay.stop(signal.SIGKILL)
    assert health_rc() != 0, "HEALTHCHECK passes with the relay stopped"


# --------------------------------------------------------------------------- (c) Postfix


MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixInstance:
    """A private Postfix (own config, queue and data directories) whose relayhost is the
    relay: the internal mail server of the operator guide."""

    def __init__(self, d: Path, relayhost: str, tls_level: str):
        self.dir = d
        self.conf = d / "etc"
        self.queue = d / "queue"
        self.log = d / "maillog"
        for p in (self.conf, self.queue, d / "data"):
            p.mkdir(parents=True)
        os.chmod(d, 0o755)
        postfix = pwd.getpwnam("postfix")
        os.chown(d / "data", postfix.pw_uid, postfix.pw_gid)
        (self.conf / "master.cf").write_text(MASTER_CF)
        (self.conf / "main.cf").write_text(f"""\
compatibility_level = 3.6
myhostname = exchange.agency.test
mydomain = agency.test
myorigin = $mydomain
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = {relayhost}
smtp_tls_security_level = {tls_level}
smtp_tls_loglevel = 1
queue_directory = {self.queue}
data_directory = {d / 'data'}
maillog_file = {self.log}
maillog_file_prefixes = {d}
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtputf8_enable = no
""")
        self.postfix("start")

    def postfix(self, *args):
        r = subprocess.run(["postfix", "-c", str(self.conf), *args], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, f"postfix {args}: {r.stdout}{r.stderr}\n{self.maillog()}"

    def sendmail(self, sender: str, rcpt: str, message: str):
        r = subprocess.run(["sendmail", "-C", str(self.conf), "-f", sender, "-i", rcpt],
                           input=message, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr

    def queued(self) -> list[str]:
        files = []
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            for f in (self.queue / sub).rglob("*"):
                if f.is_file():
                    files.append(str(f.relative_to(self.queue)))
        return files

    def maillog(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        subprocess.run(["postfix", "-c", str(self.conf), "stop"], capture_output=True,
                       timeout=60)


def wait_listening(port: int, timeout: float = 10):
    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False
    wait_until(up, timeout, f"a listener on 127.0.0.1:{port}")


def check_onward_delivery(relay, sink_port: int, sink_dir: Path, queue_id: str, subject: str):
    """The relay's onward delivery: its [[route]] for the recipient domain points at
    127.0.0.1:sink_port, where nothing listened so far (the first attempt was deferred).
    Start Postfix's smtp-sink there; the retry must deliver the message, which then
    leaves the relay's queue and arrives at the sink with its subject intact."""
    # Started as root, smtp-sink must be told whom to run as (-u); it writes its dumps as
    # that user.
    sink = subprocess.Popen(["smtp-sink", "-u", "postfix", "-d", f"{sink_dir}/%M.",
                             f"127.0.0.1:{sink_port}", "10"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_listening(sink_port)
        except AssertionError:
            sink.kill()
            raise AssertionError("smtp-sink did not start: "
                                 + sink.communicate(timeout=10)[1].decode(errors="replace"))
        relay.wait_log(rf"{queue_id}: to=<bob@remote\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]"
                       rf":{sink_port},.*status=sent", timeout=60)
        wait_until(lambda: queue_id not in {m["id"] for m in relay.dump(with_bodies=False)},
                   30, "the delivered message to leave the relay's queue")
        got = wait_until(lambda: [p for p in sink_dir.iterdir()
                                  if subject.encode() in p.read_bytes()], 30,
                         "the message at the smtp-sink")
        assert len(got) == 1
        assert b"alice@agency.test" in got[0].read_bytes()
    finally:
        sink.terminate()
        sink.wait(timeout=10)


def test_postfix_relayhost_delivers_through_the_relay(make_relay, open_dir):
    sink_dir = open_dir / "sink"
    sink_dir.mkdir()
    postfix_user = pwd.getpwnam("postfix")
    os.chown(sink_dir, postfix_user.pw_uid, postfix_user.pw_gid)
    sink_port = relaytest.free_port()  # nothing listens there until the hook starts the sink
    relay = make_relay(tls=True, start=False, overrides={"delivery": {"pause": False, "retry": ["1s"]}})
    with open(relay.config_path, "a") as f:
        f.write(f'\n[[route]]\ndomain = "remote.test"\nhost = "[127.0.0.1]:{sink_port}"\n')
    relay.start()
    # Postfix's daemons run as user postfix: its directories must be reachable by it.
    pf = PostfixInstance(open_dir / "postfix", f"[127.0.0.1]:{relay.port}", "encrypt")
    subject = "quarterly report via postfix"
    try:
        pf.sendmail("alice@agency.test", "bob@remote.test",
                    f"From: Alice <alice@agency.test>\nTo: Bob <bob@remote.test>\n"
                    f"Subject: {subject}\n\nThe figures.\n")
        def in_relay():
            return [m for m in relay.dump() if subject in m.get("body", "")]
        try:
            msgs = wait_until(in_relay, 60, "the message in the relay's queue")
        except AssertionError:
            raise AssertionError("not relayed; Postfix log:\n" + pf.maillog()[-4000:])
        assert len(msgs) == 1
        msg = msgs[0]
        assert msg["sender"] == "alice@agency.test"
        assert [r["address"] for r in msg["recipients"]] == ["bob@remote.test"]
        # smtp_tls_security_level = encrypt: Postfix used STARTTLS, and the relay saw it.
        assert msg["client"]["tls_protocol"].startswith("TLSv1."), msg
        assert msg["client"]["helo"] == "exchange.agency.test"
        wait_until(lambda: not pf.queued(), 30, "Postfix's queue to empty")
        m = re.search(r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d.*status=sent \(250 .*queued as "
                      r"([0-9A-F]{16})\)" % relay.port, pf.maillog())
        assert m and m.group(1) == msg["id"], pf.maillog()[-4000:]
        check_onward_delivery(relay, sink_port, sink_dir, msg["id"], subject)
    finally:
        pf.stop()


# --------------------------------------------------------------------------- systemd


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_systemd_unit_is_valid_and_hardened(tmp_path):
    text = (REPO / "etc" / "secmx-relay.service").read_text()
    # systemd-analyze insists that ExecStart names an executable: point it at this build.
    unit = tmp_path / "secmx-relay.service"
    unit.write_text(text.replace("/usr/local/sbin/secmx-relay", os.path.realpath(relay_bin()))
                    .replace("/usr/local/bin/secmxctl", os.path.realpath(ctl_bin())))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr

    settings = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, _, v = line.partition("=")
            settings.setdefault(k.strip(), []).append(v.strip())
    assert settings["User"] == ["secmx"] and settings["NoNewPrivileges"] == ["yes"]
    assert settings["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]
    assert settings["ProtectSystem"] == ["strict"]
    assert settings["ReadWritePaths"] == ["/var/lib/secmx-relay"]
    assert settings["KillSignal"] == ["SIGTERM"]
    config = settings["ExecStart"][0].split("--config", 1)[1].strip()
    assert config == "/etc/secmx-relay/secmx-relay.toml"
    # `systemctl reload` fails when the relay refuses the file: it asks and waits.
    assert settings["ExecReload"] == [f"/usr/local/bin/secmxctl --config {config} reload"]
