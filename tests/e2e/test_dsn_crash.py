"""kill -9 between a permanent failure and its DSN commit loses nothing (docs/dsn.md).

When a recipient fails for good, the scheduler writes the recipient's final state and
the DSN (a new message from <>) in one LMDB transaction (relay/delivery/scheduler.cpp,
finish_message -> queue::Change{envelope, inserts}). After a crash at any moment either
neither is stored (the recipient is still pending, is retried after the restart, fails
again and gets its DSN then) or both are. These tests cut the power with SIGKILL and check
what the queue (`--queue-dump`) and the receivers hold afterwards.

The world (own addresses, so it never meets test_delivery's):

  sender.test   MX 10 mx.crash.test     Postfix; the senders' mailboxes  127.0.0.71:25
  reject.test   MX 10 mx.crash.test     same Postfix: every RCPT gets 550 5.1.1
  slow.test     MX 10 mx.slow.test      scripted peer that holds back its greeting
                                        until the test opens its gate     127.0.0.72:25
  nullmx.test   MX 0 .                  null MX: fails 5.1.10 without any connection
  deadend.test  MX 10 mx.deadend.test   nothing listens: DSNs to senders here stay
                                        queued (deferred), where they can be counted
                                                                          127.0.0.73:25

The deterministic window: the scheduler commits a message's outcome only when every job
of the message has reported (`--f.jobs_out == 0` in on_result). A message to one
recipient that fails at once (reject.test) and one whose receiver stalls (slow.test)
therefore sits, for as long as the stall lasts, in a state where the failure is decided
and logged (`status=bounced`) but nothing is written: the test checks that it is really
there (recipient pending on disk, no DSN queued), kills the relay, and checks the retry
after the restart.

The stress test queues 30 messages that each fail (null MX or 550) with DSNs that stay
queued, then restarts and kills the relay at log-driven points on both sides of the
commit (failure logged / DSN built / DSN already being delivered), and after every kill
checks the stored state: each original is either pending with no DSN, or final with
exactly one DSN that names its recipient with the right 5.x.x status.
"""
from __future__ import annotations

import os
import random
import re
import smtplib
import threading
from types import SimpleNamespace

import pytest

from dns_server import DnsServer
from mta import PostfixMTA, ScriptedPeer, mta_base
from relaytest import QUEUE_ID_RE, swaks, swaks_queue_id, wait_until
from test_delivery import attempt_line, delivery_status

MAILBOX_SENDER = "alice@sender.test"   # DSNs to this sender reach the Postfix mailbox
DEADEND_SENDER = "bob@deadend.test"     # DSNs to this sender stay queued (deferred)

QID_IN_DSN_RE = re.compile(r"(?m)^X-Secmx-Queue-ID: ([0-9A-Fa-f]{16})\r?$")
BOUNCED_RE = re.compile(r"([0-9A-F]{16}): to=<([^>]*)>, .*status=bounced")
NOTIFIED_RE = re.compile(r"([0-9A-F]{16}): sender failed notification: ([0-9A-F]{16})")


