"""test_dane_delivery.py - DANE and DNSSEC in delivery, end to end against real peers: the
relay with `[dns] dnssec = true` behind a validating unbound (dnssec_zone.py), real Postfix
receivers with STARTTLS and scripted peers that record every command (mta.py), mail
submitted with swaks under BES and SOS (DESIGN §10, RFC 7672).

The world, shared by the tests of this module:

  dane.test (signed)       each domain D has MX 10 mx.D; TLSA at _25._tcp.mx.D
    agency.dane.test       MX mx.ee.dane.test: the senders' mailboxes (DSNs land here)
    ee                     .90 Postfix "good"     3 1 1 its key              DANE-EE
    eename                 .91 Postfix "other"    3 1 1 its key (cert names someone else)
    mismatch               .90 Postfix "good"     3 1 1 another key (PKIX would be fine)
    scripted               .92 scripted TLS peer  3 1 1 another key
    twomx                  MX 10 mx.mismatch.dane.test, MX 20 mx.eename.dane.test
    ta / taname            .90 / .91              2 1 1 the test CA (DANE-TA)
    bogustlsa              .92                    TLSA forged after signing (SERVFAIL)
    bogusmx                .92                    MX forged after signing (SERVFAIL)
    slow                   .92                    3 1 1 its key; the lookup is dropped
    unusable               .93 scripted, no STARTTLS   1 1 1 (PKIX-EE: unusable)
    unusabletls            .90 Postfix "good"     0 0 1 (PKIX-TA: unusable)
    pkix / pkixbad         .90 / .91              no TLSA (for [dns] dnssec = false)
  plaindane.test (unsigned) MX mx.plaindane.test  .90   3 1 1 of nothing (ignored)

Postfix "good" presents a chain (leaf + CA) whose leaf names every mx.D it serves except
mx.unusabletls.dane.test; "other" presents a leaf for someone.else.test. The relay trusts
the test CA (delivery.ca_file), so without DANE those names decide PKIX.
"""
from __future__ import annotations

import email
import email.policy
import json
import re
import select
import socket
import struct
import subprocess
import threading

import pytest

import relaytest
from dnssec_zone import DnssecWorld, tlsa_data
from mta import PostfixMTA, ScriptedPeer, mta_base
from pki import TestCA
from relaytest import ctl_bin, swaks, swaks_queue_id, wait_until
from test_delivery import RULES

SENDER = "alice@agency.dane.test"
GOOD, OTHER, SCRIPTED, PLAIN = "127.0.0.90", "127.0.0.91", "127.0.0.92", "127.0.0.93"




