"""The audit trail an auditor reads after a day of mixed traffic (docs/audit.md, issue
"Evidence an auditor can use", point 8).

The world: DNS (unbound on loopback) and two real Postfix receivers.

  secure.test, sender.test  MX mx.secure.test  127.0.0.101:25  Postfix with STARTTLS, a
                            certificate for mx.secure.test from the test CA the relay trusts
  plain.test                MX mx.plain.test   127.0.0.102:25  Postfix without STARTTLS;
                            later@ 450 4.2.0 (deferred), nobody@ 550 5.1.1 (bounced)

The relay runs the Australian profile's rules (etc/examples/agency-au.toml: OFFICIAL BES,
PROTECTED SOS verify, SECRET REJECT, an unreadable marking HOLD) and two named operators.
The day, from alice@sender.test:

  official  OFFICIAL  -> bob@secure.test     delivered over TLS (BES)
  protected PROTECTED -> carol@secure.test   delivered, authenticated (SOS verify, PKIX)
  refused   PROTECTED -> dave@plain.test     failed 5.7.10 (no STARTTLS), report to alice
  unread    marking out of order -> erin@secure.test  held; released by operator "olivia"
  secret    SECRET    -> frank@secure.test   refused at the end of DATA (550)
  later     OFFICIAL  -> later@plain.test    deferred 4.2.0; bounced by operator "oscar"
  nobody    OFFICIAL  -> nobody@plain.test   failed 5.1.1, report to alice

Then `secmxctl audit search` with filters and `secmxctl audit report` must give exactly the
rows this day made, and `secmxctl audit verify` must pass.
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess

import pytest

from dns_fixtures import dns_server  # noqa: F401
from mta import PostfixMTA, mta_base
from pki import TestCA
from relaytest import Relay, ctl_bin, simple_message, wait_until

SECURE = "127.0.0.101"
PLAIN = "127.0.0.102"
SENDER = "alice@sender.test"
TOKENS = {"olivia": "olivia-token-0123456789abcdef0123", "oscar": "oscar-token-0123456789abcdef01234"}

RULES = """
[[policy.rule]]
classification = ["SECRET", "TOP-SECRET"]
policy = "REJECT"
reason = "SECRET and TOP-SECRET mail is never sent over the Internet"

[[policy.rule]]
classification = ["OFFICIAL:Sensitive", "PROTECTED"]
policy = "SOS"
tls = "verify"

