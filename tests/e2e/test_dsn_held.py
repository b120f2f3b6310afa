"""A report that cannot be delivered is kept, held, never dropped; a trusted route carries
reports on SOS mail to the agency's own, plaintext, mail server (docs/dsn.md).

The world:

  plainrcpt.test  MX 10 mx.inside.test    Postfix without STARTTLS     127.0.0.81:25
  held.test       [[route]] -> [127.0.0.81]:25                (neither TLS nor trusted)
  trusted.test    [[route]] -> [127.0.0.81]:25, trusted = true

An SOS message to plainrcpt.test fails 5.7.10 (its receiver does not offer STARTTLS) and
its report, itself SOS, goes back to the sender over the sender domain's route. From
held.test the report fails 5.7.10 in turn: with no dsn.postmaster it is held (log line,
metric, `secmxctl queue list --held`), and the operator can still release or delete it.
From trusted.test the same report goes out in plaintext and reaches the sender's mailbox.
"""
from __future__ import annotations

import json
import re
import subprocess
import urllib.request

import pytest

from dns_server import DnsServer
from mta import PostfixMTA, mta_base
from relaytest import Relay, ctl_bin, swaks, swaks_queue_id, wait_until

ROUTES_AND_RULES = """
[[policy.rule]]
header = "X-Secmx-Policy"
match = "(?i)^sos$"
policy = "SOS"

[[route]]
domain = "held.test"
host = "[127.0.0.81]:25"

[[route]]
domain = "trusted.test"
host = "[127.0.0.81]:25"
trusted = true
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dsn-held")
    started = []
    try:
        inside = PostfixMTA(mta_base(), "inside", host="127.0.0.81", port=25,
                            hostname="mx.inside.test",
                            domains=["plainrcpt.test", "held.test", "trusted.test"])
        inside.start()
        started.append(inside)
        dns = DnsServer(tmp / "dns")
        dns.add_a("mx.inside.test", "127.0.0.81")
        dns.add_mx("plainrcpt.test", 10, "mx.inside.test")
        dns.start()
        started.append(dns)
        yield {"inside": inside, "dns": dns}
    finally:
        for s in reversed(started):
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - teardown must reach every peer
                pass


def configured(make_relay, world) -> Relay:
    r = make_relay(start=False, overrides={
        "dns": {"servers": [world["dns"].address]},
        "delivery": {"pause": False, "retry": ["1h"], "connect_timeout": "5s",
                     "command_timeout": "30s"},
    })
    r.config_path.write_text(r.config_path.read_text() + ROUTES_AND_RULES)
    return r


@pytest.fixture
def relay(make_relay, world) -> Relay:
    return configured(make_relay, world).start()


def send_sos(relay: Relay, sender: str, subject: str) -> str:
    r = swaks(relay, "--from", sender, "--to", "bob@plainrcpt.test",
              "--header", f"Subject: {subject}", "--add-header", "X-Secmx-Policy: sos")
    assert r.returncode == 0, r.stdout + r.stderr
    return swaks_queue_id(r.stdout)


def report_id(relay: Relay, qid: str) -> str:
    """The queue id of the failure report about `qid` (dsn_select's log line)."""
    m = relay.wait_log(rf"{qid}: sender failed notification: ([0-9A-F]{{16}})", timeout=30)
    return m.group(1)


def ctl(relay: Relay, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ctl_bin(), "--config", str(relay.config_path), *args],
                          capture_output=True, text=True, timeout=60)


def metric(relay: Relay, name: str) -> float:
    url = f"http://127.0.0.1:{relay.admin_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    m = re.search(rf"(?m)^{name} (\S+)$", text)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def test_check_warns_about_the_route_that_can_carry_neither_tls_nor_trust(make_relay, world):
    r = configured(make_relay, world).run_cli("--check")
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert re.search(r"relay\.toml:\d+: warning: route held\.test: reports on SOS mail", err), err
    assert "route trusted.test" not in err


def test_undeliverable_sos_report_is_held_listed_logged_and_counted(relay, world):
    qid = send_sos(relay, "alice@held.test", "held report")
    dsn = report_id(relay, qid)
    line = relay.wait_log(rf"{dsn}: event=dsn-held nrcpt=1 to=<alice@held\.test> "
                          rf"status=5\.7\.10 reason=(.*)", timeout=30)
    assert "no dsn.postmaster" in line.group(1)
    assert "dropped" not in relay.log()

    stored = relay.dump_by_id()
    assert dsn in stored, "the report is kept"
    assert stored[dsn]["held"] is True
    assert stored[dsn]["recipients"][0]["state"] == "held"
    assert qid not in stored, "the original is final and reported"

    listed = ctl(relay, "--json", "queue", "list", "--held")
    assert listed.returncode == 0, listed.stderr
    ids = [m["id"] for m in json.loads(listed.stdout)["messages"]]
    assert ids == [dsn]
    wait_until(lambda: metric(relay, "secmx_dsn_held_total") == 1, 10, "the held counter")

    # Nothing reached the sender's mailbox over the plaintext route.
    assert not [m for m in world["inside"].messages() if m.recipient == "alice@held.test"]

    # The operator decides: here, delete it.
    assert ctl(relay, "queue", "delete", dsn).returncode == 0
    assert ctl(relay, "--json", "queue", "list", "--held").stdout.count(dsn) == 0


def test_trusted_route_carries_the_same_report_in_plaintext(relay, world):
    qid = send_sos(relay, "carol@trusted.test", "trusted report")
    dsn = report_id(relay, qid)
    relay.wait_log(rf"{dsn}: event=trusted-route domain=trusted\.test policy=BES "
                   rf"reason=dsn\(sos\)", timeout=30)
    got = wait_until(lambda: next((m for m in world["inside"].messages()
                                   if m.recipient == "carol@trusted.test" and m.sender == ""),
                                  None), 30, "the report in carol's mailbox")
    assert b"Status: 5.7.10" in got.raw
    assert b"trusted report" in got.raw
    wait_until(lambda: dsn not in relay.dump_by_id(), 20, "the report to leave the queue")
    assert "event=dsn-held" not in relay.log()
    assert metric(relay, "secmx_dsn_held_total") == 0
