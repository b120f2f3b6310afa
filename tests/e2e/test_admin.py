"""test_admin.py - the admin plane end to end: secmxctl and raw HTTP against a running
relay with mail in its queue, /metrics through the Prometheus text parser, and the route
probe against a real DNS server (unbound) and scripted receivers.

Mail stays queued because its domain is routed ([[route]]) to a loopback port where
nothing listens: every attempt is deferred (connection refused) and the next one is an
hour away. What each operation changed is read back from LMDB with `--queue-dump` (the
relay's own offline reader), not from the API under test.

"""
from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dns_fixtures import dns_server  # noqa: E402,F401
from mta import ScriptedPeer  # noqa: E402
from pki import TestCA  # noqa: E402
from relaytest import ctl_bin, free_port, relay_bin, simple_message, wait_until  # noqa: E402

prometheus_parser = pytest.importorskip(
    "prometheus_client.parser",
    reason="python3-prometheus-client is not installed (scripts/install-deps.sh --with-tests)")

TOKEN = "e2e-test-token-0123456789abcdef"  # what relaytest.Relay writes to its token file
DEFER_DOMAIN = "defer.test"
OTHER_DOMAIN = "later.test"



@pytest.fixture(scope="module", autouse=True)
def _ctl_built():
    if not os.access(ctl_bin(), os.X_OK):
        pytest.fail(f"secmxctl not found at {ctl_bin()}: build target secmxctl or set "
                    "SECMX_CTL_BIN", pytrace=False)


# --------------------------------------------------------------------------- helpers


class Admin:
    """Raw HTTP and secmxctl against one relay's admin API."""

    def __init__(self, relay):
        self.relay = relay
        self.base = f"http://127.0.0.1:{relay.admin_port}"

    def http(self, method: str, path: str, body: dict | None = None,
             token: str | None = TOKEN, timeout: float = 60) -> tuple[int, dict | str, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw, headers = r.status, r.read().decode(), dict(r.headers)
        except urllib.error.HTTPError as e:
            status, raw, headers = e.code, e.read().decode(), dict(e.headers)
        try:
            return status, json.loads(raw), headers
        except ValueError:
            return status, raw, headers

    def ctl(self, *args: str, config: bool = True, timeout: float = 90) -> subprocess.CompletedProcess:
        cmd = [ctl_bin()] + (["--config", str(self.relay.config_path)] if config else []) + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=self.relay.workdir, stdin=subprocess.DEVNULL)

    def ctl_json(self, *args: str) -> dict:
        r = self.ctl("--json", *args)
        assert r.returncode == 0, f"secmxctl {' '.join(args)} exited {r.returncode}:\n{r.stderr}"
        return json.loads(r.stdout)

    def metrics(self) -> dict[str, float]:
        """Every sample of /metrics by 'name{sorted labels}', via prometheus_client's parser."""
        status, text, headers = self.http("GET", "/metrics", token=None)
        assert status == 200, text
        assert headers.get("Content-Type", "").startswith("text/plain"), headers
        out = {}
        for family in prometheus_parser.text_string_to_metric_families(text):
            for s in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
        return out


def admin_config_tail(dead_port: int) -> str:
    """[[route]]s that defer (nothing listens at dead_port) and a rule that makes SOS."""
    return (f'\n[[route]]\ndomain = "{DEFER_DOMAIN}"\nhost = "[127.0.0.1]:{dead_port}"\n'
            f'\n[[route]]\ndomain = "{OTHER_DOMAIN}"\nhost = "[127.0.0.1]:{dead_port}"\n'
            f'\n[[route]]\ndomain = "x.example"\nhost = "[127.0.0.1]:{dead_port}"\n'
            '\n[[policy.rule]]\nheader = "X-Secmx-Policy"\nmatch = "(?i)^sos$"\npolicy = "SOS"\n'
            '\n[[policy.rule]]\nheader = "X-Secmx-Policy"\nmatch = "(?i)^hold$"\npolicy = "HOLD"\n')


