"""test_tlsrpt.py - TLS reporting (RFC 8460) end to end against real peers: the relay with
`[tlsrpt] enabled = true` and `[dns] dnssec = true` behind a validating unbound
(dnssec_zone.py), real Postfix and scripted receivers (mta.py), the MTA-STS policy host
(sts_server.py) and an HTTPS report collector (tlsrpt_collector.py). What delivery counted
is read through `secmxctl tlsrpt list|show|send`, GET /api/v1/tlsrpt and /metrics; the
reports themselves are taken apart where they arrive: in a Postfix mailbox (the email
package, gunzip, json) and at the collector.

The world, shared by the tests of this module (each test has a relay of its own, so fresh
counts, and a fresh MTA-STS cache):

  .120  Postfix "good", STARTTLS, leaf (+CA) for mx.ee/mx.mismatch/mx.excluded.dane.test
        and mx.good.sts.test, mx.plain.rpt.test; every mailbox domain below
  .121  scripted "other", STARTTLS, test-CA leaf for someone.else.test
  .122  scripted "untrusted", STARTTLS, leaf for mx.untrusted.sts.test from another CA
  .125  the MTA-STS policy host        .126  the collector (collector.rpt.test:443)
  .127  nothing listens

  dane.test (signed)          MX                                   TLSA (3 1 1)
    ee                        mx.ee (.120)                         good's key
    mismatch                  mx.mismatch (.120)                   other's key: tlsa-invalid
    mixed                     10 mx.mismatch, 20 mx.other (.121)   -, other's key
                              _smtp._tls: rua=mailto:reports@collect.dane.test
    collect                   mx.ee                                (the report mailbox)
                              _smtp._tls: rua=mailto:reports@collect.dane.test
    excluded                  mx.excluded (.120)                   good's key; in [tlsrpt] exclude
  sts.test (unsigned)         MX                 MTA-STS policy
    good                      mx.good (.120)     enforce, mx: mx.good.sts.test
    badname                   mx.badname (.121)  enforce, mx: mx.badname.sts.test
                              _smtp._tls: rua=https://collector.rpt.test/tlsrpt (answers 200)
    untrusted                 mx.untrusted (.122) enforce, mx: mx.untrusted.sts.test
                              _smtp._tls: rua=https://collector.rpt.test/broken (answers 500)
    fetchfail                 mx.good (.120)     _mta-sts TXT, mta-sts.fetchfail at .127
  rpt.test (unsigned)
    plain                     mx.plain (.120)    no policy
    collector                 A .126

Each delivery goes over a connection of its own (connection_cache_time = 0s), so that one
message is one session per host tried. Counts are committed with the message's outcome,
which may be logged before it is committed: every read of the counts waits (bounded) for
what it expects.
"""
from __future__ import annotations

import email
import email.policy
import gzip
import json
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dnssec_zone import DnssecWorld, tlsa_data  # noqa: E402
from mta import PostfixMTA, ScriptedPeer, mta_base  # noqa: E402
from pki import TestCA  # noqa: E402
from relaytest import Relay, ctl_bin, wait_until  # noqa: E402
from sts_server import StsServer  # noqa: E402
from test_admin import Admin  # noqa: E402
from test_delivery import RULES, at, attempt_line, gone_from_queue, send  # noqa: E402
from test_mta_sts_delivery import no_transaction, peer_got, policy, tls_auth  # noqa: E402
from tlsrpt_collector import Collector  # noqa: E402

GOOD, OTHER, UNTRUSTED = "127.0.0.120", "127.0.0.121", "127.0.0.122"
STS_HOST, COLLECTOR, DEAD = "127.0.0.125", "127.0.0.126", "127.0.0.127"
COLLECTOR_NAME = "collector.rpt.test"
FROM = "tlsrpt@relay.test"
SUBMITTER = "relay.test"
ORGANIZATION = "Secmx E2E Agency"
CONTACT = "mailto:tls-admin@relay.test"
REPORTS = "reports@collect.dane.test"
TLSRPT = {"enabled": True, "from": FROM, "organization": ORGANIZATION, "contact": CONTACT,
          "exclude": ["Excluded.Dane.Test"], "https_timeout": "5s", "https_retries": 1}

STS_POLICIES = {
    "good.sts.test": policy("enforce", "mx.good.sts.test"),
    "badname.sts.test": policy("enforce", "mx.badname.sts.test"),
    "untrusted.sts.test": policy("enforce", "mx.untrusted.sts.test"),
}


def rua_txt(uri: str) -> str:
    return f'"v=TLSRPTv1; rua={uri}"'


