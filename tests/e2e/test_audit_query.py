"""test_audit_query.py - the audit trail's search, export, report and verify as an operator
and an auditor meet them, against a real relay: the admin API's answers and errors,
`secmxctl audit search|report|verify` (tables, JSON lines, CSV by RFC 4180, following pages,
exit codes, "relay not running"), and `secmx-relay --audit-verify` offline. Records come
from real mail when the relay writes them (the traffic test), and from secmx-audit-fill
(bench/audit_fill.cpp, the same record builders) for volume and for tampering: a byte
changed in the LMDB file on disk is found at the record after it.
"""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mta import ScriptedPeer  # noqa: E402
from relaytest import free_port, relay_bin, simple_message, wait_until  # noqa: E402
from test_admin import _answers, _ctl_built, start_admin_relay  # noqa: E402,F401

EXIT_NOT_RUNNING = 2  # docs/admin.md
EXIT_FAILED = 6
VERIFY_BROKEN = 1


def fill_bin() -> str:
    return os.environ.get("SECMX_AUDIT_FILL_BIN",
                          str(Path(relay_bin()).resolve().parent.parent / "bench" / "secmx-audit-fill"))


def fill(relay, count: int) -> int:
    """Appends `count` synthetic records to the (stopped) relay's queue store."""
    assert not relay.running()
    r = subprocess.run([fill_bin(), "--queue", str(relay.queue_path), "--count", str(count),
                        "--batch", "500"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip())


def restart(relay, admin):
    relay.start()
    wait_until(lambda: _answers(admin), 10, "the admin API to answer /healthz")


def api(admin, path: str, status: int = 200):
    got, body, _ = admin.http("GET", path)
    assert got == status, f"{path}: {got} {body}"
    return body


def all_records(admin, query: str = "") -> list[dict]:
    """Every record the API answers for `query`, following `next`."""
    out, after = [], None
    while True:
        page = api(admin, f"/api/v1/audit?limit=1000{query}" + (f"&after={after}" if after else ""))
        out += page["records"]
        if page["next"] is None:
            return out
        after = page["next"]


def relay_supports_audit_writer() -> bool:
    """The record writer (accept, outcome, ... records from real traffic) came with
    --audit-dump; without it only the reading side is here to test."""
    r = subprocess.run([relay_bin(), "--help"], capture_output=True, text=True, timeout=10)
    return "--audit-dump" in r.stdout


# --------------------------------------------------------------------------- no records needed


def test_verify_on_a_new_chain_passes(make_relay):
    relay, admin = start_admin_relay(make_relay)
    r = admin.ctl("audit", "verify")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("verified: the chain is intact\n"), r.stdout
    j = json.loads(admin.ctl("--json", "audit", "verify").stdout)
    assert j["ok"] is True and j["break"] is None, j
    assert api(admin, "/api/v1/audit/verify?from=2026-01-01")["ok"] is True
    relay.stop()
    off = subprocess.run([relay_bin(), "--config", str(relay.config_path), "--audit-verify"],
                         capture_output=True, text=True, timeout=60, cwd=relay.workdir)
    assert off.returncode == 0, off.stdout + off.stderr
    assert off.stdout.startswith("verified: the chain is intact\n"), off.stdout


def test_filter_errors_are_400_with_the_reason_and_secmxctl_exits_6(make_relay):
    relay, admin = start_admin_relay(make_relay)
    cases = {
        "/api/v1/audit?policy=FAST": "policy: expected BES, SOS, HOLD or REJECT, got 'FAST'",
        "/api/v1/audit?auth=tls": "auth: expected dane, mta-sts, pkix or none, got 'tls'",
        "/api/v1/audit?from=2026-12-01&to=2026-11-01": "from: must be before to",
        "/api/v1/audit?from=yesterday":
            "from: expected a UTC date or time (2026-11-01 or 2026-11-01T10:00:00Z), got 'yesterday'",
        "/api/v1/audit?limit=5000": "limit: expected 1..1000",
        "/api/v1/audit/report?sender=a%40b.example": "unknown parameter 'sender': expected from or to",
        "/api/v1/audit/verify?to=2026-13-01":
            "to: expected a UTC date or time (2026-11-01 or 2026-11-01T10:00:00Z), got '2026-13-01'",
    }
    for path, want in cases.items():
        body = api(admin, path, 400)
        assert body == {"error": want, "code": "bad_request"}, (path, body)
    r = admin.ctl("audit", "search", "--policy", "FAST")
    assert r.returncode == EXIT_FAILED, r.stdout + r.stderr
    assert "policy: expected BES, SOS, HOLD or REJECT, got 'FAST'" in r.stderr
    r = admin.ctl("audit", "report", "--from", "2026-12-01", "--to", "2026-11-01")
    assert r.returncode == EXIT_FAILED and "from: must be before to" in r.stderr, r.stderr
    r = admin.ctl("--json", "audit", "search", "--csv")
    assert r.returncode == 1 and "not both" in r.stderr, r.stderr


def test_every_audit_command_says_when_the_relay_is_not_running(make_relay):
    relay, admin = start_admin_relay(make_relay)
    relay.stop()
    for args in (["audit", "search"], ["audit", "report"], ["audit", "verify"]):
        r = admin.ctl(*args)
        assert r.returncode == EXIT_NOT_RUNNING, (args, r.stdout, r.stderr)
        assert len(r.stderr.splitlines()) == 1 and "secmxctl: " in r.stderr, r.stderr
        assert r.stdout == "", r.stdout


# --------------------------------------------------------------------------- synthetic records


def test_search_export_report_and_a_tampered_store(make_relay):
    if not os.access(fill_bin(), os.X_OK):
        pytest.fail(f"secmx-audit-fill not found at {fill_bin()}: build target secmx-audit-fill",
                    pytrace=False)
    relay, admin = start_admin_relay(make_relay)
    relay.stop()
    written = fill(relay, 2500)
    restart(relay, admin)

    everything = all_records(admin)
    assert len(everything) >= written, (len(everything), written)
    seqs = [r["seq"] for r in everything]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    # JSON lines: every record once, across the API's pages of 1000.
    r = admin.ctl("--json", "audit", "search")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert [l["seq"] for l in lines] == seqs

    # CSV: a header, then one row per rejected message, quoted where RFC 4180 says.
    rejected = all_records(admin, "&event=reject")
    assert rejected, "the generator writes rejects for unreadable markings"
    r = admin.ctl("audit", "search", "--event", "reject", "--csv")
    assert r.returncode == 0, r.stderr
    assert '"rule=1(header ""X-Protective-Marking"" unreadable, refused)"' in r.stdout
    rows = list(csv.reader(io.StringIO(r.stdout, newline="")))
    assert rows[0][:3] == ["seq", "time", "event"]
    assert [int(x[0]) for x in rows[1:]] == [x["seq"] for x in rejected]
    header = rows[0]
    for row, rec in zip(rows[1:], rejected):
        got = dict(zip(header, row))
        assert got["detail"] == rec["record"]["reason"]
        assert got["sender"] == rec["record"]["sender"]
        assert got["classification"] == "unknown"

    # Filters combine; the table ends with its count.
    sos_none = all_records(admin, "&outcome=delivered&policy=SOS&auth=none")
    r = admin.ctl("audit", "search", "--outcome", "delivered", "--policy", "SOS", "--auth", "none")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith(f"\n{len(sos_none)} record{'s' if len(sos_none) != 1 else ''}\n"), r.stdout[-200:]

    # The report: its counts add up to the outcomes; its lists are what searches find.
    rep = json.loads(admin.ctl("--json", "audit", "report", "--from", "2026-11-01",
                               "--to", "2026-12-01").stdout)
    assert rep["records"] == len(everything)
    assert sum(c["count"] for c in rep["counts"]) == rep["outcomes"]
    assert rep["outcomes"] == len(all_records(admin, "&event=outcome"))
    weak = [x["seq"] for x in all_records(admin, "&outcome=delivered&auth=none")
            if x["record"]["recipient"]["policy"] == "SOS" or x["record"]["requiretls"]]
    assert [u["seq"] for u in rep["unauthenticated"]] == weak
    assert {x["seq"] for x in sos_none} <= set(weak) and len(weak) > len(sos_none)
    assert len(rep["unreadable_markings"]) == len(rejected)
    text = admin.ctl("audit", "report", "--from", "2026-11-01", "--to", "2026-12-01")
    assert text.returncode == 0, text.stderr
    for section in ("1. Final outcomes by classification", "2. SOS or REQUIRETLS mail delivered",
                    "3. Markings that could not be read", "4. Operator releases of mail held by policy"):
        assert section in text.stdout, text.stdout

    assert admin.ctl("audit", "verify").returncode == 0

    # A byte changed on disk: the record after it no longer follows it.
    victim = everything[len(everything) // 2]["record"]["message_id"]
    first = min(x["seq"] for x in all_records(admin, f"&message_id={victim}"))
    relay.stop()
    data = relay.queue_path / "data.mdb"
    raw = data.read_bytes()
    needle = victim.encode()
    assert raw.count(needle) >= 1
    data.write_bytes(raw.replace(needle, needle[:-1] + bytes([needle[-1] ^ 0x01])))
    off = subprocess.run([relay_bin(), "--config", str(relay.config_path), "--audit-verify"],
                         capture_output=True, text=True, timeout=60, cwd=relay.workdir)
    assert off.returncode == VERIFY_BROKEN, off.stdout + off.stderr
    assert off.stdout.startswith(f"BROKEN at record {first + 1}: record {first + 1} does not follow"), off.stdout
    restart(relay, admin)
    r = admin.ctl("audit", "verify")
    assert r.returncode == VERIFY_BROKEN, r.stdout + r.stderr
    assert r.stdout.startswith(f"BROKEN at record {first + 1}:"), r.stdout
    assert api(admin, "/api/v1/audit/verify")["break"]["seq"] == first + 1


# --------------------------------------------------------------------------- real traffic


def test_a_delivered_message_is_found_and_counted(make_relay):
    if not relay_supports_audit_writer():
        pytest.skip("this relay does not write audit records yet (no --audit-dump)")
    with ScriptedPeer(hostname="mx.audit.test") as peer:
        extra = f'\n[[route]]\ndomain = "audit.test"\nhost = "[127.0.0.1]:{peer.port}"\n'
        relay, admin = start_admin_relay(make_relay, extra=extra)
        with relay.session() as c:
            reply = c.send_message("alice@agency.example", ["bob@audit.test"],
                                   simple_message("audit me", sender="alice@agency.example",
                                                  to="bob@audit.test"))
            assert reply.code == 250, reply
        peer.wait_sessions(1)
        outcomes = wait_until(lambda: all_records(admin, "&event=outcome&recipient=bob@audit.test") or None,
                              20, "the outcome record of bob@audit.test")
        assert outcomes[0]["record"]["outcome"] == "delivered"
        accepts = all_records(admin, "&event=accept&sender=ALICE@agency.example")
        assert len(accepts) == 1 and accepts[0]["seq"] < outcomes[0]["seq"]
        rep = json.loads(admin.ctl("--json", "audit", "report").stdout)
        assert sum(c["count"] for c in rep["counts"] if c["outcome"] == "delivered") == 1, rep
        r = admin.ctl("audit", "search", "--recipient", "bob@audit.test", "--csv")
        rows = list(csv.reader(io.StringIO(r.stdout, newline="")))
        assert [row[2] for row in rows[1:]] == ["accept", "outcome"], rows
        assert admin.ctl("audit", "verify").returncode == 0
