"""test_mta_sts.py - MTA-STS policy discovery end to end (RFC 8461 §3-§5): the relay's own
resolver asks a real unbound for _mta-sts.D TXT and mta-sts.D A, fetches the policy over
HTTPS from a real TLS server (sts_server.py, certificates from the test CA that the relay
trusts through [delivery] ca_file), caches it durably, and shows it through secmxctl.

The fetch is triggered by `secmxctl sts fetch D` (POST /api/v1/sts/D/fetch), which asks
the worker that owns D to look the TXT up and fetch now; the background refresh is
exercised with a short [mta_sts] refresh_interval. What delivery does with the policy is
tested with the delivery tests.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dns_fixtures import dns_server  # noqa: E402,F401
from pki import TestCA  # noqa: E402
from relaytest import ctl_bin, relay_bin, wait_until  # noqa: E402
from sts_server import StsServer  # noqa: E402

STS_HOST = "127.0.0.80"
ENFORCE = "version: STSv1\nmode: enforce\nmx: mx.d.test\nmx: *.backup.d.test\nmax_age: 86400\n"



def policy(mode: str = "enforce", mx: str = "mx.d.test", max_age: int = 86400) -> str:
    return f"version: STSv1\nmode: {mode}\nmx: {mx}\nmax_age: {max_age}\n"


class Sts:
    """One relay, its DNS server and the policy host, with secmxctl's sts commands."""

    def __init__(self, make_relay, dns, tmp_path: Path, mta_sts: dict | None = None):
        self.ca = TestCA(tmp_path / "pki")
        self.dns = dns
        self.web = StsServer(tmp_path / "sts", self.ca, host=STS_HOST)
        self.tmp_path = tmp_path
        self.make_relay = make_relay
        self.mta_sts = {"fetch_timeout": "3s", **(mta_sts or {})}
        self.relay = None

    def publish(self, domain: str, policy_id: str, ttl: int = 1):
        self.dns.add_record(f"_mta-sts.{domain}", "TXT", f'"v=STSv1; id={policy_id};"', ttl=ttl)
        self.dns.add_a(f"mta-sts.{domain}", STS_HOST)

    def start(self):
        self.dns.start()
        self.web.start()
        self.relay = self.make_relay(overrides={
            "dns": {"servers": [self.dns.address]},
            "delivery": {"ca_file": str(self.ca.cert)},
            "mta_sts": self.mta_sts,
        })
        self.wait_admin()
        return self

    def restart(self):
        assert self.relay.stop() == 0
        self.relay.start()
        self.wait_admin()

    def wait_admin(self):
        wait_until(lambda: "admin API listening" in self.relay.log(since_start=True), 10,
                   "the admin API to listen")

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([ctl_bin(), "--config", str(self.relay.config_path), *args],
                              capture_output=True, text=True, timeout=timeout,
                              cwd=self.relay.workdir, stdin=subprocess.DEVNULL)

    def json(self, *args: str) -> dict:
        r = self.ctl("--json", *args)
        assert r.returncode == 0, f"secmxctl {' '.join(args)} exited {r.returncode}:\n{r.stderr}"
        return json.loads(r.stdout)

    def fetch(self, domain: str) -> dict:
        return self.json("sts", "fetch", domain)

    def show(self, domain: str) -> dict:
        return self.json("sts", "show", domain)


@pytest.fixture
def sts(make_relay, dns_server, tmp_path):
    s = Sts(make_relay, dns_server, tmp_path)
    yield s
    s.web.stop()


def test_policy_fetched_cached_and_shown(sts):
    sts.publish("d.test", "20240101")
    sts.web.serve("d.test", ENFORCE)
    sts.start()

    got = sts.fetch("d.test")
    assert got["fetch"]["result"] == "fetched", got
    p = got["policy"]
    assert p["mode"] == "enforce"
    assert p["mx"] == ["mx.d.test", "*.backup.d.test"]
    assert p["max_age"] == 86400
    assert p["id"] == "20240101"
    assert p["expired"] is False
    assert got["last_failure"] is None
    assert sts.web.requests("d.test") == 1

    shown = sts.ctl("sts", "show", "D.Test.")
    assert shown.returncode == 0, shown.stderr
    for line in (r"mode:\s+enforce", r"mx:\s+mx\.d\.test, \*\.backup\.d\.test",
                 r"id:\s+20240101", r"max_age:\s+86400s", r"expires:\s+\S+Z"):
        assert re.search(f"^{line}$", shown.stdout, re.M), (line, shown.stdout)
    assert sts.web.requests("d.test") == 1, "show reads the cache, it never fetches"
    sts.relay.wait_log(r"sts domain=d\.test policy id=20240101 mode=enforce max_age=86400 mx=2")


