"""test_dns.py - SecMX receiver discovery against a real DNS server (unbound on loopback).

Each test publishes a few records with the dns_server fixture, writes a relay config whose
[dns] servers points at it, runs `secmx-dns-probe --config ...` (the relay's own resolver
and discovery code) and checks the JSON it prints: candidates and their order, the
verdict and DSN code, the incomplete flags, and - for the cache - what unbound was asked.

The probe binary: SECMX_DNS_PROBE_BIN, else relay/dns/secmx-dns-probe next to the
directory of SECMX_RELAY_BIN (<build>/relay/secmx-relay).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

import relaytest
from dns_fixtures import dns_server, dns_server_v6  # noqa: F401


def probe_bin() -> str:
    env = os.environ.get("SECMX_DNS_PROBE_BIN")
    if env:
        return env
    return str(Path(relaytest.relay_bin()).resolve().parent / "dns" / "secmx-dns-probe")


@pytest.fixture(scope="module", autouse=True)
def _probe_built():
    if not os.access(probe_bin(), os.X_OK):
        pytest.fail(f"{probe_bin()} not found: build the secmx-dns-probe target or set "
                    "SECMX_DNS_PROBE_BIN", pytrace=False)


def write_config(path: Path, servers: list[str], discovery: list[str] | None = None,
                 routes: list[dict] | None = None, port: int | None = None) -> Path:
    lines = ["[dns]", f"servers = {json.dumps(servers)}"]
    if port is not None:
        lines += ["", "[delivery]", f"port = {port}"]
    if discovery is not None:
        lines += ["", "[policy]", f"discovery = {json.dumps(discovery)}"]
    for r in routes or []:
        lines += ["", "[[route]]"] + [f"{k} = {json.dumps(v)}" for k, v in r.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class Probe:
    """Runs secmx-dns-probe; returns (results by pass then domain, stats)."""

    def __init__(self, tmp_path: Path, server_address: str | None):
        self.tmp_path = tmp_path
        self.servers = [server_address] if server_address else []

    def run(self, *names: str, discovery: list[str] | None = None,
            routes: list[dict] | None = None, port: int | None = None,
            extra: list[str] | None = None, timeout: float = 30.0):
        cfg = write_config(self.tmp_path / "relay.toml", self.servers, discovery, routes, port)
        cmd = [probe_bin(), "--config", str(cfg), "--seed", "2782", *(extra or []), *names]
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        self.elapsed = time.monotonic() - t0
        assert p.returncode == 0, f"probe failed ({p.returncode}): {p.stderr}\n{p.stdout}"
        for marker in relaytest.SANITIZER_MARKERS:
            assert marker not in p.stderr, p.stderr
        lines = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        assert lines and "stats" in lines[-1], p.stdout
        self.stderr = p.stderr
        return lines[:-1], lines[-1]["stats"]

    def discover(self, domain: str, **kw) -> dict:
        results, _ = self.run(domain, **kw)
        assert len(results) == 1, results
        r = results[0]
        assert r["domain"] == domain.lower().rstrip(".") or domain.startswith("[")
        return r


@pytest.fixture
def probe(tmp_path, dns_server):
    return Probe(tmp_path, dns_server.address)


def cands(r: dict) -> list[tuple[str, str, int, list[str]]]:
    return [(c["method"], c["host"], c["port"], c["addresses"]) for c in r["candidates"]]


# --------------------------------------------------------------------------- SecMX methods


def test_srv_priorities_and_weights(dns_server, probe):
    dns_server.add_srv("d.test", 10, 60, 2525, "sora.d.test")
    dns_server.add_srv("d.test", 10, 40, 2526, "sorb.d.test")
    dns_server.add_srv("d.test", 20, 0, 2527, "sorc.d.test")
    for h, ip in (("sora", "127.0.0.10"), ("sorb", "127.0.0.11"), ("sorc", "127.0.0.12")):
        dns_server.add_a(f"{h}.d.test", ip)
    dns_server.add_mx("d.test", 10, "mx1.d.test")
    dns_server.add_a("mx1.d.test", "127.0.0.21")
    dns_server.start()
    # One process, 200 passes: one resolver (answers cached) and one random generator, so
    # each pass draws a fresh RFC 2782 order from the same records.
    results, stats = probe.run("d.test", extra=["--repeat", "200"])
    assert len(results) == 200
    first = Counter()
    for r in results:
        assert r["status"] == "ok" and r["complete"], r
        c = cands(r)
        assert [x[0] for x in c] == ["srv", "srv", "srv", "mx"]
        assert {x[1] for x in c[:2]} == {"sora.d.test", "sorb.d.test"}, "priority 10 first"
        assert c[2] == ("srv", "sorc.d.test", 2527, ["127.0.0.12"]), "then priority 20"
        assert c[3] == ("mx", "mx1.d.test", 25, ["127.0.0.21"])
        ports = {x[1]: x[2] for x in c}
        assert ports["sora.d.test"] == 2525 and ports["sorb.d.test"] == 2526
        first[c[0][1]] += 1
    # Weights 60:40 -> sora first about 60% of the time (binomial sd ~3.5% at n=200).
    share = first["sora.d.test"] / 200
    assert 0.45 <= share <= 0.75, first
    assert first["sorb.d.test"] > 0
    assert stats["queries"] == 12, "the first pass asked, the other 199 used the cache"
    assert dns_server.count_queries("_secmx._tcp.d.test", "SRV") == 1


def test_srv_target_dot_means_no_secmx_service(dns_server, probe):
    dns_server.add_srv("d.test", 0, 0, 0, ".")
    dns_server.add_mx("d.test", 10, "mx1.d.test")
    dns_server.add_a("mx1.d.test", "127.0.0.21")
    dns_server.start()
    r = probe.discover("d.test")
    assert r["status"] == "ok"
    assert cands(r) == [("mx", "mx1.d.test", 25, ["127.0.0.21"])]
    assert not r["secmx_incomplete"]
    assert any('SRV target "."' in t for t in r["trace"]), r["trace"]


def test_mx_51966_comes_first(dns_server, probe):
    dns_server.add_mx("d.test", 10, "mx1.d.test")
    dns_server.add_mx("d.test", 51966, "cafe.d.test")
    dns_server.add_a("mx1.d.test", "127.0.0.21")
    dns_server.add_a("cafe.d.test", "127.0.0.30")
    dns_server.start()
    r = probe.discover("d.test")
    assert cands(r) == [("mx51966", "cafe.d.test", 25, ["127.0.0.30"]),
                        ("mx", "mx1.d.test", 25, ["127.0.0.21"])]
    assert [c["secmx"] for c in r["candidates"]] == [True, False]
    assert r["candidates"][0]["preference"] == 51966


def test_secmx_name(dns_server, probe):
    dns_server.add_mx("d.test", 10, "mx1.d.test")
    dns_server.add_a("mx1.d.test", "127.0.0.21")
    dns_server.add_a("secmx.d.test", "127.0.0.40")
    dns_server.start()
    r = probe.discover("d.test", port=2500)
    assert cands(r) == [("name", "secmx.d.test", 2500, ["127.0.0.40"]),
                        ("mx", "mx1.d.test", 2500, ["127.0.0.21"])]


def test_all_methods_in_order(dns_server, probe):
    dns_server.add_srv("d.test", 10, 1, 2525, "sor.d.test")
    dns_server.add_mx("d.test", 30, "mx3.d.test")
    dns_server.add_mx("d.test", 51966, "cafe.d.test")
    dns_server.add_mx("d.test", 10, "mx1.d.test")
    dns_server.add_mx("d.test", 20, "mx2.d.test")
    for h, ip in (("sor", "127.0.0.10"), ("cafe", "127.0.0.30"), ("secmx", "127.0.0.40"),
                  ("mx1", "127.0.0.21"), ("mx2", "127.0.0.22"), ("mx3", "127.0.0.23")):
        dns_server.add_a(f"{h}.d.test", ip)
    dns_server.start()
    r = probe.discover("d.test")
    assert r["status"] == "ok" and r["complete"] and r["dsn"] is None
    assert [(c[0], c[1]) for c in cands(r)] == [
        ("srv", "sor.d.test"), ("mx51966", "cafe.d.test"), ("name", "secmx.d.test"),
        ("mx", "mx1.d.test"), ("mx", "mx2.d.test"), ("mx", "mx3.d.test")]


# --------------------------------------------------------------------------- ordinary MX


def test_ordinary_mx_by_preference(dns_server, probe):
    dns_server.add_mx("d.test", 30, "mx3.d.test")
    dns_server.add_mx("d.test", 10, "mx1.d.test")
    dns_server.add_mx("d.test", 20, "mx2.d.test")
    dns_server.add_a("mx1.d.test", "127.0.0.21")
    dns_server.add_a("mx2.d.test", "127.0.0.22")
    dns_server.add_a("mx3.d.test", "127.0.0.23")
    dns_server.start()
    r = probe.discover("d.test")
    assert [(c[1], c[3]) for c in cands(r)] == [
        ("mx1.d.test", ["127.0.0.21"]), ("mx2.d.test", ["127.0.0.22"]),
        ("mx3.d.test", ["127.0.0.23"])]
    assert [c["preference"] for c in r["candidates"]] == [10, 20, 30]
    assert not any(c["secmx"] for c in r["candidates"])


def test_implicit_mx(dns_server, probe):
    dns_server.add_a("d.test", "127.0.0.50")
    dns_server.start()
    r = probe.discover("d.test")
    assert r["status"] == "ok"
    assert cands(r) == [("implicit", "d.test", 25, ["127.0.0.50"])]


def test_null_mx_is_permanent_5_1_10(dns_server, probe):
    dns_server.add_mx("d.test", 0, ".")
    dns_server.add_a("d.test", "127.0.0.50")  # must not be used as an implicit MX
    dns_server.start()
    r = probe.discover("d.test")
    assert r["status"] == "permanent"
    assert r["dsn"] == "5.1.10"
    assert r["candidates"] == []
    assert "null MX" in r["reason"]


def test_nxdomain_is_permanent_5_1_2(dns_server, probe):
    dns_server.start()
    r = probe.discover("nowhere.test")
    assert r["status"] == "permanent"
    assert r["dsn"] == "5.1.2"
    assert "does not exist" in r["reason"]


def test_mx_host_without_address_is_5_4_4(dns_server, probe):
    dns_server.add_mx("d.test", 10, "ghost.d.test")
    dns_server.start()
    r = probe.discover("d.test")
    assert (r["status"], r["dsn"]) == ("permanent", "5.4.4")


# --------------------------------------------------------------------------- temporary failures


def test_servfail_defers_4_4_3(dns_server, probe):
    dns_server.servfail_zone("d.test")
    dns_server.start()
    r = probe.discover("d.test", extra=["--timeout-ms", "500", "--tries", "1"])
    assert r["status"] == "temporary"
    assert r["dsn"] == "4.4.3"
    assert r["secmx_incomplete"] and r["mx_incomplete"] and not r["complete"]
    assert "temporar" in r["reason"]
    assert probe.elapsed < 5


def test_servfail_of_secmx_lookups_only_flags_secmx_incomplete(dns_server, probe):
    dns_server.servfail_zone("_secmx._tcp.d.test")
    dns_server.servfail_zone("secmx.d.test")
    dns_server.add_mx("d.test", 10, "mx1.d.test")
    dns_server.add_a("mx1.d.test", "127.0.0.21")
    dns_server.start()
    r = probe.discover("d.test")
    assert r["status"] == "ok"
    assert cands(r) == [("mx", "mx1.d.test", 25, ["127.0.0.21"])]
    assert r["secmx_incomplete"] is True
    assert r["mx_incomplete"] is False


def test_servfail_of_an_mx_host_flags_mx_incomplete(dns_server, probe):
    dns_server.add_mx("d.test", 10, "mx1.broken.test")
    dns_server.add_mx("d.test", 20, "mx2.d.test")
    dns_server.add_a("mx2.d.test", "127.0.0.22")
    dns_server.servfail_zone("broken.test")
    dns_server.start()
    r = probe.discover("d.test")
    assert r["status"] == "ok"
    assert cands(r) == [("mx", "mx2.d.test", 25, ["127.0.0.22"])]
    assert r["mx_incomplete"] is True and r["secmx_incomplete"] is False


def test_silent_dns_server_times_out_within_the_bound(tmp_path):
    # A UDP socket that never answers: every lookup must end by timeout (tries 2 at
    # 200 ms: 200 + 400 ms), and the discovery (two phases at most) soon after.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        p = Probe(tmp_path, f"127.0.0.1:{port}")
        r = p.discover("d.test", extra=["--timeout-ms", "200", "--tries", "2"])
    assert r["status"] == "temporary" and r["dsn"] == "4.4.3"
    assert "timeout" in r["reason"]
    assert 0.5 <= p.elapsed < 5, p.elapsed


def test_unreachable_dns_server_defers_quickly(tmp_path):
    port = relaytest.free_port()  # nothing listens there
    p = Probe(tmp_path, f"127.0.0.1:{port}")
    r = p.discover("d.test", extra=["--timeout-ms", "2000", "--tries", "2"])
    assert r["status"] == "temporary" and r["dsn"] == "4.4.3"
    assert p.elapsed < 4, "a refused port fails at once, not by timeout"


# --------------------------------------------------------------------------- routes, methods


def test_route_overrides_discovery(dns_server, probe):
    dns_server.add_mx("d.test", 10, "mx1.d.test")
    dns_server.add_a("mx1.d.test", "127.0.0.21")
    dns_server.add_a("hub.test", "127.0.0.6")
    dns_server.add_aaaa("hub.test", "::1")
    dns_server.start()
    routes = [{"domain": "d.test", "host": "[127.0.0.5]:2526", "tls": "verify"},
              {"domain": "e.test", "host": "hub.test:2600"},
              {"domain": "f.test", "host": "[::1]:2527"}]
    results, _ = probe.run("d.test", "e.test", "f.test", "[127.0.0.9]", routes=routes)
    by = {r["domain"]: r for r in results}
    assert cands(by["d.test"]) == [("route", "127.0.0.5", 2526, ["127.0.0.5"])]
    assert by["d.test"]["route_tls"] == "verify"
    assert cands(by["e.test"]) == [("route", "hub.test", 2600, ["127.0.0.6", "::1"])]
    assert by["e.test"]["route_tls"] is None
    assert cands(by["f.test"]) == [("route", "::1", 2527, ["::1"])]
    assert cands(by["[127.0.0.9]"]) == [("implicit", "127.0.0.9", 25, ["127.0.0.9"])]
    asked = {name for name, _ in dns_server.queries()}
    assert "d.test" not in asked and "_secmx._tcp.d.test" not in asked, \
        "a routed domain is not looked up"
    assert "hub.test" in asked


def test_route_to_a_name_without_address_defers_4_4_4(dns_server, probe):
    dns_server.start()
    r = probe.discover("d.test", routes=[{"domain": "d.test", "host": "nohub.test"}])
    assert (r["status"], r["dsn"]) == ("temporary", "4.4.4")


def test_discovery_methods_switched_off(dns_server, probe):
    dns_server.add_srv("d.test", 10, 1, 2525, "sor.d.test")
    dns_server.add_a("sor.d.test", "127.0.0.10")
    dns_server.add_mx("d.test", 51966, "cafe.d.test")
    dns_server.add_mx("d.test", 10, "mx1.d.test")
    dns_server.add_a("cafe.d.test", "127.0.0.30")
    dns_server.add_a("mx1.d.test", "127.0.0.21")
    dns_server.add_a("secmx.d.test", "127.0.0.40")
    dns_server.start()
    none = probe.discover("d.test", discovery=[])
    assert [(c[0], c[1]) for c in cands(none)] == [("mx", "mx1.d.test"), ("mx", "cafe.d.test")]
    assert dns_server.count_queries("_secmx._tcp.d.test", "SRV") == 0
    assert dns_server.count_queries("secmx.d.test", "A") == 0
    srv_only = probe.discover("d.test", discovery=["srv"])
    assert [c[0] for c in cands(srv_only)] == ["srv", "mx", "mx"]
    name_mx = probe.discover("d.test", discovery=["mx51966", "name"])
    assert [c[0] for c in cands(name_mx)] == ["mx51966", "name", "mx"]


# --------------------------------------------------------------------------- IPv6


def test_ipv6_addresses(dns_server, probe):
    dns_server.add_mx("d.test", 10, "dual.d.test")
    dns_server.add_mx("d.test", 20, "six.d.test")
    dns_server.add_a("dual.d.test", "127.0.0.21")
    dns_server.add_aaaa("dual.d.test", "::1")
    dns_server.add_aaaa("six.d.test", "::ffff:127.0.0.22")
    dns_server.start()
    r = probe.discover("d.test")
    assert cands(r) == [("mx", "dual.d.test", 25, ["127.0.0.21", "::1"]),
                        ("mx", "six.d.test", 25, ["::ffff:127.0.0.22"])]


def test_dns_server_over_ipv6(tmp_path, dns_server_v6):
    dns_server_v6.add_mx("d.test", 10, "mx1.d.test")
    dns_server_v6.add_aaaa("mx1.d.test", "::1")
    dns_server_v6.start()
    assert dns_server_v6.address.startswith("[::1]:")
    r = Probe(tmp_path, dns_server_v6.address).discover("d.test")
    assert cands(r) == [("mx", "mx1.d.test", 25, ["::1"])]


# --------------------------------------------------------------------------- cache


def test_second_discovery_is_answered_from_the_cache(dns_server, probe):
    dns_server.add_srv("d.test", 10, 1, 2525, "sor.d.test")
    dns_server.add_a("sor.d.test", "127.0.0.10")
    dns_server.add_mx("d.test", 10, "mx1.d.test")
    dns_server.add_a("mx1.d.test", "127.0.0.21")
    dns_server.start()
    results, stats = probe.run("d.test", "nowhere.test", extra=["--repeat", "2"])
    assert len(results) == 4
    passes = {(r["pass"], r["domain"]): r for r in results}
    one, two = passes[(1, "d.test")], passes[(2, "d.test")]
    assert cands(one) == cands(two)
    assert not any("cached" in t for t in one["trace"])
    assert any(t.startswith("MX d.test: ok") and "cached" in t for t in two["trace"]), two
    assert passes[(2, "nowhere.test")]["dsn"] == "5.1.2", "NXDOMAIN is cached as NXDOMAIN"
    # d.test: SRV, MX, A+AAAA of secmx.d.test, sor.d.test, mx1.d.test = 8; nowhere.test:
    # SRV, MX, A+AAAA of secmx.nowhere.test = 4. The second pass asked nothing.
    assert stats["queries"] == 12, stats
    assert stats["cache_hits"] == 12, stats
    # ... as unbound saw it.
    assert dns_server.count_queries("d.test", "MX") == 1
    assert dns_server.count_queries("nowhere.test", "MX") == 1
    assert dns_server.count_queries("mx1.d.test", "A") == 1


def test_raw_lookup_reports_ttls(dns_server, probe):
    dns_server.add_mx("d.test", 10, "mx1.d.test", ttl=1234)
    dns_server.start()
    results, _ = probe.run("d.test", "nowhere.test", extra=["--lookup", "mx"])
    by = {r["name"]: r for r in results}
    assert by["d.test"]["status"] == "ok" and by["d.test"]["ttl"] == 1234
    assert by["d.test"]["records"] == [{"preference": 10, "host": "mx1.d.test"}]
    # NXDOMAIN lives for the SOA MINIMUM (RFC 2308), 60 s in the fixture's zones.
    assert by["nowhere.test"]["status"] == "nxdomain" and by["nowhere.test"]["ttl"] == 60


def test_server_flag_overrides_the_config_and_is_checked(tmp_path, dns_server):
    """--server takes the grammar of [dns] servers and replaces the configured ones."""
    dns_server.add_mx("flag.test", 10, "mx.flag.test")
    dns_server.add_a("mx.flag.test", "127.0.0.25")
    dns_server.start()
    # The config points at a closed port: an answer can only come through --server.
    dead = Probe(tmp_path, "127.0.0.1:9")
    results, _ = dead.run("flag.test", extra=["--server", dns_server.address])
    assert [c["host"] for c in results[0]["candidates"]] == ["mx.flag.test"]

    cfg = write_config(tmp_path / "bad.toml", ["127.0.0.1:9"])
    for bad in ("127.0.0.1:99999", "[::1", "mx.flag.test", "127.0.0.1:"):
        p = subprocess.run([probe_bin(), "--config", str(cfg), "--server", bad, "flag.test"],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 64, (bad, p.returncode, p.stderr)
        assert f"bad --server '{bad}'" in p.stderr
