"""test_dnssec.py - DNSSEC status in discovery ([dns] dnssec) against real signed zones:
nsd serving zones signed at test time, a validating unbound in front of it
(dnssec_zone.py), and the relay's own resolver and discovery (secmx-dns-probe, the relay
itself, its admin route probe).

The world, shared by the tests of this module:

  signed.test   signed, anchored   MX 10 mx.signed.test     127.0.0.50 (a scripted peer)
                                   MX 20 mx.plain.test      (a secure name, insecure address)
                                   TLSA _25._tcp.tlsa.signed.test 3 1 1 ... (a lookup
                                   only: on mx.signed.test it would bind delivery to DANE)
  plain.test    unsigned           MX 10 mx.plain.test      127.0.0.51
  bogus.test    signed, MX forged  MX 10 mx.bogus.test      (the MX RRset no longer matches
                                                             its RRSIG: SERVFAIL)

The relay reaches unbound through a recording UDP forwarder, so the tests also see the
DNSSEC bits of the relay's own queries on the wire.
"""
from __future__ import annotations

import json
import os
import re
import select
import socket
import struct
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

import relaytest
from dnssec_zone import DnssecWorld
from mta import ScriptedPeer
from relaytest import swaks, swaks_queue_id, wait_until

TLSA_DATA = "8d02536c887482bc34ff54e41d2ba659bf85b341a0a20afadb5813dcfbcf286d"
TOKEN = "e2e-test-token-0123456789abcdef"  # what relaytest.Relay writes to its token file
SECURE_KEYS = ("name_secure", "addresses_secure", "tlsa")  # only with DNSSEC


def probe_bin() -> str:
    env = os.environ.get("SECMX_DNS_PROBE_BIN")
    if env:
        return env
    return str(Path(relaytest.relay_bin()).resolve().parent / "dns" / "secmx-dns-probe")