def test_invalid_policy_is_sts_policy_invalid(sts):
    sts.publish("d.test", "1")
    sts.web.serve("d.test", "version: STSv1\nmode: enforce\nmax_age: 86400\n")  # no mx
    sts.start()
    got = sts.fetch("d.test")
    assert got["fetch"]["result"] == "sts-policy-invalid", got
    assert got["policy"] is None
    assert got["last_failure"]["result"] == "sts-policy-invalid"
    assert "mx" in got["last_failure"]["detail"]


def test_certificate_for_another_name_is_sts_webpki_invalid(sts):
    sts.publish("d.test", "1")
    sts.web.serve("d.test", ENFORCE, cert_names=["mta-sts.other.test"])
    sts.start()
    got = sts.fetch("d.test")
    assert got["fetch"]["result"] == "sts-webpki-invalid", got
    assert "mta-sts.d.test" in got["fetch"]["detail"]
    assert got["policy"] is None


def test_certificate_from_an_untrusted_ca_is_sts_webpki_invalid(sts, tmp_path):
    other = TestCA(tmp_path / "other-ca", name="not trusted")
    sts.publish("d.test", "1")
    sts.web.ca = other
    sts.web.serve("d.test", ENFORCE)
    sts.start()
    got = sts.fetch("d.test")
    assert got["fetch"]["result"] == "sts-webpki-invalid", got
    assert "not valid" in got["fetch"]["detail"]


@pytest.mark.parametrize("how, words", [
    ({"status": 301, "location": "https://mta-sts.elsewhere.test/.well-known/mta-sts.txt"},
     "HTTP 301 (redirects are not followed)"),
    ({"status": 404}, "HTTP 404"),
    ({"content_type": "text/html"}, "is not text/plain"),
])
def test_fetch_errors(sts, how, words):
    sts.publish("d.test", "1")
    sts.web.serve("d.test", ENFORCE, **how)
    sts.start()
    got = sts.fetch("d.test")
    assert got["fetch"]["result"] == "sts-policy-fetch-error", got
    assert words in got["fetch"]["detail"]
    assert got["policy"] is None


def test_content_type_parameters_are_allowed(sts):
    sts.publish("d.test", "1")
    sts.web.serve("d.test", ENFORCE, content_type="text/plain; charset=utf-8")
    sts.start()
    assert sts.fetch("d.test")["fetch"]["result"] == "fetched"


def test_policy_larger_than_64k_is_a_fetch_error(sts):
    sts.publish("d.test", "1")
    big = ENFORCE + "".join(f"x-pad{i}: {'y' * 60}\n" for i in range(1200))
    assert len(big) > 64 * 1024
    sts.web.serve("d.test", big)
    sts.start()
    got = sts.fetch("d.test")
    assert got["fetch"]["result"] == "sts-policy-fetch-error", got
    assert "larger than 65536 bytes" in got["fetch"]["detail"]


def test_slow_server_is_cut_off_at_fetch_timeout(sts):
    sts.mta_sts["fetch_timeout"] = "2s"
    sts.publish("d.test", "1")
    sts.web.serve("d.test", ENFORCE, delay=8.0)
    sts.start()
    t0 = time.monotonic()
    got = sts.fetch("d.test")
    took = time.monotonic() - t0
    assert got["fetch"]["result"] == "sts-policy-fetch-error", got
    assert "timed out after 2s" in got["fetch"]["detail"]
    assert took < 6, f"the fetch took {took:.1f}s despite fetch_timeout = 2s"


def test_stop_does_not_wait_for_a_slow_fetch(sts):
    sts.mta_sts["fetch_timeout"] = "60s"
    sts.publish("d.test", "1")
    sts.web.serve("d.test", ENFORCE, delay=40.0)
    sts.start()
    cmd = [ctl_bin(), "--config", str(sts.relay.config_path), "sts", "fetch", "d.test"]
    pending = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=sts.relay.workdir, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: sts.web.requests("d.test") == 1, 10, "the fetch to reach the server")
        t0 = time.monotonic()
        assert sts.relay.stop(timeout=10) == 0
        assert time.monotonic() - t0 < 5, "stop waited for the fetch"
    finally:
        pending.kill()
        pending.wait(timeout=10)


