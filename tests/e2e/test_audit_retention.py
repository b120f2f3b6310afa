"""Retention of the audit trail (docs/audit.md, "Retention and storage"): records older than
audit.retention go, in bounded batches off the SMTP loop, while mail is being accepted; the
chain still verifies afterwards from the checkpoint it starts at.

The store is filled before the start with 100,000 records a month old (secmx-audit-fill,
checkpointed under the relay's own key), and the relay starts with retention = "1d" and a
checkpoint (and prune) round every second. From before the first round until the old
records are gone, a client sends one message after another; each must be answered 250
within a bound far below what a stalled writer would take, some of them while records were
being pruned, and all of them must be queued with their accept records.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import time

from relaytest import ctl_bin, simple_message, wait_until
from test_audit_query import fill_bin

OLD = 100_000
KEY = "e2e-retention-key-0123456789abcdef0123"


def metric(relay, name: str) -> float:
    import urllib.request
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(f"http://127.0.0.1:{relay.admin_port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def test_pruning_a_month_of_records_does_not_stall_acceptance(make_relay):
    assert os.access(fill_bin(), os.X_OK), f"secmx-audit-fill not found at {fill_bin()}"
    relay = make_relay(start=False, overrides={
        "delivery": {"pause": True},
        "audit": {"retention": "1d", "checkpoint_interval": "1s"},
    })
    key = relay.config_path.parent / "audit.key"
    key.write_text(KEY + "\n")
    key.chmod(0o600)
    start = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 40 * 86400))
    r = subprocess.run([fill_bin(), "--queue", str(relay.queue_path), "--count", str(OLD),
                        "--start", start, "--days", "10", "--batch", "5000",
                        "--key-file", str(key)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    relay.start()
    relay.wait_log(r"admin API listening")

    # Send one message after another from before the first prune round until the last:
    # each answer's latency, and how far the pruning had got when it was sent.
    latencies, during = [], 0
    deadline = time.monotonic() + 120
    with relay.session() as c:
        i = 0
        while True:
            pruned_before = metric(relay, "secmx_audit_pruned_total")
            if pruned_before >= OLD - 5000 or time.monotonic() > deadline:
                break
            t0 = time.monotonic()
            reply = c.send_message("alice@sender.test", [f"r{i}@dest.test"],
                                   simple_message(f"during prune {i}", sender="alice@sender.test"))
            latencies.append(time.monotonic() - t0)
            assert reply.code == 250, reply
            if pruned_before > 0:
                during += 1
            i += 1
    sent = len(latencies)
    assert metric(relay, "secmx_audit_pruned_total") >= OLD - 5000, "the month-old records pruned"
    print(f"sent={sent} during={during} max={max(latencies):.3f}s "
          f"median={statistics.median(latencies):.4f}s")
    assert during >= 10, f"only {during} messages were sent while records were being pruned"
    assert max(latencies) < 2.0, f"slowest 250 after {max(latencies):.2f}s"
    assert statistics.median(latencies) < 0.5, statistics.median(latencies)

    # Nothing acknowledged was lost, every message has its accept record, and the trail
    # that remains verifies from the checkpoint it now starts at.
    assert len(relay.dump(with_bodies=False)) == sent
    p = subprocess.run([ctl_bin(), "--config", str(relay.config_path), "--json", "audit", "search",
                        "--event", "accept", "--sender", "alice@sender.test"],
                       capture_output=True, text=True, timeout=120, cwd=relay.workdir)
    assert p.returncode == 0, p.stderr
    assert len([l for l in p.stdout.splitlines() if l.strip()]) == sent
    p = subprocess.run([ctl_bin(), "--config", str(relay.config_path), "audit", "verify"],
                       capture_output=True, text=True, timeout=120, cwd=relay.workdir)
    assert p.returncode == 0, p.stdout + p.stderr