class World:
    """The receivers, the DNS, the policy host and the collector of the module."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.ca = TestCA(tmp / "pki")
        self.started = []

    def _up(self, thing):
        self.started.append(thing)
        return thing

    def start(self) -> "World":
        ca = self.ca
        self.good_cert, good_key = ca.issue("mx.ee.dane.test", sans=[
            "mx.ee.dane.test", "mx.mismatch.dane.test", "mx.excluded.dane.test",
            "mx.good.sts.test", "mx.plain.rpt.test"])
        self.good = PostfixMTA(
            mta_base(), "good", host=GOOD, port=25, hostname="mx.ee.dane.test",
            domains=["ee.dane.test", "mismatch.dane.test", "mixed.dane.test",
                     "collect.dane.test", "excluded.dane.test", "good.sts.test",
                     "fetchfail.sts.test", "plain.rpt.test"],
            tls=(ca.chain(self.good_cert), good_key), tls_level="may")
        self._up(self.good).start()
        self.other_cert, other_key = ca.issue("someone.else.test")
        self.other = ScriptedPeer(host=OTHER, port=25, hostname="mx.other.dane.test",
                                  starttls="ok", tls=(str(self.other_cert), str(other_key)))
        other_ca = TestCA(self.tmp / "other-ca", name="not trusted")
        self.untrusted = ScriptedPeer(host=UNTRUSTED, port=25, hostname="mx.untrusted.sts.test",
                                      starttls="ok", tls=other_ca.issue("mx.untrusted.sts.test"))
        for p in (self.other, self.untrusted):
            self._up(p).__enter__()

        self.web = StsServer(self.tmp / "sts", ca, host=STS_HOST)
        for domain, body in STS_POLICIES.items():
            self.web.serve(domain, body)
        self._up(self.web).start()
        self.collector = Collector(self.tmp / "collector", ca, host=COLLECTOR,
                                   name=COLLECTOR_NAME)
        self.collector.answer("/tlsrpt", 200).answer("/broken", 500)
        self._up(self.collector).start()

        self.dns = DnssecWorld(self.tmp / "dns")
        d = self.dns.zone("dane.test")
        for name, ip in (("mx.ee", GOOD), ("mx.mismatch", GOOD), ("mx.other", OTHER),
                         ("mx.excluded", GOOD)):
            d.add_a(f"{name}.dane.test", ip)
        d.add_mx("ee.dane.test", 10, "mx.ee.dane.test")
        d.add_tlsa_for_cert("mx.ee.dane.test", self.good_cert)
        d.add_mx("mismatch.dane.test", 10, "mx.mismatch.dane.test")
        d.add_tlsa_for_cert("mx.mismatch.dane.test", self.other_cert)
        d.add_mx("mixed.dane.test", 10, "mx.mismatch.dane.test")
        d.add_mx("mixed.dane.test", 20, "mx.other.dane.test")
        d.add_tlsa_for_cert("mx.other.dane.test", self.other_cert)
        d.add_record("_smtp._tls.mixed.dane.test", "TXT", rua_txt(f"mailto:{REPORTS}"))
        d.add_mx("collect.dane.test", 10, "mx.ee.dane.test")
        d.add_record("_smtp._tls.collect.dane.test", "TXT", rua_txt(f"mailto:{REPORTS}"))
        d.add_mx("excluded.dane.test", 10, "mx.excluded.dane.test")
        d.add_tlsa_for_cert("mx.excluded.dane.test", self.good_cert)

        s = self.dns.zone("sts.test", signed=False)
        for name, ip in (("mx.good", GOOD), ("mx.badname", OTHER),
                         ("mx.untrusted", UNTRUSTED)):
            s.add_a(f"{name}.sts.test", ip)
        for domain in STS_POLICIES:
            s.add_mx(domain, 10, f"mx.{domain}")
            s.add_record(f"_mta-sts.{domain}", "TXT", '"v=STSv1; id=one;"')
            s.add_a(f"mta-sts.{domain}", STS_HOST)
        s.add_record("_smtp._tls.badname.sts.test", "TXT",
                     rua_txt(f"https://{COLLECTOR_NAME}/tlsrpt"))
        s.add_record("_smtp._tls.untrusted.sts.test", "TXT",
                     rua_txt(f"https://{COLLECTOR_NAME}/broken"))
        s.add_mx("fetchfail.sts.test", 10, "mx.good.sts.test")
        s.add_record("_mta-sts.fetchfail.sts.test", "TXT", '"v=STSv1; id=one;"')
        s.add_a("mta-sts.fetchfail.sts.test", DEAD)

        r = self.dns.zone("rpt.test", signed=False)
        r.add_mx("plain.rpt.test", 10, "mx.plain.rpt.test")
        r.add_a("mx.plain.rpt.test", GOOD)
        r.add_a(COLLECTOR_NAME, COLLECTOR)
        self._up(self.dns).start()
        self._check()
        return self

    def _check(self):
        """The fixture itself, before the relay is judged by it."""
        w = self.dns
        for name, rtype, secure in (("_25._tcp.mx.ee.dane.test", "TLSA", True),
                                    ("_25._tcp.mx.mismatch.dane.test", "TLSA", True),
                                    ("_smtp._tls.mixed.dane.test", "TXT", True),
                                    ("_smtp._tls.collect.dane.test", "TXT", True),
                                    ("_mta-sts.good.sts.test", "TXT", False),
                                    ("_smtp._tls.badname.sts.test", "TXT", False),
                                    ("_smtp._tls.untrusted.sts.test", "TXT", False),
                                    ("mta-sts.fetchfail.sts.test", "A", False),
                                    ("plain.rpt.test", "MX", False),
                                    (COLLECTOR_NAME, "A", False)):
            rcode, count, ad = w.query(name, rtype)
            assert (rcode, ad) == ("NOERROR", secure) and count >= 1, \
                f"{name} {rtype}: {rcode} {count} AD={ad}\n{w.log()}"
        # The policy host and the collector answer a PKIX client that trusts the test CA.
        got = curl(self.ca, "mta-sts.good.sts.test", STS_HOST,
                   "https://mta-sts.good.sts.test/.well-known/mta-sts.txt")
        assert got == (200, STS_POLICIES["good.sts.test"].encode()), got
        before = len(self.collector.posts())
        body = gzip.compress(b'{"fixture": true}')
        assert curl(self.ca, COLLECTOR_NAME, COLLECTOR, f"https://{COLLECTOR_NAME}/tlsrpt",
                    body)[0] == 200
        assert curl(self.ca, COLLECTOR_NAME, COLLECTOR, f"https://{COLLECTOR_NAME}/broken",
                    body)[0] == 500
        posts = self.collector.posts()[before:]
        assert [(p.path, p.status) for p in posts] == [("/tlsrpt", 200), ("/broken", 500)]
        assert posts[0].host == COLLECTOR_NAME and posts[0].json_report() == {"fixture": True}
        assert posts[0].headers["content-type"] == "application/tlsrpt+gzip", posts[0].headers
        # The report mailbox takes mail.
        p = subprocess.run(["swaks", "--server", GOOD, "--port", "25", "--helo", "fixture.test",
                            "--from", "fixture@rpt.test", "--to", REPORTS,
                            "--header", "Subject: mailbox check", "--tls", "--timeout", "20"],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stdout + p.stderr
        at(self.good, REPORTS, "mailbox check")

    def stop(self):
        for s in reversed(self.started):
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - teardown must reach every peer
                pass


def curl(ca: TestCA, name: str, ip: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    """One HTTPS request with curl (name resolved to ip, the test CA trusted): (status, body)."""
    cmd = ["curl", "-sS", "--max-time", "20", "--cacert", str(ca.cert), "--resolve",
           f"{name}:443:{ip}", "-o", "-", "-w", "\n%{http_code}", url]
    if body is not None:
        cmd += ["-H", "Content-Type: application/tlsrpt+gzip", "--data-binary", "@-"]
    p = subprocess.run(cmd, input=body or b"", capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    out, _, code = p.stdout.rpartition(b"\n")
    return int(code), out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("tlsrpt"))
    try:
        yield w.start()
    finally:
        w.stop()


def start_relay(make_relay, world: World, **tlsrpt) -> Relay:
    r = make_relay(start=False, overrides={
        "dns": {"servers": [world.dns.address], "dnssec": True},
        "delivery": {"pause": False, "retry": ["1h"], "ca_file": str(world.ca.cert),
                     "connect_timeout": "5s", "command_timeout": "30s",
                     "connection_cache_time": "0s"},
        "mta_sts": {"fetch_timeout": "5s"},
        "tlsrpt": {**TLSRPT, **tlsrpt},
    })
    r.config_path.write_text(r.config_path.read_text() + RULES)
    r.start()
    wait_admin(r)
    return r


@pytest.fixture
def relay(make_relay, world) -> Relay:
    return start_relay(make_relay, world)


# ----------------------------------------------------------------------------- helpers

def today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def day_begin(day: str) -> int:
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp())


def wait_admin(relay: Relay):
    """The admin API of the relay's current run answers."""
    wait_until(lambda: "admin API listening" in relay.log(since_start=True), 20,
               "the admin API's start-up line")


