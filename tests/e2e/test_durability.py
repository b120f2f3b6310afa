"""The queue's promise (DESIGN §6): "250 queued as ID" means on disk. Restart, SIGKILL
under load, a full LMDB map, and id order."""
import os
import smtplib
import threading
import time

from relaytest import QUEUE_ID_RE, content_of, wait_until


def _body(tag: str, n: int = 0) -> bytes:
    pad = (tag.encode() * (1 + n % 7))[:200]
    return (b"Subject: %s\r\nX-Seq: %d\r\n\r\n" % (tag.encode(), n)
            + b"line one of " + tag.encode() + b"\r\n"
            + b"..dotted\r\n"  # dot-stuffed on the wire by smtplib, stored as "..dotted"
            + pad + b"\r\n")


def _send_one(s: smtplib.SMTP, sender: str, rcpt: str, body: bytes) -> tuple[int, str]:
    code, text = s.mail(sender)
    if code != 250:
        return code, text.decode(errors="replace")
    code, text = s.rcpt(rcpt)
    if code != 250:
        return code, text.decode(errors="replace")
    code, text = s.data(body)
    return code, text.decode(errors="replace")


def test_restart_keeps_every_message(make_relay):
    relay = make_relay()
    sent = {}
    with smtplib.SMTP(relay.host, relay.port, local_hostname="client.test", timeout=20) as s:
        s.ehlo()
        for i in range(20):
            body = _body("restart", i)
            code, text = _send_one(s, f"s{i}@x.example", f"r{i}@y.example", body)
            assert code == 250, text
            sent[QUEUE_ID_RE.search(text).group(1)] = (i, body)
    assert len(sent) == 20
    t0 = time.monotonic()
    assert relay.stop(timeout=10) == 0
    assert time.monotonic() - t0 < 5, "SIGTERM took too long"
    before = relay.dump_by_id()  # offline dump, relay stopped
    relay.start()
    relay.wait_log(r"queue .* opened: 20 messages")
    after = relay.dump_by_id()  # dump while the relay runs (LMDB readers are fine)
    assert set(after) == set(sent) == set(before)
    for qid, (i, body) in sent.items():
        m = after[qid]
        assert m["sender"] == f"s{i}@x.example"
        assert [r["address"] for r in m["recipients"]] == [f"r{i}@y.example"]
        assert content_of(m).encode() == body
        assert m["body"] == before[qid]["body"]
    # Ids keep growing across the restart.
    with smtplib.SMTP(relay.host, relay.port, local_hostname="client.test", timeout=20) as s:
        s.ehlo()
        code, text = _send_one(s, "late@x.example", "r@y.example", _body("late"))
        assert code == 250, text
        new_id = QUEUE_ID_RE.search(text).group(1)
    assert new_id > max(sent), (new_id, max(sent))


class _Sender(threading.Thread):
    """Sends messages in a loop on one connection (reconnecting on error) until stopped;
    records (id, body) for every 250 it got."""

    def __init__(self, relay, tid: int, stop: threading.Event, acks: list, lock):
        super().__init__(daemon=True)
        self.relay, self.tid, self.stop_ev, self.acks, self.lock = relay, tid, stop, acks, lock
        self.errors = 0
        self.unexpected = []

    def run(self):
        n = 0
        while not self.stop_ev.is_set():
            try:
                with smtplib.SMTP(self.relay.host, self.relay.port,
                                  local_hostname=f"thread{self.tid}.test", timeout=10) as s:
                    s.ehlo()
                    while not self.stop_ev.is_set():
                        n += 1
                        tag = f"t{self.tid}-m{n}-{os.urandom(4).hex()}"
                        body = _body(tag, n)
                        code, text = _send_one(s, f"t{self.tid}@x.example", "r@y.example", body)
                        if code == 250:
                            m = QUEUE_ID_RE.search(text)
                            if not m:
                                self.unexpected.append(text)
                                continue
                            with self.lock:
                                self.acks.append((m.group(1), body, self.tid))
                        else:
                            self.unexpected.append(f"{code} {text}")
            except (OSError, smtplib.SMTPException):
                self.errors += 1  # expected once the relay is killed
                if self.stop_ev.wait(0.05):
                    return