class DroppingForwarder:
    """A UDP forwarder on loopback in front of `upstream` that never answers queries of
    type `qtype` for `name` (a resolver that times out) and passes every other query on."""

    def __init__(self, upstream: tuple[str, int], name: str, qtype: int):
        self.upstream = upstream
        self.drop = (name.lower().rstrip("."), qtype)
        self.dropped = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @staticmethod
    def _question(q: bytes) -> tuple[str, int]:
        labels, pos = [], 12
        while pos < len(q) and q[pos]:
            labels.append(q[pos + 1:pos + 1 + q[pos]].decode("ascii", "replace").lower())
            pos += 1 + q[pos]
        qtype = struct.unpack(">H", q[pos + 1:pos + 3])[0] if pos + 3 <= len(q) else 0
        return ".".join(labels), qtype

    def _loop(self):
        while not self._stop.is_set():
            if not select.select([self.sock], [], [], 0.1)[0]:
                continue
            query, client = self.sock.recvfrom(65535)
            if len(query) < 12:
                continue
            if self._question(query) == self.drop:
                self.dropped += 1
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(3)
                up.sendto(query, self.upstream)
                try:
                    reply, _ = up.recvfrom(65535)
                except OSError:
                    continue
            self.sock.sendto(reply, client)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dane-delivery")
    ca = TestCA(tmp / "pki")
    good_cert, good_key = ca.issue("mx.ee.dane.test", sans=[
        "mx.ee.dane.test", "mx.mismatch.dane.test", "mx.ta.dane.test", "mx.pkix.dane.test",
        "mx.plaindane.test"])
    other_cert, other_key = ca.issue("someone.else.test")
    scripted_cert, scripted_key = ca.issue("mx.scripted.dane.test")
    started = []
    try:
        base = mta_base()
        good = PostfixMTA(base, "good", host=GOOD, port=25, hostname="mx.ee.dane.test",
                          domains=["agency.dane.test", "ee.dane.test", "mismatch.dane.test",
                                   "ta.dane.test", "unusabletls.dane.test", "pkix.dane.test",
                                   "plaindane.test"],
                          tls=(ca.chain(good_cert), good_key), tls_level="may")
        other = PostfixMTA(base, "other", host=OTHER, port=25, hostname="someone.else.test",
                           domains=["eename.dane.test", "twomx.dane.test", "taname.dane.test",
                                    "pkixbad.dane.test"],
                           tls=(ca.chain(other_cert), other_key), tls_level="may")
        for m in (good, other):
            m.start()
            started.append(m)
        # Never to be sent mail: each test proves it from what these peers recorded.
        sentinel = ScriptedPeer(host=SCRIPTED, port=25, hostname="mx.scripted.dane.test",
                                starttls="ok", tls=(str(scripted_cert), str(scripted_key)))
        plain = ScriptedPeer(host=PLAIN, port=25, hostname="mx.unusable.dane.test")
        for p in (sentinel, plain):
            p.__enter__()
            started.append(p)

        w = DnssecWorld(tmp / "dns")
        z = w.zone("dane.test")

        def host(domain: str, ip: str) -> str:
            mx = f"mx.{domain}"
            z.add_mx(domain, 10, mx)
            z.add_a(mx, ip)
            return mx

        z.add_mx("agency.dane.test", 10, "mx.ee.dane.test")
        z.add_tlsa_for_cert(host("ee.dane.test", GOOD), good_cert)
        z.add_tlsa_for_cert(host("eename.dane.test", OTHER), other_cert)
        z.add_tlsa_for_cert(host("mismatch.dane.test", GOOD), other_cert)
        z.add_tlsa_for_cert(host("scripted.dane.test", SCRIPTED), good_cert)
        z.add_mx("twomx.dane.test", 10, "mx.mismatch.dane.test")
        z.add_mx("twomx.dane.test", 20, "mx.eename.dane.test")
        z.add_tlsa_for_cert(host("ta.dane.test", GOOD), ca.cert, usage=2)
        z.add_tlsa_for_cert(host("taname.dane.test", OTHER), ca.cert, usage=2)
        z.add_tlsa_for_cert(host("bogustlsa.dane.test", SCRIPTED), scripted_cert)
        z.tamper("_25._tcp.mx.bogustlsa.dane.test", "TLSA", "3 1 1 " + "00" * 32)
        host("bogusmx.dane.test", SCRIPTED)
        z.tamper("bogusmx.dane.test", "MX", "10 mx.scripted.dane.test.")
        z.add_tlsa_for_cert(host("slow.dane.test", SCRIPTED), scripted_cert)
        z.add_tlsa_for_cert(host("unusable.dane.test", PLAIN), good_cert, usage=1)
        z.add_tlsa_for_cert(host("unusabletls.dane.test", GOOD), good_cert, usage=0,
                            selector=0)
        host("pkix.dane.test", GOOD)
        host("pkixbad.dane.test", OTHER)
        u = w.zone("plaindane.test", signed=False)
        u.add_mx("plaindane.test", 10, "mx.plaindane.test")
        u.add_a("mx.plaindane.test", GOOD)
        u.add_tlsa("_25._tcp.mx.plaindane.test", 3, 1, 1, "00" * 32)
        started.append(w)
        w.start()
        # The fixture itself, before the relay is judged by it.
        rcode, count, ad = w.query("_25._tcp.mx.ee.dane.test", "TLSA")
        assert (rcode, ad) == ("NOERROR", True) and count >= 1, w.log()
        assert w.query("_25._tcp.mx.bogustlsa.dane.test", "TLSA")[0] == "SERVFAIL", w.log()
        assert w.query("bogusmx.dane.test", "MX")[0] == "SERVFAIL", w.log()
        rcode, count, ad = w.query("_25._tcp.mx.plaindane.test", "TLSA")
        assert (rcode, ad) == ("NOERROR", False) and count == 1, w.log()
        yield {"ca": ca, "dns": w, "good": good, "other": other, "sentinel": sentinel,
               "plain": plain, "good_cert": good_cert, "other_cert": other_cert}
    finally:
        for s in reversed(started):
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - teardown must reach every peer
                pass