def ctl(relay: Relay, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ctl_bin(), "--config", str(relay.config_path), *args],
                          capture_output=True, text=True, timeout=120, cwd=relay.workdir,
                          stdin=subprocess.DEVNULL)


LIST_LINE = re.compile(r"(\S+) success=(\d+) failure=(\d+)((?: [a-z-]+=\d+)*)")


def counts(relay: Relay, day: str | None = None) -> dict[str, dict]:
    """`secmxctl tlsrpt list [--day D]` as {domain: {"success", "failure", "results"}}."""
    r = ctl(relay, "tlsrpt", "list", *(["--day", day] if day else []))
    assert r.returncode == 0, f"tlsrpt list exited {r.returncode}:\n{r.stdout}{r.stderr}"
    text = r.stdout.strip()
    if text == f"no sessions counted on {day or today()}":
        return {}
    out = {}
    for line in text.splitlines():
        m = LIST_LINE.fullmatch(line.strip())
        assert m, f"tlsrpt list: unexpected line {line!r} in\n{r.stdout}"
        results = {k: int(v) for k, v in (x.split("=") for x in m.group(4).split())}
        out[m.group(1)] = {"success": int(m.group(2)), "failure": int(m.group(3)),
                           "results": results}
        assert sum(results.values()) == out[m.group(1)]["failure"], line
    return out


