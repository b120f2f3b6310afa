"""test_dane_dns.py - DANE's DNS half against real signed zones: with [dns] dnssec, discovery
looks up TLSA for every host whose name and addresses are secure and says per host what it
found (usable / unusable / none / failed / not-asked), in secmx-dns-probe's JSON and in the
route view (`secmxctl route D` against a running relay).

The world (dnssec_zone.py: nsd + ldns-signzone + a validating unbound; pki.py certificates):

  dane.test       signed   MX 10 mx.dane.test     TLSA 3 1 1 <SPKI SHA-256 of its cert>
                           MX 20 pkix.dane.test   TLSA 0 0 1 <cert SHA-256>  (PKIX-TA: unusable)
                           MX 30 nodane.dane.test no TLSA (a secure denial)
                           MX 40 alias.dane.test  CNAME real.dane.test, TLSA at real.dane.test
  unsigned.test   unsigned MX 10 mx.unsigned.test TLSA 3 1 1 (never asked: the name is insecure)
  bogustlsa.test  signed   MX 10 mx.bogustlsa.test, its TLSA RRset forged after signing
                           (unbound: SERVFAIL, so the lookup fails)
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import relaytest
from dnssec_zone import DnssecWorld, tlsa_data
from pki import TestCA


def probe_bin() -> str:
    env = os.environ.get("SECMX_DNS_PROBE_BIN")
    if env:
        return env
    return str(Path(relaytest.relay_bin()).resolve().parent / "dns" / "secmx-dns-probe")



@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dane-dns")
    ca = TestCA(tmp / "pki")
    cert, _ = ca.issue("mx.dane.test")
    w = DnssecWorld(tmp / "dns")
    dane = w.zone("dane.test")
    for pref, host, ip in ((10, "mx", "127.0.0.60"), (20, "pkix", "127.0.0.61"),
                           (30, "nodane", "127.0.0.62"), (40, "alias", None)):
        dane.add_mx("dane.test", pref, f"{host}.dane.test")
        if ip:
            dane.add_a(f"{host}.dane.test", ip)
    dane.add_tlsa_for_cert("mx.dane.test", cert)
    dane.add_tlsa_for_cert("pkix.dane.test", cert, usage=0, selector=0, matching=1)
    dane.add_record("alias.dane.test", "CNAME", "real.dane.test.")
    dane.add_a("real.dane.test", "127.0.0.63")
    dane.add_tlsa_for_cert("real.dane.test", cert)
    unsigned = w.zone("unsigned.test", signed=False)
    unsigned.add_mx("unsigned.test", 10, "mx.unsigned.test")
    unsigned.add_a("mx.unsigned.test", "127.0.0.64")
    unsigned.add_tlsa_for_cert("mx.unsigned.test", cert)
    bogus = w.zone("bogustlsa.test")
    bogus.add_mx("bogustlsa.test", 10, "mx.bogustlsa.test")
    bogus.add_a("mx.bogustlsa.test", "127.0.0.65")
    bogus.add_tlsa_for_cert("mx.bogustlsa.test", cert)
    bogus.tamper("_25._tcp.mx.bogustlsa.test", "TLSA", "3 1 1 " + "00" * 32)
    try:
        w.start()
        # The fixture itself, before the relay is judged by it.
        rcode, count, ad = w.query("_25._tcp.mx.dane.test", "TLSA")
        assert (rcode, ad) == ("NOERROR", True) and count >= 1, w.log()  # TLSA (+ RRSIG)
        assert w.query("_25._tcp.mx.bogustlsa.test", "TLSA")[0] == "SERVFAIL", w.log()
        assert not w.query("_25._tcp.mx.unsigned.test", "TLSA")[2]
        yield {"dns": w, "cert": cert, "spki": tlsa_data(cert)}
    finally:
        w.stop()


def discover(tmp_path: Path, world, domain: str, dnssec: bool = True) -> dict:
    cfg = tmp_path / "probe.toml"
    cfg.write_text(f'[dns]\nservers = ["{world["dns"].address}"]\n'
                   f"dnssec = {'true' if dnssec else 'false'}\n")
    p = subprocess.run([probe_bin(), "--config", str(cfg), "--seed", "7672", domain],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"probe failed ({p.returncode}): {p.stderr}\n{p.stdout}"
    for marker in relaytest.SANITIZER_MARKERS:
        assert marker not in p.stderr, p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    assert len(lines) == 2 and "stats" in lines[-1], p.stdout
    return lines[0]


def tlsa_by_host(r: dict) -> dict[str, dict]:
    return {c["host"]: c["tlsa"] for c in r["candidates"]}


# ---------------------------------------------------------------------- secmx-dns-probe


def test_signed_hosts_get_their_tlsa_status(tmp_path, world):
    r = discover(tmp_path, world, "dane.test")
    assert r["status"] == "ok" and r["dnssec"] is True, r
    t = tlsa_by_host(r)
    assert t["mx.dane.test"] == {"status": "usable", "base": "mx.dane.test", "detail": "",
                                 "records": [f"3 1 1 {world['spki']}"]}, t
    assert t["pkix.dane.test"]["status"] == "unusable" and t["pkix.dane.test"]["records"] == [], t
    assert t["nodane.dane.test"]["status"] == "none", t
    assert any(line.startswith("TLSA _25._tcp.mx.dane.test: ok") and "secure: 1 usable" in line
               for line in r["trace"]), r["trace"]


def test_cname_host_uses_the_tlsa_of_its_target(tmp_path, world):
    r = discover(tmp_path, world, "dane.test")
    alias = tlsa_by_host(r)["alias.dane.test"]
    assert alias["status"] == "usable" and alias["base"] == "real.dane.test", alias
    assert alias["records"] == [f"3 1 1 {world['spki']}"], alias


def test_tlsa_in_an_unsigned_zone_is_not_asked(tmp_path, world):
    r = discover(tmp_path, world, "unsigned.test")
    mx = tlsa_by_host(r)["mx.unsigned.test"]
    assert mx["status"] == "not-asked" and mx["records"] == [], mx
    assert "mx mx.unsigned.test:25 tlsa: not asked (name insecure)" in r["trace"], r["trace"]
    assert not any(line.startswith("TLSA ") for line in r["trace"]), r["trace"]


def test_bogus_tlsa_is_a_failure_not_no_record(tmp_path, world):
    r = discover(tmp_path, world, "bogustlsa.test")
    assert r["status"] == "ok", r  # the host stays; delivery skips it as temporarily failed
    mx = tlsa_by_host(r)["mx.bogustlsa.test"]
    assert mx["status"] == "failed" and "_25._tcp.mx.bogustlsa.test" in mx["detail"], mx
    assert world["dns"].bogus_reasons(), world["dns"].log()


def test_without_dnssec_nothing_is_asked(tmp_path, world):
    r = discover(tmp_path, world, "dane.test", dnssec=False)
    assert r["status"] == "ok" and "dnssec" not in r, r
    assert all("tlsa" not in c for c in r["candidates"]), r
    assert not any("TLSA" in line or "tlsa" in line for line in r["trace"]), r["trace"]


# --------------------------------------------------------------------------- route view


@pytest.fixture
def relay(make_relay, world):
    r = make_relay(overrides={
        "dns": {"servers": [world["dns"].address], "dnssec": True},
        "delivery": {"connect_timeout": "2s"},
    })
    r.wait_log(r"secmx-relay started", 20)  # SMTP answers before the admin API does
    return r


def route(relay, domain: str, as_json: bool = False):
    cmd = [relaytest.ctl_bin(), "--config", str(relay.config_path)] + (["--json"] if as_json else []) + \
        ["route", domain]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=relay.workdir,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"secmxctl route {domain}: {p.returncode}\n{p.stderr}"
    return json.loads(p.stdout) if as_json else p.stdout


def row(text: str, host: str) -> str:
    lines = [line for line in text.splitlines() if f" {host} " in line]
    assert lines, f"no row for {host}:\n{text}"
    return lines[0]


def test_route_view_shows_dnssec_and_tlsa(relay, world):
    text = route(relay, "dane.test")
    assert "dnssec:          on" in text, text
    assert "DNSSEC" in text and "TLSA" in text, text
    assert "secure" in row(text, "mx.dane.test") and \
        "usable (1 record)" in row(text, "mx.dane.test"), text
    assert "unusable" in row(text, "pkix.dane.test"), text
    assert " none " in row(text, "nodane.dane.test"), text
    assert f"_25._tcp.real.dane.test TLSA 3 1 1 {world['spki']}" in text, text

    j = route(relay, "dane.test", as_json=True)
    hosts = {h["host"]: h for h in j["hosts"]}
    assert hosts["mx.dane.test"]["dnssec"] == "secure", hosts
    assert hosts["mx.dane.test"]["tlsa"]["status"] == "usable", hosts
    assert hosts["alias.dane.test"]["tlsa"]["base"] == "real.dane.test", hosts
    # The terms delivery would hold each host to, from the same function delivery uses.
    assert hosts["mx.dane.test"]["binding"] == "dane", hosts
    assert hosts["pkix.dane.test"]["binding"] == "dane-encrypt", hosts
    assert hosts["nodane.dane.test"]["binding"] == "none", hosts
    assert j["mta_sts"] == {"enabled": True, "cached": False}, j["mta_sts"]
    # Nothing listens there: the probe says so for each policy rather than guessing.
    assert hosts["mx.dane.test"]["verdict"]["SOS verify"].startswith("no session"), hosts
    assert "mta-sts:         no policy cached" in text, text


def test_route_view_insecure_and_failed(relay, world):
    plain = route(relay, "unsigned.test")
    line = row(plain, "mx.unsigned.test")
    assert "insecure" in line and "not-asked" in line, plain
    bogus = route(relay, "bogustlsa.test")
    assert "failed: TLSA _25._tcp.mx.bogustlsa.test" in row(bogus, "mx.bogustlsa.test"), bogus
    # A host whose TLSA lookup failed is never tried, whatever the message's policy: every
    # verdict defers on the failed lookup.
    verdicts = [l for l in bogus.splitlines() if l.startswith(("BES:", "SOS encrypt:", "SOS verify:"))]
    assert len(verdicts) == 3, bogus
    assert all("would defer" in v and "TLSA lookup failed" in v for v in verdicts), bogus
    # ... and, as in delivery, never connected to.
    j = route(relay, "bogustlsa.test", as_json=True)
    assert [h["status"] for h in j["hosts"]] == ["not tried"], j["hosts"]
    assert j["summary"]["answering"] == 0, j["summary"]


# ----------------------------------------------------------------- the fixture, changed


def test_resign_publishes_records_added_later(tmp_path, world):
    """What the delivery tests rely on: a TLSA RRset added after start() is served, signed,
    once the world is re-signed, and what was there stays valid."""
    w = world["dns"]
    w.zones["dane.test"].add_a("late.dane.test", "127.0.0.66")
    w.zones["dane.test"].add_tlsa_for_cert("late.dane.test", world["cert"], port=2525)
    w.resign()
    rcode, count, ad = w.query("_2525._tcp.late.dane.test", "TLSA")
    assert (rcode, ad) == ("NOERROR", True) and count >= 1, w.log()
    r = discover(tmp_path, world, "dane.test")
    assert tlsa_by_host(r)["mx.dane.test"]["status"] == "usable", r
