"""End-to-end delivery: the relay finds receivers through a real DNS server (unbound) and
delivers to real MTAs (private Postfix instances) and scripted peers, under BES and SOS
(DESIGN §3-§5).

The world, shared by the tests of this module (starting Postfix costs seconds):

  agency.test    MX 10 mx.tls.test          the senders' own domain (DSNs land here)
  plain.test     MX 10 mx.plain.test        Postfix without STARTTLS      127.0.0.31:25
  tls.test       MX 10 mx.tls.test          Postfix with STARTTLS         127.0.0.32:25
  srv.test       SRV _secmx._tcp 2525 sor.srv.test (Postfix, TLS)         127.0.0.33:2525
                 MX 10 mx.plain.test        (ordinary MX, plaintext)
  mixed.test     MX 10 mx.plain.test, MX 20 mx.tls.test
  cafe.test      MX 51966 mx.tls.test, MX 10 mx.plain.test
  nosecure.test  MX 10 mx.plain.test        no TLS anywhere
  broken.test    MX 10 broken.test.host     STARTTLS answered, then garbage  127.0.0.34:25
  badcert.test   MX 10 badcert.test.host    TLS with a certificate for another name
                                                                          127.0.0.35:25
  nullmx.test    MX 0 .                     null MX (RFC 7505)
  name.test      A secmx.name.test = mx.tls.test's address; MX 10 mx.plain.test
  later.test     MX 10 mx.later.test        nothing listens until the test starts a peer
                                                                          127.0.0.36:25
  flaky.test     SERVFAIL                   temporary DNS failure
  nodsn.test     scripted peer without DSN                                127.0.0.37:25
  dsnpeer.test   scripted peer offering DSN                               127.0.0.38:25
  down.test      MX 10 mx.down.test         nothing ever listens          127.0.0.39:25
  reuse.test     scripted peer (connection reuse)                         127.0.0.40:25
  refused.test   MX 10 refused.test.host    STARTTLS offered, answered 454   127.0.0.41:25
  dead.test      MX 10 mx.dead.test         nothing listens until the test starts a peer
                                                                          127.0.0.42:25
  bücher.test    MX 10 mx.tls.test          (in DNS as xn--bcher-kva.test: IDNA A-labels)

Policies are chosen by a header rule (X-Secmx-Policy: sos / sos-verify), so one relay
serves every case. The CA of the test certificates is the relay's delivery.ca_file.
"""
from __future__ import annotations

import email
import email.policy
import hashlib
import re
import smtplib
import ssl
from pathlib import Path

import pytest

from dns_server import DnsServer
from mta import PostfixMTA, ScriptedPeer, mta_base
from pki import TestCA
from relaytest import Relay, swaks, swaks_queue_id, wait_until

SENDER = "alice@agency.test"