def wait_counted(relay: Relay, domain: str, success: int, failure: int,
                 timeout: float = 30) -> dict:
    """The domain's counts for today once they are (success, failure); then exactly that."""
    got = wait_until(lambda: (c := counts(relay).get(domain)) and
                     c["success"] >= success and c["failure"] >= failure and c,
                     timeout, f"{domain} counted with success={success} failure={failure}",
                     interval=0.25)  # each poll runs secmxctl
    assert (got["success"], got["failure"]) == (success, failure), (domain, got)
    return got


def api_domains(relay: Relay, day: str) -> dict[str, dict]:
    status, body, _ = Admin(relay).http("GET", f"/api/v1/tlsrpt?day={day}")
    assert status == 200, body
    assert body["day"] == day, body
    return {d["domain"]: d for d in body["domains"]}


def show(relay: Relay, domain: str, day: str | None = None) -> dict:
    r = ctl(relay, "tlsrpt", "show", domain, *(["--day", day] if day else []))
    assert r.returncode == 0, f"tlsrpt show {domain} exited {r.returncode}:\n{r.stdout}{r.stderr}"
    return json.loads(r.stdout)


def tlsa_string(cert) -> str:
    """The policy-string of a 3 1 1 record for the certificate: presentation form."""
    return "3 1 1 " + tlsa_data(cert).upper()


def sts_strings(domain: str) -> list[str]:
    return STS_POLICIES[domain].splitlines()


def policy_by_mx(report: dict) -> dict[str, dict]:
    """The report's policies by their first mx-host ("" when none)."""
    return {(p["policy"].get("mx-host") or [""])[0]: p for p in report["policies"]}


def check_policy(entry: dict, ptype: str, domain: str, strings: list[str], mx: list[str],
                 success: int, failure: int):
    pol = entry["policy"]
    assert pol["policy-type"] == ptype, entry
    assert pol["policy-domain"] == domain, entry
    assert pol.get("policy-string", []) == strings, entry
    assert pol.get("mx-host", []) == mx, entry
    assert entry["summary"] == {"total-successful-session-count": success,
                                "total-failure-session-count": failure}, entry
    if failure == 0:
        assert entry.get("failure-details", []) == [], entry


def check_detail(detail: dict, result: str, host: str, ip: str, count: int):
    assert detail["result-type"] == result, detail
    assert detail["receiving-mx-hostname"] == host, detail
    assert detail["receiving-ip"] == ip, detail
    assert detail["failed-session-count"] == count, detail
    if "sending-mta-ip" in detail:
        assert detail["sending-mta-ip"].startswith("127."), detail


def check_report_head(report: dict, domain: str, day: str):
    assert report["organization-name"] == ORGANIZATION, report
    assert report["contact-info"] == CONTACT, report
    assert report["date-range"] == {"start-datetime": f"{day}T00:00:00Z",
                                    "end-datetime": f"{day}T23:59:59Z"}, report
    assert report["report-id"] == f"{day}T00:00:00Z_{domain}@{SUBMITTER}", report


def metric(admin: Admin, name: str, **labels) -> float:
    key = name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    return admin.metrics().get(key, 0.0)


def deliver(relay: Relay, rcpt: str, subject: str, status: str = "sent") -> str:
    qid = send(relay, rcpt, subject=subject)
    line = attempt_line(relay, qid, rcpt)
    assert f"status={status}" in line, line
    return qid


# ----------------------------------------------------------------------------- DANE

