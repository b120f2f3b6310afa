"""The audit trail's records (docs/audit.md "What is recorded"), read back with
`secmx-relay --audit-dump` after real traffic through real peers:

  ok.test      [[route]] -> [127.0.0.161]:25   scripted peer with STARTTLS: takes everything
  bad.test     [[route]] -> [127.0.0.162]:25   scripted peer that answers RCPT with 550 5.1.1
  agency.test  [[route]] -> [127.0.0.163]:25   the senders' own server (trusted): DSNs land here
  dead.test    [[route]] -> [127.0.0.1]:9      nothing listens: mail stays queued

Policies come from a header rule (X-Secmx-Policy: reject / hold). Each test checks the
records of its own messages (by queue id or sender), so the tests share one relay. The
crash test kills the relay with SIGKILL while a client submits, and checks that every
message the client was told 250 for has its accept record and that the hash chain and its
checkpoints verify, recomputed here from the stored bytes (queue/audit_chain.hpp's format).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import struct
import threading
import time

import pytest

from dns_server import DnsServer
from mta import ScriptedPeer
from pki import TestCA
from relaytest import Relay, wait_until

SENDER = "alice@agency.test"

CONFIG = """
[[policy.rule]]
header = "X-Secmx-Policy"
match = "(?i)^reject$"
policy = "REJECT"
reason = "Not for outside"

[[policy.rule]]
header = "X-Secmx-Policy"
match = "(?i)^hold$"
policy = "HOLD"

[[route]]
domain = "ok.test"
host = "[127.0.0.161]:25"

[[route]]
domain = "bad.test"
host = "[127.0.0.162]:25"

[[route]]
domain = "agency.test"
host = "[127.0.0.163]:25"
trusted = true

