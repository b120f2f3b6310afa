"""Debian's pflogsumm reads the relay's log written with [log] format = "postfix" and counts
what really happened (docs/operator-guide.md, "Logs").

The world: one real Postfix receiver for ok.test and sender.test, reached over routes.

  ok.test, sender.test  [[route]] -> [127.0.0.91]:25   Postfix, rcpt_rules:
      later@ok.test  450 4.2.0 (deferred, retried in an hour)
      nobody@ok.test 550 5.1.1 (bounced; the report goes to the sender at sender.test)

A mixed run: three messages delivered, one deferred, one bounced (and its report
delivered), and three refusals: two RCPTs from a client outside relay_networks (Relay
access denied) and one message a policy rule rejects at the end of DATA. pflogsumm
--syslog-name=secmx must count exactly that.
"""
from __future__ import annotations

import re
import subprocess

import pytest

from mta import PostfixMTA, mta_base
from relaytest import Relay, simple_message, wait_until

RECEIVER = "127.0.0.91"
OUTSIDER = "127.0.0.92"  # not in relay_networks

ROUTES_AND_RULES = f"""
[[policy.rule]]
header = "X-Spam-Flag"
match = "(?i)^yes$"
policy = "REJECT"
reason = "spam is not relayed"

[[route]]
domain = "ok.test"
host = "[{RECEIVER}]:25"

[[route]]
domain = "sender.test"
host = "[{RECEIVER}]:25"
"""


@pytest.fixture(scope="module")
def receiver():
    mx = PostfixMTA(mta_base(), "pflogsumm", host=RECEIVER, port=25, hostname="mx.ok.test",
                    domains=["ok.test", "sender.test"],
                    rcpt_rules={"later@ok.test": "450 4.2.0 try later",
                                "nobody@ok.test": "550 5.1.1 no such user"})
    mx.start()
    try:
        yield mx
    finally:
        mx.stop()


@pytest.fixture
def relay(make_relay, receiver) -> Relay:
    r = make_relay(start=False, overrides={
        "smtp": {"relay_networks": ["127.0.0.1/32"]},
        "delivery": {"pause": False, "retry": ["1h"], "connect_timeout": "5s",
                     "command_timeout": "30s"},
        "log": {"level": "info", "format": "postfix"},
    })
    r.config_path.write_text(r.config_path.read_text() + ROUTES_AND_RULES)
    return r.start()


def send(relay: Relay, rcpt: str, subject: str, extra: str = "") -> str:
    with relay.session() as c:
        r = c.send_message("alice@sender.test", [rcpt],
                           extra + simple_message(subject, sender="alice@sender.test", to=rcpt))
        assert r.code == 250, str(r)
        return r.queue_id()


def grand_totals(log_path) -> dict[str, int]:
    out = subprocess.run(["pflogsumm", "--syslog-name=secmx", str(log_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    totals = {}
    for word in ("received", "delivered", "deferred", "bounced", "rejected"):
        m = re.search(rf"(?m)^\s*(\d+)\s+{word}\b", out.stdout)
        assert m, f"no '{word}' in pflogsumm's report:\n{out.stdout}"
        totals[word] = int(m.group(1))
    return totals


def test_pflogsumm_counts_a_mixed_run(relay, receiver):
    delivered = [send(relay, f"user{i}@ok.test", f"delivered {i}") for i in range(3)]
    deferred = send(relay, "later@ok.test", "deferred")
    bounced = send(relay, "nobody@ok.test", "bounced")

    # Two refused RCPTs from a client outside relay_networks: nothing is queued.
    with relay.session(source=OUTSIDER) as c:
        c.expect("MAIL FROM:<mallory@elsewhere.test>", 250)
        c.expect("RCPT TO:<victim1@ok.test>", 550, "5.7.1")
        c.expect("RCPT TO:<victim2@ok.test>", 550, "5.7.1")
    # One message a rule refuses at the end of DATA.
    with relay.session() as c:
        r = c.send_message("alice@sender.test", ["user9@ok.test"],
                           "X-Spam-Flag: YES\r\n" + simple_message("spam"))
        assert r.code == 550, str(r)

    # The three messages and the report about the bounce reach the receiver.
    wait_until(lambda: len(receiver.messages()) >= 4, 60, "four messages at the receiver")
    relay.wait_log(rf"secmx/smtp\[\d+\]: {deferred}: to=<later@ok\.test>, relay=\S+, delay=[\d.]+, "
                   rf"delays=[\d./]+, dsn=4\.2\.0, status=deferred \(", timeout=30)
    relay.wait_log(rf"secmx/bounce\[\d+\]: {bounced}: sender non-delivery notification: ", timeout=30)
    for qid in delivered + [bounced]:
        relay.wait_log(rf"secmx/qmgr\[\d+\]: {qid}: removed", timeout=30)
    # ...and the report itself leaves the queue once delivered.
    wait_until(lambda: len(re.findall(r"secmx/qmgr\[\d+\]: \w+: removed", relay.log())) >= 5,
               30, "five removed lines")

    log = relay.log()
    for qid in delivered:
        assert re.search(rf"secmx/cleanup\[\d+\]: {qid}: message-id=<delivered\.\d@client\.test>", log)
        assert re.search(rf"secmx/qmgr\[\d+\]: {qid}: from=<alice@sender\.test>, size=\d+, "
                         rf"nrcpt=1 \(queue active\)", log)
        # Postfix's fields first, SecMX's after the reply.
        assert re.search(rf"secmx/smtp\[\d+\]: {qid}: to=<user\d@ok\.test>, "
                         rf"relay=\[?{re.escape(RECEIVER)}\]?\[{re.escape(RECEIVER)}\]:25, "
                         rf"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, "
                         rf"status=sent \([^)]*\), policy=BES, reason=\S+, method=\S+, tls=", log), log
    assert re.search(r"secmx/smtpd\[\d+\]: NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.92\]: "
                     r"550 5\.7\.1 <victim1@ok\.test>: Relay access denied; "
                     r"from=<mallory@elsewhere\.test> to=<victim1@ok\.test>", log)

    assert grand_totals(relay.log_path) == {
        "received": 5,   # the five messages queued (not the report, which the relay wrote)
        "delivered": 4,  # three messages and the report about the bounce
        "deferred": 1,
        "bounced": 1,
        "rejected": 3,
    }
