"""SOS mail fails when its SOS lifetime ends, not at the next retry after it; its report
says what happened and why encryption was required; the bounce metrics count what they
say (docs/dsn.md, issue 19 points 7 and 8).

The world:

  slow.test     MX 10 mx1.slow.test   scripted peer without STARTTLS        127.0.0.151:25
                MX 20 mx2.slow.test   nothing listens (connection refused)  127.0.0.152:25
  down.test     MX 10 mx2.slow.test   nothing listens
  plain.test    MX 10 mx1.slow.test   (no STARTTLS: SOS fails at once, 5.7.10)
  enc.test      [[route]] -> [127.0.0.151]:25 with tls = "encrypt" (BES mail that must be
                encrypted: 5.7.10, but no SOS bounce)
  agency.test   [[route]] -> [127.0.0.153]:25, trusted = true: the senders' own server
                (scripted peer), where the reports land

An SOS message to slow.test finds one host that answers without TLS and one it cannot
reach, so it is deferred (4.7.10) while the reachable host may yet be joined by a secure
one. With retry = "1h" and sos_lifetime = "3s" it must fail 5.7.10 about three seconds
after arrival (within one scheduler tick), from the attempt made then (the hosts are asked
again: one may have started to offer TLS), with a report that says one server refused TLS
and the other could not be reached.
"""
from __future__ import annotations

import email
import email.policy
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from dns_server import DnsServer
from mta import ScriptedPeer
from relaytest import Relay, ctl_bin, swaks, swaks_queue_id, wait_until

SENDER = "alice@agency.test"
SOS_LIFETIME = 3.0
TICK = 1.0          # the scheduler's scan interval (relay/delivery/scheduler.cpp kTickMs)
SLACK = 1.5         # a loaded test machine: one write and one log line

CONFIG = """
[[policy.rule]]
header = "X-Protective-Marking"
match = "(?i)SEC=PROTECTED"
policy = "SOS"

[[route]]
domain = "agency.test"
host = "[127.0.0.153]:25"
trusted = true

[[route]]
domain = "enc.test"
host = "[127.0.0.151]:25"
tls = "encrypt"
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sos-timing")
    started = []
    try:
        plain = ScriptedPeer(host="127.0.0.151", port=25, hostname="mx1.slow.test")
        inside = ScriptedPeer(host="127.0.0.153", port=25, hostname="mail.agency.test")
        for p in (plain, inside):
            p.__enter__()
            started.append(p)
        dns = DnsServer(tmp / "dns")
        dns.add_a("mx1.slow.test", "127.0.0.151")
        dns.add_a("mx2.slow.test", "127.0.0.152")     # nothing ever listens there
        dns.add_mx("slow.test", 10, "mx1.slow.test")
        dns.add_mx("slow.test", 20, "mx2.slow.test")
        dns.add_mx("down.test", 10, "mx2.slow.test")
        dns.add_mx("plain.test", 10, "mx1.slow.test")
        dns.start()
        started.append(dns)
        yield {"plain": plain, "inside": inside, "dns": dns}
    finally:
        for s in reversed(started):
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - teardown must reach every peer
                pass


@pytest.fixture
def relay(make_relay, world) -> Relay:
    r = make_relay(start=False, overrides={
        "dns": {"servers": [world["dns"].address]},
        "delivery": {"pause": False, "retry": ["1h"], "max_lifetime": "5d",
                     "sos_lifetime": f"{int(SOS_LIFETIME)}s", "connect_timeout": "5s"},
    })
    r.config_path.write_text(r.config_path.read_text() + CONFIG)
    return r.start()


def send(relay: Relay, to: str, subject: str, marking: str | None = None) -> str:
    extra = ["--add-header", f"X-Protective-Marking: {marking}"] if marking else []
    r = swaks(relay, "--from", SENDER, "--to", to, "--header", f"Subject: {subject}", *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    return swaks_queue_id(r.stdout)


def attempt_line(relay: Relay, qid: str, rcpt: str, status: str, timeout: float = 30) -> str:
    rx = re.compile(rf"{qid}: to=<{re.escape(rcpt)}>, .*\bstatus={status}\b.*")
    return wait_until(lambda: (m := rx.search(relay.log())) and m.group(0), timeout,
                      f"a status={status} line of {qid} to {rcpt}")


def report_about(world, subject: str) -> email.message.EmailMessage:
    """The report about `subject` that reached the senders' own server."""
    def find():
        for s in world["inside"].sessions:
            for raw in s.messages:
                if b"multipart/report" in raw and subject.encode() in raw:
                    return raw
        return None
    raw = wait_until(find, 30, f"a report about '{subject}' at the agency's server")
    return email.message_from_bytes(raw, policy=email.policy.default)


def words_of(report) -> str:
    """The report's text part, whitespace runs as one space (the text is wrapped)."""
    for part in report.walk():
        if part.get_content_type() == "text/plain":
            return " ".join(part.get_content().split())
    raise AssertionError("no text/plain part")


