"""The relay's outbound SMTP client (secmx-smtp-send) against real Postfix receivers and
scripted peers on loopback: plaintext, STARTTLS with and without a verifiable
certificate, TLS-required and broken-TLS peers, per-recipient results, PIPELINING, SIZE,
SMTPUTF8, DSN and REQUIRETLS parameters, connection reuse and TLS session resumption.

Each assertion looks at what the peer actually received or logged as well as at the
client's JSON report.
"""
from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import relaytest
from mta import PostfixMTA, ScriptedPeer, mta_base
from pki import TestCA

MX_NAME = "mx1.test.example"


def send_bin() -> str:
    return os.environ.get("SECMX_SEND_BIN",
                          str(Path(relaytest.relay_bin()).parent / "client" / "secmx-smtp-send"))


@pytest.fixture(scope="module", autouse=True)
def _need_tools():
    if not os.access(send_bin(), os.X_OK):
        pytest.fail(f"{send_bin()} not built (target secmx-smtp-send) or set SECMX_SEND_BIN")
    if shutil.which("postfix") is None:
        pytest.fail("postfix is not installed (scripts/install-deps.sh --with-tests)")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = TestCA(tmp_path_factory.mktemp("pki"))
    good = ca.issue(MX_NAME)
    expired = ca.issue(MX_NAME, expired=True)
    return {"ca": ca.cert, "good": good, "expired": expired}


@pytest.fixture
def make_mta(request):
    """Starts PostfixMTA instances on 127.0.0.2, .3, ... and stops them at teardown."""
    base = mta_base()
    started: list[PostfixMTA] = []

    def factory(**kw) -> PostfixMTA:
        kw.setdefault("host", f"127.0.0.{2 + len(started)}")
        kw.setdefault("hostname", MX_NAME)
        mta = PostfixMTA(base, kw.pop("name", f"mx{len(started)}"), **kw)
        started.append(mta)
        return mta.start()

    yield factory
    for m in started:
        m.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for m in started:
            print(f"\n===== postfix {m.name} log =====\n{m.log()[-6000:]}")
    shutil.rmtree(base, ignore_errors=True)


def write_message(tmp_path: Path, body: str = "hello\n.leading dot\nbye\n",
                  subject: str = "client test", extra_headers: str = "") -> Path:
    p = tmp_path / "message.eml"
    p.write_bytes((f"From: sender@origin.example\nTo: rcpt@test.example\n"
                   f"Subject: {subject}\n{extra_headers}\n{body}").encode())
    return p


def run_send(host: str, port: int, msg: Path, *args: str, rcpts=("rcpt@test.example",),
             sender: str = "sender@origin.example", timeout: float = 20) -> dict:
    cmd = [send_bin(), "--connect", host, "--port", str(port), "--file", str(msg),
           "--from", sender, "--helo", "client.test.example", "--timeout", str(timeout)]
    for r in rcpts:
        cmd += ["--rcpt", r]
    cmd += list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 4)
    assert r.returncode in (0, 1), f"secmx-smtp-send failed ({r.returncode}): {r.stderr}"
    for marker in relaytest.SANITIZER_MARKERS:
        assert marker not in r.stderr, f"secmx-smtp-send: {r.stderr}"
    out = json.loads(r.stdout)
    out["rc"] = r.returncode
    out["stderr"] = r.stderr
    return out


def first(out: dict) -> tuple[dict, list[dict]]:
    c = out["connections"][0]
    return c["session"], c["messages"]


# ------------------------------------------------------------------ plaintext


def test_plain_delivery_reaches_the_mailbox(make_mta, tmp_path):
    mx = make_mta()
    out = run_send(mx.host, mx.port, write_message(tmp_path))
    session, msgs = first(out)
    assert session["status"] == "ok"
    assert session["ext"]["esmtp"] and session["ext"]["pipelining"]
    assert not session["starttls_offered"] and not session["tls"]["active"]
    assert msgs[0]["status"] == "done" and msgs[0]["rcpts"][0]["code"] == 250
    assert out["delivered"] is True and out["rc"] == 0

    got = mx.wait_for_messages(1)[0]
    assert got.recipient == "rcpt@test.example"
    assert got.sender == "sender@origin.example"
    assert got.message["Subject"] == "client test"
    # Dot-stuffing undone by the peer: the line arrives exactly as stored.
    assert b"\n.leading dot\n" in got.raw.replace(b"\r\n", b"\n")
    mx.wait_log(r"disconnect from .* quit=1")