def test_dane_tlsa_mismatch_is_tlsa_invalid_and_a_match_a_tlsa_success(relay, world):
    day = today()
    deliver(relay, "fay@mismatch.dane.test", "rpt-mismatch", status="deferred")
    got = wait_counted(relay, "mismatch.dane.test", 0, 1)
    assert got["results"] == {"tlsa-invalid": 1}, got
    api = api_domains(relay, day)["mismatch.dane.test"]
    assert (api["success"], api["failure"], api["results"]) == (0, 1, {"tlsa-invalid": 1}), api
    report = show(relay, "mismatch.dane.test")
    check_report_head(report, "mismatch.dane.test", day)
    [entry] = report["policies"]
    check_policy(entry, "tlsa", "mismatch.dane.test", [tlsa_string(world.other_cert)],
                 ["mx.mismatch.dane.test"], 0, 1)
    [detail] = entry["failure-details"]
    check_detail(detail, "tlsa-invalid", "mx.mismatch.dane.test", GOOD, 1)

    deliver(relay, "ann@ee.dane.test", "rpt-ee")
    at(world.good, "ann@ee.dane.test", "rpt-ee")
    assert wait_counted(relay, "ee.dane.test", 1, 0)["results"] == {}
    report = show(relay, "ee.dane.test", day)
    check_report_head(report, "ee.dane.test", day)
    [entry] = report["policies"]
    check_policy(entry, "tlsa", "ee.dane.test", [tlsa_string(world.good_cert)],
                 ["mx.ee.dane.test"], 1, 0)
    # The failure is still there, unchanged; the API agrees with the CLI.
    assert counts(relay, day)["mismatch.dane.test"]["failure"] == 1
    api = api_domains(relay, day)
    assert (api["ee.dane.test"]["success"], api["ee.dane.test"]["failure"]) == (1, 0), api
    assert set(api) == {"ee.dane.test", "mismatch.dane.test"}, api


# ----------------------------------------------------------------------------- MTA-STS

@pytest.mark.parametrize("domain, peer, ip, result", [
    ("badname.sts.test", "other", OTHER, "certificate-host-mismatch"),
    ("untrusted.sts.test", "untrusted", UNTRUSTED, "certificate-not-trusted")])
def test_sts_certificate_failures_are_counted_by_type(relay, world, domain, peer, ip, result):
    peer = getattr(world, peer)
    before = len(peer.sessions)
    qid = deliver(relay, f"gus@{domain}", f"rpt-{domain}", status="deferred")
    assert "dsn=4.7.5" in attempt_line(relay, qid, f"gus@{domain}")
    no_transaction(peer.wait_sessions(before + 1, timeout=20)[before:])
    got = wait_counted(relay, domain, 0, 1)
    assert got["results"] == {result: 1}, got
    report = show(relay, domain)
    check_report_head(report, domain, today())
    [entry] = report["policies"]
    check_policy(entry, "sts", domain, sts_strings(domain), [f"mx.{domain}"], 0, 1)
    [detail] = entry["failure-details"]
    check_detail(detail, result, f"mx.{domain}", ip, 1)


def test_sts_policy_fetch_error_and_sts_success(relay, world):
    deliver(relay, "hal@fetchfail.sts.test", "rpt-fetchfail")
    at(world.good, "hal@fetchfail.sts.test", "rpt-fetchfail")
    # No policy could be had: the mail went as without MTA-STS, over TLS (a success), and
    # the failed lookup is a failure without a receiving host.
    got = wait_counted(relay, "fetchfail.sts.test", 1, 1)
    assert got["results"] == {"sts-policy-fetch-error": 1}, got
    report = show(relay, "fetchfail.sts.test")
    details = [d for p in report["policies"] for d in p.get("failure-details", [])]
    assert [d["result-type"] for d in details] == ["sts-policy-fetch-error"], report
    assert "receiving-mx-hostname" not in details[0] and "receiving-ip" not in details[0], details
    assert details[0]["failed-session-count"] == 1, details

    qid = deliver(relay, "ida@good.sts.test", "rpt-sts-good")
    assert tls_auth(attempt_line(relay, qid, "ida@good.sts.test")) == "mta-sts"
    at(world.good, "ida@good.sts.test", "rpt-sts-good")
    assert wait_counted(relay, "good.sts.test", 1, 0)["results"] == {}
    report = show(relay, "good.sts.test")
    check_report_head(report, "good.sts.test", today())
    [entry] = report["policies"]
    check_policy(entry, "sts", "good.sts.test", sts_strings("good.sts.test"),
                 ["mx.good.sts.test"], 1, 0)


# ----------------------------------------------------------------------------- no policy

def test_plain_starttls_without_policy_is_a_no_policy_found_success(relay, world):
    deliver(relay, "kit@plain.rpt.test", "rpt-plain")
    at(world.good, "kit@plain.rpt.test", "rpt-plain")
    assert wait_counted(relay, "plain.rpt.test", 1, 0)["results"] == {}
    report = show(relay, "plain.rpt.test")
    check_report_head(report, "plain.rpt.test", today())
    [entry] = report["policies"]
    check_policy(entry, "no-policy-found", "plain.rpt.test", [], [], 1, 0)


# ----------------------------------------------------------------------------- reports

def report_mail(world: World, domain: str):
    """The TLS report about `domain` in the report mailbox (once Postfix stored it)."""
    return wait_until(lambda: next((m for m in world.good.messages()
                                    if m.recipient.lower() == REPORTS
                                    and str(m.message["Subject"] or "").startswith(
                                        f"Report Domain: {domain} ")), None),
                      30, f"the TLS report about {domain} at {REPORTS}")