def fields_of(report) -> list[dict]:
    for part in report.walk():
        if part.get_content_type() == "message/delivery-status":
            return [dict(b.items()) for b in list(part.get_payload())[1:]]
    raise AssertionError("no message/delivery-status part")


def metrics(relay: Relay) -> dict[str, float]:
    url = f"http://127.0.0.1:{relay.admin_port}/metrics"

    def scrape():
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return resp.read().decode()
        except urllib.error.URLError:
            return None  # the admin API starts after the SMTP listener
    text = wait_until(scrape, 20, "the admin API's /metrics")
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_sos_fails_at_the_end_of_its_sos_lifetime_not_at_the_next_retry(relay, world):
    sessions_before = len(world["plain"].sessions)
    start = time.monotonic()
    qid = send(relay, "bob@slow.test", "sos-timing", marking="SEC=PROTECTED")
    first = attempt_line(relay, qid, "bob@slow.test", "deferred")
    assert "dsn=4.7.10" in first, first

    # Bounded well below the one-hour retry: the failure comes from the SOS lifetime.
    last = attempt_line(relay, qid, "bob@slow.test", "bounced",
                        timeout=SOS_LIFETIME + TICK + 20)
    seen = time.monotonic() - start
    assert "dsn=5.7.10" in last and "within the SOS lifetime" in last, last
    delay = float(re.search(r"\bdelay=([0-9.]+)", last).group(1))
    assert SOS_LIFETIME <= delay <= SOS_LIFETIME + TICK + SLACK, last
    assert seen <= SOS_LIFETIME + TICK + SLACK + 2, f"bounced line seen after {seen:.1f}s"
    # The end is an attempt like any other (decide() ends it from what it finds): mx1 was
    # asked twice, at arrival and at the end of the SOS lifetime, and never in between.
    assert len(world["plain"].sessions) - sessions_before == 2

    report = report_about(world, "sos-timing")
    assert report["Subject"] == "Undelivered Mail: secure delivery was not possible"
    [fields] = fields_of(report)
    assert fields["Action"] == "failed" and fields["Status"] == "5.7.10", fields
    text = words_of(report)
    assert ("NOT SENT: secure delivery was not possible. Some receiving mail servers for "
            "slow.test refused TLS encryption (5.7.10); the others could not be reached "
            "within the time allowed.") in text, text
    # The rule that required encryption, by number and what it matched.
    assert "Encryption was required by policy rule 1 (header=" in text, text
    assert re.search(r"mx1\.slow\.test\[127\.0\.0\.151\]:25: refused TLS: STARTTLS not offered",
                     text), text
    assert re.search(r"mx2\.slow\.test\[127\.0\.0\.152\]:25: could not be reached \(4\.4\.1\): "
                     r"connection refused", text), text


def test_receivers_that_refuse_tls_are_named_as_such_at_once(relay, world):
    qid = send(relay, "carl@plain.test", "sos-plain", marking="SEC=PROTECTED")
    line = attempt_line(relay, qid, "carl@plain.test", "bounced")
    assert "dsn=5.7.10" in line, line
    report = report_about(world, "sos-plain")
    assert report["Subject"] == "Undelivered Mail: secure delivery was not possible"
    text = words_of(report)
    assert ("The receiving mail servers for plain.test refused TLS encryption (5.7.10): they "
            "do not offer STARTTLS, or TLS failed.") in text, text
    assert "could not be reached" not in text, text


def test_bounce_metrics_count_what_they_say(relay, world):
    before = metrics(relay)
    bounced = 'secmx_recipients_bounced_total{policy="%s"}'

    # SOS failing 5.7.10: a bounce and an SOS bounce.
    qid = send(relay, "dora@plain.test", "sos-counted", marking="SEC=PROTECTED")
    attempt_line(relay, qid, "dora@plain.test", "bounced")
    # BES mail that a route requires to be encrypted, failing 5.7.10: a bounce, not an SOS
    # bounce.
    qid = send(relay, "erin@enc.test", "route-encrypt")
    line = attempt_line(relay, qid, "erin@enc.test", "bounced")
    assert "dsn=5.7.10" in line and "policy=BES" in line, line
    # BES mail deferred, then bounced by the operator: a bounce, not an SOS bounce.
    qid = send(relay, "fred@down.test", "operator-bounce")
    attempt_line(relay, qid, "fred@down.test", "deferred")
    r = subprocess.run([ctl_bin(), "--config", str(relay.config_path), "queue", "bounce", qid],
                       capture_output=True, text=True, timeout=60, cwd=relay.workdir)
    assert r.returncode == 0, r.stdout + r.stderr

    def counted():
        m = metrics(relay)
        return (m[bounced % "BES"] - before[bounced % "BES"] == 2 and
                m[bounced % "SOS"] - before[bounced % "SOS"] == 1) and m
    after = wait_until(counted, 20, "two BES bounces and one SOS bounce counted")
    assert after["secmx_sos_bounces_total"] - before["secmx_sos_bounces_total"] == 1, after