def test_two_receivers_side_by_side(make_mta, tmp_path):
    a = make_mta(name="a", hostname="a.test.example")
    b = make_mta(name="b", hostname="b.test.example")
    assert a.host != b.host
    msg = write_message(tmp_path)
    assert run_send(a.host, a.port, msg, rcpts=["one@test.example"])["delivered"]
    assert run_send(b.host, b.port, msg, rcpts=["two@test.example"])["delivered"]
    assert [m.recipient for m in a.wait_for_messages(1)] == ["one@test.example"]
    assert [m.recipient for m in b.wait_for_messages(1)] == ["two@test.example"]


# ------------------------------------------------------------------ STARTTLS


def test_starttls_verified_with_the_right_name(make_mta, pki, tmp_path):
    mx = make_mta(tls=pki["good"], tls_level="may")
    out = run_send(mx.host, mx.port, write_message(tmp_path), "--host-name", MX_NAME,
                   "--ca-file", str(pki["ca"]))
    session, msgs = first(out)
    assert session["status"] == "ok", session
    assert session["starttls_offered"] and session["tls_attempted"]
    tls = session["tls"]
    assert tls["active"] and tls["verified"], tls
    assert tls["protocol"] in ("TLSv1.2", "TLSv1.3")
    assert f"CN={MX_NAME}" in tls["peer_subject"]
    assert msgs[0]["status"] == "done" and out["delivered"]
    got = mx.wait_for_messages(1)[0]
    # Postfix's Received: header says the message came over TLS.
    assert f"(using {tls['protocol']}" in got.message["Received"]


@pytest.mark.parametrize("cert,name,reason", [
    ("good", "other.test.example", "mismatch"),
    ("expired", MX_NAME, "expired"),
])
def test_starttls_unverified_is_recorded_not_fatal(make_mta, pki, tmp_path, cert, name, reason):
    mx = make_mta(tls=pki[cert], tls_level="may")
    out = run_send(mx.host, mx.port, write_message(tmp_path), "--host-name", name,
                   "--ca-file", str(pki["ca"]))
    session, msgs = first(out)
    assert session["status"] == "ok"
    assert session["tls"]["active"] and not session["tls"]["verified"]
    assert reason in session["tls"]["verify_error"], session["tls"]
    # `encrypt` is the caller's call: the client still delivers over the unverified TLS.
    assert msgs[0]["status"] == "done"
    assert "(using TLS" in mx.wait_for_messages(1)[0].message["Received"]


def test_tls_required_peer(make_mta, pki, tmp_path):
    mx = make_mta(tls=pki["good"], tls_level="encrypt")
    msg = write_message(tmp_path)
    plain = run_send(mx.host, mx.port, msg, "--starttls", "no")
    session, msgs = first(plain)
    assert session["status"] == "ok" and session["starttls_offered"]
    assert not session["tls"]["active"]
    assert msgs[0]["status"] == "rejected" and msgs[0]["stage"] == "mail"
    assert msgs[0]["code"] == 530 and msgs[0]["enhanced"].startswith("5.7.")
    assert msgs[0]["rcpts"][0]["code"] == 530

    tls = run_send(mx.host, mx.port, msg, "--host-name", MX_NAME, "--ca-file", str(pki["ca"]))
    assert first(tls)[0]["tls"]["active"] and tls["delivered"]
    assert len(mx.wait_for_messages(1)) == 1


@pytest.mark.parametrize("mode", ["garbage", "close"])
def test_broken_tls_peer_is_tls_failed(tmp_path, mode):
    with ScriptedPeer(starttls=mode) as peer:
        out = run_send(peer.host, peer.port, write_message(tmp_path), timeout=10)
        peer.wait_sessions(1)
    session, msgs = first(out)
    assert session["status"] == "tls-failed", session
    assert session["stage"] == "tls" and session["tls_attempted"]
    assert not session["tls"]["active"] and session["error"]
    assert msgs == [] and out["delivered"] is False
    assert peer.sessions[0].commands()[-1] == "STARTTLS"