class QueryRecorder:
    """A UDP forwarder on loopback that notes (name, type, AD, DO) of every query it
    passes on to `upstream` and hands the reply back unchanged."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.seen: list[tuple[str, int, bool, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @staticmethod
    def _bits(q: bytes) -> tuple[str, int, bool, bool]:
        labels, pos = [], 12
        while pos < len(q) and q[pos]:
            labels.append(q[pos + 1:pos + 1 + q[pos]].decode("ascii", "replace").lower())
            pos += 1 + q[pos]
        qtype = struct.unpack(">H", q[pos + 1:pos + 3])[0] if pos + 3 <= len(q) else 0
        arcount = struct.unpack(">H", q[10:12])[0]
        has_do = arcount == 1 and len(q) >= 23 and q[-11] == 0 and \
            struct.unpack(">H", q[-10:-8])[0] == 41 and bool(q[-4] & 0x80)
        return ".".join(labels), qtype, bool(q[3] & 0x20), has_do

    def _loop(self):
        while not self._stop.is_set():
            if not select.select([self.sock], [], [], 0.1)[0]:
                continue
            query, client = self.sock.recvfrom(65535)
            if len(query) < 12:
                continue
            self.seen.append(self._bits(query))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(3)
                up.sendto(query, self.upstream)
                try:
                    reply, _ = up.recvfrom(65535)
                except OSError:
                    continue  # the relay's own retry or timeout takes over
            self.sock.sendto(reply, client)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dnssec")
    peer = ScriptedPeer(host="127.0.0.50", hostname="mx.signed.test")
    w = DnssecWorld(tmp / "dns")
    signed = w.zone("signed.test")
    signed.add_mx("signed.test", 10, "mx.signed.test")
    signed.add_mx("signed.test", 20, "mx.plain.test")
    signed.add_a("mx.signed.test", "127.0.0.50")
    signed.add_tlsa("_25._tcp.tlsa.signed.test", 3, 1, 1, TLSA_DATA)
    plain = w.zone("plain.test", signed=False)
    plain.add_mx("plain.test", 10, "mx.plain.test")
    plain.add_a("mx.plain.test", "127.0.0.51")
    bogus = w.zone("bogus.test")
    bogus.add_mx("bogus.test", 10, "mx.bogus.test")
    bogus.add_a("mx.bogus.test", "127.0.0.52")
    bogus.tamper("bogus.test", "MX", "10 evil.bogus.test.")
    recorder = None
    try:
        peer.__enter__()
        w.start()
        # The fixture itself, before the relay is judged by it.
        assert w.query("mx.signed.test", "A")[2], "signed zone not validated:\n" + w.log()
        assert not w.query("mx.plain.test", "A")[2]
        assert w.query("bogus.test", "MX")[0] == "SERVFAIL", w.log()
        assert w.bogus_reasons(), w.log()
        recorder = QueryRecorder((w.host, w.port))
        yield {"dns": w, "peer": peer, "recorder": recorder}
    finally:
        if recorder:
            recorder.stop()
        w.stop()
        peer.stop()


def write_config(path: Path, server: str, dnssec: bool | None) -> Path:
    lines = ["[dns]", f"servers = {json.dumps([server])}"]
    if dnssec is not None:
        lines.append(f"dnssec = {'true' if dnssec else 'false'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def probe(tmp_path: Path, world, *args: str, dnssec: bool | None = True) -> list[dict]:
    cfg = write_config(tmp_path / f"probe-{dnssec}.toml", world["recorder"].address, dnssec)
    p = subprocess.run([probe_bin(), "--config", str(cfg), "--seed", "4035", *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"probe failed ({p.returncode}): {p.stderr}\n{p.stdout}"
    for marker in relaytest.SANITIZER_MARKERS:
        assert marker not in p.stderr, p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    assert lines and "stats" in lines[-1], p.stdout
    return lines[:-1]


def discover(tmp_path, world, domain: str, dnssec: bool | None = True) -> dict:
    [r] = probe(tmp_path, world, domain, dnssec=dnssec)
    return r


def by_host(r: dict) -> dict[str, dict]:
    return {c["host"]: c for c in r["candidates"]}


# ------------------------------------------------------------------- discovery, probe


def test_signed_zone_answers_are_secure(tmp_path, world):
    r = discover(tmp_path, world, "signed.test")
    assert r["status"] == "ok" and r["dnssec"] is True, r
    mx = by_host(r)["mx.signed.test"]
    assert mx["name_secure"] is True and mx["addresses_secure"] is True, mx
    assert mx["addresses"] == ["127.0.0.50"]
    assert mx["tlsa"]["status"] == "none", f"a secure denial of TLSA: {mx}"
    assert any(line.startswith("MX signed.test: ok") and " secure" in line
               for line in r["trace"]), r["trace"]
    [a] = probe(tmp_path, world, "--lookup", "a", "mx.signed.test")
    assert a["status"] == "ok" and a["secure"] is True and a["records"] == ["127.0.0.50"], a


def test_secure_name_with_insecure_addresses(tmp_path, world):
    """Each step on its own: the signed MX names mx.plain.test, whose A is unsigned."""
    r = discover(tmp_path, world, "signed.test")
    other = by_host(r)["mx.plain.test"]
    assert other["name_secure"] is True, other
    assert other["addresses_secure"] is False, other
    assert other["tlsa"]["status"] == "not-asked", other


def test_unsigned_zone_answers_are_not_secure(tmp_path, world):
    r = discover(tmp_path, world, "plain.test")
    assert r["status"] == "ok" and r["dnssec"] is True, r
    mx = by_host(r)["mx.plain.test"]
    assert mx["name_secure"] is False and mx["addresses_secure"] is False, mx
    assert not any(" secure" in line for line in r["trace"]), r["trace"]
    [a] = probe(tmp_path, world, "--lookup", "mx", "plain.test")
    assert a["status"] == "ok" and a["secure"] is False, a


def test_tlsa_records_come_with_their_status(tmp_path, world):
    [t] = probe(tmp_path, world, "--lookup", "tlsa", "_25._tcp.tlsa.signed.test")
    assert t["status"] == "ok" and t["secure"] is True, t
    assert t["records"] == [{"usage": 3, "selector": 1, "matching_type": 1,
                             "data": TLSA_DATA}], t
    [none] = probe(tmp_path, world, "--lookup", "tlsa", "_25._tcp.mx.plain.test")
    assert none["status"] == "nxdomain" and none["secure"] is False, none
    [denied] = probe(tmp_path, world, "--lookup", "tlsa", "_25._tcp.other.signed.test")
    assert denied["status"] == "nxdomain" and denied["secure"] is True, \
        f"an authenticated denial: {denied}"


def test_bogus_zone_is_a_temporary_failure_never_no_record(tmp_path, world):
    [mx] = probe(tmp_path, world, "--lookup", "mx", "bogus.test")
    assert mx["status"] == "temporary" and "SERVFAIL" in mx["error"], mx
    assert mx["secure"] is False
    r = discover(tmp_path, world, "bogus.test")
    assert r["status"] == "temporary" and r["dsn"] == "4.4.3", r
    assert r["mx_incomplete"] is True and r["candidates"] == [], r


def test_dnssec_bits_are_on_the_wire_only_when_on(tmp_path, world):
    seen = world["recorder"].seen
    start = len(seen)
    probe(tmp_path, world, "--lookup", "a", "mx.signed.test", dnssec=False)
    off = seen[start:]
    assert off and all(not ad and not do for _, _, ad, do in off), off
    start = len(seen)
    probe(tmp_path, world, "--lookup", "a", "mx.signed.test", dnssec=True)
    on = seen[start:]
    assert on and all(ad and do for _, _, ad, do in on), on
    assert ("mx.signed.test", 1) in [(n, t) for n, t, _, _ in on]


def test_without_dnssec_results_are_as_before(tmp_path, world):
    for domain in ("signed.test", "plain.test", "bogus.test"):
        off = discover(tmp_path, world, domain, dnssec=None)  # the default: off
        on = discover(tmp_path, world, domain, dnssec=True)
        assert "dnssec" not in off, off
        for c in off["candidates"]:
            assert not any(k in c for k in SECURE_KEYS), c
        # The same verdict and candidates; only the secure flags are new.
        stripped = {k: v for k, v in on.items() if k not in ("dnssec", "trace")}
        stripped["candidates"] = [{k: v for k, v in c.items() if k not in SECURE_KEYS}
                                  for c in on["candidates"]]
        assert stripped == {k: v for k, v in off.items() if k != "trace"}, (domain, on, off)
        # The resolver may give an RRset's records in any order: compare them as sets.
        # DANE's lines (TLSA lookups, each host's status) come only with DNSSEC.
        on_trace = [line for line in on["trace"]
                    if not line.startswith("TLSA ") and " tlsa: " not in line]
        assert ([records(line.replace(" secure", "")) for line in on_trace]
                == [records(line) for line in off["trace"]])


def records(trace_line: str) -> tuple[str, frozenset[str]]:
    """'MX d: ok ttl=300: 10 a, 20 b' -> ('MX d: ok ttl=N', {'10 a', '20 b'}).

    A TTL read from the resolver's cache a second later is one lower: not a difference."""
    head, sep, tail = re.sub(r"ttl=\d+", "ttl=N", trace_line).rpartition(": ")
    if not sep:
        return trace_line, frozenset()
    return head, frozenset(tail.split(", "))


