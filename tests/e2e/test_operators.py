"""test_operators.py - named admin operators end to end: tokens made by `secmxctl token
add`, a relay with [admin] tokens_file, each operator acting through the admin API, and a
real receiving MTA (Postfix) for the sender's domain that must get the DSN of an
operator's bounce.

Mail for the recipients stays queued: their domain is routed to a loopback port where
nothing listens (every attempt deferred, the next an hour away). What the relay logged is
read from its log file; who did what must be named there (operator=NAME client=[ADDR]), and
an operator's bounce or delete must log a status= line like a delivery's outcome.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mta import PostfixMTA, mta_base  # noqa: E402
from relaytest import ctl_bin, free_port, relay_bin, simple_message, wait_until  # noqa: E402
from test_admin import TOKEN, Admin  # noqa: E402

DEFER_DOMAIN = "defer.test"
SENDER_DOMAIN = "sender.test"
SENDER_MX = "127.0.0.91"


def new_token(name: str) -> tuple[str, str]:
    """(token, tokens_file line) from `secmxctl token add NAME`."""
    r = subprocess.run([ctl_bin(), "token", "add", name], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    lines = [l.strip() for l in r.stdout.splitlines() if l.startswith("  ")]
    assert len(lines) == 2 and lines[1].startswith(name + ":"), r.stdout
    return lines[0], lines[1]


def queue_mail(relay, rcpt: str) -> str:
    with relay.connect() as c:
        c.banner()
        c.ehlo()
        sender = f"owner@{SENDER_DOMAIN}"
        r = c.send_message(sender, [rcpt], simple_message("operators", sender=sender, to=rcpt))
        assert r.code == 250, str(r)
        c.cmd("QUIT")
    qid = r.queue_id()
    assert qid, str(r)
    return qid


def audit_records(relay) -> list[dict] | None:
    """The audit trail through --audit-dump, or None when this relay has no such option."""
    help_text = subprocess.run([relay_bin(), "--help"], capture_output=True, text=True,
                               timeout=30).stdout
    if "--audit-dump" not in help_text:
        return None
    r = relay.run_cli("--audit-dump")
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            rec = json.loads(line)
            out.append(rec.get("record", rec) if isinstance(rec.get("record"), dict) else rec)
    return out


def test_each_operator_is_named_in_what_they_do(make_relay, tmp_path):
    alice, alice_line = new_token("alice")
    bob, bob_line = new_token("bob")
    tokens = tmp_path / "operators"
    tokens.write_text(f"# who may operate this relay\n{alice_line}\n{bob_line}\n")
    dead_port = free_port()
    with PostfixMTA(mta_base(), "senders", host=SENDER_MX, port=2525,
                    hostname="mx.sender.test", domains=[SENDER_DOMAIN]) as mx:
        relay = make_relay(start=False, overrides={
            "delivery": {"pause": False, "retry": ["1h"], "max_lifetime": "5d"},
            "admin": {"tokens_file": str(tokens)}})
        with open(relay.config_path, "a") as f:
            f.write(f'\n[[route]]\ndomain = "{DEFER_DOMAIN}"\nhost = "[127.0.0.1]:{dead_port}"\n'
                    f'\n[[route]]\ndomain = "{SENDER_DOMAIN}"\nhost = "[{SENDER_MX}]:2525"\n')
        relay.start()
        admin = Admin(relay)
        wait_until(lambda: "admin API listening" in relay.log(), 10, "the admin API")

        held, bounced = queue_mail(relay, f"a@{DEFER_DOMAIN}"), queue_mail(relay, f"b@{DEFER_DOMAIN}")
        wait_until(lambda: all(m["attempts"] >= 1 for m in relay.dump_by_id().values()
                               if m["id"] in (held, bounced)) and
                   {held, bounced} <= relay.dump_by_id().keys(), 30, "a first deferred attempt")

        # Each token names its operator; the old single token_file is "admin".
        status, body, _ = admin.http("POST", f"/api/v1/queue/{held}/hold", token=alice)
        assert status == 200, body
        relay.wait_log(rf"{held}: hold operator=alice client=\[127\.0\.0\.1\]: ok")
        status, body, _ = admin.http("POST", f"/api/v1/queue/{bounced}/bounce",
                                     {"reason": "not ours to send"}, token=bob)
        assert status == 200, body
        relay.wait_log(rf"{bounced}: bounce operator=bob client=\[127\.0\.0\.1\]: ok")
        status, body, _ = admin.http("POST", "/api/v1/queue/flush", token=TOKEN)
        assert status == 200, body
        relay.wait_log(r"flush all operator=admin client=\[127\.0\.0\.1\]: \d+ messages")

        # An operator's bounce logs a status= line as a delivery's outcome would ...
        relay.wait_log(rf"{bounced}: to=<b@{DEFER_DOMAIN}>, relay=none, .*dsn=5\.0\.0, "
                       r"status=bounced \(operator bob: not ours to send\)")
        # ... and the sender gets the DSN through a real MTA.
        msgs = mx.wait_for_messages(1, timeout=60)
        assert msgs[0].recipient == f"owner@{SENDER_DOMAIN}"
        assert msgs[0].sender == ""
        assert f"b@{DEFER_DOMAIN}" in msgs[0].raw.decode(errors="replace")
        assert "not ours to send" in msgs[0].raw.decode(errors="replace")

        status, body, _ = admin.http("DELETE", f"/api/v1/queue/{held}", token=alice)
        assert status == 200, body
        relay.wait_log(rf"{held}: to=<a@{DEFER_DOMAIN}>, relay=none, .*"
                       r"status=deleted \(operator alice\)")
        assert held not in relay.dump_by_id()

        # A token nobody holds: 401, nothing done, nobody named.
        status, body, _ = admin.http("POST", "/api/v1/queue/flush", token=alice[:-1] + "x")
        assert status == 401 and body["code"] == "unauthorized"

        # A reload names who asked for it.
        status, body, _ = admin.http("POST", "/api/v1/reload", token=bob)
        assert status == 200, body
        relay.wait_log(r"reload operator=bob client=\[127\.0\.0\.1\]: applied")

        # Revoking: bob's line removed, reload; his token no longer works, alice's does.
        tokens.write_text(f"{alice_line}\n")
        assert admin.http("POST", "/api/v1/reload", token=alice)[0] == 200
        assert admin.http("GET", "/api/v1/queue", token=bob)[0] == 401
        assert admin.http("GET", "/api/v1/queue", token=alice)[0] == 200

        # A tokens file with a bad line is refused with its file:line; the running set stays.
        tokens.write_text(f"{alice_line}\n{alice_line}\n")
        status, body, _ = admin.http("POST", "/api/v1/reload", token=alice)
        assert status == 422, body
        assert f"{tokens}:2: operator 'alice' listed twice" in body["errors"], body
        assert admin.http("GET", "/api/v1/queue", token=alice)[0] == 200
        tokens.write_text(f"{alice_line}\n")  # --audit-dump reads the config too

        records = audit_records(relay)
        if records is None:
            print("audit records not read: this relay has no --audit-dump (another part "
                  "of the audit trail adds it); the unit tests check the records")
            return
        ops = [r for r in records if r.get("event") == "operator"]
        assert {(r["action"], r["operator"]) for r in ops} >= {
            ("hold", "alice"), ("bounce", "bob"), ("flush", "admin"), ("delete", "alice")}
        outcomes = {(r["outcome"], r["by"]) for r in records if r.get("event") == "outcome"}
        assert {("bounced", "bob"), ("deleted", "alice")} <= outcomes
        reloads = [r for r in records if r.get("event") == "reload"]
        assert [(r["operator"], r["result"]) for r in reloads] == [
            ("bob", "applied"), ("alice", "applied"), ("alice", "refused")]