def test_tls_session_resumption(make_mta, pki, tmp_path):
    mx = make_mta(tls=pki["good"], tls_level="may")
    out = run_send(mx.host, mx.port, write_message(tmp_path), "--host-name", MX_NAME,
                   "--ca-file", str(pki["ca"]), "--connections", "2")
    c1, c2 = out["connections"]
    assert c1["tls_session_saved"]
    assert c1["session"]["tls"]["active"] and not c1["session"]["tls"]["resumed"]
    assert c2["session"]["tls"]["active"] and c2["session"]["tls"]["resumed"], c2["session"]
    # A resumed session keeps the verification result of the original.
    assert c2["session"]["tls"]["verified"]
    assert out["delivered"] and len(mx.wait_for_messages(2)) == 2


# ------------------------------------------------------------------ transactions


def test_mixed_recipient_results(make_mta, tmp_path):
    mx = make_mta(rcpt_rules={"gone@test.example": "550 5.1.1 no such user",
                              "later@test.example": "450 4.2.0 try later"})
    out = run_send(mx.host, mx.port, write_message(tmp_path),
                   rcpts=["ok@test.example", "gone@test.example", "later@test.example"])
    _, msgs = first(out)
    m = msgs[0]
    assert m["status"] == "done" and m["stage"] == "dot" and m["pipelined"]
    codes = [(r["code"], r["enhanced"]) for r in m["rcpts"]]
    assert codes == [(250, "2.0.0"), (550, "5.1.1"), (450, "4.2.0")]
    assert "no such user" in m["rcpts"][1]["text"]
    assert out["delivered"] is False
    assert [d.recipient for d in mx.wait_for_messages(1)] == ["ok@test.example"]
    mx.wait_log(r"disconnect from .* rcpt=1/3")
    assert "improper command pipelining" not in mx.log()


def test_all_recipients_refused_then_next_message(make_mta, tmp_path):
    mx = make_mta(rcpt_rules={"gone@test.example": "550 5.1.1 no such user"})
    out = run_send(mx.host, mx.port, write_message(tmp_path), "--messages", "2",
                   rcpts=["gone@test.example"])
    _, msgs = first(out)
    assert len(msgs) == 2
    for m in msgs:
        assert m["status"] == "done" and m["stage"] == "rcpt"
        assert m["rcpts"][0]["code"] == 550
        assert m["connection_usable"]
    # The second transaction started with RSET (the first MAIL was accepted).
    mx.wait_log(r"disconnect from .* mail=2 rcpt=0/2 data=0/2 rset=1 quit=1")
    assert mx.messages() == []


def test_pipelining_sends_the_envelope_in_one_group(tmp_path):
    with ScriptedPeer(ehlo=["PIPELINING", "SIZE 1000000"], idle_flush=5) as peer:
        out = run_send(peer.host, peer.port, write_message(tmp_path), "--starttls", "no",
                       rcpts=["a@test.example", "b@test.example"])
        s = peer.wait_sessions(1)[0]
    assert first(out)[1][0]["pipelined"] and out["delivered"]
    group = s.batch_of("MAIL") + s.batch_of("RCPT") + s.batch_of("DATA")
    assert len(group) == 4 and len(set(group)) == 1, s.lines
    assert len(s.messages) == 1


def test_no_pipelining_when_not_offered(make_mta, tmp_path):
    with ScriptedPeer(ehlo=["SIZE 1000000"], idle_flush=30) as peer:
        out = run_send(peer.host, peer.port, write_message(tmp_path), "--starttls", "no",
                       rcpts=["a@test.example", "b@test.example"])
        s = peer.wait_sessions(1)[0]
    assert not first(out)[1][0]["pipelined"] and out["delivered"]
    group = s.batch_of("MAIL") + s.batch_of("RCPT") + s.batch_of("DATA")
    # One command per reply: each arrived after one more flush than the one before.
    assert group == sorted(set(group)) and len(group) == 4, s.lines

    mx = make_mta(discard_ehlo=["pipelining"])
    out = run_send(mx.host, mx.port, write_message(tmp_path),
                   rcpts=["a@test.example", "b@test.example"])
    assert first(out)[0]["ext"]["pipelining"] is False and out["delivered"]
    mx.wait_for_messages(2)
    assert "improper command pipelining" not in mx.log()


def test_size_limit_is_a_local_5_3_4(make_mta, tmp_path):
    mx = make_mta(size_limit=20000)
    big = write_message(tmp_path, body=("x" * 70 + "\n") * 500)
    out = run_send(mx.host, mx.port, big)
    session, msgs = first(out)
    assert session["ext"]["size"] == 20000
    m = msgs[0]
    assert m["status"] == "rejected" and m["stage"] == "local"
    assert (m["code"], m["enhanced"]) == (552, "5.3.4")
    assert m["rcpts"][0]["enhanced"] == "5.3.4" and m["connection_usable"]
    # Nothing was offered to the peer: the connection saw no MAIL at all.
    mx.wait_log(r"disconnect from .* ehlo=1 quit=1 commands=2")
    assert mx.messages() == []


