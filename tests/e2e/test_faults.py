"""The SOS guarantee under faults (issue 14 item 5): the real relay delivers through
fault_proxy.FaultProxy to real Postfix receivers, with and without STARTTLS, while the
proxy resets, stalls, strips STARTTLS or aborts handshakes, and a real unbound fails or
times out in the middle of discovery (DESIGN §3-§6).

Every test ends in one check of four invariants over everything that happened in it
(`FaultRun.finish`, run by the `faults` fixture at teardown):

  (a) the content of an SOS or REQUIRETLS message (a unique marker in its body) never
      crossed a proxy connection outside TLS, and every copy a receiver stored came over
      TLS (Postfix's Received: header says so);
  (b) no 5.7.10 before sos_lifetime while a TLS-capable receiver was only unreachable:
      each 5.7.10 in the relay's log names only hosts that answered without TLS, and none
      of them is a proxy that cut a connection to a TLS receiver in that attempt; each
      5.7.10 DSN belongs to such a line;
  (c) no acknowledged message lost: each recipient ends sent (and a receiver has a copy),
      deferred (still pending in --queue-dump) or bounced (and its DSN reached the sender);
  (d) duplicates only where the receiver's reply to the final "." raced a reset: copies
      beyond the first are counted, may not outnumber the proxy's raced connections, and
      are reported on a "faults:" line and in faults-summary.json under the pytest tmp dir.

The world, shared by the module (Postfix and unbound start once):

  agency.test     MX mx.agency.test    Postfix with STARTTLS, 127.0.14.2:25 (DSNs land here)
  X.test          MX mx.X.test         a proxy on the host's address, port 25, in front of
                                       the STARTTLS Postfix ("tls") or the plain one
                                       (127.0.14.3:25, "plain"); see HOSTS
  sfsrv.test      _secmx._tcp SERVFAIL, MX to a plaintext receiver
  dnsslow.test    MX 10 plaintext receiver, MX 20 mx.hole.test whose zone is delegated to a
                  loopback UDP port that never answers (the relay's lookup times out)
  mitm2.test      MX 10 mx.mitm.test (strips STARTTLS), MX 20 mx.honest.test
  lifetime.test   MX 10 plaintext receiver, MX 20 a TLS name where nothing listens

Policies: a header rule (X-Secmx-Policy: sos) makes SOS; REQUIRETLS mail is submitted over
STARTTLS with MAIL FROM ... REQUIRETLS (SOS at "verify": the test CA is delivery.ca_file
and the Postfix certificate names every proxy host). Retries come after 1 s; the
connection cache is off unless a test turns it on, so each message opens connections in
the order the proxies' scripts expect.
"""
from __future__ import annotations

import email
import email.policy
import json
import re
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from dns_server import DnsServer
from fault_proxy import MITM, PASS, Fault, FaultProxy
from mta import PostfixMTA, mta_base
from pki import TestCA
from relaytest import wait_until

SENDER = "alice@agency.test"
TLS_MTA = ("127.0.14.2", 25)
PLAIN_MTA = ("127.0.14.3", 25)

# Receiver host -> (address its proxy listens on, Postfix behind it).
HOSTS = {
    "mx.sfsrv.test": ("127.0.14.10", "plain"),
    "mx.dnsslow.test": ("127.0.14.11", "plain"),
    "mx.fickle.test": ("127.0.14.12", "tls"),
    "mx.mitm.test": ("127.0.14.13", "tls"),
    "mx.honest.test": ("127.0.14.14", "tls"),
    "mx.abort.test": ("127.0.14.15", "tls"),
    "mx.abortb.test": ("127.0.14.16", "tls"),
    "mx.rstdata.test": ("127.0.14.17", "tls"),
    "mx.rstdatab.test": ("127.0.14.18", "plain"),
    "mx.dot.test": ("127.0.14.19", "tls"),
    "mx.dotb.test": ("127.0.14.20", "plain"),
    "mx.close250.test": ("127.0.14.21", "tls"),
    "mx.slow.test": ("127.0.14.22", "tls"),
    "mx.lifeplain.test": ("127.0.14.23", "plain"),
    "mx.lifetls.test": ("127.0.14.24", "tls"),   # no proxy ever listens: unreachable
}
# Domain -> MX (preference, host); every other X.test below is MX 10 mx.X.test.
MX = {
    "dnsslow.test": [(10, "mx.dnsslow.test"), (20, "mx.hole.test")],
    "mitm2.test": [(10, "mx.mitm.test"), (20, "mx.honest.test")],
    "lifetime.test": [(10, "mx.lifeplain.test"), (20, "mx.lifetls.test")],
}
DOMAINS = sorted(({h.split(".", 1)[1] for h in HOSTS} | set(MX))
                 - {"lifeplain.test", "lifetls.test", "honest.test"})

