"""dns_server.py - a real DNS server (unbound) for the end-to-end suite, loopback only.

Tests describe a few records, start the server and point the relay's `[dns] servers` at
`server.address`. The server is Debian's `unbound`, run in the foreground with its own
config (`unbound -d -c FILE`) under a work directory; the system's unbound service and
its config are never used. Every zone is answered authoritatively from `local-data`;
nothing is ever asked of the Internet: the root zone "." is itself a static local zone,
so an unknown name anywhere gets NXDOMAIN and unbound has nowhere to recurse to.

    from dns_server import DnsServer

    dns = DnsServer(tmp_path / "dns")
    dns.add_srv("d.test", 10, 60, 2525, "sor.d.test")   # _secmx._tcp.d.test SRV
    dns.add_a("sor.d.test", "127.0.0.10")
    dns.add_mx("d.test", 51966, "cafe.d.test")          # SecMX by MX preference
    dns.add_mx("d.test", 10, "mx1.d.test")
    dns.add_aaaa("mx1.d.test", "::1")
    dns.add_mx("nomail.test", 0, ".")                   # null MX (RFC 7505)
    dns.servfail_zone("broken.test")                    # every name below: SERVFAIL
    dns.start()                                         # waits until it answers
    cfg = f'[dns]\\nservers = ["{dns.address}"]\\n'     # "127.0.0.1:PORT"
    ...
    assert dns.count_queries("d.test", "MX") == 1       # from unbound's query log
    dns.stop()                                          # also done by the fixture

Records are fixed at start(); to change them, add or remove_records() and restart()
(same port).
Names are absolute without the trailing dot ("mx1.d.test"); a host of "." means the root
(null MX, or an SRV target of "." = "no such service"). The zone of each name is its top
label ("test", "example"); each zone gets an SOA whose MINIMUM (`negative_ttl`) is the
lifetime of NXDOMAIN/NODATA answers (RFC 2308).

Temporary failures: servfail_zone(zone) makes every name at or below `zone` answer
SERVFAIL, quickly. unbound treats the zone as a stub zone whose only server is a second
listener of the same unbound process that refuses every query (`interface-action:
refuse`); a refusing upstream is a failed upstream, so unbound answers SERVFAIL at once
instead of waiting out timeouts. A zone can be as narrow as "_secmx._tcp.d.test" or
"secmx.d.test", so that only the SecMX lookups of a domain fail.

The query log (`log-queries: yes`) lets a test count what the relay really asked
(count_queries) - e.g. to prove that a second lookup was answered from the relay's cache.
Queries for names in a servfail_zone are counted more than once (unbound logs its own
attempts at the refusing listener too).
Every wait is bounded; failures raise AssertionError with unbound's log attached.
"""
from __future__ import annotations