def _run_senders(relay, until, threads=8, timeout=30.0):
    stop = threading.Event()
    acks, lock = [], threading.Lock()
    ts = [_Sender(relay, i, stop, acks, lock) for i in range(threads)]
    for t in ts:
        t.start()
    try:
        wait_until(lambda: until(acks), timeout, "enough acknowledged messages", interval=0.01)
    except AssertionError:
        stop.set()
        errors = [u for t in ts for u in t.unexpected]
        raise AssertionError(f"only {len(acks)} messages acknowledged in {timeout}s; "
                             f"unexpected replies: {errors[:5]}")
    return stop, ts, acks, lock


def test_sigkill_under_load_loses_no_acknowledged_message(make_relay):
    relay = make_relay()
    stop, ts, acks, lock = _run_senders(relay, lambda a: len(a) >= 300)
    # Power cut while all eight clients are mid-conversation.
    relay.kill()
    with lock:
        acked = list(acks)
    stop.set()
    for t in ts:
        t.join(timeout=15)
        assert not t.is_alive(), "a sender thread did not stop"
    unexpected = [u for t in ts for u in t.unexpected]
    assert not unexpected, unexpected[:5]
    assert sum(t.errors for t in ts) >= 1, "the kill did not interrupt any client"

    relay.start()
    q = relay.dump()
    ids = [m["id"] for m in q]
    assert len(ids) == len(set(ids)), "duplicate queue ids in the dump"
    acked_ids = [a[0] for a in acked]
    assert len(acked_ids) == len(set(acked_ids)), "the relay acknowledged one id twice"
    by_id = {m["id"]: m for m in q}
    missing = [qid for qid in acked_ids if qid not in by_id]
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:5]}"
    for qid, body, tid in acked:
        m = by_id[qid]
        assert m["sender"] == f"t{tid}@x.example", m
        assert content_of(m).encode() == body, qid
    # The dump is in id order.
    assert ids == sorted(ids)
    # More may be stored than acknowledged (a 250 lost in flight), never fewer.
    assert len(q) >= len(acked)
    # The restarted relay takes mail again, with a fresh, larger id.
    with relay.session() as c:
        r = c.send_message("after@x.example", ["r@y.example"], b"Subject: after\r\n\r\nx\r\n")
        assert r.code == 250, r
        assert r.queue_id() > max(ids)


def test_queue_ids_sort_by_arrival_under_concurrency(make_relay):
    """DESIGN §6: ids are unique and sortable by arrival. Eight concurrent clients; the
    dump's id order must agree with arrival_us."""
    relay = make_relay()
    stop, ts, acks, lock = _run_senders(relay, lambda a: len(a) >= 120)
    stop.set()
    for t in ts:
        t.join(timeout=15)
    q = relay.dump(with_bodies=False)
    ids = [m["id"] for m in q]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    inversions = [(a["id"], a["arrival_us"], b["id"], b["arrival_us"])
                  for a, b in zip(q, q[1:]) if b["arrival_us"] < a["arrival_us"]]
    assert not inversions, (f"{len(inversions)} of {len(q)} neighbours in id order arrived in "
                            f"the opposite order, e.g. {inversions[:3]}")


def test_full_queue_answers_452_and_keeps_what_it_acknowledged(make_relay):
    relay = make_relay(overrides={
        "queue": {"map_size": "1MiB"},
        "smtp": {"max_message_size": "4MiB"},
    })
    line = b"y" * 78 + b"\r\n"
    acked = {}
    full = None
    with relay.session() as c:
        for i in range(60):
            body = b"Subject: fill %d\r\n\r\n" % i + line * (100 * 1024 // len(line))
            r = c.send_message("fill@x.example", ["r@y.example"], body)
            if r.code == 250:
                acked[r.queue_id()] = body
                continue
            full = r
            break
        assert full is not None, "the 1 MiB queue never filled up"
        assert (full.code, full.enhanced()) == (452, "4.3.1"), full
        assert acked, "not even one message fit"
        c.expect("NOOP", 250)
        # Smaller mail can still be refused or taken, but the session must answer.
        c.sync()
    assert relay.running()
    with relay.session() as c:
        c.expect("NOOP", 250)
    q = relay.dump_by_id()
    assert set(acked) <= set(q), set(acked) - set(q)
    assert set(q) == set(acked), "a message refused with 452 was stored anyway"
    for qid, body in acked.items():
        assert content_of(q[qid]).encode() == body