RULES = """
[[policy.rule]]
header = "X-Secmx-Policy"
match = "(?i)^sos$"
policy = "SOS"

[[policy.rule]]
header = "X-Secmx-Policy"
match = "(?i)^sos-verify$"
policy = "SOS"
tls = "verify"
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("delivery")
    ca = TestCA(tmp / "pki")
    base = mta_base()
    started = []
    try:
        plain = PostfixMTA(base, "plain", host="127.0.0.31", port=25, hostname="mx.plain.test",
                           domains=["plain.test", "mixed.test", "cafe.test", "nosecure.test",
                                    "srv.test"])
        tls_cert = ca.issue("mx.tls.test")
        tls = PostfixMTA(base, "tls", host="127.0.0.32", port=25, hostname="mx.tls.test",
                         domains=["tls.test", "agency.test", "mixed.test", "cafe.test",
                                  "name.test", "bücher.test"],
                         tls=tls_cert, tls_level="may")
        sor = PostfixMTA(base, "sor", host="127.0.0.33", port=2525, hostname="sor.srv.test",
                         domains=["srv.test"], tls=ca.issue("sor.srv.test"), tls_level="may")
        for m in (plain, tls, sor):
            m.start()
            started.append(m)
        broken = ScriptedPeer(host="127.0.0.34", port=25, hostname="broken.test.host",
                              starttls="garbage")
        badcert_cert = ca.issue("someone.else.test")
        badcert = ScriptedPeer(host="127.0.0.35", port=25, hostname="badcert.test.host",
                               starttls="ok", tls=badcert_cert)
        nodsn = ScriptedPeer(host="127.0.0.37", port=25, hostname="nodsn.test.host")
        dsnpeer = ScriptedPeer(host="127.0.0.38", port=25, hostname="dsnpeer.test.host",
                               ehlo=["PIPELINING", "8BITMIME", "DSN", "SIZE 10000000"])
        reuse = ScriptedPeer(host="127.0.0.40", port=25, hostname="reuse.test.host")
        refused = ScriptedPeer(host="127.0.0.41", port=25, hostname="refused.test.host",
                               starttls="refuse")
        for p in (broken, badcert, nodsn, dsnpeer, reuse, refused):
            p.__enter__()
            started.append(p)

        dns = DnsServer(tmp / "dns")
        dns.add_a("mx.plain.test", "127.0.0.31")
        dns.add_a("mx.tls.test", "127.0.0.32")
        dns.add_a("sor.srv.test", "127.0.0.33")
        dns.add_a("broken.test.host", "127.0.0.34")
        dns.add_a("badcert.test.host", "127.0.0.35")
        dns.add_mx("agency.test", 10, "mx.tls.test")
        dns.add_mx("plain.test", 10, "mx.plain.test")
        dns.add_mx("tls.test", 10, "mx.tls.test")
        dns.add_srv("srv.test", 0, 0, 2525, "sor.srv.test")
        dns.add_mx("srv.test", 10, "mx.plain.test")
        dns.add_mx("mixed.test", 10, "mx.plain.test")
        dns.add_mx("mixed.test", 20, "mx.tls.test")
        dns.add_mx("cafe.test", 51966, "mx.tls.test")
        dns.add_mx("cafe.test", 10, "mx.plain.test")
        dns.add_mx("nosecure.test", 10, "mx.plain.test")
        dns.add_mx("broken.test", 10, "broken.test.host")
        dns.add_mx("badcert.test", 10, "badcert.test.host")
        dns.add_mx("nullmx.test", 0, ".")
        dns.add_a("secmx.name.test", "127.0.0.32")   # SecMX by name; MX is plaintext
        dns.add_mx("name.test", 10, "mx.plain.test")
        dns.add_mx("later.test", 10, "mx.later.test")
        dns.add_a("mx.later.test", "127.0.0.36")     # nothing listens there at first
        dns.servfail_zone("flaky.test")
        dns.add_mx("nodsn.test", 10, "nodsn.test.host")
        dns.add_a("nodsn.test.host", "127.0.0.37")
        dns.add_mx("dsnpeer.test", 10, "dsnpeer.test.host")
        dns.add_a("dsnpeer.test.host", "127.0.0.38")
        dns.add_mx("down.test", 10, "mx.down.test")
        dns.add_a("mx.down.test", "127.0.0.39")      # nothing ever listens there
        dns.add_mx("reuse.test", 10, "reuse.test.host")
        dns.add_a("reuse.test.host", "127.0.0.40")
        dns.add_mx("xn--bcher-kva.test", 10, "mx.tls.test")
        dns.add_mx("refused.test", 10, "refused.test.host")
        dns.add_a("refused.test.host", "127.0.0.41")
        dns.add_mx("dead.test", 10, "mx.dead.test")
        dns.add_a("mx.dead.test", "127.0.0.42")      # nothing listens there at first
        dns.start()
        started.append(dns)
        yield {"ca": ca, "dns": dns, "plain": plain, "tls": tls, "sor": sor, "broken": broken,
               "badcert": badcert, "nodsn": nodsn, "dsnpeer": dsnpeer, "reuse": reuse,
               "refused": refused, "tls_cert": tls_cert[0], "badcert_cert": badcert_cert[0]}
    finally:
        for s in reversed(started):
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - teardown must reach every peer
                pass


@pytest.fixture
def relay(make_relay, world) -> Relay:
    r = make_relay(start=False, overrides={
        "dns": {"servers": [world["dns"].address]},
        "delivery": {"pause": False, "retry": ["1h"], "ca_file": str(world["ca"].cert),
                     "connect_timeout": "5s", "command_timeout": "30s"},
    })
    r.config_path.write_text(r.config_path.read_text() + RULES)
    return r.start()


def send(relay, to: str, policy: str | None = None, subject: str = "hello") -> str:
    extra = ["--add-header", f"X-Secmx-Policy: {policy}"] if policy else []
    r = swaks(relay, "--from", SENDER, "--to", to, "--header", f"Subject: {subject}", *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    return swaks_queue_id(r.stdout)


def attempt_line(relay, qid: str, rcpt: str, timeout: float = 30) -> str:
    rx = re.compile(rf"{qid}: to=<{re.escape(rcpt)}>, .*")
    return wait_until(lambda: (m := rx.search(relay.log())) and m.group(0), timeout,
                      f"the delivery log line of {qid} to {rcpt}")


def sha256_of(cert: Path) -> str:
    """The SHA-256 of a PEM certificate's DER form, lower-case hex: what the relay records."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).hexdigest()


