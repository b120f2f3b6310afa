"""dnssec_zone.py - DNSSEC for the end-to-end suite: signed zones behind a validating
resolver, all on loopback.

Two real programs: nsd, authoritative for the test zones (signed at test time with
ldns-signzone from ldnsutils, ECDSA P-256 keys made by ldns-keygen), and unbound in front
of it as the validating resolver the relay talks to (`module-config: "validator
iterator"`, a `stub-zone` per test zone pointing at nsd, `trust-anchor-file` holding the DS
of each signed zone's key-signing key, `val-permissive-mode: no`, no `domain-insecure`).
Nothing is asked of the Internet: every other name is answered from a static root zone.

    from dnssec_zone import DnssecWorld

    world = DnssecWorld(tmp_path / "dnssec")
    secure = world.zone("signed.test")                  # signed, anchored: AD set
    secure.add_mx("signed.test", 10, "mx.signed.test")
    secure.add_a("mx.signed.test", "127.0.0.50")
    plain = world.zone("plain.test", signed=False)      # unsigned, no anchor: AD clear
    bogus = world.zone("bogus.test")                    # signed, then tampered with:
    bogus.add_mx("bogus.test", 10, "mx.bogus.test")
    bogus.tamper("bogus.test", "MX", "10 evil.bogus.test.")  # ... SERVFAIL from unbound
    world.start()
    cfg = f'[dns]\\nservers = ["{world.address}"]\\ndnssec = true\\n'
    world.query("mx.signed.test", "A")  # -> ("NOERROR", 1, True): rcode, answers, AD
    world.stop()

DANE: `secure.add_tlsa_for_cert("mx.signed.test", cert_pem)` publishes
_25._tcp.mx.signed.test TLSA 3 1 1 <SHA-256 of the certificate's public key> (any usage,
selector, matching type and port by keyword; `tlsa_data(cert_pem, selector, matching)`
gives the association data alone, computed with the openssl CLI and hashlib).

A zone's records are fixed at start(); to change them later, change the zone and call
world.resign(): the zones are signed again with the same keys and nsd and unbound restart
on the same ports (unbound's cache starts empty; a relay's own DNS cache keeps what it
had until its TTL, 300 s by default, so a test changes names the relay has not asked).
tamper() replaces the rdata of one RRset after
signing, keeping its RRSIG: the validator then finds the signature wrong ("bogus") and
answers SERVFAIL, as it would for forged data. Every wait is bounded; failures raise
AssertionError with the programs' logs attached. Needs the Debian packages nsd and
ldnsutils (scripts/install-deps.sh --with-tests) besides unbound.
"""
from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

from dns_server import TYPES, RCODES, _free_port, _fqdn, _norm, unbound_bin

TYPES = {**TYPES, "TLSA": 52}


def _tool(name: str, package: str) -> str:
    path = shutil.which(name) or f"/usr/sbin/{name}"
    if not os.access(path, os.X_OK):
        raise AssertionError(f"{name} not found: install the Debian package {package} "
                             "(scripts/install-deps.sh --with-tests)")
    return path


def dnssec_query(host: str, port: int, name: str, rtype: str,
                 timeout: float = 2.0) -> tuple[str, int, bool]:
    """One query with RD, AD and the DO bit (EDNS0) to host:port over UDP; returns (rcode
    name, answer count, AD bit of the reply)."""
    qid = random.randrange(0x10000)
    qname = b"".join(bytes([len(label)]) + label.encode("ascii")
                     for label in _norm(name).split(".") if label) + b"\0"
    opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0x8000, 0)  # DO in the OPT RR's flags
    msg = struct.pack(">HHHHHH", qid, 0x0120, 1, 0, 0, 1) + qname + \
        struct.pack(">HH", TYPES[rtype.upper()], 1) + opt
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
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
    return RCODES.get(flags & 0xF, str(flags & 0xF)), ancount, bool(flags & 0x20)