def start_admin_relay(make_relay, extra: str = "", overrides: dict | None = None):
    dead_port = free_port()  # bound and closed at once: connection refused from now on
    over = {"delivery": {"pause": False, "retry": ["1h"], "max_lifetime": "5d", "sos_lifetime": "2h"}}
    for k, v in (overrides or {}).items():
        over.setdefault(k, {}).update(v) if isinstance(v, dict) else over.__setitem__(k, v)
    relay = make_relay(start=False, overrides=over)
    with open(relay.config_path, "a") as f:
        f.write(admin_config_tail(dead_port) + extra)
    relay.start()
    admin = Admin(relay)
    wait_until(lambda: "admin API listening" in relay.log(), 10, "the admin server's start-up line")
    wait_until(lambda: _answers(admin), 10, "the admin API to answer /healthz")
    return relay, admin


def _answers(admin: Admin) -> bool:
    try:
        return admin.http("GET", "/healthz", token=None, timeout=2)[0] == 200
    except OSError:
        return False


def queue_mail(relay, rcpts: list[str], headers: str = "", sender: str = "s@x.example") -> str:
    with relay.connect() as c:
        c.banner()
        c.ehlo()
        body = headers + simple_message("admin test", sender=sender, to=rcpts[0])
        r = c.send_message(sender, rcpts, body)
        assert r.code == 250, str(r)
        c.cmd("QUIT")
    qid = r.queue_id()
    assert qid, str(r)
    return qid


def dump(relay) -> dict[str, dict]:
    return relay.dump_by_id()


def wait_attempted(relay, qid: str, attempts: int = 1, timeout: float = 30) -> dict:
    """Until LMDB shows `attempts` delivery attempts on qid (each one deferred)."""
    return wait_until(lambda: (m := dump(relay).get(qid)) and m["attempts"] >= attempts and m,
                      timeout, f"{qid} to have {attempts} attempt(s) in the queue")


def require_queue_ops(admin: Admin, qid: str):
    status, body, _ = admin.http("POST", f"/api/v1/queue/{qid}/flush")
    assert status == 200, body


# --------------------------------------------------------------------------- auth


def test_bad_token_is_401_and_secmxctl_says_so(make_relay):
    relay, admin = start_admin_relay(make_relay)
    qid = queue_mail(relay, [f"a@{DEFER_DOMAIN}"])

    status, body, headers = admin.http("GET", "/api/v1/queue", token=None)
    assert status == 401 and body["code"] == "unauthorized"
    assert headers.get("WWW-Authenticate", "").startswith("Bearer")
    for bad in ("wrong", TOKEN + "x", TOKEN[:-1], ""):
        status, body, _ = admin.http("GET", f"/api/v1/queue/{qid}", token=bad)
        assert status == 401, (bad, body)
    status, body, _ = admin.http("DELETE", f"/api/v1/queue/{qid}", token="wrong")
    assert status == 401
    assert qid in dump(relay), "a refused DELETE removed the message"

    # No token needed for health and metrics.
    assert admin.http("GET", "/healthz", token=None)[0] == 200

    bad_token = relay.workdir / "bad.token"
    bad_token.write_text("not-the-token\n")
    r = admin.ctl("--token-file", str(bad_token), "queue", "list")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "refused the token" in r.stderr
    assert admin.ctl("queue", "list").returncode == 0


def test_relay_not_running_is_a_clear_error(make_relay):
    relay, admin = start_admin_relay(make_relay)
    assert relay.stop() == 0
    r = admin.ctl("stats")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "secmx-relay is not running (no answer on 127.0.0.1:" in r.stderr


# --------------------------------------------------------------------------- reads