def test_report_by_mail_carries_what_was_counted(relay, world):
    day = today()
    before = len(world.other.sessions)
    # mx.mismatch fails its TLSA records (tlsa-invalid); mx.other, the next MX, takes it.
    deliver(relay, "lea@mixed.dane.test", "rpt-mixed")
    peer_got(world.other, "rpt-mixed")
    assert len(world.other.sessions) == before + 1
    got = wait_counted(relay, "mixed.dane.test", 1, 1)
    assert got["results"] == {"tlsa-invalid": 1}, got
    shown = show(relay, "mixed.dane.test", day)
    admin = Admin(relay)
    sent_before = metric(admin, "secmx_tlsrpt_reports_total", result="sent")

    r = ctl(relay, "tlsrpt", "send", "--day", day, "--domain", "mixed.dane.test")
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.fullmatch(rf"mixed\.dane\.test (?:mailto:)?{re.escape(REPORTS)} sent "
                     r"queue_id=([0-9A-Fa-f]{16})", r.stdout.strip())
    assert m, r.stdout
    qid = m.group(1)
    relay.wait_log(rf"event=tlsrpt-sent day={day} domain=mixed\.dane\.test "
                   rf"rua=mailto:{re.escape(REPORTS)} queue_id={qid}")
    line = attempt_line(relay, qid, REPORTS)
    assert "status=sent" in line and "relay=mx.ee.dane.test[127.0.0.120]:25" in line, line
    assert metric(admin, "secmx_tlsrpt_reports_total", result="sent") == sent_before + 1

    got_mail = report_mail(world, "mixed.dane.test")
    assert got_mail.sender == FROM, got_mail.raw[:800]  # the envelope sender
    msg = email.message_from_bytes(got_mail.raw, policy=email.policy.default)
    report_id = f"{day}T00:00:00Z_mixed.dane.test@{SUBMITTER}"
    assert " ".join(str(msg["Subject"]).split()) == \
        f"Report Domain: mixed.dane.test Submitter: {SUBMITTER} Report-ID: <{report_id}>", \
        msg["Subject"]
    assert str(msg["TLS-Report-Domain"]).strip() == "mixed.dane.test", got_mail.raw[:800]
    assert str(msg["TLS-Report-Submitter"]).strip() == SUBMITTER, got_mail.raw[:800]
    assert msg["From"].addresses[0].addr_spec == FROM, msg["From"]
    assert msg["To"].addresses[0].addr_spec == REPORTS, msg["To"]
    assert msg["Message-ID"] and msg["Date"], got_mail.raw[:800]
    assert msg.get_content_type() == "multipart/report", msg["Content-Type"]
    assert msg.get_param("report-type") == "tlsrpt", msg["Content-Type"]
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "text/plain", [p.get_content_type() for p in parts]
    [att] = [p for p in parts if p.get_content_type() == "application/tlsrpt+gzip"]
    begin = day_begin(day)
    name = att.get_filename()
    # begin and end: the first and the last second of the date-range.
    assert name == f"{SUBMITTER}!mixed.dane.test!{begin}!{begin + 86399}.json.gz", name
    report = json.loads(gzip.decompress(att.get_payload(decode=True)).decode("utf-8"))

    # Field by field against what was counted, then against `show` as a whole.
    check_report_head(report, "mixed.dane.test", day)
    assert set(report) == {"organization-name", "date-range", "contact-info", "report-id",
                           "policies"}, report
    by_mx = policy_by_mx(report)
    assert set(by_mx) == {"mx.mismatch.dane.test", "mx.other.dane.test"}, report
    bad = by_mx["mx.mismatch.dane.test"]
    check_policy(bad, "tlsa", "mixed.dane.test", [tlsa_string(world.other_cert)],
                 ["mx.mismatch.dane.test"], 0, 1)
    [detail] = bad["failure-details"]
    check_detail(detail, "tlsa-invalid", "mx.mismatch.dane.test", GOOD, 1)
    check_policy(by_mx["mx.other.dane.test"], "tlsa", "mixed.dane.test",
                 [tlsa_string(world.other_cert)], ["mx.other.dane.test"], 1, 0)
    assert report == shown