def tlsa_data(cert: Path | str, selector: int = 1, matching: int = 1) -> str:
    """The certificate association data (hex) of a TLSA record for the PEM certificate
    `cert`: selector 1 = its SubjectPublicKeyInfo, 0 = the whole certificate (DER);
    matching 1 = SHA-256, 2 = SHA-512, 0 = the DER itself."""
    def openssl(args: list[str], data: bytes | None = None) -> bytes:
        p = subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError(f"openssl {' '.join(args)} failed: {p.stderr.decode()}")
        return p.stdout

    if selector == 1:
        pem_key = openssl(["x509", "-in", str(cert), "-noout", "-pubkey"])
        der = openssl(["pkey", "-pubin", "-outform", "DER"], pem_key)
    elif selector == 0:
        der = openssl(["x509", "-in", str(cert), "-outform", "DER"])
    else:
        raise ValueError(f"selector {selector}")
    if matching == 0:
        return der.hex()
    if matching in (1, 2):
        return (hashlib.sha256 if matching == 1 else hashlib.sha512)(der).hexdigest()
    raise ValueError(f"matching type {matching}")


class Zone:
    """One test zone: records in zone-file syntax, signed at start() unless signed=False."""

    def __init__(self, name: str, signed: bool, ttl: int = 300, negative_ttl: int = 60):
        self.name = _norm(name)
        self.signed = signed
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.records: list[tuple[str, str, str]] = []  # owner, type, rdata
        self.tampered: dict[tuple[str, str], str] = {}
        self.keys: tuple[str, str] | None = None  # ldns-keygen's (ZSK, KSK) file stems

    def add_record(self, name: str, rtype: str, rdata: str):
        n = _norm(name)
        if n != self.name and not n.endswith("." + self.name):
            raise ValueError(f"{n} is not in zone {self.name}")
        self.records.append((n, rtype.upper(), rdata))
        return self

    def add_a(self, name: str, ip: str):
        return self.add_record(name, "A", ip)

    def add_mx(self, name: str, preference: int, host: str):
        return self.add_record(name, "MX", f"{int(preference)} {_fqdn(_norm(host))}")

    def add_srv(self, domain: str, priority: int, weight: int, port: int, target: str,
                service: str = "_secmx._tcp"):
        return self.add_record(f"{service}.{_norm(domain)}", "SRV",
                               f"{int(priority)} {int(weight)} {int(port)} "
                               f"{_fqdn(_norm(target))}")

    def add_tlsa(self, name: str, usage: int, selector: int, matching: int, data_hex: str):
        return self.add_record(name, "TLSA", f"{usage} {selector} {matching} {data_hex}")

    def add_tlsa_for_cert(self, host: str, cert: Path | str, port: int = 25, usage: int = 3,
                          selector: int = 1, matching: int = 1):
        """_PORT._tcp.HOST TLSA for the PEM certificate `cert` (default DANE-EE 3 1 1)."""
        return self.add_tlsa(f"_{int(port)}._tcp.{_norm(host)}", usage, selector, matching,
                             tlsa_data(cert, selector, matching))

    def tamper(self, name: str, rtype: str, rdata: str):
        """After signing, publish `rdata` instead for the RRset (name, rtype): bogus data."""
        if not self.signed:
            raise ValueError("only a signed zone can be tampered with")
        self.tampered[(_norm(name), rtype.upper())] = rdata
        return self

    def text(self) -> str:
        lines = [f"$ORIGIN {self.name}.", f"$TTL {self.ttl}",
                 f"@ IN SOA ns.{self.name}. hostmaster.{self.name}. 1 3600 600 86400 "
                 f"{self.negative_ttl}",
                 f"@ IN NS ns.{self.name}.", f"ns.{self.name}. IN A 127.0.0.1"]
        lines += [f"{owner}. IN {rtype} {rdata}" for owner, rtype, rdata in self.records]
        return "\n".join(lines) + "\n"