RULES = """
[[policy.rule]]
header = "X-Secmx-Policy"
match = "(?i)^sos$"
policy = "SOS"
"""

KIB = 1024
NO_TLS_REASONS = ("STARTTLS not offered", "TLS handshake failed", "certificate not verified")


class BlackholeDns(DnsServer):
    """unbound as in dns_server.py, plus zones delegated (stub zones) to a loopback UDP
    port that reads nothing and answers nothing: lookups below them time out."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._holes: list[str] = []
        self._hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._hole.bind(("127.0.0.1", 0))

    def blackhole_zone(self, zone: str) -> "BlackholeDns":
        self._holes.append(zone)
        return self

    def _config(self) -> str:
        text = super()._config()
        port = self._hole.getsockname()[1]
        local = "".join(f'  local-zone: "{z}." transparent\n' for z in self._holes)
        stubs = "".join(f'stub-zone:\n  name: "{z}."\n  stub-addr: 127.0.0.1@{port}\n'
                        for z in self._holes)
        head, sep, tail = text.partition("remote-control:")
        return head.replace("server:\n", "server:\n" + local, 1) + stubs + sep + tail

    def stop(self, timeout: float = 10.0):
        super().stop(timeout)
        self._hole.close()


@dataclass
class World:
    ca: TestCA
    dns: DnsServer
    tls: PostfixMTA
    plain: PostfixMTA
    runs: list[dict] = field(default_factory=list)


@pytest.fixture(scope="module")
def world(tmp_path_factory, request):
    tmp = tmp_path_factory.mktemp("faults")
    ca = TestCA(tmp / "pki")
    base = mta_base()
    tls_names = ["mx.agency.test"] + [h for h, (_, kind) in HOSTS.items() if kind == "tls"]
    tls = PostfixMTA(base, "tls", host=TLS_MTA[0], port=TLS_MTA[1], hostname="mx.agency.test",
                     domains=["agency.test"] + DOMAINS,
                     tls=ca.issue("mx.agency.test", sans=tls_names), tls_level="may")
    plain = PostfixMTA(base, "plain", host=PLAIN_MTA[0], port=PLAIN_MTA[1],
                       hostname="mx.plain.test", domains=DOMAINS)
    dns = BlackholeDns(tmp / "dns")
    dns.add_mx("agency.test", 10, "mx.agency.test")
    dns.add_a("mx.agency.test", TLS_MTA[0])
    for host, (ip, _) in HOSTS.items():
        dns.add_a(host, ip)
    for domain in DOMAINS:
        for pref, host in MX.get(domain, [(10, f"mx.{domain}")]):
            dns.add_mx(domain, pref, host)
    dns.servfail_zone("_secmx._tcp.sfsrv.test")
    dns.blackhole_zone("hole.test")
    started = []
    try:
        for s in (tls, plain, dns):
            s.start()
            started.append(s)
        w = World(ca=ca, dns=dns, tls=tls, plain=plain)
        yield w
        summary = tmp_path_factory.getbasetemp() / "faults-summary.json"
        summary.write_text(json.dumps(w.runs, indent=1))
        dups = sum(r["duplicates"] for r in w.runs)
        raced = sum(r["raced"] for r in w.runs)
        _report(request, f"faults: {len(w.runs)} run(s), duplicates={dups} "
                         f"(raced resets={raced}); details in {summary}")
    finally:
        for s in reversed(started):
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - teardown must reach every server
                pass


def _report(request, line: str) -> None:
    """A line in the test output even under -q (the terminal reporter), and on stdout."""
    print(line)
    plugins = request.config.pluginmanager
    reporter, capman = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capman is not None:
        with capman.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(line)


# ----------------------------------------------------------------------------- one run


@dataclass
class Msg:
    qid: str
    rcpt: str
    policy: str     # "BES", "SOS" or "REQUIRETLS"
    tag: str        # its Subject
    marker: str     # in its body, first and last line

    @property
    def secure(self) -> bool:
        return self.policy in ("SOS", "REQUIRETLS")


_LINE_RE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\S+) \S+ \S+: (?P<qid>[0-9A-F]{16}): to=<(?P<rcpt>[^>]*)>, "
    r"relay=(?P<relay>\S+), policy=(?P<policy>\w+), .*?tls=(?P<tls>[^,\s]+), "
    r"(?:cert=sha256:(?P<cert>[0-9a-f]+), )?(?:dnssec=(?P<dnssec>\w+), )?"
    r"delay=(?P<delay>[\d.]+), attempts=(?P<attempts>\d+), dsn=(?P<dsn>\S+), "
    r"status=(?P<status>\w+) \((?P<detail>.*)\)$", re.M)
_HOST_RE = re.compile(r"([A-Za-z0-9.-]+)\[([0-9A-Fa-f.:]+)\]:(\d+): ([^;]*)")


def _duration_s(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d)", text))


class FaultRun:
    """One test's relay, proxies and messages, and the invariants checked over them."""

    def __init__(self, world: World, make_relay, tmp_path: Path, name: str):
        self.world = world
        self.make_relay = make_relay
        self.tmp_path = tmp_path
        self.name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
        self.relay = None
        self.sos_lifetime = 3600.0
        self.proxies: dict[str, FaultProxy] = {}
        self.messages: list[Msg] = []

    # -- set-up --------------------------------------------------------------------

    def start_relay(self, **delivery):
        d = {"pause": False, "retry": ["1s"], "ca_file": str(self.world.ca.cert),
             "connect_timeout": "5s", "command_timeout": "30s", "connection_cache_time": "0"}
        d.update(delivery)
        self.sos_lifetime = _duration_s(d.get("sos_lifetime", "1h"))
        r = self.make_relay(tls=True, start=False, overrides={
            "dns": {"servers": [self.world.dns.address]}, "delivery": d})
        r.config_path.write_text(r.config_path.read_text() + RULES)
        self.relay = r.start()
        return r

    def proxy(self, host: str, faults: list[Fault] | None = None,
              then: Fault = PASS) -> FaultProxy:
        ip, kind = HOSTS[host]
        p = FaultProxy(ip, 25, upstream=TLS_MTA if kind == "tls" else PLAIN_MTA, name=host,
                       upstream_tls=kind == "tls", faults=faults, then=then)
        self.proxies[host] = p.start()
        return p

    # -- mail --------------------------------------------------------------------------

    def send(self, rcpt: str, policy: str = "BES", size: int = 0) -> Msg:
        """Submits one message; returns it once the relay said "queued as"."""
        n = len(self.messages)
        tag = f"{self.name}-{n}-{policy.lower()}"
        marker = f"SECMXMARK{uuid.uuid4().hex[:20]}"
        filler = "".join(f"filler {i:06d} " + "x" * 60 + "\r\n"
                         for i in range(max(0, size // 76)))
        headers = [f"From: <{SENDER}>", f"To: <{rcpt}>", f"Subject: {tag}",
                   f"Message-ID: <{tag}@client.test>"]
        if policy == "SOS":
            headers.append("X-Secmx-Policy: sos")
        content = "\r\n".join(headers) + f"\r\n\r\n{marker}\r\n{filler}{marker}\r\n"
        with smtplib.SMTP(self.relay.host, self.relay.port, timeout=30) as s:
            s.ehlo("client.test")
            options = []
            if policy == "REQUIRETLS":
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s.starttls(context=ctx)
                s.ehlo("client.test")
                options = ["REQUIRETLS"]
            code, text = s.mail(SENDER, options)
            assert code == 250, text
            code, text = s.rcpt(rcpt)
            assert code == 250, text
            code, text = s.data(content.encode())
        assert code == 250, text
        m = re.search(r"queued as ([0-9A-F]{16})", text.decode())
        assert m, text
        msg = Msg(qid=m.group(1), rcpt=rcpt, policy=policy, tag=tag, marker=marker)
        self.messages.append(msg)
        return msg

    def lines(self, msg: Msg | None = None) -> list[dict]:
        """The relay's delivery lines (of one message), oldest first."""
        out = []
        for m in _LINE_RE.finditer(self.relay.log()):
            d = m.groupdict()
            if msg is not None and (d["qid"] != msg.qid or d["rcpt"] != msg.rcpt):
                continue
            d["t"] = datetime.strptime(d["ts"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
            d["delay"] = float(d["delay"])
            d["attempts"] = int(d["attempts"])
            d["text"] = m.group(0)
            out.append(d)
        return out

    def outcome(self, msg: Msg, status: str | None = None, attempt: int | None = None,
                timeout: float = 30) -> dict:
        """Waits for the delivery line of `msg` with that status and/or attempt number."""
        def find():
            for d in self.lines(msg):
                if (status is None or d["status"] == status) and \
                        (attempt is None or d["attempts"] == attempt):
                    return d
            return None
        what = f"a delivery line of {msg.tag} ({msg.qid})" + \
            (f" with status={status}" if status else "") + \
            (f" at attempt {attempt}" if attempt else "")
        try:
            return wait_until(find, timeout, what)
        except AssertionError as e:
            seen = "\n".join(d["text"] for d in self.lines(msg)) or "(none)"
            raise AssertionError(f"{e}; its lines so far:\n{seen}") from None

    def copies(self, msg: Msg) -> list:
        """The copies of `msg` the receivers stored (DSNs, from <>, are not copies)."""
        found = []
        for mta in (self.world.tls, self.world.plain):
            for m in mta.messages():
                if m.sender and m.recipient.lower() == msg.rcpt.lower() and \
                        msg.marker.encode() in m.raw:
                    found.append((mta.name, m))
        return found

    def wait_copies(self, msg: Msg, count: int, timeout: float = 30) -> list:
        return wait_until(lambda: (c := self.copies(msg)) and len(c) >= count and c,
                          timeout, f"{count} cop(y/ies) of {msg.tag} at the receivers")

    def dsns(self, msg: Msg) -> list[dict]:
        """The DSNs about `msg` in the sender's mailbox: their delivery-status fields."""
        out = []
        for m in self.world.tls.messages():
            if m.sender or m.recipient.lower() != SENDER or msg.tag.encode() not in m.raw:
                continue
            parsed = email.message_from_bytes(m.raw, policy=email.policy.default)
            for part in parsed.walk():
                if part.get_content_type() == "message/delivery-status":
                    blocks = list(part.get_payload())
                    out += [dict(b.items()) for b in blocks[1:]]
        return out

    def wait_dsn(self, msg: Msg, timeout: float = 30) -> dict:
        return wait_until(lambda: (d := self.dsns(msg)) and d[0], timeout,
                          f"a DSN about {msg.tag} at {SENDER}")

    # -- the invariants ------------------------------------------------------------------

    def finish(self, request) -> None:
        """Settles, stops the relay and checks (a)-(d); fails the test on a violation."""
        problems: list[str] = []
        try:
            if self.relay is not None:
                self._settle()
                rc = self.relay.stop()
                if rc != 0:
                    problems.append(f"relay exited {rc} after SIGTERM")
                problems += self._check(request)
        finally:
            for p in self.proxies.values():
                p.stop()
        if problems:
            pytest.fail("SOS invariants violated:\n  " + "\n  ".join(problems), pytrace=False)

    def _settle(self, timeout: float = 30) -> None:
        """Waits (bounded) until what the log says has reached the receivers: a copy for
        each sent line, the DSN for each bounced one."""
        def settled():
            for msg in self.messages:
                lines = self.lines(msg)
                if not lines:
                    return False
                last = lines[-1]["status"]
                if last == "sent" and not self.copies(msg):
                    return False
                if last == "bounced" and not self.dsns(msg):
                    return False
            return True
        try:
            wait_until(settled, timeout, "the receivers to hold what the relay logged")
        except AssertionError:
            pass  # what is still missing is reported by the checks below

    def _check(self, request) -> list[str]:
        problems: list[str] = []
        dump = self.relay.dump(with_bodies=True)
        queue = {m["id"]: m for m in dump}
        all_lines = self.lines()
        conns = [(name, p, c) for name, p in self.proxies.items() for c in p.conns]
        report = {"test": self.name, "messages": [], "proxies": {
            name: [c.summary() for c in p.conns] for name, p in self.proxies.items()}}

        # (a) SOS and REQUIRETLS content only inside TLS.
        for msg in (m for m in self.messages if m.secure):
            for name, _, c in conns:
                if msg.marker.encode() in c.cleartext_c2s():
                    problems.append(f"(a) {msg.tag} ({msg.policy}) crossed {name} connection "
                                    f"{c.index} in cleartext (fault {c.fault})")
            for mta_name, copy in self.copies(msg):
                received = copy.message.get_all("Received") or [""]
                if mta_name == "plain" or "(using TLS" not in str(received[0]):
                    problems.append(f"(a) {msg.tag} ({msg.policy}) stored by Postfix "
                                    f"{mta_name} without TLS: {str(received[0])[:200]!r}")

        # (b) No 5.7.10 while a TLS-capable receiver was only unreachable.
        ok_5710 = set()
        for d in (x for x in all_lines if x["dsn"] == "5.7.10"):
            who = f"(b) {d['qid']} to {d['rcpt']}"
            if d["status"] != "bounced":
                problems.append(f"{who}: 5.7.10 with status={d['status']}: {d['text']}")
                continue
            if d["delay"] + 0.5 >= self.sos_lifetime:
                ok_5710.add((d["qid"], d["rcpt"]))
                continue
            before = [x["t"] for x in all_lines if (x["qid"], x["rcpt"]) == (d["qid"], d["rcpt"])
                      and x["t"] < d["t"]]
            since = max(before) if before else d["t"] - d["delay"]
            bad = False
            for host, ip, port, detail in _HOST_RE.findall(d["detail"]):
                if not any(r in detail for r in NO_TLS_REASONS):
                    problems.append(f"{who}: 5.7.10 names {host}[{ip}] that did not answer "
                                    f"without TLS ({detail.strip()}) before sos_lifetime")
                    bad = True
                p = self.proxies.get(host)
                if p is None or not p.upstream_tls:
                    continue
                for c in p.conns:
                    if c.cut and since - 0.5 <= c.t_start <= d["t"] + 0.5:
                        problems.append(f"{who}: 5.7.10 while TLS receiver {host} was only cut "
                                        f"off (connection {c.index}: {c.fired}): {d['text']}")
                        bad = True
            if not bad:
                ok_5710.add((d["qid"], d["rcpt"]))
        for msg in self.messages:
            queued = [m for m in dump if m["sender"] == "" and msg.tag in m.get("body", "")
                      and re.search(r"(?m)^Status: 5\.7\.10", m.get("body", ""))]
            if (queued or any(f.get("Status") == "5.7.10" for f in self.dsns(msg))) and \
                    (msg.qid, msg.rcpt) not in ok_5710:
                problems.append(f"(b) a 5.7.10 DSN about {msg.tag} (delivered or queued) "
                                f"without a 5.7.10 line that was allowed")

        # (c) No acknowledged message lost; (d) duplicates counted.
        duplicates = 0
        for msg in self.messages:
            lines = self.lines(msg)
            last = lines[-1]["status"] if lines else None
            rcpts = {r["address"]: r["state"] for r in queue.get(msg.qid, {}).get("recipients", [])}
            copies = len(self.copies(msg))
            duplicates += max(0, copies - 1)
            final = last or "queued"
            if last == "sent" and copies == 0:
                problems.append(f"(c) {msg.tag} ({msg.qid}) logged sent but no receiver has it")
            elif last == "bounced" and not self.dsns(msg):
                problems.append(f"(c) {msg.tag} ({msg.qid}) bounced but no DSN reached {SENDER}")
            elif last in ("deferred", None) and rcpts.get(msg.rcpt) != "pending":
                problems.append(f"(c) {msg.tag} ({msg.qid}) lost: last status {last}, queue "
                                f"state {rcpts.get(msg.rcpt)}")
            report["messages"].append({"tag": msg.tag, "qid": msg.qid, "policy": msg.policy,
                                       "final": final, "attempts": len(lines),
                                       "copies": copies})
        raced = sum(1 for _, _, c in conns if c.raced)
        if duplicates > raced:
            problems.append(f"(d) {duplicates} duplicate(s) but only {raced} reply(ies) to the "
                            f"final '.' raced a reset")
        report.update({"duplicates": duplicates, "raced": raced, "problems": problems})
        (self.tmp_path / "faults-summary.json").write_text(json.dumps(report, indent=1))
        self.world.runs.append(report)
        finals = [m["final"] for m in report["messages"]]
        _report(request, f"faults: {self.name}: {len(finals)} message(s), sent="
                         f"{finals.count('sent')} deferred={finals.count('deferred')} bounced="
                         f"{finals.count('bounced')}, duplicates={duplicates} (raced={raced})")
        return problems


@pytest.fixture
def faults(request, world, make_relay, tmp_path):
    run = FaultRun(world, make_relay, tmp_path, request.node.name)
    yield run
    run.finish(request)


def sent_over_tls(line: dict, verified: bool = False) -> None:
    assert line["status"] == "sent", line["text"]
    assert re.match(r"TLSv1\.[23]/", line["tls"]), line["text"]
    if verified:
        assert line["tls"].endswith("/pkix"), line["text"]


# ----------------------------------------------------------------------------- DNS


def test_servfail_on_the_secmx_lookup_defers_sos_and_not_bes(faults):
    """_secmx._tcp answers SERVFAIL: a SecMX receiver may exist, so SOS mail that finds
    only a plaintext MX waits (4.7.10) instead of bouncing; BES mail goes in plaintext."""
    faults.start_relay()
    proxy = faults.proxy("mx.sfsrv.test")
    bes = faults.send("bob@sfsrv.test", "BES")
    sos = faults.send("carol@sfsrv.test", "SOS")
    rt = faults.send("dan@sfsrv.test", "REQUIRETLS")
    line = faults.outcome(bes, "sent")
    assert line["tls"] == "none", line["text"]
    for msg in (sos, rt):
        # Two attempts, both deferred: the retry finds the same and still does not bounce.
        first = faults.outcome(msg, attempt=1)
        assert first["status"] == "deferred" and first["dsn"] == "4.7.10", first["text"]
        second = faults.outcome(msg, attempt=2)
        assert second["status"] == "deferred" and second["dsn"] == "4.7.10", second["text"]
        assert not faults.copies(msg)
    # The SOS attempts met the plaintext receiver and left after EHLO: only BES said DATA.
    assert sum(c.data_in_clear() for c in proxy.conns) == 1


def test_dns_timeout_for_a_tls_receivers_address_defers_sos(faults):
    """MX 10 is a plaintext receiver, MX 20's address lookup times out (its zone is
    delegated to a silent port): SOS waits for the unseen receiver, BES goes to MX 10."""
    faults.start_relay()
    faults.proxy("mx.dnsslow.test")
    sos = faults.send("erin@dnsslow.test", "SOS")
    bes = faults.send("fred@dnsslow.test", "BES")
    line = faults.outcome(sos, attempt=1, timeout=40)
    assert line["status"] == "deferred" and line["dsn"] == "4.7.10", line["text"]
    assert "mx.dnsslow.test[127.0.14.11]:25" in line["detail"], line["text"]
    line = faults.outcome(bes, "sent", timeout=40)
    assert line["relay"] == "mx.dnsslow.test[127.0.14.11]:25" and line["tls"] == "none"
    assert not faults.copies(sos)


# ----------------------------------------------------------------------------- STARTTLS


def test_receiver_that_stops_offering_starttls_on_the_second_connection(faults):
    """The first connection does TLS; from the second on the EHLO reply has no STARTTLS.
    SOS and REQUIRETLS mail then bounces 5.7.10 without a byte of content in plaintext;
    BES mail falls back to plaintext."""
    faults.start_relay()
    proxy = faults.proxy("mx.fickle.test", faults=[PASS], then=MITM)
    first = faults.send("gina@fickle.test", "SOS")
    sent_over_tls(faults.outcome(first, "sent"))
    second = faults.send("hank@fickle.test", "SOS")
    line = faults.outcome(second, "bounced")
    assert line["dsn"] == "5.7.10" and "STARTTLS not offered" in line["detail"], line["text"]
    assert faults.wait_dsn(second)["Status"] == "5.7.10"
    bes = faults.send("ivan@fickle.test", "BES")
    line = faults.outcome(bes, "sent")
    assert line["tls"] == "none", line["text"]
    rt = faults.send("judy@fickle.test", "REQUIRETLS")
    line = faults.outcome(rt, "bounced")
    assert line["dsn"] == "5.7.10", line["text"]
    c = proxy.wait_conns(4)
    assert c[0].tls and not c[0].data_in_clear()
    assert [x.starttls_stripped for x in c] == [False, True, True, True]
    assert not c[1].data_in_clear() and not c[3].data_in_clear(), "SOS left after EHLO"
    assert c[2].data_in_clear(), "BES went in plaintext"


def test_mitm_stripping_starttls(faults):
    """A man in the middle removes STARTTLS from the EHLO reply. SOS and REQUIRETLS mail
    bounces 5.7.10 when he is the only way in, and takes the honest MX when there is one;
    BES mail goes in plaintext (the documented limit of BES)."""
    faults.start_relay()
    faults.proxy("mx.mitm.test", then=MITM)
    faults.proxy("mx.honest.test")
    sos = faults.send("kate@mitm.test", "SOS")
    rt = faults.send("leo@mitm.test", "REQUIRETLS")
    bes = faults.send("mona@mitm.test", "BES")
    for msg in (sos, rt):
        line = faults.outcome(msg, "bounced")
        assert line["dsn"] == "5.7.10" and "STARTTLS not offered" in line["detail"], line["text"]
    assert faults.outcome(bes, "sent")["tls"] == "none"
    sos2 = faults.send("nina@mitm2.test", "SOS")
    line = faults.outcome(sos2, "sent")
    sent_over_tls(line)
    assert line["relay"] == "mx.honest.test[127.0.14.14]:25", line["text"]
    assert re.search(rf"{sos2.qid}: mx\.mitm\.test\[127\.0\.14\.13\]:25 skipped for SOS policy: "
                     r"STARTTLS not offered", faults.relay.log())
    rt2 = faults.send("omar@mitm2.test", "REQUIRETLS")
    sent_over_tls(faults.outcome(rt2, "sent"), verified=True)


def test_tls_handshake_aborted_after_the_client_hello(faults):
    """The path closes or resets the connection as soon as the ClientHello goes out. For
    SOS and REQUIRETLS that is an unreachable receiver, not one without TLS: the mail waits
    and goes over TLS once a handshake gets through. BES retries the host in plaintext."""
    faults.start_relay()
    hello_close, hello_rst = Fault("client_hello", "close"), Fault("client_hello", "rst")
    proxy = faults.proxy("mx.abort.test", faults=[hello_close, hello_rst, PASS, hello_rst])
    sos = faults.send("pete@abort.test", "SOS")
    for n in (1, 2):
        line = faults.outcome(sos, attempt=n)
        assert line["status"] == "deferred" and line["dsn"] == "4.7.10", line["text"]
    sent_over_tls(faults.outcome(sos, "sent", attempt=3))
    rt = faults.send("quinn@abort.test", "REQUIRETLS")
    line = faults.outcome(rt, attempt=1)
    assert line["status"] == "deferred" and line["dsn"] == "4.7.10", line["text"]
    sent_over_tls(faults.outcome(rt, "sent", attempt=2), verified=True)
    c = proxy.wait_conns(5)
    assert [x.tls for x in c] == [False, False, True, False, True]

    faults.proxy("mx.abortb.test", faults=[hello_rst])
    bes = faults.send("rita@abortb.test", "BES")
    line = faults.outcome(bes, "sent")
    assert line["tls"] == "none" and line["attempts"] == 1, line["text"]
    assert re.search(rf"{bes.qid}: TLS handshake with mx\.abortb\.test\[127\.0\.14\.16\]:25 "
                     "failed", faults.relay.log())


# ----------------------------------------------------------------------------- resets


def test_reset_in_the_middle_of_data(faults):
    """A reset 64 KiB into a 256 KiB message: deferred, then delivered once (the receiver
    drops a message whose final "." it never saw). Over TLS for SOS, in plaintext for BES."""
    faults.start_relay()
    mid = Fault("c2s_bytes", "rst", n=64 * KIB)
    faults.proxy("mx.rstdata.test", faults=[mid])
    faults.proxy("mx.rstdatab.test", faults=[mid])
    sos = faults.send("sam@rstdata.test", "SOS", size=256 * KIB)
    bes = faults.send("tess@rstdatab.test", "BES", size=256 * KIB)
    line = faults.outcome(sos, attempt=1)
    assert line["status"] == "deferred" and line["dsn"] == "4.7.10", line["text"]
    line = faults.outcome(bes, attempt=1)
    assert line["status"] == "deferred" and line["dsn"].startswith("4."), line["text"]
    sent_over_tls(faults.outcome(sos, "sent", attempt=2))
    assert faults.outcome(bes, "sent", attempt=2)["tls"] == "none"
    for msg in (sos, bes):
        assert len(faults.wait_copies(msg, 1)) == 1


def test_reset_after_the_final_dot(faults):
    """Resets around the end of data. Before the receiver has the "." (BES, plaintext): the
    message is retried and arrives once. After the receiver took it but before its 250
    reached the relay (BES in plaintext, SOS over TLS): the retry delivers a second copy,
    the duplicate DESIGN §6 allows when a remote 250 races a failure."""
    faults.start_relay()
    faults.proxy("mx.dotb.test", faults=[Fault("dot", "rst"), Fault("dot_reply", "rst")])
    faults.proxy("mx.dot.test", faults=[Fault("dot_reply", "rst", n=32 * KIB)])
    bes = faults.send("uma@dotb.test", "BES", size=4 * KIB)
    sos = faults.send("vera@dot.test", "SOS", size=64 * KIB)
    for n in (1, 2):
        line = faults.outcome(bes, attempt=n)
        assert line["status"] == "deferred", line["text"]
    assert faults.outcome(bes, "sent", attempt=3)["tls"] == "none"
    line = faults.outcome(sos, attempt=1)
    assert line["status"] == "deferred" and line["dsn"] == "4.7.10", line["text"]
    sent_over_tls(faults.outcome(sos, "sent", attempt=2))
    assert len(faults.wait_copies(bes, 2)) == 2, "the copy of attempt 2 and of attempt 3"
    assert len(faults.wait_copies(sos, 2)) == 2


def test_receiver_that_answers_250_and_closes(faults):
    """The 250 to the final "." gets through, then the connection is closed (FIN): the
    message is delivered once, and the next one, with the connection cache on, is not
    lost on the dead connection. Then a 250 followed at once by a reset: delivered, and at
    most one duplicate (if the reset overtook the 250, the relay retried)."""
    faults.start_relay(connection_cache_time="5s")
    proxy = faults.proxy("mx.close250.test",
                         faults=[Fault("dot_reply", "forward_close", n=16 * KIB),
                                 Fault("dot_reply", "forward_rst", n=16 * KIB)])
    first = faults.send("walt@close250.test", "SOS", size=32 * KIB)
    sent_over_tls(faults.outcome(first, "sent", attempt=1))
    proxy.wait_conns(1)
    second = faults.send("xena@close250.test", "SOS", size=32 * KIB)
    sent_over_tls(faults.outcome(second, "sent"))
    assert len(faults.wait_copies(first, 1)) == 1
    assert len(faults.wait_copies(second, 1)) in (1, 2)
    assert all(d["dsn"] != "5.7.10" for d in faults.lines())


# ----------------------------------------------------------------------------- timeouts


def test_replies_slower_than_the_relays_timeouts(faults):
    """command_timeout 3 s; the proxy withholds, on successive connections, the greeting,
    the reply to STARTTLS, and the 250 to the final "." (past data_done_timeout, 6 s).
    Each is a timeout, deferred 4.7.10, never 5.7.10; the last one leaves a duplicate,
    since the receiver had the message."""
    faults.start_relay(command_timeout="3s")
    faults.proxy("mx.slow.test", faults=[Fault("banner", "hold"),
                                         Fault("starttls_reply", "hold"),
                                         Fault("dot_reply", "hold", n=32 * KIB)])
    sos = faults.send("yuri@slow.test", "SOS", size=64 * KIB)
    for n, phase in ((1, "greeting"), (2, "STARTTLS"), (3, "end of data")):
        line = faults.outcome(sos, attempt=n, timeout=30)
        assert line["status"] == "deferred" and line["dsn"] == "4.7.10", line["text"]
        assert "timeout" in line["detail"], (phase, line["text"])
    sent_over_tls(faults.outcome(sos, "sent", attempt=4, timeout=30))
    assert len(faults.wait_copies(sos, 2)) == 2


def test_sos_fails_5_7_10_only_at_the_sos_lifetime(faults):
    """MX 10 answers without TLS, MX 20 (a TLS name) is unreachable. SOS mail is deferred
    at every attempt until sos_lifetime (5 s) has passed, then fails 5.7.10 with a DSN;
    BES mail goes to MX 10."""
    faults.start_relay(sos_lifetime="5s")
    faults.proxy("mx.lifeplain.test")
    sos = faults.send("zed@lifetime.test", "SOS")
    bes = faults.send("anna@lifetime.test", "BES")
    assert faults.outcome(bes, "sent")["tls"] == "none"
    line = faults.outcome(sos, "bounced", timeout=40)
    assert line["dsn"] == "5.7.10" and line["delay"] >= 5.0, line["text"]
    assert "within the SOS lifetime" in line["detail"], line["text"]
    earlier = [d for d in faults.lines(sos) if d["t"] < line["t"]]
    assert earlier and all(d["status"] == "deferred" and d["dsn"] == "4.7.10" for d in earlier)
    assert faults.wait_dsn(sos)["Status"] == "5.7.10"