[[route]]
domain = "dead.test"
host = "[127.0.0.1]:9"
"""


class RejectingPeer(ScriptedPeer):
    """Greets, takes EHLO and MAIL, and refuses every recipient for good."""

    def _dialogue(self, conn, s):
        conn.settimeout(10)
        f = conn.makefile("rb")
        conn.sendall(f"220 {self.hostname} ESMTP\r\n".encode())
        for raw in f:
            cmd = raw.decode("utf-8", "replace").strip()
            s.lines.append((cmd, 0))
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                conn.sendall(f"250-{self.hostname}\r\n250 PIPELINING\r\n".encode())
            elif verb == "RCPT":
                conn.sendall(b"550 5.1.1 <nobody>: Recipient address rejected\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            elif verb == "DATA":
                conn.sendall(b"554 5.5.1 Error: no valid recipients\r\n")
            else:
                conn.sendall(b"250 2.0.0 Ok\r\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    ca = TestCA(tmp / "pki")
    cert = ca.issue("mx.ok.test", sans=["mx.ok.test"])
    started = []
    try:
        ok = ScriptedPeer(host="127.0.0.161", port=25, hostname="mx.ok.test", starttls="ok",
                          tls=cert)
        bad = RejectingPeer(host="127.0.0.162", port=25, hostname="mx.bad.test")
        inside = ScriptedPeer(host="127.0.0.163", port=25, hostname="mail.agency.test")
        for p in (ok, bad, inside):
            p.__enter__()
            started.append(p)
        dns = DnsServer(tmp / "dns")
        dns.start()
        started.append(dns)
        yield {"ok": ok, "bad": bad, "inside": inside, "dns": dns, "ca": ca}
    finally:
        for s in reversed(started):
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - teardown must reach every peer
                pass


def make(make_relay, world, audit: dict | None = None, pause: bool = False) -> Relay:
    over = {
        "dns": {"servers": [world["dns"].address]},
        "delivery": {"pause": pause, "retry": ["1h"], "connect_timeout": "5s",
                     "ca_file": str(world["ca"].cert)},
    }
    if audit is not None:
        over["audit"] = audit
    r = make_relay(start=False, overrides=over)
    r.config_path.write_text(r.config_path.read_text() + CONFIG)
    r.start()
    r.wait_log("secmx-relay started")  # signal handlers in place: a SIGTERM stops it cleanly
    return r


@pytest.fixture(scope="module")
def shared(tmp_path_factory, world):
    """One relay for the record tests (module scope: the peers' sessions add up)."""
    tmp = tmp_path_factory.mktemp("audit-relay")
    r = Relay(tmp / "relay", overrides={
        "dns": {"servers": [world["dns"].address]},
        "delivery": {"pause": False, "retry": ["1h"], "connect_timeout": "5s",
                     "ca_file": str(world["ca"].cert)},
    })
    r.config_path.write_text(r.config_path.read_text() + CONFIG)
    r.start()
    r.wait_log("secmx-relay started")
    yield r
    rc = r.stop()
    assert rc == 0, r.log()[-4000:]


def message(subject: str, msgid: str, extra: str = "") -> str:
    return (f"From: <{SENDER}>\r\nSubject: {subject}\r\nMessage-ID: <{msgid}>\r\n{extra}"
            f"\r\nhello\r\n")


def submit(relay: Relay, rcpts: list[str], content: str, sender: str = SENDER):
    with relay.session() as c:
        return c.send_message(sender, rcpts, content)


def audit_dump(relay: Relay) -> tuple[list[dict], list[dict]]:
    """(records, checkpoints) as --audit-dump prints them."""
    r = relay.run_cli("--audit-dump")
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode == 0, out + r.stderr.decode("utf-8", "replace")
    lines = [json.loads(x) for x in out.splitlines() if x.strip()]
    return [x for x in lines if "seq" in x], [x for x in lines if "checkpoint" in x]


def records(relay: Relay, **match) -> list[dict]:
    recs, _ = audit_dump(relay)
    return [x["record"] for x in recs
            if all(x["record"].get(k) == v for k, v in match.items())]


def wait_records(relay: Relay, count: int, timeout: float = 30, **match) -> list[dict]:
    def found():
        got = records(relay, **match)
        return got if len(got) >= count else None
    return wait_until(found, timeout, f"{count} audit record(s) matching {match}")


# ------------------------------------------------------------------------ chain check


def decode_link(stored: bytes) -> dict:
    version, seq, time_us = struct.unpack_from("<BQq", stored, 0)
    prev = stored[17:49]
    (length,) = struct.unpack_from("<I", stored, 49)
    payload = stored[53:]
    assert version == 1 and len(payload) == length, stored[:60]
    return {"seq": seq, "time_us": time_us, "prev": prev, "payload": payload}


def verify_chain(recs: list[dict], cps: list[dict], key: bytes) -> None:
    """Every link carries the SHA-256 of the one before (the first of an unpruned chain:
    zeros), and every checkpoint's MAC under the key covers the record it names."""
    digests = {}
    prev = None
    for i, x in enumerate(recs):
        stored = bytes.fromhex(x["stored"])
        link = decode_link(stored)
        assert link["seq"] == x["seq"]
        assert json.loads(link["payload"]) == x["record"]
        if i == 0:
            assert x["seq"] == 1 and link["prev"] == bytes(32)
        else:
            assert x["seq"] == recs[i - 1]["seq"] + 1, "a gap in the chain"
            assert link["prev"] == prev, f"chain broken at seq {x['seq']}"
        prev = hashlib.sha256(stored).digest()
        digests[x["seq"]] = prev
    for cp in cps:
        stored = bytes.fromhex(cp["stored"])
        version, seq, time_us = struct.unpack_from("<BQq", stored, 0)
        head, mac = stored[17:49], stored[49:81]
        assert version == 1 and seq == cp["checkpoint"]
        assert digests[seq] == head, f"checkpoint {seq} does not cover its record"
        want = hmac.new(key, b"secmx-audit-checkpoint-1" + struct.pack("<Qq", seq, time_us)
                        + head, hashlib.sha256).digest()
        assert hmac.compare_digest(mac, want), f"checkpoint {seq}: MAC does not verify"


def audit_key(relay: Relay) -> bytes:
    return (relay.workdir / "audit.key").read_text().strip().encode()


# ------------------------------------------------------------------------ tests


def test_a_delivered_message_has_its_accept_and_outcome_records(shared, world):
    reply = submit(shared, ["bob@ok.test"], message("delivered", "m1@client.test"))
    assert reply.code == 250, reply
    qid = reply.queue_id()
    accept = wait_records(shared, 1, event="accept", queue_id=qid)[0]
    assert accept["message_id"] == "m1@client.test"
    assert accept["sender"] == SENDER
    assert accept["classification"] == "none"
    assert accept["client"]["address"] == "127.0.0.1"
    assert accept["client"]["helo"] == "client.test"
    assert accept["recipients"] == [{"address": "bob@ok.test", "policy": "BES", "tls": "none",
                                     "rule": "default"}]
    assert accept["size"] > 0
    outcome = wait_records(shared, 1, event="outcome", queue_id=qid)[0]
    assert outcome["outcome"] == "delivered" and outcome["by"] == "delivery"
    assert outcome["recipient"]["address"] == "bob@ok.test"
    assert outcome["recipient"]["state"] == "delivered"
    attempt = outcome["attempt"]
    assert attempt is not None
    assert attempt["host"], attempt
    assert attempt["tls"].startswith("TLSv1."), attempt  # the peer offered STARTTLS
    assert attempt["status"].startswith("2."), attempt
    assert outcome["dsn_id"] == ""
    # Accept first, then the outcome, in the chain's order.
    recs, _ = audit_dump(shared)
    seqs = {x["record"]["event"]: x["seq"] for x in recs if x["record"].get("queue_id") == qid}
    assert seqs["accept"] < seqs["outcome"]
    assert re.search(rf"{qid}: removed", shared.log()), "no removed line"
    assert re.search(rf"{qid}: message-id=<m1@client.test>", shared.log())


def test_the_outcome_repeats_the_accepted_message_id(shared, world):
    reply = submit(shared, ["dora@ok.test"], message("same id", "m2@client.test"))
    assert reply.code == 250, reply
    outcome = wait_records(shared, 1, event="outcome", queue_id=reply.queue_id())[0]
    assert outcome["message_id"] == "m2@client.test"


def test_a_policy_reject_is_recorded_with_its_rule_and_reply(shared, world):
    sender = "rejected@agency.test"
    content = message("refused", "r1@client.test", "X-Secmx-Policy: reject\r\n")
    reply = submit(shared, ["bob@ok.test", "x@dead.test"], content, sender=sender)
    assert reply.code == 550 and reply.enhanced() == "5.7.1", reply
    rec = wait_records(shared, 1, event="reject", sender=sender)[0]
    assert rec["queue_id"] == ""
    assert rec["message_id"] == "r1@client.test"
    assert rec["reason"].startswith("rule=1"), rec
    assert rec["reply"] == "550 5.7.1 Not for outside"
    assert [r["policy"] for r in rec["recipients"]] == ["REJECT", "REJECT"]
    assert rec["client"]["address"] == "127.0.0.1"
    # Nothing was queued, so no accept record either.
    assert not records(shared, event="accept", sender=sender)


def test_a_refused_recipient_fails_with_its_dsn_recorded(shared, world):
    reply = submit(shared, ["carol@bad.test"], message("bounce me", "b1@client.test"))
    assert reply.code == 250, reply
    qid = reply.queue_id()
    outcome = wait_records(shared, 1, event="outcome", queue_id=qid)[0]
    assert outcome["outcome"] == "failed"
    assert outcome["recipient"]["status"] == "5.1.1"
    assert outcome["attempt"] is not None
    assert "Recipient address rejected" in outcome["attempt"]["reply"], outcome
    dsn_id = outcome["dsn_id"]
    assert re.fullmatch(r"[0-9A-F]{16}", dsn_id), outcome
    dsn = wait_records(shared, 1, event="dsn", queue_id=qid)[0]
    assert dsn["dsn_id"] == dsn_id
    assert dsn["kind"] == "failure"
    assert dsn["recipients"] == ["carol@bad.test"]
    assert dsn["to"] == SENDER
    # The DSN is a real message under that id: it reaches the sender's server, and its own
    # delivery is recorded too.
    shared.wait_log(rf"{dsn_id}: to=<{re.escape(SENDER)}>.*status=sent", timeout=30)
    dsn_outcome = wait_records(shared, 1, event="outcome", queue_id=dsn_id)[0]
    assert dsn_outcome["outcome"] == "delivered" and dsn_outcome["sender"] == ""


def test_a_held_message_is_accepted_with_policy_hold(shared, world):
    content = message("held", "h1@client.test", "X-Secmx-Policy: hold\r\n")
    reply = submit(shared, ["erin@ok.test"], content)
    assert reply.code == 250, reply
    accept = wait_records(shared, 1, event="accept", queue_id=reply.queue_id())[0]
    assert accept["recipients"][0]["policy"] == "HOLD"
    assert accept["recipients"][0]["rule"].startswith("rule=2"), accept
    assert not records(shared, event="outcome", queue_id=reply.queue_id())


def test_every_acknowledged_message_survives_kill_9_with_its_record(make_relay, world):
    relay = make(make_relay, world, pause=True)
    acked: list[str] = []
    stop = threading.Event()

    def client():
        try:
            with relay.session() as c:
                for i in range(200):
                    if stop.is_set():
                        return
                    r = c.send_message(SENDER, [f"r{i}@dead.test"],
                                       message(f"load {i}", f"load{i}@client.test"))
                    if r.code == 250:
                        acked.append(r.queue_id())
        except (OSError, AssertionError, ConnectionError, socket.timeout):
            pass  # the relay was killed under us
        except Exception:  # noqa: BLE001 - any client error after the kill is expected
            pass

    t = threading.Thread(target=client, daemon=True)
    t.start()
    wait_until(lambda: len(acked) >= 40, 60, "40 messages acknowledged")
    relay.kill()
    stop.set()
    t.join(30)
    assert not t.is_alive()
    told = list(acked)
    assert len(told) >= 40
    relay.start()
    # Its signal handlers are in place once it says it started (twice now in the log).
    wait_until(lambda: relay.log().count("secmx-relay started") >= 2, 20, "the restart")
    assert relay.stop() == 0  # a clean stop writes the shutdown checkpoint
    recs, cps = audit_dump(relay)
    accepted = {x["record"]["queue_id"] for x in recs if x["record"]["event"] == "accept"}
    missing = [q for q in told if q not in accepted]
    assert not missing, f"acknowledged without an accept record: {missing}"
    assert cps, "no checkpoint written"
    assert cps[-1]["checkpoint"] == recs[-1]["seq"]  # the shutdown one covers the head
    verify_chain(recs, cps, audit_key(relay))
    # And a record changed on disk (here its time) would be found by the same check.
    forged = [dict(x) for x in recs]
    stored = bytearray(bytes.fromhex(forged[0]["stored"]))
    stored[10] ^= 1
    forged[0]["stored"] = stored.hex()
    with pytest.raises(AssertionError):
        verify_chain(forged, cps, audit_key(relay))


def test_nothing_is_recorded_when_the_trail_is_off(make_relay, world):
    relay = make(make_relay, world, audit={"enabled": False}, pause=True)
    assert submit(relay, ["x@dead.test"], message("off", "off1@client.test")).code == 250
    content = message("off refused", "off2@client.test", "X-Secmx-Policy: reject\r\n")
    assert submit(relay, ["x@dead.test"], content).code == 550
    assert relay.stop() == 0
    recs, cps = audit_dump(relay)
    assert recs == [] and cps == []
    assert not (relay.workdir / "audit.key").exists()


def test_a_key_others_can_read_stops_the_start(make_relay, world):
    relay = make(make_relay, world, pause=True)
    assert relay.stop() == 0
    key = relay.workdir / "audit.key"
    assert key.stat().st_mode & 0o777 == 0o600
    key.chmod(0o640)
    with pytest.raises(AssertionError, match="readable by group or others"):
        relay.start(timeout=10)


def test_the_stream_file_gets_every_committed_record(make_relay, world, tmp_path):
    stream = tmp_path / "audit.jsonl"
    relay = make(make_relay, world, audit={"stream_file": str(stream)}, pause=True)
    reply = submit(relay, ["x@dead.test"], message("streamed", "s1@client.test"))
    assert reply.code == 250
    assert submit(relay, ["x@dead.test"],
                  message("streamed refused", "s2@client.test",
                          "X-Secmx-Policy: reject\r\n")).code == 550
    def lines():
        if not stream.exists():
            return None
        got = [json.loads(x) for x in stream.read_text().splitlines() if x.strip()]
        return got if len(got) >= 2 else None
    got = wait_until(lines, 30, "two lines in the stream file")
    assert relay.stop() == 0
    recs, _ = audit_dump(relay)
    assert got == [x["record"] for x in recs]
    assert got[0]["event"] == "accept" and got[0]["queue_id"] == reply.queue_id()
    assert got[1]["event"] == "reject"