class DnssecWorld:
    """nsd with the zones, unbound validating in front of it; see the module doc."""

    def __init__(self, workdir: Path | str, host: str = "127.0.0.1"):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = _free_port(host)
        self.nsd_port = _free_port("127.0.0.1")
        self.zones: dict[str, Zone] = {}
        self.nsd: subprocess.Popen | None = None
        self.unbound: subprocess.Popen | None = None

    def zone(self, name: str, signed: bool = True) -> Zone:
        z = Zone(name, signed)
        self.zones[z.name] = z
        return z

    @property
    def address(self) -> str:
        """For `[dns] servers`: the validating resolver, "127.0.0.1:PORT"."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    # -- signing ------------------------------------------------------------------

    def _sign(self, z: Zone) -> tuple[str, str]:
        """Writes the zone file nsd serves; returns (its file name, the KSK's DS line)."""
        d = self.workdir / "zones"
        d.mkdir(exist_ok=True)
        src = d / f"{z.name}.zone"
        src.write_text(z.text())
        if not z.signed:
            return src.name, ""
        keygen, signer = _tool("ldns-keygen", "ldnsutils"), _tool("ldns-signzone", "ldnsutils")

        def run(*cmd) -> str:
            p = subprocess.run(cmd, capture_output=True, text=True, cwd=d, timeout=60)
            if p.returncode != 0:
                raise AssertionError(f"{' '.join(cmd)} failed:\n{p.stdout}{p.stderr}")
            return p.stdout.strip()

        if z.keys is None:  # made once: resign() keeps the trust anchor
            z.keys = (run(keygen, "-a", "ECDSAP256SHA256", z.name),
                      run(keygen, "-a", "ECDSAP256SHA256", "-k", z.name))
        zsk, ksk = z.keys
        out = d / f"{z.name}.zone.signed"
        run(signer, "-f", out.name, src.name, zsk, ksk)
        if z.tampered:
            out.write_text(self._tamper(out.read_text(), z.tampered))
        return out.name, (d / f"{ksk}.ds").read_text().strip()

    @staticmethod
    def _tamper(signed: str, changes: dict[tuple[str, str], str]) -> str:
        lines, done = [], set()
        for line in signed.splitlines():
            f = line.split(None, 4)
            key = (f[0].rstrip(".").lower(), f[3].upper()) if len(f) == 5 else None
            if key in changes:
                if key not in done:  # the whole RRset becomes the one forged record
                    lines.append("\t".join(f[:4] + [changes[key]]))
                    done.add(key)
                continue
            lines.append(line)
        missing = set(changes) - done
        if missing:
            raise AssertionError(f"nothing to tamper with at {missing}")
        return "\n".join(lines) + "\n"

    # -- processes ----------------------------------------------------------------

    def _nsd_config(self, files: dict[str, str]) -> str:
        w = self.workdir
        lines = ["server:", f"  ip-address: 127.0.0.1@{self.nsd_port}", "  do-ip6: no",
                 f'  zonesdir: "{w / "zones"}"', f'  zonelistfile: "{w / "nsd.zonelist"}"',
                 f'  xfrdfile: "{w / "nsd.xfrd"}"', f'  xfrdir: "{w}"',
                 f'  pidfile: "{w / "nsd.pid"}"', f'  logfile: "{w / "nsd.log"}"',
                 '  database: ""', '  username: ""', '  chroot: ""', "  server-count: 1",
                 "  verbosity: 1", "  reuseport: no",
                 "remote-control:", "  control-enable: no"]
        for name, f in sorted(files.items()):
            lines += ["zone:", f"  name: {name}.", f'  zonefile: "{f}"']
        return "\n".join(lines) + "\n"

    def _unbound_config(self) -> str:
        w = self.workdir
        lines = [
            "server:",
            f"  interface: {self.host}@{self.port}",
            f'  directory: "{w}"',
            '  username: ""', '  chroot: ""', '  pidfile: ""',
            "  do-daemonize: no", "  use-syslog: no",
            f'  logfile: "{w / "unbound.log"}"', "  log-time-ascii: yes",
            "  verbosity: 1", "  log-queries: yes", "  val-log-level: 2",
            "  num-threads: 1", "  so-reuseport: no",
            "  access-control: 127.0.0.0/8 allow", "  access-control: ::1/128 allow",
            '  module-config: "validator iterator"',
            "  val-permissive-mode: no",
            f'  trust-anchor-file: "{w / "anchors.ds"}"',
            "  do-not-query-localhost: no",
            '  local-zone: "." static',
        ]
        for name in sorted(self.zones):
            lines.append(f'  local-zone: "{name}." transparent')
        for name in sorted(self.zones):
            lines += ["stub-zone:", f'  name: "{name}."',
                      f"  stub-addr: 127.0.0.1@{self.nsd_port}"]
        lines += ["remote-control:", "  control-enable: no"]
        return "\n".join(lines) + "\n"

    def _spawn(self, cmd: list[str], out_name: str) -> subprocess.Popen:
        out = open(self.workdir / out_name, "ab")
        try:
            return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=self.workdir)
        finally:
            out.close()

    def _wait(self, proc: subprocess.Popen, ready, what: str, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"{what} exited with {proc.returncode}:\n{self.log()}")
            try:
                if ready():
                    return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                self.stop()
                raise AssertionError(f"{what} not answering after {timeout}s:\n{self.log()}")
            time.sleep(0.05)

    def start(self, timeout: float = 15.0) -> "DnssecWorld":
        assert self.nsd is None and self.unbound is None, "already started"
        files, anchors = {}, []
        for name, z in self.zones.items():
            files[name], ds = self._sign(z)
            if ds:
                anchors.append(ds)
        (self.workdir / "anchors.ds").write_text("\n".join(anchors) + "\n")
        nsd_conf = self.workdir / "nsd.conf"
        nsd_conf.write_text(self._nsd_config(files))
        unbound_conf = self.workdir / "unbound.conf"
        unbound_conf.write_text(self._unbound_config())
        for check, conf in ((_tool("nsd-checkconf", "nsd"), nsd_conf),
                            (unbound_bin() + "-checkconf", unbound_conf)):
            p = subprocess.run([check, str(conf)], capture_output=True, text=True, timeout=30)
            if p.returncode != 0:
                raise AssertionError(f"{conf.name} rejected:\n{p.stdout}{p.stderr}\n"
                                     + conf.read_text())

        self.nsd = self._spawn([_tool("nsd", "nsd"), "-d", "-c", str(nsd_conf)], "nsd.out")
        first = next(iter(sorted(self.zones)))
        self._wait(self.nsd, lambda: dnssec_query("127.0.0.1", self.nsd_port, first, "SOA",
                                                  timeout=0.2)[0] == "NOERROR", "nsd", timeout)
        self.unbound = self._spawn([unbound_bin(), "-d", "-c", str(unbound_conf)], "unbound.out")
        self._wait(self.unbound, lambda: self.query(first, "SOA", timeout=0.5)[0] == "NOERROR",
                   "unbound", timeout)
        return self

    def stop(self, timeout: float = 10.0):
        """SIGTERM, bounded wait, then SIGKILL, for both. Safe to call twice."""
        for attr in ("unbound", "nsd"):
            proc = getattr(self, attr)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)

    def resign(self, timeout: float = 15.0) -> "DnssecWorld":
        """Publishes the zones as they are now: signs them again (same keys, same trust
        anchors) and restarts nsd and unbound on their ports."""
        self.stop()
        self.nsd = self.unbound = None
        return self.start(timeout)

    def __enter__(self) -> "DnssecWorld":
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- observing ----------------------------------------------------------------

    def query(self, name: str, rtype: str, timeout: float = 2.0) -> tuple[str, int, bool]:
        """(rcode, answer count, AD) of a DNSSEC query to the validating resolver."""
        return dnssec_query(self.host, self.port, name, rtype, timeout)

    def log(self) -> str:
        parts = []
        for f in ("nsd.out", "nsd.log", "unbound.out", "unbound.log"):
            p = self.workdir / f
            if p.exists():
                parts.append(f"--- {f}\n" + p.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def bogus_reasons(self) -> list[str]:
        """The validator's "validation failure" lines (val-log-level 2)."""
        log = self.workdir / "unbound.log"
        return re.findall(r"validation failure.*", log.read_text(errors="replace")) \
            if log.exists() else []
