"""A bug of ours in the middle of a delivery attempt (issue 15 item 6): an exception at a
libuv callback boundary (of the attempt, or of the SMTP client under it) is caught, logged
with the queue id, and fails that one attempt cleanly. Its recipients are deferred (a 4.x status: not lost, not bounced, never a false
5.7.10), the relay stays up, and the next retry delivers.

The relay is started with SECMX_TEST_INJECT_THROW=<point>:1, which makes the first pass
through that point throw (relay/common/callback_guard.hpp). The next retry is an hour
away; the test flushes the message through the admin API once it has seen it pending.

The world, shared by the module:

  fault.test    MX 10 mx.fault.test    Postfix with STARTTLS (test CA)   127.0.18.2:25
"""
from __future__ import annotations

import json
import re
import urllib.request

import pytest

from dns_server import DnsServer
from mta import PostfixMTA, mta_base
from pki import TestCA
from relaytest import swaks, swaks_queue_id, wait_until

SENDER = "alice@fault.test"
TOKEN = "e2e-test-token-0123456789abcdef"  # what relaytest.Relay writes to its token file
MX = ("127.0.18.2", 25)

RULES = """
[[policy.rule]]
header = "X-Secmx-Policy"
match = "(?i)^sos$"
policy = "SOS"
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("delivery-faults")
    ca = TestCA(tmp / "pki")
    mx = PostfixMTA(mta_base(), "faultmx", host=MX[0], port=MX[1], hostname="mx.fault.test",
                    domains=["fault.test"], tls=ca.issue("mx.fault.test"), tls_level="may")
    dns = DnsServer(tmp / "dns")
    dns.add_mx("fault.test", 10, "mx.fault.test")
    dns.add_a("mx.fault.test", MX[0])
    mx.start()
    try:
        dns.start()
        try:
            yield {"ca": ca, "dns": dns, "mx": mx}
        finally:
            dns.stop()
    finally:
        mx.stop()


def faulty_relay(make_relay, world, point: str):
    r = make_relay(start=False, overrides={
        "dns": {"servers": [world["dns"].address]},
        "delivery": {"pause": False, "retry": ["1h"], "ca_file": str(world["ca"].cert),
                     "connect_timeout": "5s", "command_timeout": "30s"},
    })
    r.config_path.write_text(r.config_path.read_text() + RULES)
    r.env = {"SECMX_TEST_INJECT_THROW": f"{point}:1"}
    return r.start()


def send(relay, to: str, subject: str, policy: str | None = None) -> str:
    extra = ["--add-header", f"X-Secmx-Policy: {policy}"] if policy else []
    r = swaks(relay, "--from", SENDER, "--to", to, "--header", f"Subject: {subject}", *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    return swaks_queue_id(r.stdout)


def flush(relay, qid: str):
    req = urllib.request.Request(f"http://127.0.0.1:{relay.admin_port}/api/v1/queue/{qid}/flush",
                                 method="POST", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200, r.read()
        json.loads(r.read().decode())


def attempt_lines(relay, qid: str, rcpt: str) -> list[str]:
    return re.findall(rf"{qid}: to=<{re.escape(rcpt)}>, .*", relay.log())


def deferred_then_sent(relay, world, qid: str, rcpt: str, subject: str, point: str,
                       logged: bool = False) -> str:
    """The common story: the exception line (unless the caller saw it), one deferral, a
    delivery; returns the line of the deferral."""
    if not logged:
        relay.wait_log(rf"{qid}: event=exception where={re.escape(point)} "
                       rf"what=injected fault at {re.escape(point)}", timeout=30)
    first = wait_until(lambda: attempt_lines(relay, qid, rcpt), 30,
                       f"the first delivery line of {qid}")[0]
    assert "status=deferred" in first, first
    assert re.search(r"dsn=4\.\d+\.\d+", first), first
    # Not lost, not bounced: the recipient waits in the queue for the next attempt.
    wait_until(lambda: (m := relay.dump_by_id().get(qid)) and m["attempts"] == 1, 20,
               f"{qid} to be back in the queue after its first attempt")
    [r] = relay.dump_by_id()[qid]["recipients"]
    assert r["state"] == "pending", r
    assert relay.running(), "the relay stayed up"
    # The same process delivers it at the next attempt.
    flush(relay, qid)
    sent = wait_until(lambda: [l for l in attempt_lines(relay, qid, rcpt) if "status=sent" in l],
                      30, f"the retry of {qid} to deliver")
    assert "dsn=2.0.0" in sent[0], sent
    msgs = world["mx"].wait_for_messages(1, recipient=rcpt, timeout=30)
    assert [m for m in msgs if m.message["Subject"] == subject]
    wait_until(lambda: qid not in relay.dump_by_id(), 20, f"{qid} to leave the queue")
    assert relay.running()
    assert "bounced" not in " ".join(attempt_lines(relay, qid, rcpt))
    return first


def test_a_throw_when_the_session_opens_defers_and_the_retry_delivers(make_relay, world):
    relay = faulty_relay(make_relay, world, "attempt.opened")
    qid = send(relay, "bob@fault.test", "fault-opened")
    first = deferred_then_sent(relay, world, qid, "bob@fault.test", "fault-opened",
                               "attempt.opened")
    assert "dsn=4.3.0" in first and "internal error" in first, first
    assert re.search(rf"{qid}: to=<bob@fault\.test>, .*attempts=2, .*status=sent",
                     relay.log())


def test_a_throw_after_discovery_defers_sos_without_a_5_7_10(make_relay, world):
    relay = faulty_relay(make_relay, world, "attempt.discovered")
    qid = send(relay, "carol@fault.test", "fault-discovered", policy="sos")
    first = deferred_then_sent(relay, world, qid, "carol@fault.test", "fault-discovered",
                               "attempt.discovered")
    assert "policy=SOS" in first and "5.7.10" not in first, first
    sent = [l for l in attempt_lines(relay, qid, "carol@fault.test") if "status=sent" in l][0]
    assert re.search(r"tls=TLSv1\.[23]/", sent), sent


def test_a_throw_inside_the_smtp_client_defers_and_the_retry_delivers(make_relay, world):
    relay = faulty_relay(make_relay, world, "client.read")
    qid = send(relay, "dave@fault.test", "fault-client")
    # The client's own line carries the queue id of the message it was carrying.
    relay.wait_log(rf"{qid}: peer=mx\.fault\.test\[127\.0\.18\.2\]:25 event=exception "
                   r"where=client\.read", timeout=30)
    first = deferred_then_sent(relay, world, qid, "dave@fault.test", "fault-client",
                               "client.read", logged=True)
    # To the attempt it is a connection that broke: the host was unreachable this time.
    assert "mx.fault.test[127.0.18.2]:25" in first and "internal error" in first, first