class GatedPeer(ScriptedPeer):
    """A ScriptedPeer that accepts connections but sends its greeting only once `gate` is
    set: the relay's connection waits (up to delivery.command_timeout) for the 220."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()

    def _serve(self, conn, s):
        while not self.gate.wait(0.05):
            if self._stop.is_set():
                conn.close()
                s.closed = True
                return
        super()._serve(conn, s)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dsn-crash")
    base = mta_base()
    started = []
    try:
        mx = PostfixMTA(base, "crash", host="127.0.0.71", port=25, hostname="mx.crash.test",
                        domains=["sender.test", "reject.test"],
                        rcpt_rules={"reject.test": "550 5.1.1 no such user"},
                        # Many refused RCPTs on one cached connection must neither be
                        # slowed down (tarpit) nor cut off by the error limits.
                        main_cf={"smtpd_error_sleep_time": "0",
                                 "smtpd_soft_error_limit": "10000",
                                 "smtpd_hard_error_limit": "10000"})
        mx.start()
        started.append(mx)
        slow = GatedPeer(host="127.0.0.72", port=25, hostname="mx.slow.test")
        slow.__enter__()
        started.append(slow)

        dns = DnsServer(tmp / "dns")
        dns.add_a("mx.crash.test", "127.0.0.71")
        dns.add_mx("sender.test", 10, "mx.crash.test")
        dns.add_mx("reject.test", 10, "mx.crash.test")
        dns.add_a("mx.slow.test", "127.0.0.72")
        dns.add_mx("slow.test", 10, "mx.slow.test")
        dns.add_mx("nullmx.test", 0, ".")
        dns.add_a("mx.deadend.test", "127.0.0.73")  # nothing ever listens there
        dns.add_mx("deadend.test", 10, "mx.deadend.test")
        dns.start()
        started.append(dns)
        yield {"dns": dns, "mx": mx, "slow": slow}
    finally:
        for s in reversed(started):
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - teardown must reach every peer
                pass


def relay_overrides(world, pause: bool) -> dict:
    return {
        "dns": {"servers": [world["dns"].address]},
        # One retry step of an hour: whatever is deferred (the DSNs to deadend.test) stays
        # put; only what a crash left undone is due again after a restart.
        "delivery": {"pause": pause, "retry": ["1h"], "connect_timeout": "5s",
                     "command_timeout": "2m"},
    }


def rejects_at_mx(world, rcpt: str) -> int:
    """RCPT refusals of `rcpt` in the Postfix log: how often the relay tried it there."""
    return len(re.findall(rf"reject: RCPT from .*to=<{re.escape(rcpt)}>", world["mx"].log()))


def dsn_refs(msg_body: str) -> tuple[str | None, list[dict]]:
    """(X-Secmx-Queue-ID of the original, per-recipient report fields) of one DSN."""
    m = QID_IN_DSN_RE.search(msg_body)
    fields = delivery_status(SimpleNamespace(raw=msg_body.encode("utf-8", "surrogateescape")))
    return (m.group(1).upper() if m else None), fields


# --------------------------------------------------------------------- the deterministic window


def test_kill_after_failure_is_decided_but_before_it_is_written(make_relay, world):
    mx, slow = world["mx"], world["slow"]
    slow.gate.clear()
    relay = make_relay(start=False, overrides=relay_overrides(world, pause=False))
    relay.start()
    subject = "dsn-crash-window"
    r = swaks(relay, "--from", MAILBOX_SENDER, "--to", "rita@reject.test,sam@slow.test",
              "--header", f"Subject: {subject}")
    assert r.returncode == 0, r.stdout + r.stderr
    qid = swaks_queue_id(r.stdout)

    # Inside the window: rita's failure is decided and logged, sam's receiver is holding
    # the relay at the greeting, so the message's outcome has not been committed.
    line = attempt_line(relay, qid, "rita@reject.test")
    assert "status=bounced" in line and "dsn=5.1.1" in line, line
    wait_until(lambda: slow.sessions, 10, "the relay's connection to the stalling peer")
    wait_until(lambda: rejects_at_mx(world, "rita@reject.test") == 1, 10,
               "Postfix to log its refusal of rita")
    assert f"{qid}: to=<sam@slow.test>" not in relay.log()
    stored = relay.dump_by_id()
    assert set(stored) == {qid}, f"only the original may be queued (no DSN yet): {stored}"
    assert [(x["address"], x["state"]) for x in stored[qid]["recipients"]] == \
        [("rita@reject.test", "pending"), ("sam@slow.test", "pending")], stored[qid]
    assert stored[qid]["attempts"] == 0
    assert not NOTIFIED_RE.search(relay.log())

    relay.kill()

    # What the crash left: exactly what was committed before the failure was decided.
    after_crash = relay.dump_by_id()
    assert set(after_crash) == {qid}, f"a DSN or other message appeared: {after_crash}"
    assert [x["state"] for x in after_crash[qid]["recipients"]] == ["pending", "pending"]

    # The restart retries rita (Postfix refuses her a second time) and now sam's receiver
    # answers, so the attempt completes and the DSN is written with the outcome.
    slow.gate.set()
    relay.start()
    line2 = wait_until(
        lambda: (m := re.search(rf"{qid}: to=<rita@reject\.test>, .*",
                                relay.log(since_start=True))) and m.group(0),
        30, "rita's retry after the restart")
    assert "status=bounced" in line2 and "dsn=5.1.1" in line2, line2
    wait_until(lambda: re.search(rf"{qid}: to=<sam@slow\.test>, .*status=sent",
                                 relay.log(since_start=True)), 30, "sam's delivery")
    wait_until(lambda: rejects_at_mx(world, "rita@reject.test") >= 2, 10,
               "Postfix to log the second refusal of rita")
    assert rejects_at_mx(world, "rita@reject.test") == 2

    def dsns_in_mailbox():
        out = []
        for m in mx.messages():
            if m.recipient.lower() == MAILBOX_SENDER and m.sender == "":
                ref, fields = dsn_refs(m.raw.decode("utf-8", "surrogateescape"))
                if ref == qid:
                    out.append((m, fields))
        return out

    wait_until(dsns_in_mailbox, 30, f"the DSN about {qid} in {MAILBOX_SENDER}'s mailbox")
    # Nothing is left that could still send a report: the relay's queue is empty ...
    wait_until(lambda: not relay.dump_by_id(), 20, "the relay's queue to empty")
    notified = [d for q, d in NOTIFIED_RE.findall(relay.log()) if q == qid]
    assert len(notified) == 1, f"failure notifications for {qid}: {notified}"
    # ... and Postfix has stored everything the relay handed it for the sender.
    sent_to_sender = re.findall(rf"{notified[0]}: to=<{re.escape(MAILBOX_SENDER)}>, .*status=sent",
                                relay.log())
    assert len(sent_to_sender) == 1, sent_to_sender
    dsns = dsns_in_mailbox()
    assert len(dsns) == 1, f"{len(dsns)} DSNs about {qid} reached the sender"
    msg, fields = dsns[0]
    assert msg.message["Subject"] == "Undelivered Mail Returned to Sender"
    assert [(f["Final-Recipient"], f["Action"], f["Status"]) for f in fields] == \
        [("rfc822; rita@reject.test", "failed", "5.1.1")], fields
    assert subject.encode() in msg.raw  # the returned original
    # sam was delivered once: the killed relay never got past the greeting.
    assert sum(len(s.messages) for s in slow.sessions) == 1


# --------------------------------------------------------------------- randomized kill points


def _queue_originals(relay, n: int) -> dict[str, str]:
    """n messages from DEADEND_SENDER, one recipient each that fails for good: null MX
    (5.1.10, decided by DNS alone) and 550 at Postfix (5.1.1) in turn. Returns qid->rcpt."""
    sent = {}
    with smtplib.SMTP(relay.host, relay.port, local_hostname="client.test", timeout=20) as s:
        s.ehlo()
        for i in range(n):
            rcpt = f"n{i}@nullmx.test" if i % 2 == 0 else f"r{i}@reject.test"
            body = (f"From: <{DEADEND_SENDER}>\r\nTo: <{rcpt}>\r\nSubject: crash-{i}\r\n"
                    f"Message-ID: <crash-{i}@client.test>\r\n\r\nmessage {i}\r\n")
            code, text = s.mail(DEADEND_SENDER)
            assert code == 250, text
            code, text = s.rcpt(rcpt)
            assert code == 250, text
            code, text = s.data(body.encode())
            assert code == 250, text
            sent[QUEUE_ID_RE.search(text.decode()).group(1)] = rcpt
    return sent


def _check_atomic(dump: list[dict], originals: dict[str, str], final: bool) -> dict:
    """The invariant on one stored state: for every original, its recipient is pending and
    no DSN refers to it, or it is final (gone, or failed) and exactly one DSN refers to it,
    listing that recipient with a 5.x.x status. Returns {qid: 'pending'|'done'}."""
    by_id = {m["id"]: m for m in dump}
    refs: dict[str, list[list[dict]]] = {}
    stray = []
    for m in dump:
        if m["sender"] != "":
            assert m["id"] in originals, f"unexpected message in the queue: {m['id']} {m['sender']}"
            continue
        assert [r["address"] for r in m["recipients"]] == [DEADEND_SENDER], m["recipients"]
        ref, fields = dsn_refs(m["body"])
        if ref not in originals:
            stray.append((m["id"], ref))
            continue
        refs.setdefault(ref, []).append(fields)
    assert not stray, f"DSNs that refer to no original: {stray}"
    state = {}
    problems = []
    for qid, rcpt in originals.items():
        m = by_id.get(qid)
        rstate = m["recipients"][0]["state"] if m else "gone"
        n = len(refs.get(qid, []))
        if rstate == "pending":
            state[qid] = "pending"
            if n != 0:
                problems.append(f"{qid} ({rcpt}) still pending but {n} DSN(s) queued")
        elif rstate in ("gone", "failed"):
            state[qid] = "done"
            if n != 1:
                problems.append(f"{qid} ({rcpt}) is {rstate} with {n} DSN(s) queued")
                continue
            [fields] = refs[qid]
            got = [(f.get("Final-Recipient"), f.get("Action")) for f in fields]
            if got != [(f"rfc822; {rcpt}", "failed")]:
                problems.append(f"{qid}: DSN reports {got}, not {rcpt}")
            want = "5.1.10" if rcpt.endswith("@nullmx.test") else "5.1.1"
            if fields and fields[0].get("Status") != want:
                problems.append(f"{qid}: DSN status {fields[0].get('Status')}, want {want}")
        else:
            problems.append(f"{qid} ({rcpt}) in unexpected state {rstate}")
    if final:
        still = [q for q, s in state.items() if s != "done"]
        if still:
            problems.append(f"originals never finished: {still}")
    assert not problems, "\n".join(problems)
    return state


N_MESSAGES = 30
# Where each run is cut, as (stage, k): once this run's log shows k originals at `stage`.
#   bounced    the failure is decided and logged; its commit may not have happened yet
#   notified   the DSN is built ("sender failed notification"), the commit is imminent
#   dsn-tried  the DSN was committed and the relay has already tried to deliver it
# k is drawn at random from 1..K (seeded; the seed is in the report, DSN_CRASH_SEED=...
# replays a run).
KILL_POINTS = (("bounced", 3), ("notified", 6), ("dsn-tried", 4),
               ("bounced", 12), ("notified", 12), ("dsn-tried", 12))
MAX_RUNS = 12
DSN_TRIED_RE = re.compile(rf"([0-9A-F]{{16}}): to=<{re.escape(DEADEND_SENDER)}>, ")


def _progress(log: str, originals: dict[str, str]) -> dict[str, set[str]]:
    """Originals at each stage in `log` (one run's part of the relay log)."""
    bounced = {q for q, _ in BOUNCED_RE.findall(log) if q in originals}
    notified = {q: d for q, d in NOTIFIED_RE.findall(log) if q in originals}
    tried = set(DSN_TRIED_RE.findall(log))
    return {"bounced": bounced, "notified": set(notified),
            "dsn-tried": {q for q, d in notified.items() if d in tried}}


def test_kills_at_random_points_neither_lose_nor_duplicate_dsns(make_relay, world):
    relay = make_relay(start=False, overrides=relay_overrides(world, pause=True))
    relay.start()
    originals = _queue_originals(relay, N_MESSAGES)
    assert len(originals) == N_MESSAGES
    assert relay.stop() == 0
    relay.config_path.write_text(
        relay.config_path.read_text().replace("pause = true", "pause = false"))

    state = _check_atomic(relay.dump(), originals, final=False)
    assert set(state.values()) == {"pending"}
    seed = int(os.environ.get("DSN_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
    rng = random.Random(seed)
    print(f"\nDSN_CRASH_SEED={seed}")
    in_window = 0   # originals whose failure was logged but not yet stored at a kill
    committed_before_kill = 0
    runs = []
    for run in range(MAX_RUNS):
        pending = sorted(q for q, s in state.items() if s == "pending")
        if not pending:
            break
        stage, kmax = KILL_POINTS[run % len(KILL_POINTS)]
        k = min(rng.randint(1, kmax), len(pending))
        relay.start()
        wait_until(lambda: len(_progress(relay.log(since_start=True), originals)[stage]) >= k,
                   60, f"{k} original(s) at {stage} in run {run}", interval=0.001)
        relay.kill()
        seen = _progress(relay.log(since_start=True), originals)
        before = state
        state = _check_atomic(relay.dump(), originals, final=False)
        # What was done before this run cannot be undone by it.
        assert all(state[q] == "done" for q, s in before.items() if s == "done")
        # A DSN the relay tried to deliver was committed, and with it its recipient's end.
        assert all(state[q] == "done" for q in seen["dsn-tried"]), (seed, seen["dsn-tried"])
        hit = {q for q in seen["bounced"] if state[q] == "pending"}
        done_now = {q for q in pending if state[q] == "done"}
        in_window += len(hit)
        committed_before_kill += len(done_now)
        runs.append((stage, k, len(pending), len(seen["bounced"]), len(seen["notified"]),
                     len(done_now), len(hit)))
        print(f"run {run}: killed at {stage}>={k}: {runs[-1]}")

    # The last run is not killed: everything left must fail and be reported once.
    relay.start()
    wait_until(lambda: not any(m["id"] in originals for m in relay.dump(with_bodies=False)),
               60, "every original to leave the queue", interval=0.2)
    final = _check_atomic(relay.dump(), originals, final=True)
    assert set(final.values()) == {"done"}
    dsn_ids = [m["id"] for m in relay.dump(with_bodies=False) if m["sender"] == ""]
    assert len(dsn_ids) == N_MESSAGES == len(set(dsn_ids))
    print(f"DSN_CRASH_SEED={seed} runs (stage, k, pending at start, bounced, notified, committed, "
          f"logged-but-not-committed): {runs}; in-window originals {in_window}, "
          f"committed before a kill {committed_before_kill}")
    # Kills fell on both sides of the commit; otherwise they proved nothing about it.
    assert committed_before_kill > 0, (seed, runs)
    assert in_window > 0, (seed, runs)