def test_report_by_https_and_a_failing_collector(relay, world):
    day = today()
    admin = Admin(relay)
    deliver(relay, "amy@badname.sts.test", "rpt-https", status="deferred")
    deliver(relay, "bob@untrusted.sts.test", "rpt-https-broken", status="deferred")
    wait_counted(relay, "badname.sts.test", 0, 1)
    wait_counted(relay, "untrusted.sts.test", 0, 1)
    shown = show(relay, "badname.sts.test", day)
    sent0 = metric(admin, "secmx_tlsrpt_reports_total", result="sent")
    failed0 = metric(admin, "secmx_tlsrpt_reports_total", result="failed")
    ok_before = len(world.collector.posts("/tlsrpt"))
    broken_before = len(world.collector.posts("/broken"))

    r = ctl(relay, "tlsrpt", "send", "--day", day, "--domain", "badname.sts.test")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == \
        f"badname.sts.test https://{COLLECTOR_NAME}/tlsrpt sent status=200", r.stdout
    [post] = world.collector.wait_posts(ok_before + 1, "/tlsrpt")[ok_before:]
    assert post.host == COLLECTOR_NAME, post.headers
    assert post.headers["content-type"] == "application/tlsrpt+gzip", post.headers
    report = post.json_report()
    check_report_head(report, "badname.sts.test", day)
    [entry] = report["policies"]
    check_policy(entry, "sts", "badname.sts.test", sts_strings("badname.sts.test"),
                 ["mx.badname.sts.test"], 0, 1)
    check_detail(entry["failure-details"][0], "certificate-host-mismatch",
                 "mx.badname.sts.test", OTHER, 1)
    assert report == shown
    relay.wait_log(rf"event=tlsrpt-sent day={day} domain=badname\.sts\.test "
                   rf"rua=https://{re.escape(COLLECTOR_NAME)}/tlsrpt status=200")
    assert metric(admin, "secmx_tlsrpt_reports_total", result="sent") == sent0 + 1

    # The collector answers 500: failed, said, logged and counted.
    r = ctl(relay, "tlsrpt", "send", "--day", day, "--domain", "untrusted.sts.test")
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.fullmatch(rf"untrusted\.sts\.test https://{re.escape(COLLECTOR_NAME)}/broken "
                        r"failed: .+", r.stdout.strip()), r.stdout
    [post] = world.collector.wait_posts(broken_before + 1, "/broken")[broken_before:]
    assert post.status == 500 and post.json_report()["report-id"] == \
        f"{day}T00:00:00Z_untrusted.sts.test@{SUBMITTER}", post.body[:200]
    relay.wait_log(rf"event=tlsrpt-failed day={day} domain=untrusted\.sts\.test "
                   rf"rua=https://{re.escape(COLLECTOR_NAME)}/broken reason=\S")
    assert metric(admin, "secmx_tlsrpt_reports_total", result="failed") == failed0 + 1
    # The same through the API.
    status, body, _ = admin.http("POST", "/api/v1/tlsrpt/send",
                                 body={"day": day, "domain": "untrusted.sts.test"})
    assert status == 200, body
    assert body["day"] == day, body
    [one] = body["sent"]
    assert one["domain"] == "untrusted.sts.test" and one["ok"] is False, body
    assert one["rua"] == f"https://{COLLECTOR_NAME}/broken" and one["detail"], body
    assert metric(admin, "secmx_tlsrpt_reports_total", result="failed") == failed0 + 2
    # Other mail still flows.
    deliver(relay, "cy@good.sts.test", "rpt-after-failure")
    at(world.good, "cy@good.sts.test", "rpt-after-failure")


def test_domain_without_tlsrpt_record_is_no_record(relay, world):
    day = today()
    admin = Admin(relay)
    deliver(relay, "dan@plain.rpt.test", "rpt-no-record")
    wait_counted(relay, "plain.rpt.test", 1, 0)
    before = metric(admin, "secmx_tlsrpt_reports_total", result="no-record")
    r = ctl(relay, "tlsrpt", "send", "--day", day, "--domain", "plain.rpt.test")
    assert re.fullmatch(r"plain\.rpt\.test no TLSRPT record: .+", r.stdout.strip()), \
        r.stdout + r.stderr
    relay.wait_log(rf"event=tlsrpt-no-record day={day} domain=plain\.rpt\.test reason=\S")
    assert metric(admin, "secmx_tlsrpt_reports_total", result="no-record") == before + 1


def test_the_report_mail_itself_is_never_counted(relay, world):
    """collect.dane.test has a DANE policy: ordinary mail there counts, the report does not
    (no loops)."""
    day = today()
    deliver(relay, "eve@collect.dane.test", "rpt-collect")
    at(world.good, "eve@collect.dane.test", "rpt-collect")
    wait_counted(relay, "collect.dane.test", 1, 0)
    before = counts(relay, day)
    r = ctl(relay, "tlsrpt", "send", "--day", day, "--domain", "collect.dane.test")
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"sent queue_id=([0-9A-Fa-f]{16})", r.stdout)
    assert m, r.stdout
    line = attempt_line(relay, m.group(1), REPORTS)
    assert "status=sent" in line and "relay=mx.ee.dane.test[127.0.0.120]:25" in line, line
    report = json.loads(gzip.decompress(
        [p for p in email.message_from_bytes(report_mail(world, "collect.dane.test").raw,
                                             policy=email.policy.default).iter_parts()
         if p.get_content_type() == "application/tlsrpt+gzip"][0].get_payload(decode=True)))
    assert report["policies"][0]["summary"]["total-successful-session-count"] == 1, report
    gone_from_queue(relay, m.group(1))
    # The outcome of the report's delivery is committed by now; nothing was added.
    assert counts(relay, day) == before
    assert api_domains(relay, day)["collect.dane.test"]["success"] == 1