def test_fetch_failure_keeps_the_cached_policy_then_restart_and_purge(sts):
    sts.publish("d.test", "one")
    sts.web.serve("d.test", ENFORCE)
    sts.start()
    assert sts.fetch("d.test")["fetch"]["result"] == "fetched"

    sts.web.serve("d.test", "oops", status=500)
    got = sts.fetch("d.test")
    assert got["fetch"]["result"] == "sts-policy-fetch-error", got
    assert got["policy"] is not None, "RFC 8461 §5.1: a failed refresh keeps the cached policy"
    assert got["policy"]["mode"] == "enforce" and got["policy"]["id"] == "one"
    assert got["last_failure"]["detail"] == "HTTP 500"
    shown = sts.ctl("sts", "show", "d.test")
    assert re.search(r"^last failure:\s+sts-policy-fetch-error at \S+: HTTP 500$", shown.stdout,
                     re.M), shown.stdout

    # Durable: a restart finds the policy without fetching it.
    before = sts.web.requests("d.test")
    sts.restart()
    again = sts.show("d.test")
    assert again["policy"]["id"] == "one" and again["policy"]["mode"] == "enforce"
    assert again["last_failure"] is None, "failures are this run's, not stored"
    assert sts.web.requests("d.test") == before

    purged = sts.ctl("sts", "purge", "d.test")
    assert purged.returncode == 0, purged.stderr
    assert "purged d.test" in purged.stdout
    gone = sts.ctl("sts", "show", "d.test")
    assert gone.returncode == 4, (gone.returncode, gone.stdout, gone.stderr)
    assert "no MTA-STS policy cached for d.test" in gone.stderr
    sts.restart()
    assert sts.ctl("sts", "show", "d.test").returncode == 4, "purged durably"


def test_background_refresh_refetches_when_the_id_changes(make_relay, dns_server, tmp_path):
    s = Sts(make_relay, dns_server, tmp_path, mta_sts={"refresh_interval": "1s"})
    try:
        s.publish("d.test", "one")
        s.web.serve("d.test", ENFORCE)
        s.start()
        assert s.fetch("d.test")["fetch"]["result"] == "fetched"
        s.web.serve("d.test", policy("testing", "*.d.test", 3600))

        # A new id in DNS: a round after the relay's cached TXT answer expires (min_ttl
        # 5s) fetches the new policy by itself. DnsServer has no way to take a record
        # back, so the old TXT is dropped from its list before it starts again.
        s.dns.stop()
        s.dns._records = [r for r in s.dns._records if not r[0].startswith("_mta-sts.")]
        s.publish("d.test", "two")
        s.dns.start()
        wait_until(lambda: s.show("d.test")["policy"]["id"] == "two", 30,
                   "the refresh to fetch the policy with the new id")
        shown = s.show("d.test")
        assert shown["policy"]["mode"] == "testing"
        assert shown["policy"]["mx"] == ["*.d.test"]
        assert s.web.requests("d.test") == 2, "rounds with an unchanged id fetch nothing"
    finally:
        s.web.stop()


def test_no_txt_record_means_no_policy_and_no_fetch(sts):
    sts.dns.add_a("mta-sts.d.test", STS_HOST)
    sts.web.serve("d.test", ENFORCE)
    sts.start()
    got = sts.fetch("d.test")
    assert got["fetch"]["result"] == "none", got
    assert got["policy"] is None
    assert sts.web.requests("d.test") == 0


def test_disabled_refuses_fetch(make_relay, dns_server, tmp_path):
    s = Sts(make_relay, dns_server, tmp_path, mta_sts={"enabled": False})
    try:
        s.publish("d.test", "1")
        s.web.serve("d.test", ENFORCE)
        s.start()
        r = s.ctl("sts", "fetch", "d.test")
        assert r.returncode == 5, (r.returncode, r.stderr)
        assert "MTA-STS is disabled" in r.stderr
        assert s.web.requests("d.test") == 0
    finally:
        s.web.stop()


def test_bad_domain_is_refused(sts):
    sts.web.serve("d.test", ENFORCE)
    sts.start()
    r = sts.ctl("sts", "show", "not a domain")
    assert r.returncode == 6, (r.returncode, r.stderr)
    assert "not a domain" in r.stderr