def start_relay(make_relay, world, dnssec: bool = True, dns: str | None = None,
                **delivery) -> relaytest.Relay:
    r = make_relay(start=False, overrides={
        "dns": {"servers": [dns or world["dns"].address], "dnssec": dnssec},
        "delivery": {"pause": False, "retry": ["1h"], "ca_file": str(world["ca"].cert),
                     "connect_timeout": "5s", "command_timeout": "30s", **delivery},
    })
    r.config_path.write_text(r.config_path.read_text() + RULES)
    return r.start()


@pytest.fixture
def relay(make_relay, world) -> relaytest.Relay:
    return start_relay(make_relay, world)


def send(relay, to: str, subject: str, policy: str | None = None) -> str:
    extra = ["--add-header", f"X-Secmx-Policy: {policy}"] if policy else []
    r = swaks(relay, "--from", SENDER, "--to", to, "--header", f"Subject: {subject}", *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    return swaks_queue_id(r.stdout)


def attempt_line(relay, qid: str, rcpt: str, status: str = r"\w+", timeout: float = 30) -> str:
    rx = re.compile(rf"{qid}: to=<{re.escape(rcpt)}>, .*status={status} .*")
    return wait_until(lambda: (m := rx.search(relay.log())) and m.group(0), timeout,
                      f"a delivery log line of {qid} to {rcpt} with status={status}")


def evidence(line: str) -> dict[str, str]:
    """The line's evidence: tls= AUTH (dane, mta-sts, pkix, none; "" without TLS), cert=
    (the peer's certificate fingerprint, only over TLS) and dnssec= (secure, insecure,
    off; only once discovery named a host)."""
    tls = re.search(r"\btls=(?:none|TLSv1\.[23]/[^/,\s]+/([a-z-]+)),", line)
    assert tls, f"no tls= in the delivery line: {line}"
    cert = re.search(r", cert=sha256:([0-9a-f]{64}),", line)
    dnssec = re.search(r", dnssec=(\w+),", line)
    return {"auth": tls.group(1) or "", "cert": cert.group(1) if cert else "",
            "dnssec": dnssec.group(1) if dnssec else ""}


def sent_with(line: str, auth: str, cert, dnssec: str):
    """A delivery over TLS authenticated as `auth`, to the peer holding `cert`."""
    assert "status=sent" in line, line
    assert evidence(line) == {"auth": auth, "cert": tlsa_data(cert, selector=0, matching=1),
                              "dnssec": dnssec}, line


def delivered(mta, rcpt: str, subject: str):
    msgs = mta.wait_for_messages(1, recipient=rcpt, timeout=30)
    got = [m for m in msgs if m.message["Subject"] == subject]
    assert got, [m.message["Subject"] for m in msgs]
    # Postfix's Received: header says the hop from the relay was encrypted.
    assert re.search(rb"\(using TLSv1\.[23]", got[0].raw), got[0].raw[:600]
    return got[0]


def none_delivered(world, subject: str):
    for name in ("good", "other"):
        got = [m for m in world[name].messages() if m.message["Subject"] == subject]
        assert not got, f"'{subject}' reached postfix {name}"


def queue_show(relay, qid: str) -> dict:
    p = subprocess.run([ctl_bin(), "--config", str(relay.config_path), "--json", "queue",
                        "show", qid], capture_output=True, text=True, timeout=60,
                       cwd=relay.workdir, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"secmxctl queue show {qid}: {p.returncode}\n{p.stderr}"
    return json.loads(p.stdout)


def new_sessions(peer, before: int, count: int):
    """The sessions since `before`, once `count` of them have ended; exactly `count`."""
    sessions = peer.wait_sessions(before + count, timeout=20)[before:]
    assert len(peer.sessions) - before == count, [s.commands() for s in peer.sessions[before:]]
    return sessions


def verbs(session) -> list[str]:
    return [c.split(" ", 1)[0].upper() for c in session.commands()]


# ------------------------------------------------------------------------ DANE-EE, DANE-TA


def test_route_says_the_receiver_would_be_authenticated_by_dane(relay, world):
    """`secmxctl route` feeds its probe through the same decide() as delivery: a DANE
    receiver's verdict names DANE as the authentication, for SOS verify too."""
    wait_until(lambda: "admin API listening" in relay.log(), 10, "the admin server's start-up line")
    p = subprocess.run([ctl_bin(), "--config", str(relay.config_path), "route", "ee.dane.test"],
                       capture_output=True, text=True, timeout=60, cwd=relay.workdir,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout + p.stderr
    tail = p.stdout.split("What delivery would do now:\n", 1)[1]
    verdicts = {l.split(": ", 1)[0]: l.split(": ", 1)[1] for l in tail.splitlines() if l}
    for policy in ("BES", "SOS encrypt", "SOS verify"):
        assert verdicts[policy].startswith("would deliver to mx.ee.dane.test[127.0.0.90]:25"), p.stdout
        assert "authenticated: dane" in verdicts[policy], p.stdout


def test_dane_ee_delivers_bes_and_sos(relay, world):
    bes = send(relay, "ann@ee.dane.test", "ee-bes")
    sos = send(relay, "ben@ee.dane.test", "ee-sos", policy="sos")
    for qid, rcpt, policy in ((bes, "ann@ee.dane.test", "BES"), (sos, "ben@ee.dane.test", "SOS")):
        line = attempt_line(relay, qid, rcpt)
        assert "relay=mx.ee.dane.test[127.0.0.90]:25" in line and f"policy={policy}" in line
        sent_with(line, "dane", world["good_cert"], "secure")
    delivered(world["good"], "ann@ee.dane.test", "ee-bes")
    delivered(world["good"], "ben@ee.dane.test", "ee-sos")


def test_dane_ee_does_not_check_the_certificate_name(relay, world):
    """DANE-EE binds the key, not a name (RFC 7672 §3.1.1): a certificate for
    someone.else.test on mx.eename.dane.test is authenticated all the same, enough for
    SOS `verify` too (where PKIX alone would refuse the name)."""
    for rcpt, subject, policy in (("cid@eename.dane.test", "ee-name", "sos"),
                                  ("cy@eename.dane.test", "ee-name-verify", "sos-verify")):
        qid = send(relay, rcpt, subject, policy=policy)
        line = attempt_line(relay, qid, rcpt)
        assert "relay=mx.eename.dane.test[127.0.0.91]:25" in line, line
        sent_with(line, "dane", world["other_cert"], "secure")
        delivered(world["other"], rcpt, subject)


def test_dane_ta_on_the_ca_needs_the_host_name_in_the_leaf(relay, world):
    qid = send(relay, "dot@ta.dane.test", "ta-good")
    line = attempt_line(relay, qid, "dot@ta.dane.test")
    assert "relay=mx.ta.dane.test[127.0.0.90]:25" in line, line
    sent_with(line, "dane", world["good_cert"], "secure")
    delivered(world["good"], "dot@ta.dane.test", "ta-good")
    # The same CA, a leaf for another name: DANE-TA checks names (RFC 7672 §3.2.2).
    bad = send(relay, "eve@taname.dane.test", "ta-name")
    line = attempt_line(relay, bad, "eve@taname.dane.test")
    assert "status=deferred" in line and "dsn=4.7.5" in line, line
    none_delivered(world, "ta-name")


# ------------------------------------------------------------------------ a binding not met


def test_tlsa_mismatch_defers_4_7_5_bes_included(relay, world):
    """The certificate chains to the trusted CA and names the host (PKIX would pass), but
    matches no TLSA record: neither BES nor SOS mail goes, and both wait (4.7.5)."""
    bes = send(relay, "fay@mismatch.dane.test", "mismatch-bes")
    sos = send(relay, "gus@mismatch.dane.test", "mismatch-sos", policy="sos")
    for qid, rcpt in ((bes, "fay@mismatch.dane.test"), (sos, "gus@mismatch.dane.test")):
        line = attempt_line(relay, qid, rcpt)
        assert "status=deferred" in line and "dsn=4.7.5" in line, line
        assert "mx.mismatch.dane.test[127.0.0.90]:25" in line, line
        assert "matches no TLSA record" in line and evidence(line)["dnssec"] == "secure", line
        [r] = queue_show(relay, qid)["recipients"]
        assert r["state"] == "pending" and r["last_status"] == "4.7.5", r
        assert r["last_dnssec"] == "secure", r
    none_delivered(world, "mismatch-bes")
    none_delivered(world, "mismatch-sos")


def test_a_host_failing_its_tlsa_leaves_the_mail_to_the_next_one(relay, world):
    """A binding failure is the host's, not the domain's: the next MX (another address:
    discovery lists each address once) is tried and takes the mail."""
    qid = send(relay, "ida@twomx.dane.test", "two-mx")
    line = attempt_line(relay, qid, "ida@twomx.dane.test")
    assert "relay=mx.eename.dane.test[127.0.0.91]:25" in line, line
    sent_with(line, "dane", world["other_cert"], "secure")
    assert re.search(rf"{qid}: mx\.mismatch\.dane\.test\[127\.0\.0\.90\]:25 skipped for BES "
                     r"policy: certificate matches no TLSA record", relay.log()), relay.log()
    delivered(world["other"], "ida@twomx.dane.test", "two-mx")


def test_tlsa_mismatch_sends_nothing_and_never_retries_in_plaintext(relay, world):
    peer = world["sentinel"]
    before = len(peer.sessions)
    qid = send(relay, "hal@scripted.dane.test", "mismatch-scripted")
    line = attempt_line(relay, qid, "hal@scripted.dane.test")
    assert "status=deferred" in line and "dsn=4.7.5" in line, line
    # One session (no plaintext retry): TLS, then QUIT; no MAIL, no DATA.
    [s] = new_sessions(peer, before, 1)
    assert s.tls and not s.messages, s.commands()
    assert verbs(s) == ["EHLO", "STARTTLS", "EHLO", "QUIT"], s.commands()
    assert peer.sni_names[-1] == "mx.scripted.dane.test", peer.sni_names


# ------------------------------------------------------------------------ DNSSEC failures


def test_bogus_tlsa_and_bogus_mx_defer_and_contact_nobody(relay, world):
    peer = world["sentinel"]
    before = len(peer.sessions)
    tlsa = send(relay, "ian@bogustlsa.dane.test", "bogus-tlsa")
    mx = send(relay, "joe@bogusmx.dane.test", "bogus-mx")
    line = attempt_line(relay, tlsa, "ian@bogustlsa.dane.test")
    assert "status=deferred" in line and re.search(r"dsn=4\.\d+\.\d+", line), line
    assert "TLSA lookup failed" in line, line
    assert re.search(rf"{tlsa}: mx\.bogustlsa\.dane\.test\[127\.0\.0\.92\]:25 not tried: "
                     r"TLSA lookup failed", relay.log()), relay.log()
    line = attempt_line(relay, mx, "joe@bogusmx.dane.test")
    assert "status=deferred" in line and "dsn=4.4.3" in line, line
    assert world["dns"].bogus_reasons(), world["dns"].log()
    assert len(peer.sessions) == before, [s.commands() for s in peer.sessions[before:]]


def test_tlsa_lookup_timeout_skips_the_host(make_relay, world):
    w = world["dns"]
    fwd = DroppingForwarder((w.host, w.port), "_25._tcp.mx.slow.dane.test", 52)
    try:
        relay = start_relay(make_relay, world, dns=fwd.address)
        peer = world["sentinel"]
        before = len(peer.sessions)
        qid = send(relay, "kim@slow.dane.test", "slow-tlsa")
        line = attempt_line(relay, qid, "kim@slow.dane.test")
        assert "status=deferred" in line and re.search(r"dsn=4\.\d+\.\d+", line), line
        assert "TLSA lookup failed" in line, line
        assert fwd.dropped >= 1
        assert len(peer.sessions) == before, [s.commands() for s in peer.sessions[before:]]
    finally:
        fwd.stop()


# ------------------------------------------------------------------------ TLSA that does not bind


def test_tlsa_in_an_unsigned_zone_is_ignored(relay, world):
    qid = send(relay, "kit@plaindane.test", "plain-tlsa")
    line = attempt_line(relay, qid, "kit@plaindane.test")
    assert "relay=mx.plaindane.test[127.0.0.90]:25" in line, line
    sent_with(line, "pkix", world["good_cert"], "insecure")
    delivered(world["good"], "kit@plaindane.test", "plain-tlsa")


def test_unusable_tlsa_still_requires_tls(relay, world):
    """PKIX-* records only (RFC 7672 §3.1.3): no authentication, but TLS is mandatory, BES
    included; a host without STARTTLS is not sent the mail in plaintext."""
    peer = world["plain"]
    before = len(peer.sessions)
    qid = send(relay, "lea@unusable.dane.test", "unusable-plain")
    line = attempt_line(relay, qid, "lea@unusable.dane.test")
    assert "status=deferred" in line and "dsn=4.7.5" in line, line
    assert "STARTTLS not offered" in line, line
    [s] = new_sessions(peer, before, 1)
    assert verbs(s) == ["EHLO", "QUIT"] and not s.messages, s.commands()

    qid = send(relay, "max@unusabletls.dane.test", "unusable-tls")
    line = attempt_line(relay, qid, "max@unusabletls.dane.test")
    # TLS without authentication: the leaf does not name mx.unusabletls.dane.test.
    sent_with(line, "none", world["good_cert"], "secure")
    delivered(world["good"], "max@unusabletls.dane.test", "unusable-tls")


# ------------------------------------------------------------------------ PKIX without DNSSEC


def test_sos_verify_by_pkix_without_dnssec(make_relay, world):
    relay = start_relay(make_relay, world, dnssec=False)
    qid = send(relay, "ned@pkix.dane.test", "pkix-good", policy="sos-verify")
    line = attempt_line(relay, qid, "ned@pkix.dane.test")
    assert "relay=mx.pkix.dane.test[127.0.0.90]:25" in line, line
    sent_with(line, "pkix", world["good_cert"], "off")
    delivered(world["good"], "ned@pkix.dane.test", "pkix-good")
    # A certificate for another name: not verified; the only host answered without the
    # TLS SOS asks for, so the message fails at once (5.7.10, as for no TLS at all).
    bad = send(relay, "oli@pkixbad.dane.test", "pkix-bad", policy="sos-verify")
    line = attempt_line(relay, bad, "oli@pkixbad.dane.test")
    assert "status=bounced" in line and "dsn=5.7.10" in line, line
    assert "certificate not verified" in line, line
    none_delivered(world, "pkix-bad")
    # Without DNSSEC no TLSA is asked: the record that defers above binds nothing here.
    qid = send(relay, "pam@mismatch.dane.test", "mismatch-no-dnssec")
    line = attempt_line(relay, qid, "pam@mismatch.dane.test")
    sent_with(line, "pkix", world["good_cert"], "off")
    delivered(world["good"], "pam@mismatch.dane.test", "mismatch-no-dnssec")


# ------------------------------------------------------------------------ the lifetime


def dsn_for(world, subject: str) -> list[dict]:
    """The per-recipient fields of the DSN about `subject` in the sender's mailbox."""
    def find():
        for m in world["good"].messages():
            if m.recipient.lower() == SENDER and m.sender == "" and subject.encode() in m.raw:
                return m
        return None
    msg = wait_until(find, 30, f"a DSN about '{subject}' at {SENDER}")
    parsed = email.message_from_bytes(msg.raw, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/report", msg.raw[:600]
    for part in parsed.walk():
        if part.get_content_type() == "message/delivery-status":
            return [dict(b.items()) for b in list(part.get_payload())[1:]]
    raise AssertionError("no message/delivery-status part")


def test_tlsa_mismatch_fails_5_7_5_after_the_lifetime_with_a_dsn(make_relay, world):
    relay = start_relay(make_relay, world, retry=["1s"], max_lifetime="3s",
                        sos_lifetime="3s")
    bes = send(relay, "quin@mismatch.dane.test", "lifetime-bes")
    sos = send(relay, "rex@mismatch.dane.test", "lifetime-sos", policy="sos")
    for qid, rcpt, subject in ((bes, "quin@mismatch.dane.test", "lifetime-bes"),
                               (sos, "rex@mismatch.dane.test", "lifetime-sos")):
        first = attempt_line(relay, qid, rcpt, status="deferred")
        assert "dsn=4.7.5" in first, first
        last = attempt_line(relay, qid, rcpt, status="bounced")
        assert "dsn=5.7.5" in last and "within the lifetime" in last, last
        [fields] = dsn_for(world, subject)
        assert fields["Final-Recipient"] == f"rfc822; {rcpt}", fields
        assert fields["Action"] == "failed" and fields["Status"] == "5.7.5", fields
        assert "dnssec=secure" in fields.get("X-Secmx-TLS", ""), fields
        none_delivered(world, subject)