def test_smtputf8_needed_but_not_offered(make_mta, tmp_path):
    msg = write_message(tmp_path, subject="Grüße aus Zürich")
    plain = make_mta(smtputf8=False)
    out = run_send(plain.host, plain.port, msg, "--smtputf8")
    session, msgs = first(out)
    assert session["ext"]["smtputf8"] is False
    assert msgs[0]["status"] == "rejected" and msgs[0]["enhanced"] == "5.6.7"
    assert msgs[0]["code"] in (550, 553)

    utf8 = make_mta(smtputf8=True)
    out = run_send(utf8.host, utf8.port, msg, "--smtputf8", "--body-type", "8bitmime")
    assert out["delivered"], out
    got = utf8.wait_for_messages(1)[0]
    assert "Grüße aus Zürich".encode() in got.raw


def test_dsn_parameters_reach_the_peer(make_mta, tmp_path):
    mx = make_mta()
    out = run_send(mx.host, mx.port, write_message(tmp_path), "--notify", "SUCCESS,FAILURE",
                   "--orcpt", "rfc822;original+tag@test.example", "--envid", "ENV-42",
                   "--ret", "HDRS", sender="owner@test.example", rcpts=["final@test.example"])
    assert first(out)[0]["ext"]["dsn"] and out["delivered"]
    mx.wait_for_messages(1, recipient="final@test.example")
    # NOTIFY=SUCCESS made Postfix report the delivery to the sender, quoting ORCPT and
    # ENVID as the client passed them (xtext decoded by Postfix).
    dsn = mx.wait_for_messages(1, recipient="owner@test.example")[0].raw.decode("utf-8",
                                                                                "replace")
    assert "Original-Envelope-Id: ENV-42" in dsn
    assert "Original-Recipient: rfc822;original+tag@test.example" in dsn
    assert "Action: delivered" in dsn


def test_dsn_and_requiretls_only_to_peers_that_offer_them(tmp_path, pki):
    with ScriptedPeer(ehlo=["PIPELINING"], starttls="ok", tls=pki["good"],
                      ehlo_after_tls=["PIPELINING", "REQUIRETLS"]) as peer:
        out = run_send(peer.host, peer.port, write_message(tmp_path), "--requiretls",
                       "--notify", "FAILURE", "--envid", "E1", "--host-name", MX_NAME,
                       "--ca-file", str(pki["ca"]))
        s = peer.wait_sessions(1)[0]
    assert out["delivered"] and s.tls
    assert peer.sni_names == [MX_NAME]
    mail = [c for c in s.commands() if c.startswith("MAIL")][0]
    rcpt = [c for c in s.commands() if c.startswith("RCPT")][0]
    assert mail.endswith(" REQUIRETLS"), mail
    assert "ENVID" not in mail and "NOTIFY" not in rcpt  # no DSN offered

    with ScriptedPeer(ehlo=["PIPELINING", "DSN"]) as peer:
        out = run_send(peer.host, peer.port, write_message(tmp_path), "--requiretls",
                       "--notify", "FAILURE", "--envid", "E1", "--starttls", "no")
        s = peer.wait_sessions(1)[0]
    mail = [c for c in s.commands() if c.startswith("MAIL")][0]
    rcpt = [c for c in s.commands() if c.startswith("RCPT")][0]
    assert "REQUIRETLS" not in mail and "ENVID=E1" in mail, mail
    assert "NOTIFY=FAILURE" in rcpt


def test_connection_reuse_for_the_next_message(make_mta, tmp_path):
    mx = make_mta()
    out = run_send(mx.host, mx.port, write_message(tmp_path), "--messages", "3")
    _, msgs = first(out)
    assert [m["status"] for m in msgs] == ["done"] * 3
    assert all(m["connection_usable"] for m in msgs)
    assert len(mx.wait_for_messages(3)) == 3
    mx.wait_log(r"disconnect from .* mail=3 rcpt=3 data=3 quit=1")
    assert len(re.findall(r"smtpd\[\d+\]: connect from", mx.log())) == 1