def test_list_show_and_filters(make_relay):
    relay, admin = start_admin_relay(make_relay)
    bes = queue_mail(relay, [f"a@{DEFER_DOMAIN}", f"b@{DEFER_DOMAIN}"])
    sos = queue_mail(relay, [f"c@{OTHER_DOMAIN}"], headers="X-Secmx-Policy: sos\r\n",
                     sender="boss@agency.example")
    held = queue_mail(relay, [f"d@{DEFER_DOMAIN}"], headers="X-Secmx-Policy: hold\r\n")

    listed = admin.ctl_json("queue", "list")["messages"]
    assert [m["id"] for m in listed] == sorted([bes, sos, held])

    def ids(*args):
        return [m["id"] for m in admin.ctl_json("queue", "list", *args)["messages"]]

    assert ids("--policy", "SOS") == [sos]
    assert ids("--domain", OTHER_DOMAIN) == [sos]
    assert ids("--sender", "@agency.example") == [sos]
    assert ids("--state", "held") == [held]
    assert sorted(ids("--older-than", "0")) == sorted([bes, sos, held])
    assert ids("--older-than", "1h") == []
    # Cursor pagination through raw HTTP: one per page, in arrival order.
    seen, after = [], ""
    for _ in range(5):
        status, page, _ = admin.http("GET", f"/api/v1/queue?limit=1&after={after}")
        assert status == 200, page
        seen += [m["id"] for m in page["messages"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == sorted([bes, sos, held])

    detail = admin.ctl_json("queue", "show", sos)
    assert detail["policy"] == "SOS"
    assert detail["sender"] == "boss@agency.example"
    r0 = detail["recipients"][0]
    assert r0["address"] == f"c@{OTHER_DOMAIN}" and r0["policy"] == "SOS"
    assert r0["rule"].startswith("rule="), r0
    hd = admin.ctl_json("queue", "show", held)
    assert hd["state"] == "held" and hd["recipients"][0]["policy"] == "HOLD"

    text = admin.ctl("queue", "list")
    assert text.returncode == 0 and bes in text.stdout and "3 messages" in text.stdout
    shown = admin.ctl("queue", "show", bes)
    assert shown.returncode == 0
    assert f"a@{DEFER_DOMAIN}" in shown.stdout and f"b@{DEFER_DOMAIN}" in shown.stdout

    missing = admin.ctl("queue", "show", "0000000000000001")
    assert missing.returncode == 4 and "no message" in missing.stderr
    assert admin.ctl("queue", "show", "nonsense").returncode == 6
    status, body, _ = admin.http("GET", "/api/v1/queue/0000000000000001")
    assert status == 404 and body["code"] == "not_found"

    stats = admin.ctl_json("stats")
    assert stats["queue"]["messages"] == len(dump(relay)) == 3
    assert stats["queue"]["held"] == 1


def test_policy_test(make_relay):
    relay, admin = start_admin_relay(make_relay)
    sos = admin.ctl_json("policy", "test", "--from", "a@agency.example",
                         "--header", "X-Secmx-Policy: SOS", "--header", "Subject: hi",
                         "--rcpt", "r@dest.example")
    assert sos["policy"] == "SOS" and sos["rule"].startswith("rule="), sos
    plain = admin.ctl_json("policy", "test", "--from", "a@agency.example",
                           "--rcpt", "r@dest.example", "--rcpt", "q@dest.example")
    assert plain["policy"] == "BES" and plain["rule"] == "default"
    assert [d["recipient"] for d in plain["decisions"]] == ["r@dest.example", "q@dest.example"]
    r = admin.ctl("policy", "test", "--from", "a@b", "--header", "X-Secmx-Policy: hold",
                  "--rcpt", "r@c")
    assert r.returncode == 0 and "HOLD" in r.stdout
    status, body, _ = admin.http("POST", "/api/v1/policy/test", body={"sender": "a@b"})
    assert status == 400 and "recipient" in body["error"]


# --------------------------------------------------------------------------- hardening


def _status_kib(pid: int, field: str) -> int:
    """A memory figure of /proc/PID/status (VmRSS, VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _read_until_closed(s: socket.socket, timeout: float = 10) -> bytes:
    s.settimeout(timeout)
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return out


def test_chunked_100mib_body_is_refused_with_memory_bounded(make_relay):
    """A chunked body has no length to check up front: it must be cut off as it streams."""
    relay, admin = start_admin_relay(make_relay)
    pid = relay.proc.pid
    rss_before = _status_kib(pid, "VmRSS")
    total = 100 << 20
    piece = b" " * 65536  # JSON whitespace: were it all read, the body would parse
    frame = b"%x\r\n" % len(piece) + piece + b"\r\n"
    start = json.dumps({"sender": "a@b.example", "recipients": ["r@c.example"]}).encode()
    sent = 0
    with socket.create_connection(("127.0.0.1", relay.admin_port), timeout=10) as s:
        s.sendall(b"POST /api/v1/policy/test HTTP/1.1\r\nHost: relay\r\n"
                  b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                  b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + b"%x\r\n" % len(start) + start + b"\r\n")
        try:
            while sent < total:  # generated as it goes; stop once the relay has answered
                s.sendall(frame)
                sent += len(piece)
                if select.select([s], [], [], 0)[0]:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_until_closed(s)
    grown = _status_kib(pid, "VmHWM") - rss_before  # the peak, not only what is left now
    assert grown < 64 * 1024, f"RSS peaked {grown} KiB above where it started"
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b'"code":"payload_too_large"' in answer, answer
    assert sent < total, "the relay read the whole 100 MiB before answering"
    assert admin.http("GET", "/healthz", token=None)[0] == 200
    refused = relay.wait_log(r"admin: refused a request from \[127\.0\.0\.1\]: 413 ")
    assert refused


def test_request_text_cannot_forge_or_corrupt_log_lines(make_relay):
    relay, admin = start_admin_relay(make_relay)
    forged = "y.example\r\n2026-11-23T11:33:08.642+00:00 info main: FORGED LINE"
    status, body, _ = admin.http("POST", "/api/v1/queue/flush", body={"domain": forged})
    assert status == 200, body
    status, body, _ = admin.http("POST", "/api/v1/queue/flush?domain=%00%ff")
    assert status == 200, body
    # Both the admin module's line and the scheduler's line, for each request.
    wait_until(lambda: relay.log_path.read_bytes().count(b"flush of 0 message(s) for ") >= 2
               and relay.log_path.read_bytes().count(b"admin: flush domain=") >= 2, 10,
               "the flush lines of the admin module and the scheduler")
    data = relay.log_path.read_bytes()
    for line in data.split(b"\n"):
        assert not line.startswith(b"2026-11-23T11:33:08.642"), data.decode("ascii", "replace")
        if b"FORGED LINE" in line:
            assert b"y.example\\x0d\\x0a2026-11-23T11:33:08.642" in line, line
    raw = sorted({b for b in data if b != 0x0A and not 0x20 <= b < 0x7F})
    assert not raw, f"raw bytes {raw} in the log:\n" + data.decode("ascii", "replace")
    assert b"flush of 0 message(s) for \\x00\\xff by the operator" in data
    assert b"flush domain=\\x00\\xff operator=admin client=[127.0.0.1]" in data


def test_wrong_method_is_405_with_allow(make_relay):
    relay, admin = start_admin_relay(make_relay)
    cases = [("PUT", "/api/v1/stats", "GET, HEAD"),
             ("TRACE", "/api/v1/stats", "GET, HEAD"),
             ("DELETE", "/api/v1/stats", "GET, HEAD"),
             ("PUT", "/api/v1/queue", "GET, HEAD"),
             ("TRACE", "/api/v1/queue", "GET, HEAD"),
             ("DELETE", "/api/v1/queue", "GET, HEAD"),
             ("PUT", "/healthz", "GET, HEAD"),
             ("TRACE", "/metrics", "GET, HEAD"),
             ("DELETE", "/metrics", "GET, HEAD"),
             ("PUT", f"/api/v1/route/{DEFER_DOMAIN}", "GET, HEAD"),
             ("GET", "/api/v1/policy/test", "POST"),
             ("PUT", "/api/v1/queue/0000000000000001", "GET, HEAD, DELETE")]
    for method, path, allow in cases:
        status, body, headers = admin.http(method, path, body={} if method == "PUT" else None)
        assert status == 405, (method, path, status, body)
        assert headers.get("Allow") == allow, (method, path, headers)
        assert body["code"] == "method_not_allowed", body
    for method in ("GET", "PUT", "TRACE", "DELETE"):
        assert admin.http(method, "/api/v1/no-such-thing")[0] == 404, method


# --------------------------------------------------------------------------- metrics


def test_metrics_parse_and_move_with_mail(make_relay):
    relay, admin = start_admin_relay(make_relay)
    before = admin.metrics()
    for name in ("secmx_messages_received_total", 'secmx_recipients_received_total{policy="SOS"}',
                 "secmx_queue_messages", "secmx_inbound_connections",
                 "secmx_commit_batch_size_count", "secmx_commit_latency_seconds_count",
                 "secmx_delivery_latency_seconds_count", "secmx_dns_lookups_total",
                 'secmx_deliveries_total{auth="pkix",method="srv",tls="verified"}',
                 'secmx_deliveries_total{auth="dane",method="mx",tls="verified"}',
                 'secmx_deliveries_total{auth="mta-sts",method="mx",tls="verified"}',
                 'secmx_deliveries_total{auth="none",method="mx",tls="encrypt"}',
                 'secmx_tls_auth_failures_total{type="dane"}',
                 'secmx_tls_auth_failures_total{type="mta-sts"}',
                 'secmx_tls_auth_failures_total{type="tlsa-lookup"}',
                 "secmx_outbound_connections", "secmx_sos_bounces_total",
                 "secmx_queue_oldest_message_age_seconds"):
        assert name in before, f"{name} missing from /metrics"

    queue_mail(relay, [f"a@{DEFER_DOMAIN}", f"b@{DEFER_DOMAIN}"])
    qid = queue_mail(relay, [f"c@{OTHER_DOMAIN}"], headers="X-Secmx-Policy: sos\r\n")

    # An inbound connection held open shows in the gauge.
    with relay.connect() as c:
        c.banner()
        wait_until(lambda: admin.metrics()["secmx_inbound_connections"] >= 1, 10,
                   "secmx_inbound_connections to count the open session")
    wait_until(lambda: admin.metrics()["secmx_inbound_connections"] == 0, 10,
               "secmx_inbound_connections back to 0 after QUIT")

    after = admin.metrics()
    assert after["secmx_messages_received_total"] - before["secmx_messages_received_total"] == 2
    key = 'secmx_recipients_received_total{policy="%s"}'
    assert after[key % "BES"] - before[key % "BES"] == 2
    assert after[key % "SOS"] - before[key % "SOS"] == 1
    assert after["secmx_commit_batch_size_count"] - before["secmx_commit_batch_size_count"] >= 1
    # Two messages in inbound commits, plus the delivery outcomes (deferrals) committed
    # since: the histogram counts both kinds of group commit.
    assert after["secmx_commit_batch_size_sum"] - before["secmx_commit_batch_size_sum"] >= 2
    assert after["secmx_commit_latency_seconds_count"] > before["secmx_commit_latency_seconds_count"]
    assert after["secmx_queue_messages"] == len(dump(relay)) == 2
    assert after["secmx_queue_oldest_message_age_seconds"] >= 0

    # Every attempt on these routes is deferred: the delivery counters move.
    wait_attempted(relay, qid)
    deferred = 'secmx_recipients_deferred_total{policy="SOS"}'
    assert admin.metrics()[deferred] > before[deferred]


# --------------------------------------------------------------------------- mutations


def test_hold_and_release_change_lmdb(make_relay):
    relay, admin = start_admin_relay(make_relay)
    qid = queue_mail(relay, [f"a@{DEFER_DOMAIN}"])
    wait_attempted(relay, qid)
    require_queue_ops(admin, qid)

    r = admin.ctl("queue", "hold", qid)
    assert r.returncode == 0, r.stderr
    assert dump(relay)[qid]["held"] is True
    assert [m["id"] for m in admin.ctl_json("queue", "list", "--state", "held")["messages"]] == [qid]

    status, body, _ = admin.http("POST", f"/api/v1/queue/{qid}/release")
    assert status == 200, body
    m = dump(relay)[qid]
    assert m["held"] is False
    assert body["message"]["state"] != "held"

    missing = admin.ctl("queue", "hold", "0000000000000001")
    assert missing.returncode == 4, (missing.returncode, missing.stderr)


def test_flush_makes_it_try_again(make_relay):
    relay, admin = start_admin_relay(make_relay)
    qid = queue_mail(relay, [f"a@{DEFER_DOMAIN}"])
    other = queue_mail(relay, [f"b@{OTHER_DOMAIN}"])
    first = wait_attempted(relay, qid)["attempts"]
    wait_attempted(relay, other)
    require_queue_ops(admin, qid)  # this is itself a flush of qid
    wait_attempted(relay, qid, first + 1)

    # The next attempt is an hour away again; flush one domain only.
    before_other = dump(relay)[other]["attempts"]
    before_qid = dump(relay)[qid]["attempts"]
    r = admin.ctl("queue", "flush", "--domain", OTHER_DOMAIN)
    assert r.returncode == 0, r.stderr
    assert "flushed 1 messages" in r.stdout
    wait_attempted(relay, other, before_other + 1)
    assert dump(relay)[qid]["attempts"] == before_qid

    r = admin.ctl("queue", "flush", qid)
    assert r.returncode == 0, r.stderr
    wait_attempted(relay, qid, before_qid + 1)

    # Each recipient shows its last attempt: when, the error, and its TLS (none: the
    # destination refused the connection).
    [rcpt] = admin.ctl_json("queue", "show", qid)["recipients"]
    assert rcpt["last_attempt"] and rcpt["last_attempt"].startswith("20"), rcpt
    assert rcpt["last_tls"] == "none", rcpt
    # No TLS, no certificate; a [[route]] to an address literal, without DNSSEC.
    assert rcpt["last_cert_sha256"] == "" and rcpt["last_dnssec"] == "off", rcpt
    shown = admin.ctl("queue", "show", qid)
    assert shown.returncode == 0, shown.stderr
    assert "tls=none dnssec=off" in shown.stdout and "cert=" not in shown.stdout, shown.stdout
    assert rcpt["last_status"].startswith("4."), rcpt


def test_delete_is_silent(make_relay):
    relay, admin = start_admin_relay(make_relay)
    qid = queue_mail(relay, [f"a@{DEFER_DOMAIN}"], sender=f"sender@{DEFER_DOMAIN}")
    keep = queue_mail(relay, [f"b@{DEFER_DOMAIN}"])
    wait_attempted(relay, qid)
    require_queue_ops(admin, qid)

    r = admin.ctl("queue", "delete", qid)
    assert r.returncode == 0, r.stderr
    after = dump(relay)
    assert qid not in after and keep in after
    assert all(m["sender"] != "" for m in after.values()), "delete queued a DSN"
    again = admin.ctl("queue", "delete", qid)
    assert again.returncode == 4 and "secmxctl:" in again.stderr


def test_bounce_fails_it_with_a_dsn(make_relay):
    relay, admin = start_admin_relay(make_relay)
    qid = queue_mail(relay, [f"a@{DEFER_DOMAIN}"], sender=f"sender@{OTHER_DOMAIN}")
    wait_attempted(relay, qid)
    require_queue_ops(admin, qid)

    r = admin.ctl("queue", "bounce", qid, "--reason", "operator says no")
    assert r.returncode == 0, r.stderr

    def dsn_queued():
        msgs = dump(relay)
        gone = qid not in msgs or all(rc["state"] == "failed" for rc in msgs[qid]["recipients"])
        dsns = [m for m in msgs.values()
                if m["sender"] == "" and [rc["address"] for rc in m["recipients"]]
                == [f"sender@{OTHER_DOMAIN}"]]
        return gone and dsns
    dsns = wait_until(dsn_queued, 20, "the original to fail and a DSN to its sender")
    body = relay.dump(with_bodies=True)
    dsn = next(m for m in body if m["id"] == dsns[0]["id"])
    assert "multipart/report" in dsn["body"] and f"a@{DEFER_DOMAIN}" in dsn["body"]


# --------------------------------------------------------------------------- route probe


def test_route_probe_reports_tls_capability(make_relay, dns_server, tmp_path):
    ca = TestCA(tmp_path / "ca")
    good = ca.issue("sor.d.test")
    wrong_name = ca.issue("someone-else.test")
    with ScriptedPeer(starttls="ok", tls=tuple(map(str, good)), hostname="sor.d.test") as sor, \
         ScriptedPeer(starttls="ok", tls=tuple(map(str, wrong_name)), hostname="ber.d.test") as ber, \
         ScriptedPeer(hostname="plain.d.test") as plain, \
         ScriptedPeer(starttls="garbage", hostname="mx1.d.test") as broken:
        dns_server.add_srv("d.test", 10, 1, sor.port, "sor.d.test")
        dns_server.add_srv("d.test", 20, 1, ber.port, "ber.d.test")
        dns_server.add_srv("d.test", 30, 1, plain.port, "plain.d.test")
        dns_server.add_mx("d.test", 10, "mx1.d.test")
        for name in ("sor", "ber", "plain", "mx1"):
            dns_server.add_a(f"{name}.d.test", "127.0.0.1")
        dns_server.start()
        relay, admin = start_admin_relay(
            make_relay,
            overrides={"dns": {"servers": [dns_server.address]},
                       "delivery": {"pause": False, "port": broken.port, "ca_file": str(ca.cert)}})

        route = admin.ctl_json("route", "d.test")
        assert route["status"] == "ok", route
        hosts = {h["host"]: h for h in route["hosts"]}
        assert set(hosts) == {"sor.d.test", "ber.d.test", "plain.d.test", "mx1.d.test"}, hosts
        assert [c["method"] for c in route["candidates"]] == ["srv", "srv", "srv", "mx"]

        s = hosts["sor.d.test"]
        assert s["answered"] and s["starttls"] and s["tls"]["completed"], s
        assert s["tls"]["verified"] is True, s
        b = hosts["ber.d.test"]
        assert b["answered"] and b["tls"]["completed"] and b["tls"]["verified"] is False, b
        assert b["tls"]["verify_error"], b
        p = hosts["plain.d.test"]
        assert p["answered"] and p["starttls"] is False and p["tls"]["completed"] is False, p
        g = hosts["mx1.d.test"]
        assert g["answered"] and g["starttls"] is True and g["tls"]["completed"] is False, g
        assert route["summary"] == {"hosts": 4, "answering": 4, "starttls": 3, "tls": 2,
                                    "verified": 1}, route["summary"]

        text = admin.ctl("route", "d.test")
        assert text.returncode == 0, text.stderr
        line = next(l for l in text.stdout.splitlines() if "sor.d.test" in l)
        assert "yes" in line and "TLSv1.3" in line, text.stdout

        # A domain routed to a port where nothing listens: a candidate that does not answer.
        status, body, _ = admin.http("GET", f"/api/v1/route/{DEFER_DOMAIN}")
        assert status == 200, body
        assert body["candidates"][0]["method"] == "route"
        assert body["hosts"][0]["answered"] is False, body
        assert body["summary"]["answering"] == 0