# ----------------------------------------------------------------------------- durability

def test_counts_survive_a_restart_and_a_kill(relay, world):
    day = today()
    for rcpt, subject in (("fox@ee.dane.test", "rpt-r1"), ("gil@fetchfail.sts.test", "rpt-r2"),
                          ("hue@plain.rpt.test", "rpt-r3")):
        qid = deliver(relay, rcpt, subject)
        gone_from_queue(relay, qid)
    wait_counted(relay, "ee.dane.test", 1, 0)
    wait_counted(relay, "fetchfail.sts.test", 1, 1)
    wait_counted(relay, "plain.rpt.test", 1, 0)
    before = counts(relay, day)
    assert set(before) == {"ee.dane.test", "fetchfail.sts.test", "plain.rpt.test"}, before
    reports = {d: show(relay, d, day) for d in before}

    assert relay.stop() == 0
    relay.start()
    wait_admin(relay)
    assert counts(relay, day) == before
    assert {d: show(relay, d, day) for d in before} == reports

    qid = deliver(relay, "ivy@plain.rpt.test", "rpt-r4")
    gone_from_queue(relay, qid)
    wait_counted(relay, "plain.rpt.test", 2, 0)
    listed = counts(relay, day)
    relay.kill()
    relay.start()
    wait_admin(relay)
    assert counts(relay, day) == listed
    assert api_domains(relay, day)["plain.rpt.test"]["success"] == 2


# ----------------------------------------------------------------------------- exclude

def test_an_excluded_domain_is_never_counted(relay, world):
    day = today()
    deliver(relay, "jay@ee.dane.test", "rpt-not-excluded")
    wait_counted(relay, "ee.dane.test", 1, 0)
    qid = deliver(relay, "kay@excluded.dane.test", "rpt-excluded")
    at(world.good, "kay@excluded.dane.test", "rpt-excluded")
    gone_from_queue(relay, qid)
    # Delivered (by DANE), and its outcome committed: still nothing counted for it.
    assert set(counts(relay, day)) == {"ee.dane.test"}
    assert set(api_domains(relay, day)) == {"ee.dane.test"}
    r = ctl(relay, "tlsrpt", "show", "excluded.dane.test", "--day", day)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"no sessions counted for excluded.dane.test on {day}" in r.stdout + r.stderr
    status, _, _ = Admin(relay).http(
        "GET", f"/api/v1/tlsrpt/report?domain=excluded.dane.test&day={day}")
    assert status == 404


# ----------------------------------------------------------------------------- metrics

def test_tls_session_metrics_match_the_counts(relay, world):
    day = today()
    sent = {"ee.dane.test": (1, 0), "mismatch.dane.test": (0, 1), "good.sts.test": (1, 0),
            "badname.sts.test": (0, 1), "plain.rpt.test": (1, 0)}
    for domain, (ok, _) in sent.items():
        deliver(relay, f"lou@{domain}", f"rpt-metrics-{domain}",
                status="sent" if ok else "deferred")
    for domain, (ok, bad) in sent.items():
        wait_counted(relay, domain, ok, bad)
    want: dict[str, float] = {}
    for domain in sent:
        for entry in show(relay, domain, day)["policies"]:
            ptype = entry["policy"]["policy-type"]
            n = entry["summary"]["total-successful-session-count"]
            if n:
                key = f'secmx_tls_sessions_total{{policy="{ptype}",result="success"}}'
                want[key] = want.get(key, 0) + n
            for d in entry.get("failure-details", []):
                key = f'secmx_tls_sessions_total{{policy="{ptype}",result="{d["result-type"]}"}}'
                want[key] = want.get(key, 0) + d["failed-session-count"]
    assert want == {
        'secmx_tls_sessions_total{policy="tlsa",result="success"}': 1,
        'secmx_tls_sessions_total{policy="tlsa",result="tlsa-invalid"}': 1,
        'secmx_tls_sessions_total{policy="sts",result="success"}': 1,
        'secmx_tls_sessions_total{policy="sts",result="certificate-host-mismatch"}': 1,
        'secmx_tls_sessions_total{policy="no-policy-found",result="success"}': 1,
    }, want
    got = {k: v for k, v in Admin(relay).metrics().items()
           if k.startswith("secmx_tls_sessions_total{") and v}
    assert got == want