# ------------------------------------------------------------------------- the relay


@pytest.fixture
def relay(make_relay, world):
    return make_relay(overrides={
        "dns": {"servers": [world["dns"].address], "dnssec": True},
        "delivery": {"pause": False, "retry": ["1h"], "port": world["peer"].port,
                     "connect_timeout": "5s"},
    })


def attempt_line(relay, qid: str, rcpt: str, timeout: float = 30) -> str:
    rx = re.compile(rf"{qid}: to=<{re.escape(rcpt)}>, .*")
    return wait_until(lambda: (m := rx.search(relay.log())) and m.group(0), timeout,
                      f"the delivery log line of {qid} to {rcpt}")


def send(relay, to: str) -> str:
    r = swaks(relay, "--from", "alice@agency.test", "--to", to, "--header", "Subject: dnssec")
    assert r.returncode == 0, r.stdout + r.stderr
    return swaks_queue_id(r.stdout)


def test_relay_defers_mail_to_a_bogus_domain(relay, world):
    qid = send(relay, "bob@bogus.test")
    line = attempt_line(relay, qid, "bob@bogus.test")
    assert "status=deferred" in line and "dsn=4.4.3" in line, line
    m = wait_until(lambda: (x := relay.dump_by_id().get(qid)) and x["attempts"] == 1 and x,
                   10, "the deferral on disk")
    assert m["recipients"][0]["state"] == "pending", m


def test_relay_delivers_to_a_signed_domain_and_its_route_probe_says_secure(relay, world):
    qid = send(relay, "carol@signed.test")
    line = attempt_line(relay, qid, "carol@signed.test")
    assert "status=sent" in line and "relay=mx.signed.test[127.0.0.50]" in line, line

    req = urllib.request.Request(f"http://127.0.0.1:{relay.admin_port}/api/v1/route/signed.test",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        route = json.loads(resp.read().decode())
    assert route["status"] == "ok" and route["dnssec"] is True, route
    first = route["candidates"][0]
    assert first["host"] == "mx.signed.test" and first["name_secure"] is True, route
    assert first["addresses_secure"] is True, route


# ---------------------------------------------------------------------------- --check


def test_check_warns_when_the_resolver_is_not_on_loopback(tmp_path):
    cfg = tmp_path / "relay.toml"
    cfg.write_text('[dns]\nservers = ["127.0.0.1", "192.0.2.53"]\ndnssec = true\n')
    r = subprocess.run([relaytest.relay_bin(), "--config", str(cfg), "--check"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == f"{cfg}: OK", r
    assert f"{cfg}:2: warning: dns.dnssec: server 192.0.2.53:53 is not on loopback" \
        in r.stderr, r.stderr
    assert "127.0.0.1:53" not in r.stderr

    cfg.write_text('[dns]\nservers = ["127.0.0.1:5353"]\ndnssec = true\n')
    quiet = subprocess.run([relaytest.relay_bin(), "--config", str(cfg), "--check"],
                           capture_output=True, text=True, timeout=30)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet
