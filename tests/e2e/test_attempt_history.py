"""End-to-end attempt history (issue 18, point 1): every delivery attempt of a recipient is
kept in the queue, in order, with the host, its address, how it was found, the TLS, the
DNSSEC status, the status and the reply, bounded by [delivery] attempt_history; the
queue dump and `secmxctl queue show` show it in the one JSON shape (docs/queue-schema.json).

The world: hist.test MX 10 mx.hist.test (127.0.0.61:25), served by real Postfix instances
one after the other: first one without STARTTLS that answers 450 to both recipients, then
one with STARTTLS that takes ann@ and still answers 450 to keep@ (so that the message
stays queued and its history can be read). Attempts are started with `secmxctl queue
flush` (retry is an hour), each once the previous one is stored: no timing is guessed.
"""
from __future__ import annotations

import hashlib
import json
import re
import smtplib
import ssl
import subprocess
from pathlib import Path

import pytest

from dns_server import DnsServer
from mta import PostfixMTA, mta_base
from pki import TestCA
from relaytest import ctl_bin, swaks, swaks_queue_id, wait_until

ADDRESS = "127.0.0.61"
ANN = "ann@hist.test"
KEEP = "keep@hist.test"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("history")
    ca = TestCA(tmp / "pki")
    dns = DnsServer(tmp / "dns")
    dns.add_mx("hist.test", 10, "mx.hist.test")
    dns.add_a("mx.hist.test", ADDRESS)
    dns.start()
    try:
        yield {"ca": ca, "dns": dns, "base": mta_base(), "cert": ca.issue("mx.hist.test")}
    finally:
        dns.stop()


def postfix(world, name: str, tls: bool, refuse: list[str]) -> PostfixMTA:
    return PostfixMTA(world["base"], name, host=ADDRESS, port=25, hostname="mx.hist.test",
                      domains=["hist.test"], tls=world["cert"] if tls else None,
                      tls_level="may" if tls else None,
                      rcpt_rules={a: "450 4.2.0 try later" for a in refuse})


def greets(mx: PostfixMTA) -> bool:
    """Whether the Postfix answers a connection with its greeting (its smtpd is up, not
    only its master's socket), so that the relay's next attempt meets the receiver."""
    try:
        with smtplib.SMTP(mx.host, mx.port, timeout=5) as s:
            return s.noop()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


def serving(mx: PostfixMTA) -> PostfixMTA:
    wait_until(lambda: greets(mx), 20, f"postfix {mx.name} to greet")
    return mx


def history_relay(make_relay, world, limit: int | None = None):
    # No cached connection: each flush is its own session, with the Postfix up then.
    delivery = {"pause": False, "retry": ["1h"], "ca_file": str(world["ca"].cert),
                "connect_timeout": "5s", "command_timeout": "30s",
                "connection_cache_time": "0s"}
    if limit is not None:
        delivery["attempt_history"] = limit
    return make_relay(overrides={"dns": {"servers": [world["dns"].address]},
                                 "delivery": delivery})


def send(relay, rcpts: list[str], subject: str) -> str:
    to = ",".join(rcpts)
    r = swaks(relay, "--from", "alice@agency.test", "--to", to, "--header", f"Subject: {subject}")
    assert r.returncode == 0, r.stdout + r.stderr
    return swaks_queue_id(r.stdout)


def ctl(relay, *args: str) -> str:
    r = subprocess.run([ctl_bin(), "--config", str(relay.config_path), *args],
                       capture_output=True, text=True, timeout=60, cwd=relay.workdir,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"secmxctl {' '.join(args)} exited {r.returncode}:\n{r.stderr}"
    return r.stdout


def recipient(relay, qid: str, address: str) -> dict | None:
    m = relay.dump_by_id().get(qid)
    return next((r for r in m["recipients"] if r["address"] == address), None) if m else None


def wait_attempts(relay, qid: str, address: str, count: int) -> dict:
    """Until the queue holds `count` attempts of `address` (kept plus dropped)."""
    return wait_until(
        lambda: (r := recipient(relay, qid, address)) and r["attempts"] >= count and r,
        40, f"{count} stored attempt(s) of {address} in {qid}")


def json_show(relay, qid: str) -> dict:
    return json.loads(ctl(relay, "--json", "queue", "show", qid))


def flush(relay, qid: str):
    ctl(relay, "queue", "flush", qid)


def sha256_of(cert: Path) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(Path(cert).read_text())).hexdigest()


def test_deferred_twice_then_delivered_over_starttls(make_relay, world):
    relay = history_relay(make_relay, world)
    with postfix(world, "hist-refuse", tls=False, refuse=[ANN, KEEP]) as mx:
        serving(mx)
        qid = send(relay, [ANN, KEEP], "history")
        wait_attempts(relay, qid, ANN, 1)
        flush(relay, qid)
        wait_attempts(relay, qid, ANN, 2)
        mx.wait_log(r"450 4\.2\.0")
    with postfix(world, "hist-tls", tls=True, refuse=[KEEP]) as mx:
        serving(mx)
        flush(relay, qid)
        ann = wait_until(lambda: (r := recipient(relay, qid, ANN)) and r["state"] == "delivered"
                         and r, 40, f"{ANN} delivered")
        [got] = mx.wait_for_messages(1, timeout=30)
        assert got.recipient.lower() == ANN
        assert got.message["Subject"] == "history"

    history = ann["history"]
    assert [a["status"] for a in history] == ["4.2.0", "4.2.0", "2.0.0"], history
    assert ann["history_dropped"] == 0 and ann["attempts"] == 3
    times = [a["time"] for a in history]
    assert times == sorted(times) and len(set(times)) == 3, times
    for a in history:
        assert (a["host"], a["address"], a["method"], a["dnssec"]) == (
            "mx.hist.test", f"{ADDRESS}:25", "mx", "off"), a
    assert [a["tls"] for a in history[:2]] == ["none", "none"], history
    assert history[0]["cert_sha256"] == "", history[0]
    assert history[0]["reply"].startswith("450 4.2.0") and "try later" in history[0]["reply"]
    assert re.fullmatch(r"TLSv1\.[23]/[A-Za-z0-9_-]+/(pkix|none)", history[2]["tls"]), history[2]
    assert history[2]["cert_sha256"] == sha256_of(world["cert"][0])
    assert history[2]["reply"].startswith("250 "), history[2]
    # The last attempt's fields agree with the newest attempt of the history.
    assert (ann["last_status"], ann["last_tls"]) == ("2.0.0", history[2]["tls"])
    keep = recipient(relay, qid, KEEP)
    assert [a["status"] for a in keep["history"]] == ["4.2.0"] * 3, keep
    assert keep["state"] == "pending"

    # secmxctl shows the same attempts, one line each, in order, under the recipient.
    show = ctl(relay, "queue", "show", qid)
    block = show[show.index(f"attempts of <{ANN}>:"):]
    lines = block.splitlines()[2:5]
    assert len(lines) == 3, show
    for line, a in zip(lines, history):
        assert line.startswith(a["time"]), (line, a)
        assert f"mx.hist.test[{ADDRESS}:25]" in line and " mx " in line, line
        assert f" {a['tls']} " in line and f" {a['status']} " in line, line
    assert "older attempt" not in block.split(f"attempts of <{KEEP}>")[0], show

    # The admin API's detail is the same shape: the same history.
    detail = json_show(relay, qid)
    api_ann = next(r for r in detail["recipients"] if r["address"] == ANN)
    assert api_ann["history"] == history


def test_history_keeps_the_newest_attempts_and_counts_the_dropped(make_relay, world):
    relay = history_relay(make_relay, world, limit=2)
    with postfix(world, "hist-bound", tls=True, refuse=[KEEP]) as mx:
        serving(mx)
        qid = send(relay, [KEEP], "bounded")
        first = wait_attempts(relay, qid, KEEP, 1)["history"][0]
        flush(relay, qid)
        wait_attempts(relay, qid, KEEP, 2)
        flush(relay, qid)
        keep = wait_attempts(relay, qid, KEEP, 3)
    assert keep["attempts"] == 3
    assert len(keep["history"]) == 2 and keep["history_dropped"] == 1, keep
    assert first not in keep["history"], "the oldest is the one dropped"
    times = [a["time"] for a in keep["history"]]
    assert times == sorted(times) and times[0] > first["time"], times
    assert all(a["status"] == "4.2.0" and a["address"] == f"{ADDRESS}:25"
               for a in keep["history"]), keep
    show = ctl(relay, "queue", "show", qid)
    assert "(1 older attempt not kept)" in show, show