def gone_from_queue(relay, qid: str, timeout: float = 20):
    wait_until(lambda: qid not in relay.dump_by_id(), timeout, f"{qid} to leave the queue")


def at(mta, rcpt: str, subject: str):
    """The message with this subject in rcpt's mailbox, once Postfix has stored it (its 250
    to the relay comes before that, and rcpt may hold older messages)."""
    return wait_until(lambda: next((m for m in mta.messages() if m.recipient.lower() == rcpt.lower()
                                    and m.message["Subject"] == subject), None),
                      30, f"'{subject}' for {rcpt} at postfix {mta.name}")


def dsn_for(world, subject: str):
    """The DSN about `subject` in the sender's mailbox (agency.test is on mx.tls.test)."""
    def find():
        for m in world["tls"].messages():
            if m.recipient.lower() != SENDER or m.sender != "":
                continue
            if subject.encode() in m.raw:
                return m
        return None
    return wait_until(find, 30, f"a DSN about '{subject}' at {SENDER}")


def delivery_status(msg) -> list[dict]:
    """The per-recipient fields of a DSN's message/delivery-status part."""
    parsed = email.message_from_bytes(msg.raw, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/report"
    assert parsed.get_param("report-type") == "delivery-status"
    assert parsed["Auto-Submitted"] == "auto-replied"
    for part in parsed.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = [p for p in part.get_payload()]
            return [dict(b.items()) for b in blocks[1:]]
    raise AssertionError("no message/delivery-status part")


# ----------------------------------------------------------------------------- BES

def test_bes_plaintext_when_no_starttls(relay, world):
    qid = send(relay, "bob@plain.test", subject="bes-plain")
    line = attempt_line(relay, qid, "bob@plain.test")
    assert "relay=mx.plain.test[127.0.0.31]:25" in line
    assert "policy=BES" in line and "method=mx" in line and "tls=none" in line
    # No certificate without TLS; discovery ran without DNSSEC.
    assert "cert=" not in line and "tls=none, dnssec=off, delay=" in line, line
    assert "status=sent" in line and "dsn=2.0.0" in line
    at(world["plain"], "bob@plain.test", "bes-plain")
    gone_from_queue(relay, qid)


def test_bes_uses_starttls_when_offered_and_records_it(relay, world):
    qid = send(relay, "carol@tls.test", subject="bes-tls")
    line = attempt_line(relay, qid, "carol@tls.test")
    # The evidence: TLS authenticated by PKIX (the test CA, the MX name), the certificate
    # mx.tls.test presented, and the DNSSEC status of the answers (off in this world).
    fingerprint = sha256_of(world["tls_cert"])
    assert re.search(rf"tls=TLSv1\.[23]/[A-Z0-9_-]+/pkix, cert=sha256:{fingerprint}, "
                     r"dnssec=off, delay=", line), line
    m = at(world["tls"], "carol@tls.test", "bes-tls")
    # Postfix's Received: header says the hop from the relay was encrypted.
    assert re.search(rb"\(using TLSv1\.[23]", m.raw), m.raw[:600]


def test_secmx_srv_receiver_is_preferred_over_mx(relay, world):
    qid = send(relay, "dan@srv.test", subject="bes-srv")
    line = attempt_line(relay, qid, "dan@srv.test")
    assert "relay=sor.srv.test[127.0.0.33]:2525" in line and "method=srv" in line, line
    at(world["sor"], "dan@srv.test", "bes-srv")


def test_mx_51966_is_tried_before_lower_preferences(relay, world):
    qid = send(relay, "erin@cafe.test", subject="bes-51966")
    line = attempt_line(relay, qid, "erin@cafe.test")
    assert "relay=mx.tls.test[127.0.0.32]:25" in line and "method=mx51966" in line, line
    at(world["tls"], "erin@cafe.test", "bes-51966")


def test_bes_retries_in_plaintext_after_a_failed_handshake(relay, world):
    qid = send(relay, "fred@broken.test", subject="bes-broken")
    line = attempt_line(relay, qid, "fred@broken.test")
    assert "status=sent" in line and "tls=none" in line, line
    assert re.search(rf"{qid}: TLS handshake with broken\.test\.host\[127\.0\.0\.34\]:25 failed",
                     relay.log())
    sessions = world["broken"].wait_sessions(2, timeout=20)
    assert any("STARTTLS" in s.commands() for s in sessions)
    assert any(s.messages for s in sessions), "the plaintext retry carried the message"


def test_bes_retries_in_plaintext_when_starttls_is_refused(relay, world):
    # A receiver whose TLS is broken on its side answers STARTTLS with 454; BES mail
    # still goes to it (in plaintext, on a second connection), as DESIGN §4 and Postfix's
    # "may" level do, instead of waiting for a TLS that will not come.
    before = len(world["refused"].sessions)
    qid = send(relay, "kate@refused.test", subject="bes-refused")
    line = attempt_line(relay, qid, "kate@refused.test")
    assert "status=sent" in line and "tls=none" in line, line
    sessions = world["refused"].wait_sessions(before + 2, timeout=20)[before:]
    assert "STARTTLS" in sessions[0].commands() and not sessions[0].messages
    assert "STARTTLS" not in sessions[1].commands() and sessions[1].messages


def test_sos_does_not_send_in_plaintext_when_starttls_is_refused(relay, world):
    before = len(world["refused"].sessions)
    qid = send(relay, "liam@refused.test", policy="sos", subject="sos-refused")
    line = attempt_line(relay, qid, "liam@refused.test")
    assert "status=sent" not in line, line
    new = world["refused"].sessions[before:]
    assert new and not any(s.messages for s in new), "nothing crossed in plaintext"


# ----------------------------------------------------------------------------- SOS

def test_sos_skips_plaintext_mx_and_delivers_over_tls(relay, world):
    qid = send(relay, "gina@mixed.test", policy="sos", subject="sos-mixed")
    line = attempt_line(relay, qid, "gina@mixed.test")
    assert "relay=mx.tls.test[127.0.0.32]:25" in line and "policy=SOS" in line, line
    assert re.search(r"tls=TLSv1\.[23]/", line)
    assert re.search(rf"{qid}: mx\.plain\.test\[127\.0\.0\.31\]:25 skipped for SOS policy",
                     relay.log())
    at(world["tls"], "gina@mixed.test", "sos-mixed")
    assert not [m for m in world["plain"].messages() if m.message["Subject"] == "sos-mixed"]


def test_sos_without_any_tls_receiver_bounces_5_7_10_with_a_dsn(relay, world):
    qid = send(relay, "hank@nosecure.test", policy="sos", subject="sos-nosecure")
    line = attempt_line(relay, qid, "hank@nosecure.test")
    assert "status=bounced" in line and "dsn=5.7.10" in line, line
    assert "mx.plain.test[127.0.0.31]:25" in line
    gone_from_queue(relay, qid)
    dsn = dsn_for(world, "sos-nosecure")
    [fields] = delivery_status(dsn)
    assert fields["Final-Recipient"] == "rfc822; hank@nosecure.test"
    assert fields["Action"] == "failed"
    assert fields["Status"] == "5.7.10"
    text = dsn.raw.decode("utf-8", "replace")
    assert "mx.plain.test[127.0.0.31]:25" in text
    assert re.search(r"(?i)secure|TLS", text)
    assert not [m for m in world["plain"].messages() if m.message["Subject"] == "sos-nosecure"]


def test_sos_failed_handshake_is_not_retried_in_plaintext(relay, world):
    before = len(world["broken"].sessions)
    qid = send(relay, "ivan@broken.test", policy="sos", subject="sos-broken")
    line = attempt_line(relay, qid, "ivan@broken.test")
    assert "dsn=5.7.10" in line and "status=bounced" in line, line
    new = world["broken"].sessions[before:]
    assert not any(s.messages for s in new), "nothing crossed in plaintext"


def test_sos_verify_refuses_a_certificate_for_another_name(relay, world):
    qid = send(relay, "judy@badcert.test", policy="sos-verify", subject="sos-verify")
    line = attempt_line(relay, qid, "judy@badcert.test")
    assert "dsn=5.7.10" in line and "status=bounced" in line, line
    # Encryption alone is enough at the "encrypt" level: the same host takes it.
    qid2 = send(relay, "judy@badcert.test", policy="sos", subject="sos-encrypt")
    line2 = attempt_line(relay, qid2, "judy@badcert.test")
    # Encrypted but not authenticated: AUTH none, and the certificate that was presented.
    assert "status=sent" in line2, line2
    assert re.search(rf"tls=TLSv1\.[23]/[A-Z0-9_-]+/none, "
                     rf"cert=sha256:{sha256_of(world['badcert_cert'])}, dnssec=off,", line2), line2


# ----------------------------------------------------------------------------- DNS verdicts

def test_internationalized_domain_is_looked_up_by_its_a_labels(relay, world):
    """SMTPUTF8 mail to anna@bücher.test: discovery asks DNS for xn--bcher-kva.test and the
    message goes to its MX with the address as the sender wrote it."""
    with smtplib.SMTP(relay.host, relay.port, timeout=30) as s:
        s.ehlo("client.test")
        assert s.mail(SENDER, ["SMTPUTF8", "BODY=8BITMIME"])[0] == 250
        assert s.rcpt("anna@bücher.test")[0] == 250
        code, text = s.data("Subject: idn\r\nFrom: <alice@agency.test>\r\n\r\nGrüße\r\n"
                            .encode())
    assert code == 250, text
    qid = re.search(r"queued as (\S+)", text.decode()).group(1)
    line = wait_until(
        lambda: (m := re.search(rf"{qid}: to=<[^>]*>, relay=[^ ]*.*", relay.log())) and m.group(0),
        30, f"the delivery log line of {qid}")
    assert "relay=mx.tls.test[127.0.0.32]:25" in line and "status=sent" in line, line
    got = wait_until(lambda: [m for m in world["tls"].messages() if b"Subject: idn" in m.raw],
                     30, "the message at mx.tls.test")
    assert "anna@bücher.test".encode() in got[0].raw  # Delivered-To: the UTF-8 address
    gone_from_queue(relay, qid)


def test_null_mx_fails_5_1_10(relay, world):
    qid = send(relay, "kate@nullmx.test", subject="nullmx")
    line = attempt_line(relay, qid, "kate@nullmx.test")
    assert "dsn=5.1.10" in line and "status=bounced" in line, line
    [fields] = delivery_status(dsn_for(world, "nullmx"))
    assert fields["Status"] == "5.1.10"


def test_nxdomain_fails_5_1_2(relay, world):
    qid = send(relay, "leo@nowhere.test", subject="nxdomain")
    line = attempt_line(relay, qid, "leo@nowhere.test")
    assert "dsn=5.1.2" in line and "status=bounced" in line, line


def test_temporary_dns_failure_defers_and_keeps_the_message(relay, world):
    qid = send(relay, "mona@flaky.test", subject="flaky")
    line = attempt_line(relay, qid, "mona@flaky.test")
    assert "status=deferred" in line and "dsn=4.4.3" in line, line
    m = wait_until(lambda: (x := relay.dump_by_id().get(qid)) and x["attempts"] == 1 and x,
                   10, "the deferral on disk")
    assert m["recipients"][0]["state"] == "pending"
    assert m["next_attempt_us"] > 0


# ----------------------------------------------------------------------------- mixed outcomes

def test_one_dsn_lists_only_the_failed_recipient(relay, world):
    r = swaks(relay, "--from", SENDER, "--to", "nina@plain.test,omar@nullmx.test",
              "--header", "Subject: mixed-outcome")
    assert r.returncode == 0, r.stdout + r.stderr
    qid = swaks_queue_id(r.stdout)
    attempt_line(relay, qid, "nina@plain.test")
    attempt_line(relay, qid, "omar@nullmx.test")
    at(world["plain"], "nina@plain.test", "mixed-outcome")
    dsn = dsn_for(world, "mixed-outcome")
    fields = delivery_status(dsn)
    assert [f["Final-Recipient"] for f in fields] == ["rfc822; omar@nullmx.test"]
    gone_from_queue(relay, qid)


def test_restart_resumes_queued_mail(make_relay, world):
    paused = make_relay(overrides={"dns": {"servers": [world["dns"].address]},
                                   "delivery": {"pause": True}})
    qid = send(paused, "pete@plain.test", subject="resumed")
    paused.stop()
    assert qid in paused.dump_by_id()
    text = paused.config_path.read_text().replace("pause = true", "pause = false")
    paused.config_path.write_text(text)
    paused.start()
    line = attempt_line(paused, qid, "pete@plain.test")
    assert "status=sent" in line
    at(world["plain"], "pete@plain.test", "resumed")
    gone_from_queue(paused, qid)


def test_sos_via_the_secmx_name(relay, world):
    qid = send(relay, "quinn@name.test", policy="sos", subject="sos-name")
    line = attempt_line(relay, qid, "quinn@name.test")
    assert "relay=secmx.name.test[127.0.0.32]:25" in line and "method=name" in line, line
    assert "status=sent" in line and re.search(r"tls=TLSv1\.[23]/", line), line
    at(world["tls"], "quinn@name.test", "sos-name")


def test_requiretls_mail_is_delivered_as_sos(make_relay, world):
    relay = make_relay(tls=True, start=False, overrides={
        "dns": {"servers": [world["dns"].address]},
        "delivery": {"pause": False, "retry": ["1h"], "ca_file": str(world["ca"].cert)},
    })
    relay.start()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    msg = (f"From: {SENDER}\r\nTo: rita@tls.test\r\nSubject: requiretls\r\n\r\nbody\r\n")
    with smtplib.SMTP(relay.host, relay.port, timeout=20) as s:
        s.starttls(context=ctx)
        s.ehlo()
        assert s.has_extn("requiretls")
        s.sendmail(SENDER, ["rita@tls.test", "sam@nosecure.test"], msg,
                   mail_options=["REQUIRETLS"])
    rita = wait_until(lambda: (m := re.search(r"\S+: to=<rita@tls\.test>, .*", relay.log()))
                      and m.group(0), 30, "the delivery line to rita@tls.test")
    assert "policy=SOS" in rita and "reason=requiretls" in rita, rita
    assert re.search(rf"tls=TLSv1\.[23]/[A-Z0-9_-]+/pkix, cert=sha256:{sha256_of(world['tls_cert'])},",
                     rita), rita
    sam = wait_until(lambda: (m := re.search(r"\S+: to=<sam@nosecure\.test>, .*", relay.log()))
                     and m.group(0), 30, "the delivery line to sam@nosecure.test")
    assert "dsn=5.7.10" in sam and "status=bounced" in sam, sam
    at(world["tls"], "rita@tls.test", "requiretls")


def test_unreachable_host_defers_then_delivers_when_it_comes_up(make_relay, world):
    relay = make_relay(overrides={"dns": {"servers": [world["dns"].address]},
                                  "delivery": {"pause": False, "retry": ["1s"]}})
    qid = send(relay, "tess@later.test", subject="later")
    line = attempt_line(relay, qid, "tess@later.test")
    assert "status=deferred" in line and "mx.later.test[127.0.0.36]:25" in line, line
    assert relay.dump_by_id()[qid]["recipients"][0]["state"] == "pending"
    with ScriptedPeer(host="127.0.0.36", port=25, hostname="mx.later.test") as peer:
        wait_until(lambda: re.search(rf"{qid}: to=<tess@later\.test>, .*status=sent", relay.log()),
                   30, "the retry to succeed once the host is up")
        sessions = peer.wait_sessions(1, timeout=10)
        assert any(s.messages for s in sessions)
    gone_from_queue(relay, qid)


def test_a_dead_destination_is_suspended_then_probed_and_resumed(make_relay, world):
    # After a cohort of attempts in a row that reach no host (destination_concurrency = 2),
    # the destination is left alone for the first retry interval: the rest of its mail is
    # deferred without connecting, as Postfix's "delivery temporarily suspended", and none
    # of it is lost. When the interval ends one probe goes out; once the host is back the
    # throttle is lifted and everything is delivered.
    relay = make_relay(overrides={"dns": {"servers": [world["dns"].address]},
                                  "delivery": {"pause": False, "retry": ["2s"],
                                               "destination_concurrency": 2}})
    qids = []
    with smtplib.SMTP(relay.host, relay.port, timeout=20) as s:
        for i in range(6):
            s.ehlo()
            code, text = s.docmd(f"MAIL FROM:<{SENDER}>")
            assert code == 250, text
            code, text = s.docmd(f"RCPT TO:<dan{i}@dead.test>")
            assert code == 250, text
            code, text = s.data(f"From: {SENDER}\r\nSubject: dead-{i}\r\n\r\nbody\r\n")
            assert code == 250, text
            qids.append(re.search(r"queued as ([0-9A-F]+)", text.decode()).group(1))
    wait_until(lambda: "event=destination-suspended domain=dead.test" in relay.log(), 30,
               "the destination to be suspended")
    suspended = wait_until(
        lambda: re.findall(r"\S+: to=<dan\d@dead\.test>, relay=none, .*status=deferred "
                           r"\(dead\.test: delivery temporarily suspended: "
                           r"mx\.dead\.test\[127\.0\.0\.42\]:25: .*\)", relay.log()),
        30, "a deferral without a connection")
    assert suspended, relay.log()
    # Nothing lost: every message still queued, its recipient pending.
    queue = relay.dump_by_id()
    for qid in qids:
        assert queue[qid]["recipients"][0]["state"] == "pending", queue.get(qid)
    with ScriptedPeer(host="127.0.0.42", port=25, hostname="mx.dead.test") as peer:
        for i, qid in enumerate(qids):
            wait_until(lambda qid=qid, i=i: re.search(rf"{qid}: to=<dan{i}@dead\.test>, .*status=sent",
                                                      relay.log()),
                       40, f"message {i} delivered once the host is back")
        assert sum(len(x.messages) for x in peer.wait_sessions(1, timeout=10)) >= 1
    assert "event=destination-resumed domain=dead.test" in relay.log()
    for qid in qids:
        gone_from_queue(relay, qid)


# ----------------------------------------------------------------------------- DSN events

def send_notify(relay, to: str, notify: str, subject: str, sender: str = SENDER) -> str:
    """One message through smtplib with RCPT NOTIFY=..., returns its queue id."""
    msg = f"From: {sender or 'MAILER-DAEMON'}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nbody\r\n"
    with smtplib.SMTP(relay.host, relay.port, timeout=20) as s:
        s.ehlo()
        code, text = s.docmd(f"MAIL FROM:<{sender}>")
        assert code == 250, text
        code, text = s.docmd(f"RCPT TO:<{to}> NOTIFY={notify}")
        assert code == 250, text
        code, text = s.data(msg)
        assert code == 250, text
    m = re.search(r"queued as ([0-9A-F]+)", text.decode())
    assert m, text
    return m.group(1)


def dsn_action(world, subject: str, action: str):
    def find():
        for m in world["tls"].messages():
            if m.recipient.lower() != SENDER or m.sender != "" or subject.encode() not in m.raw:
                continue
            fields = delivery_status(m)
            if fields and fields[0]["Action"] == action:
                return fields
        return None
    return wait_until(find, 30, f"a '{action}' DSN about '{subject}' at {SENDER}")


def test_notify_success_to_a_peer_without_dsn_gives_a_relayed_dsn(relay, world):
    qid = send_notify(relay, "uma@nodsn.test", "SUCCESS", "notify-relayed")
    line = attempt_line(relay, qid, "uma@nodsn.test")
    assert "status=sent" in line, line
    [fields] = dsn_action(world, "notify-relayed", "relayed")
    assert fields["Final-Recipient"] == "rfc822; uma@nodsn.test"
    assert fields["Status"].startswith("2.")
    gone_from_queue(relay, qid)


def test_notify_success_to_a_dsn_peer_passes_notify_on_and_reports_delivered(relay, world):
    before = len(world["dsnpeer"].sessions)
    qid = send_notify(relay, "vera@dsnpeer.test", "SUCCESS", "notify-delivered")
    attempt_line(relay, qid, "vera@dsnpeer.test")
    [fields] = dsn_action(world, "notify-delivered", "delivered")
    assert fields["Final-Recipient"] == "rfc822; vera@dsnpeer.test"
    sessions = world["dsnpeer"].wait_sessions(before + 1, timeout=20)[before:]
    rcpts = [l for s in sessions for l in s.commands() if l.upper().startswith("RCPT")]
    assert any("NOTIFY=SUCCESS" in l.upper() for l in rcpts), rcpts


def test_notify_never_suppresses_the_failure_dsn(relay, world):
    qid = send_notify(relay, "walt@nullmx.test", "NEVER", "notify-never")
    line = attempt_line(relay, qid, "walt@nullmx.test")
    assert "status=bounced" in line, line
    gone_from_queue(relay, qid)  # the DSN would have been queued in the same commit
    assert not re.search(rf"{qid}: sender \w+ notification", relay.log())


def test_a_bounce_is_never_bounced(relay, world):
    qid = send_notify(relay, "xena@nullmx.test", "FAILURE", "bounce-of-bounce", sender="")
    line = attempt_line(relay, qid, "xena@nullmx.test")
    assert "status=bounced" in line, line
    # No report on a report; with no dsn.postmaster to tell, it is kept held for the
    # operator, never dropped (docs/dsn.md).
    relay.wait_log(rf"{qid}: event=dsn-held nrcpt=1 to=<xena@nullmx\.test> status=5\.1\.10")
    wait_until(lambda: (m := relay.dump_by_id().get(qid)) and m["held"], 10, "the report held")
    assert not re.search(rf"{qid}: dsn: undeliverable mail from <> dropped", relay.log())
    assert not re.search(rf"{qid}: sender \w+ notification", relay.log())


def test_one_delay_dsn_per_message(make_relay, world):
    relay = make_relay(overrides={"dns": {"servers": [world["dns"].address]},
                                  "delivery": {"pause": False, "retry": ["1s"]},
                                  "dsn": {"delay_warning": "1s"}})
    qid = send_notify(relay, "yuri@down.test", "DELAY,FAILURE", "delay-once")
    # Three attempts (each deferred: nothing listens at mx.down.test) ...
    wait_until(lambda: (m := relay.dump_by_id().get(qid)) and m["attempts"] >= 3, 30,
               "three deferred attempts")
    [fields] = dsn_action(world, "delay-once", "delayed")
    assert fields["Final-Recipient"] == "rfc822; yuri@down.test"
    assert fields["Status"].startswith("4.")
    assert "Will-Retry-Until" in fields
    # ... and one delay notification, written with the attempt that crossed delay_warning.
    assert len(re.findall(rf"{qid}: sender delayed notification", relay.log())) == 1


# ----------------------------------------------------------------------------- limits, reuse

def test_one_connection_carries_successive_messages_to_a_destination(make_relay, world):
    relay = make_relay(overrides={"dns": {"servers": [world["dns"].address]},
                                  "delivery": {"pause": False, "destination_concurrency": 1,
                                               "connection_cache_time": "30s"}})
    before = len(world["reuse"].sessions)
    with smtplib.SMTP(relay.host, relay.port, timeout=20) as s:
        for i in range(3):
            s.sendmail(SENDER, [f"zed{i}@reuse.test"],
                       f"From: {SENDER}\r\nSubject: reuse-{i}\r\n\r\nbody\r\n")
    for i in range(3):
        wait_until(lambda i=i: re.search(rf"to=<zed{i}@reuse\.test>, .*status=sent", relay.log()),
                   30, f"message {i} delivered")
    # One destination at a time, and the cached connection took the next message.
    sessions = world["reuse"].sessions[before:]
    delivered = sum(len(x.messages) for x in sessions)
    assert delivered == 3
    assert len(sessions) == 1, [x.commands() for x in sessions]


def test_a_new_connection_to_a_receiver_resumes_the_tls_session_of_the_last(make_relay, world):
    # No cached connection: each message opens its own, and the second must resume the TLS
    # session the first left (issue: handshake cost), keeping the first's verification.
    relay = make_relay(overrides={"dns": {"servers": [world["dns"].address]},
                                  "log": {"level": "debug"},
                                  "delivery": {"pause": False, "ca_file": str(world["ca"].cert),
                                               "connection_cache_time": "0s"}})
    lines = []
    for i in range(2):
        qid = send(relay, "carol@tls.test", subject=f"resume-{i}")
        lines.append(attempt_line(relay, qid, "carol@tls.test"))
        at(world["tls"], "carol@tls.test", f"resume-{i}")
    events = re.findall(r"event=tls protocol=(\S+) .* resumed=(\w+)", relay.log())
    assert [r for _, r in events] == ["false", "true"], events
    for line in lines:
        assert "status=sent" in line and re.search(r"tls=TLSv1\.[23]/[A-Z0-9_-]+/pkix", line), line