import ipaddress
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
_NAME_RE = re.compile(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*"
                      r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")


def unbound_bin() -> str:
    return os.environ.get("SECMX_UNBOUND_BIN") or shutil.which("unbound") or "/usr/sbin/unbound"


def _norm(name: str) -> str:
    """Lower case, no trailing dot; "." (the root) stays "."."""
    if name == ".":
        return "."
    n = name.rstrip(".").lower()
    if not _NAME_RE.match(n):
        raise ValueError(f"not a DNS name: {name!r}")
    return n


def _fqdn(name: str) -> str:
    return "." if name == "." else name + "."


def _free_port(host: str) -> int:
    """A port free for both UDP and TCP on host (DNS listens on both)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(family, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port = u.getsockname()[1]
            with socket.socket(family, socket.SOCK_STREAM) as t:
                try:
                    t.bind((host, port))
                except OSError:
                    continue
            return port
    raise AssertionError(f"no free UDP+TCP port on {host}")


def dns_query(host: str, port: int, name: str, rtype: str, timeout: float = 2.0,
              tcp: bool = False) -> tuple[str, int]:
    """One query (RD set) to host:port; returns (rcode name, answer count).

    A minimal stdlib client so the fixture needs no dig; raises OSError/TimeoutError when
    no reply comes within timeout."""
    qid = random.randrange(0x10000)
    qname = b"".join(bytes([len(label)]) + label.encode("ascii")
                     for label in _norm(name).split(".") if label != "") + b"\0"
    msg = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + \
        struct.pack(">HH", TYPES[rtype.upper()], 1)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if tcp:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(struct.pack(">H", len(msg)) + msg)
            data = b""
            deadline = time.monotonic() + timeout
            while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = s.recv(65535)
                if not chunk:
                    raise OSError("connection closed before the reply")
                data += chunk
            reply = data[2:]
    else:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(msg, (host, port))
            deadline = time.monotonic() + timeout
            while True:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                reply, _ = s.recvfrom(65535)
                if len(reply) >= 12 and struct.unpack(">H", reply[:2])[0] == qid:
                    break
    flags, _, ancount = struct.unpack(">HHH", reply[2:8])
    return RCODES.get(flags & 0xF, str(flags & 0xF)), ancount


class DnsServer:
    """An unbound process serving the records added before start(); see the module doc."""

    def __init__(self, workdir: Path | str, host: str = "127.0.0.1", default_ttl: int = 300,
                 negative_ttl: int = 60):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.default_ttl = default_ttl
        self.negative_ttl = negative_ttl
        self.port = _free_port(host)
        self._refuse_port = _free_port("127.0.0.1")
        self.config_path = self.workdir / "unbound.conf"
        self.log_path = self.workdir / "unbound.log"
        self._records: list[tuple[str, int, str, str]] = []  # name, ttl, type, rdata
        self._zones: set[str] = {"test"}
        self._servfail: list[str] = []
        self.proc: subprocess.Popen | None = None

    # -- records -----------------------------------------------------------------

    def add_record(self, name: str, rtype: str, rdata: str, ttl: int | None = None):
        """Any record in zone-file syntax, e.g. add_record("x.test", "TXT", '"hi"')."""
        n = _norm(name)
        if n == ".":
            raise ValueError("records at the root are not supported")
        if any(c in rdata for c in '\n\\') or rdata.count('"') % 2:
            raise ValueError(f"rdata not supported: {rdata!r}")
        self._records.append((n, self.default_ttl if ttl is None else ttl, rtype.upper(),
                              rdata))
        self._zones.add(n.rsplit(".", 1)[-1])
        return self

    def add_a(self, name: str, ip: str, ttl: int | None = None):
        if ipaddress.ip_address(ip).version != 4:
            raise ValueError(f"not an IPv4 address: {ip}")
        return self.add_record(name, "A", ip, ttl)

    def add_aaaa(self, name: str, ip: str, ttl: int | None = None):
        if ipaddress.ip_address(ip).version != 6:
            raise ValueError(f"not an IPv6 address: {ip}")
        return self.add_record(name, "AAAA", ip, ttl)

    def add_mx(self, domain: str, preference: int, host: str, ttl: int | None = None):
        """host "." is a null MX (RFC 7505: use preference 0)."""
        return self.add_record(domain, "MX", f"{int(preference)} {_fqdn(_norm(host))}", ttl)

    def add_srv(self, domain: str, priority: int, weight: int, port: int, target: str,
                ttl: int | None = None, service: str = "_secmx._tcp"):
        """SRV at `service`.domain (default the SecMX service); target "." = none."""
        return self.add_record(f"{service}.{_norm(domain)}", "SRV",
                               f"{int(priority)} {int(weight)} {int(port)} "
                               f"{_fqdn(_norm(target))}", ttl)

    def add_cname(self, name: str, target: str, ttl: int | None = None):
        return self.add_record(name, "CNAME", _fqdn(_norm(target)), ttl)

    def remove_records(self, name: str, rtype: str | None = None):
        """Drops what add_record() gave `name` (only type `rtype`, if given). unbound reads
        its records at start: a running server changes with restart()."""
        n, t = _norm(name), rtype.upper() if rtype else None
        self._records = [r for r in self._records if r[0] != n or (t and r[2] != t)]
        return self

    def servfail_zone(self, zone: str):
        """Every query for `zone` or a name below it answers SERVFAIL."""
        self._servfail.append(_norm(zone))
        return self

    # -- process -------------------------------------------------------------------

    @property
    def address(self) -> str:
        """For `[dns] servers`: "127.0.0.1:PORT" or "[::1]:PORT"."""
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _config(self) -> str:
        lines = [
            "server:",
            f"  interface: {self.host}@{self.port}",
            f'  directory: "{self.workdir}"',
            '  username: ""',
            '  chroot: ""',
            '  pidfile: ""',
            "  do-daemonize: no",
            "  use-syslog: no",
            f'  logfile: "{self.log_path}"',
            "  log-time-ascii: yes",
            "  verbosity: 1",
            "  log-queries: yes",
            "  num-threads: 1",
            "  so-reuseport: no",
            "  access-control: 127.0.0.0/8 allow",
            "  access-control: ::1/128 allow",
            # No validator: no trust anchor to fetch, no DS lookups.
            '  module-config: "iterator"',
            "  do-not-query-localhost: no",
            '  local-zone: "." static',
        ]
        if self._servfail:
            lines += [f"  interface: 127.0.0.1@{self._refuse_port}",
                      f"  interface-action: 127.0.0.1@{self._refuse_port} refuse"]
        for zone in sorted(self._zones):
            lines.append(f'  local-zone: "{zone}." static')
            lines.append(f'  local-data: "{zone}. {self.default_ttl} IN SOA ns.{zone}. '
                         f'hostmaster.{zone}. 1 3600 600 86400 {self.negative_ttl}"')
        for zone in self._servfail:
            lines.append(f'  local-zone: "{zone}." transparent')
        for name, ttl, rtype, rdata in self._records:
            if '"' in rdata and "'" not in rdata:
                # unbound.conf's own quoting: inside '...' the rdata reaches the zone parser
                # as written, so a quoted TXT string may hold spaces and ";".
                lines.append(f"  local-data: '{name}. {ttl} IN {rtype} {rdata}'")
                continue
            rdata = rdata.replace('"', '\\"')
            lines.append(f'  local-data: "{name}. {ttl} IN {rtype} {rdata}"')
        for zone in self._servfail:
            lines += ["stub-zone:", f'  name: "{zone}."',
                      f"  stub-addr: 127.0.0.1@{self._refuse_port}"]
        lines += ["remote-control:", "  control-enable: no"]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> "DnsServer":
        """Writes the config, starts unbound and waits (bounded) until it answers."""
        assert not self.running(), "unbound already running"
        binary = unbound_bin()
        if not os.access(binary, os.X_OK):
            raise AssertionError(f"{binary} not found: install the Debian package unbound "
                                 "(scripts/install-deps.sh --with-tests)")
        self.config_path.write_text(self._config())
        check = subprocess.run([binary + "-checkconf", str(self.config_path)],
                               capture_output=True, text=True, timeout=30) \
            if os.access(binary + "-checkconf", os.X_OK) else None
        if check is not None and check.returncode != 0:
            raise AssertionError(f"unbound config rejected:\n{check.stdout}{check.stderr}\n"
                                 + self.config_path.read_text())
        out = open(self.workdir / "unbound.out", "ab")
        try:
            self.proc = subprocess.Popen([binary, "-d", "-c", str(self.config_path)],
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.workdir)
        finally:
            out.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"unbound exited with {self.proc.returncode}:\n"
                                     + self.log())
            try:
                rcode, _ = dns_query(self.host, self.port, "test", "SOA", timeout=0.2)
                if rcode == "NOERROR":
                    return self
            except OSError:
                pass
            if time.monotonic() >= deadline:
                self.stop()
                raise AssertionError(f"unbound not answering after {timeout}s:\n" + self.log())

    def stop(self, timeout: float = 10.0):
        """SIGTERM, bounded wait, then SIGKILL. Safe to call twice."""
        if not self.running():
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)

    def restart(self, timeout: float = 10.0) -> "DnsServer":
        """Stops and starts again on the same port, serving the records as they are now."""
        self.stop(timeout)
        return self.start(timeout)

    def __enter__(self) -> "DnsServer":
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- observing ----------------------------------------------------------------

    def query(self, name: str, rtype: str, timeout: float = 2.0) -> tuple[str, int]:
        """(rcode, answer count) of a query sent to this server."""
        return dns_query(self.host, self.port, name, rtype, timeout)

    def log(self) -> str:
        parts = []
        for p in (self.workdir / "unbound.out", self.log_path):
            if p.exists():
                parts.append(p.read_text(errors="replace"))
        return "".join(parts)

    def queries(self) -> list[tuple[str, str]]:
        """(name, type) of every query received so far, oldest first."""
        out = []
        if not self.log_path.exists():
            return out
        for line in self.log_path.read_text(errors="replace").splitlines():
            m = re.search(r" info: \S+ (\S+)\. (\S+) IN$", line)
            if m:
                out.append((m.group(1).lower(), m.group(2).upper()))
        return out

    def count_queries(self, name: str, rtype: str) -> int:
        key = (_norm(name), rtype.upper())
        return sum(1 for q in self.queries() if q == key)