[[policy.rule]]
classification = ["UNOFFICIAL", "OFFICIAL"]
policy = "BES"
"""


def marking(level: str) -> str:
    return f"X-Protective-Marking: VER=2024.1, NS=gov.au, SEC={level}, ORIGIN={SENDER}\r\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit-trail")
    ca = TestCA(tmp / "pki")
    cert, key = ca.issue("mx.secure.test")
    base = mta_base()
    secure = PostfixMTA(base, "audit-secure", host=SECURE, port=25, hostname="mx.secure.test",
                        domains=["secure.test", "sender.test"], tls=(str(cert), str(key)),
                        tls_level="may")
    plain = PostfixMTA(base, "audit-plain", host=PLAIN, port=25, hostname="mx.plain.test",
                       domains=["plain.test"],
                       rcpt_rules={"later@plain.test": "450 4.2.0 try later",
                                   "nobody@plain.test": "550 5.1.1 no such user"})
    started = []
    try:
        for mx in (secure, plain):
            mx.start()
            started.append(mx)
        yield {"ca": ca, "secure": secure, "plain": plain}
    finally:
        for mx in started:
            mx.stop()


@pytest.fixture
def relay(make_relay, world, dns_server, tmp_path) -> Relay:  # noqa: F811
    for domain, host, ip in (("secure.test", "mx.secure.test", SECURE),
                             ("sender.test", "mx.secure.test", SECURE),
                             ("plain.test", "mx.plain.test", PLAIN)):
        dns_server.add_mx(domain, 10, host)
        dns_server.add_a(host, ip)
    dns_server.start()
    tokens = tmp_path / "operators"
    tokens.write_text("".join(f"{name}:{hashlib.sha256(t.encode()).hexdigest()}\n"
                              for name, t in TOKENS.items()))
    tokens.chmod(0o600)
    r = make_relay(start=False, overrides={
        "dns": {"servers": [dns_server.address]},
        "delivery": {"pause": False, "retry": ["1h"], "port": 25, "ca_file": str(world["ca"].cert),
                     "connect_timeout": "5s", "command_timeout": "30s"},
        "policy": {"default": "BES", "sos_tls": "verify", "unknown_marking": "HOLD"},
        "admin": {"tokens_file": str(tokens)},
    })
    r.config_path.write_text(r.config_path.read_text() + RULES)
    r.start()
    r.wait_log(r"admin API listening")
    return r


def send(relay: Relay, rcpt: str, subject: str, headers: str, code: int = 250) -> str | None:
    with relay.session() as c:
        r = c.send_message(SENDER, [rcpt], headers + simple_message(subject, sender=SENDER, to=rcpt))
        assert r.code == code, str(r)
        return r.queue_id() if code == 250 else None


def ctl(relay: Relay, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = None
    if token is not None:
        import os
        env = dict(os.environ, SECMX_ADMIN_TOKEN=token)
    return subprocess.run([ctl_bin(), "--config", str(relay.config_path), *args],
                          capture_output=True, text=True, timeout=120, cwd=relay.workdir,
                          stdin=subprocess.DEVNULL, env=env)


def operator(relay: Relay, name: str, action: str, qid: str):
    import urllib.request
    req = urllib.request.Request(f"http://127.0.0.1:{relay.admin_port}/api/v1/queue/{qid}/{action}",
                                 data=b"{}", method="POST")
    req.add_header("Authorization", f"Bearer {TOKENS[name]}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 200, r.read()


def search(relay: Relay, *filters: str) -> list[dict]:
    """`secmxctl audit search --json` with the filters: the records, oldest first."""
    p = ctl(relay, "--json", "audit", "search", *filters)
    assert p.returncode == 0, p.stderr
    out = []
    for line in p.stdout.splitlines():
        if line.strip():
            j = json.loads(line)
            out.append(j.get("record", j))
    return out


def rows(records: list[dict]) -> set[tuple]:
    return {(r["recipient"]["address"], r["outcome"], r["recipient"]["policy"], r["by"])
            for r in records}


def test_a_day_of_mixed_traffic_reads_back_exactly(relay, world):
    official = send(relay, "bob@secure.test", "official", marking("OFFICIAL"))
    protected = send(relay, "carol@secure.test", "protected", marking("PROTECTED"))
    refused = send(relay, "dave@plain.test", "refused", marking("PROTECTED"))
    unread = send(relay, "erin@secure.test", "unread",
                  "X-Protective-Marking: SEC=OFFICIAL, VER=2024.1, NS=gov.au\r\n")
    send(relay, "frank@secure.test", "secret", marking("SECRET"), code=550)
    later = send(relay, "later@plain.test", "later", marking("OFFICIAL"))
    nobody = send(relay, "nobody@plain.test", "nobody", marking("OFFICIAL"))

    relay.wait_log(rf"{later}: to=<later@plain\.test>, .*status=deferred", timeout=60)
    relay.wait_log(rf"{refused}: to=<dave@plain\.test>, .*status=bounced", timeout=60)
    relay.wait_log(rf"{nobody}: to=<nobody@plain\.test>, .*status=bounced", timeout=60)
    operator(relay, "olivia", "release", unread)
    operator(relay, "oscar", "bounce", later)
    for qid in (official, protected, refused, unread, later, nobody):
        relay.wait_log(rf"{qid}: removed", timeout=60)
    # The three reports (refused, nobody, later) reach alice at sender.test.
    wait_until(lambda: len([m for m in world["secure"].messages()
                            if m.recipient == SENDER]) >= 3, 60, "three reports for alice")

    # Search: the final outcomes of alice's mail, by outcome.
    mine = search(relay, "--sender", SENDER, "--event", "outcome")
    assert rows(mine) == {
        ("bob@secure.test", "delivered", "BES", "delivery"),
        ("carol@secure.test", "delivered", "SOS", "delivery"),
        # Released by the operator, mail whose marking could not be read goes as SOS.
        ("erin@secure.test", "delivered", "SOS", "delivery"),
        ("dave@plain.test", "failed", "SOS", "delivery"),
        ("nobody@plain.test", "failed", "BES", "delivery"),
        ("later@plain.test", "bounced", "BES", "oscar"),
    }, json.dumps(mine, indent=1)
    by_rcpt = {r["recipient"]["address"]: r for r in mine}
    carol = by_rcpt["carol@secure.test"]
    assert carol["auth"] == "pkix" and carol["classification"] == "PROTECTED", carol
    assert carol["attempt"]["host"] == "mx.secure.test", carol
    assert carol["attempt"]["tls"].startswith("TLSv1."), carol
    assert carol["message_id"] == "protected@client.test", carol
    assert by_rcpt["dave@plain.test"]["recipient"]["status"] == "5.7.10"
    assert by_rcpt["dave@plain.test"]["dsn_id"], "the failure names its report"
    assert rows(search(relay, "--outcome", "delivered", "--classification", "PROTECTED")) == {
        ("carol@secure.test", "delivered", "SOS", "delivery")}
    # The receiver's certificate was checked for BES mail too: every delivery to it is PKIX.
    assert {r["recipient"]["address"] for r in search(relay, "--auth", "pkix", "--sender", SENDER)} \
        == {"bob@secure.test", "carol@secure.test", "erin@secure.test"}
    assert [r["queue_id"] for r in search(relay, "--message-id", "nobody@client.test",
                                          "--event", "accept")] == [nobody]

    # The refusal, the held message and the operators' actions.
    [secret] = search(relay, "--event", "reject")
    assert secret["classification"] == "SECRET" and secret["queue_id"] == "", secret
    [unread_accept] = search(relay, "--event", "accept", "--classification", "unknown")
    assert unread_accept["queue_id"] == unread, unread_accept
    assert [r["recipients"][0]["policy"] for r in [unread_accept]] == ["HOLD"]
    ops = search(relay, "--event", "operator")
    assert {(o["action"], o["operator"], o["queue_id"]) for o in ops} == {
        ("release", "olivia", unread), ("bounce", "oscar", later)}, ops
    dsns = search(relay, "--event", "dsn")
    assert {d["queue_id"] for d in dsns} == {refused, nobody, later}, dsns

    # CSV export: a header and one line per record.
    p = ctl(relay, "audit", "search", "--csv", "--sender", SENDER, "--event", "outcome")
    assert p.returncode == 0, p.stderr
    assert len([l for l in p.stdout.splitlines() if l.strip()]) == 1 + len(mine), p.stdout

    # The report: counts of alice's outcomes (the reports' own deliveries, from <>, too).
    p = ctl(relay, "--json", "audit", "report")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    counts = {(c["classification"], c["policy"], c["outcome"], c["auth"]): c["count"]
              for c in report["counts"]}
    assert counts.get(("PROTECTED", "SOS", "delivered", "pkix")) == 1, counts
    assert counts.get(("PROTECTED", "SOS", "failed", "none")) == 1, counts
    assert counts.get(("OFFICIAL", "BES", "bounced", "none")) == 1, counts
    assert not report["unauthenticated"], report["unauthenticated"]
    [unreadable] = report["unreadable_markings"]
    assert unreadable["queue_id"] == unread and unreadable["error"], unreadable
    [release] = report["hold_releases"]
    assert (release["queue_id"], release["operator"]) == (unread, "olivia"), release
    p = ctl(relay, "audit", "report")
    assert p.returncode == 0 and "olivia" in p.stdout, p.stdout + p.stderr

    # And the chain holds.
    p = ctl(relay, "audit", "verify")
    assert p.returncode == 0, p.stdout + p.stderr
