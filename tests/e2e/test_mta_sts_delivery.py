"""test_mta_sts_delivery.py - what a receiver's MTA-STS policy (RFC 8461) does to delivery,
end to end: the relay looks _mta-sts.D up in a real unbound, fetches the policy from a real
HTTPS host (sts_server.py) and delivers to real Postfix receivers, or to scripted peers
where a test must prove that nothing was sent.

The world, shared by the tests of this module (each test has a relay of its own, so a fresh
MTA-STS cache, and domains of its own):

  mx.good.test       Postfix, STARTTLS, certificate for its name from the test CA  .61
  mx.alt.test        scripted peer, STARTTLS, certificate for its name            .62
  mx.badname.test    scripted peer, STARTTLS, certificate for someone.else.test   .63
  mx.untrusted.test  scripted peer, STARTTLS, certificate for its name from a CA
                     the relay does not trust                                      .64
  mx.notls.test      scripted peer without STARTTLS                                .65
  mta-sts.*.test     the policy host (sts_server.py)                               .80

  domain             MX (preference)          policy
  agency.test        good                     none (the senders' domain: DSNs land here)
  inpolicy.test      good                     enforce, mx: mx.good.test
  outside.test       alt                      enforce, mx: mx.good.test
  second.test        alt (10), good (20)      enforce, mx: *.good.test
  badname.test       badname                  enforce, mx: mx.badname.test
  untrusted.test     untrusted                enforce, mx: mx.untrusted.test
  notls.test         notls                    enforce, mx: mx.notls.test
  testing-mx.test    good                     testing, mx: mx.alt.test
  testing-cert.test  badname                  testing, mx: mx.badname.test
  cached.test        alt (10), good (20)      enforce, mx: mx.good.test (then HTTP 500)
  change.test        alt (10), good (20)      enforce, mx: mx.good.test (then mx.alt.test)
  shared-a.test      good                     enforce, mx: mx.alt.test
  shared-b.test      good                     enforce, mx: mx.good.test
  shared-c.test      good                     invalid (no mx)
  cache-open.test    badname                  none
  cache-bound.test   badname                  enforce, mx: mx.badname.test
  verify.test        good                     enforce, mx: mx.good.test
  routed.test        good, [[route]] to alt   enforce, mx: mx.good.test
  expiry.test        alt                      enforce, mx: mx.good.test

Policies are chosen by header rules (X-Secmx-Policy: sos / sos-verify), as in
test_delivery.py. Every wait is bounded; "never connected" is read from the scripted peer's
sessions once the attempt's outcome is logged (the attempt is over by then).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dns_server import DnsServer  # noqa: E402
from mta import PostfixMTA, ScriptedPeer, mta_base  # noqa: E402
from pki import TestCA  # noqa: E402
from relaytest import Relay, ctl_bin, swaks, swaks_queue_id, wait_until  # noqa: E402
from sts_server import StsServer  # noqa: E402
from test_delivery import (RULES, SENDER, at, attempt_line, delivery_status,  # noqa: E402
                           gone_from_queue, send)

GOOD, ALT, BADNAME, UNTRUSTED, NOTLS = (f"127.0.0.{i}" for i in range(61, 66))
STS_HOST = "127.0.0.80"



def policy(mode: str, *mx: str, max_age: int = 86400) -> str:
    return f"version: STSv1\nmode: {mode}\n" + "".join(f"mx: {m}\n" for m in mx) + \
        f"max_age: {max_age}\n"


INVALID = "version: STSv1\nmode: enforce\nmax_age: 86400\n"  # no mx: RFC 8461 §3.2

# domain -> (MX hosts by preference, policy body or None)
DOMAINS = {
    "agency.test": (["mx.good.test"], None),
    "inpolicy.test": (["mx.good.test"], policy("enforce", "mx.good.test")),
    "outside.test": (["mx.alt.test"], policy("enforce", "mx.good.test")),
    "second.test": (["mx.alt.test", "mx.good.test"], policy("enforce", "*.good.test")),
    "badname.test": (["mx.badname.test"], policy("enforce", "mx.badname.test")),
    "untrusted.test": (["mx.untrusted.test"], policy("enforce", "mx.untrusted.test")),
    "notls.test": (["mx.notls.test"], policy("enforce", "mx.notls.test")),
    "testing-mx.test": (["mx.good.test"], policy("testing", "mx.alt.test")),
    "testing-cert.test": (["mx.badname.test"], policy("testing", "mx.badname.test")),
    "cached.test": (["mx.alt.test", "mx.good.test"], policy("enforce", "mx.good.test")),
    "change.test": (["mx.alt.test", "mx.good.test"], policy("enforce", "mx.good.test")),
    "shared-a.test": (["mx.good.test"], policy("enforce", "mx.alt.test")),
    "shared-b.test": (["mx.good.test"], policy("enforce", "mx.good.test")),
    "shared-c.test": (["mx.good.test"], INVALID),
    "cache-open.test": (["mx.badname.test"], None),
    "cache-bound.test": (["mx.badname.test"], policy("enforce", "mx.badname.test")),
    "verify.test": (["mx.good.test"], policy("enforce", "mx.good.test")),
    "routed.test": (["mx.good.test"], policy("enforce", "mx.good.test")),
    "expiry.test": (["mx.alt.test"], policy("enforce", "mx.good.test")),
}


def publish_txt(dns: DnsServer, domain: str, policy_id: str):
    dns.add_record(f"_mta-sts.{domain}", "TXT", f'"v=STSv1; id={policy_id};"', ttl=1)


class World:
    """The receivers, the DNS and the policy host of the module."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.ca = TestCA(tmp / "pki")
        self.started = []

    def start(self):
        ca = self.ca
        self.good = PostfixMTA(mta_base(), "good", host=GOOD, port=25, hostname="mx.good.test",
                               domains=[d for d, (mx, _) in DOMAINS.items()
                                        if "mx.good.test" in mx],
                               tls=ca.issue("mx.good.test"), tls_level="may")
        self.good.start()
        self.started.append(self.good)
        other_ca = TestCA(self.tmp / "other-ca", name="not trusted")
        self.alt = ScriptedPeer(host=ALT, port=25, hostname="mx.alt.test", starttls="ok",
                                tls=ca.issue("mx.alt.test"))
        self.badname = ScriptedPeer(host=BADNAME, port=25, hostname="mx.badname.test",
                                    starttls="ok", tls=ca.issue("someone.else.test"))
        self.untrusted = ScriptedPeer(host=UNTRUSTED, port=25, hostname="mx.untrusted.test",
                                      starttls="ok", tls=other_ca.issue("mx.untrusted.test"))
        self.notls = ScriptedPeer(host=NOTLS, port=25, hostname="mx.notls.test")
        for p in (self.alt, self.badname, self.untrusted, self.notls):
            p.__enter__()
            self.started.append(p)

        self.web = StsServer(self.tmp / "sts", ca, host=STS_HOST)
        self.dns = DnsServer(self.tmp / "dns")
        for name, ip in (("mx.good.test", GOOD), ("mx.alt.test", ALT),
                         ("mx.badname.test", BADNAME), ("mx.untrusted.test", UNTRUSTED),
                         ("mx.notls.test", NOTLS)):
            self.dns.add_a(name, ip)
        for domain, (mx, body) in DOMAINS.items():
            for i, host in enumerate(mx):
                self.dns.add_mx(domain, 10 * (i + 1), host)
            if body is not None:
                publish_txt(self.dns, domain, "one")
                self.dns.add_a(f"mta-sts.{domain}", STS_HOST)
                self.web.serve(domain, body)
        self.web.start()
        self.started.append(self.web)
        self.dns.start()
        self.started.append(self.dns)
        return self

    def stop(self):
        for s in reversed(self.started):
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - teardown must reach every peer
                pass

    def new_id(self, domain: str, policy_id: str):
        """Publishes another policy id for the domain (unbound restarts to serve it)."""
        self.dns.remove_records(f"_mta-sts.{domain}", "TXT")
        publish_txt(self.dns, domain, policy_id)
        self.dns.restart()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("sts-delivery"))
    try:
        yield w.start()
    finally:
        w.stop()


def start_relay(make_relay, world: World, extra: str = "", **delivery) -> Relay:
    r = make_relay(start=False, overrides={
        "dns": {"servers": [world.dns.address]},
        "delivery": {"pause": False, "retry": ["1h"], "ca_file": str(world.ca.cert),
                     "connect_timeout": "5s", "command_timeout": "30s", **delivery},
        "mta_sts": {"fetch_timeout": "5s"},
    })
    r.config_path.write_text(r.config_path.read_text() + RULES + extra)
    return r.start()


@pytest.fixture
def relay(make_relay, world) -> Relay:
    return start_relay(make_relay, world)


# ----------------------------------------------------------------------------- helpers

def tls_auth(line: str) -> str | None:
    """How the line's tls= says the peer was authenticated: "mta-sts", "pkix", "dane" or
    "none" (None when the hop was not TLS)."""
    m = re.search(r" tls=TLSv1\.[23]/[^/ ,]+/([a-z-]+),", line)
    return m.group(1) if m else None


def lines_of(relay: Relay, qid: str, rcpt: str) -> list[str]:
    return re.findall(rf"{qid}: to=<{re.escape(rcpt)}>, .*", relay.log())


def assert_deferred_4_7_5(line: str):
    assert "status=deferred" in line and "dsn=4.7.5" in line, line
    # Not authenticated: no TLS at all, or TLS whose evidence (the certificate the host
    # showed) is kept with "none" as its authentication.
    assert "tls=none," in line or (tls_auth(line) == "none" and "cert=sha256:" in line), line


def commands(sessions) -> list[str]:
    return [c.split(" ", 1)[0].split(":", 1)[0].upper() for s in sessions for c in s.commands()]


def no_transaction(sessions):
    """Nothing of a message reached the peer on these sessions."""
    sent = commands(sessions)
    assert not {"MAIL", "RCPT", "DATA", "BDAT"} & set(sent), sent
    assert not any(s.messages for s in sessions)


def peer_got(peer: ScriptedPeer, subject: str) -> bytes:
    return wait_until(lambda: next((m for s in peer.sessions for m in s.messages
                                    if f"Subject: {subject}".encode() in m), None),
                      20, f"'{subject}' at the scripted peer {peer.hostname}")


def not_at(mta: PostfixMTA, subject: str):
    assert not [m for m in mta.messages() if m.message["Subject"] == subject], subject


def not_tried(relay: Relay, qid: str, host: str, ip: str, domain: str):
    relay.wait_log(rf"{qid}: {re.escape(host)}\[{re.escape(ip)}\]:25 not tried: MX host not "
                   rf"in the MTA-STS policy of {re.escape(domain)}")


def ctl_json(relay: Relay, *args: str) -> dict:
    relay.wait_log("admin API listening")
    r = subprocess.run([ctl_bin(), "--config", str(relay.config_path), "--json", *args],
                       capture_output=True, text=True, timeout=60, cwd=relay.workdir,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"secmxctl {' '.join(args)} exited {r.returncode}:\n{r.stderr}"
    return json.loads(r.stdout)


# ----------------------------------------------------------------------------- enforce

def test_enforce_mx_in_policy_with_valid_certificate_delivers_bes_and_sos(relay, world):
    for pol, rcpt in ((None, "ann@inpolicy.test"), ("sos", "ben@inpolicy.test")):
        subject = f"inpolicy-{pol or 'bes'}"
        qid = send(relay, rcpt, pol, subject=subject)
        line = attempt_line(relay, qid, rcpt)
        assert "relay=mx.good.test[127.0.0.61]:25" in line and "status=sent" in line, line
        assert f"policy={'SOS' if pol else 'BES'}" in line, line
        assert tls_auth(line) == "mta-sts" and re.search(r", cert=sha256:[0-9a-f]{64},", line), line
        m = at(world.good, rcpt, subject)
        assert re.search(rb"\(using TLSv1\.[23]", m.raw), m.raw[:600]
    relay.wait_log(r"sts domain=inpolicy\.test policy id=one mode=enforce max_age=86400 mx=1")
    assert world.web.requests("inpolicy.test") == 1, "the second message used the cached policy"
    assert "event=sts-" not in relay.log()


def test_enforce_mx_not_in_policy_is_never_connected_to(relay, world):
    before = len(world.alt.sessions)
    for pol, rcpt in ((None, "cat@outside.test"), ("sos", "dan@outside.test")):
        qid = send(relay, rcpt, pol, subject=f"outside-{pol or 'bes'}")
        line = attempt_line(relay, qid, rcpt)
        assert_deferred_4_7_5(line)
        assert "MX host not in the MTA-STS policy of outside.test" in line, line
        not_tried(relay, qid, "mx.alt.test", ALT, "outside.test")
        stored = relay.dump_by_id()[qid]
        assert stored["recipients"][0]["state"] == "pending", stored
    assert len(world.alt.sessions) == before, "the host outside the policy was connected to"


def test_enforce_second_mx_in_policy_takes_the_mail(relay, world):
    before = len(world.alt.sessions)
    qid = send(relay, "eve@second.test", subject="second-bes")
    line = attempt_line(relay, qid, "eve@second.test")
    assert "relay=mx.good.test[127.0.0.61]:25" in line and "status=sent" in line, line
    assert tls_auth(line) == "mta-sts", line
    not_tried(relay, qid, "mx.alt.test", ALT, "second.test")
    at(world.good, "eve@second.test", "second-bes")
    assert len(world.alt.sessions) == before


@pytest.mark.parametrize("domain, peer", [("badname.test", "badname"),
                                          ("untrusted.test", "untrusted")])
def test_enforce_certificate_not_valid_for_the_mx_defers_and_sends_nothing(relay, world,
                                                                           domain, peer):
    peer = getattr(world, peer)
    before = len(peer.sessions)
    for pol, user in ((None, "fay"), ("sos", "gus")):
        rcpt = f"{user}@{domain}"
        qid = send(relay, rcpt, pol, subject=f"{domain}-{pol or 'bes'}")
        line = attempt_line(relay, qid, rcpt)
        assert_deferred_4_7_5(line)
        assert "certificate not valid for the MX host name (MTA-STS)" in line, line
    # One session per message: STARTTLS and the handshake, then nothing of the message,
    # and no second session in plaintext.
    sessions = peer.wait_sessions(before + 2, timeout=20)[before:]
    assert len(peer.sessions) == before + 2, [s.commands() for s in peer.sessions[before:]]
    for s in sessions:
        assert "STARTTLS" in s.commands() and s.tls, s.commands()
    no_transaction(sessions)


def test_enforce_receiver_without_starttls_defers_and_sends_nothing(relay, world):
    before = len(world.notls.sessions)
    for pol, rcpt in ((None, "hal@notls.test"), ("sos", "ida@notls.test")):
        qid = send(relay, rcpt, pol, subject=f"notls-{pol or 'bes'}")
        line = attempt_line(relay, qid, rcpt)
        assert_deferred_4_7_5(line)
        assert "STARTTLS not offered (required by MTA-STS)" in line, line
    sessions = world.notls.wait_sessions(before + 2, timeout=20)[before:]
    assert len(world.notls.sessions) == before + 2, "a second session was opened"
    no_transaction(sessions)


# ----------------------------------------------------------------------------- testing

def test_testing_mode_mx_not_in_policy_delivers_and_reports(relay, world):
    qid = send(relay, "jim@testing-mx.test", subject="testing-mx")
    line = attempt_line(relay, qid, "jim@testing-mx.test")
    assert "relay=mx.good.test[127.0.0.61]:25" in line and "status=sent" in line, line
    assert tls_auth(line) == "pkix", line
    relay.wait_log(rf"{qid}: event=sts-testing-failure domain=testing-mx\.test "
                   r"host=mx\.good\.test\[127\.0\.0\.61\]:25 reason=MX host not in the policy")
    at(world.good, "jim@testing-mx.test", "testing-mx")


def test_testing_mode_bad_certificate_delivers_and_reports(relay, world):
    qid = send(relay, "kim@testing-cert.test", subject="testing-cert")
    line = attempt_line(relay, qid, "kim@testing-cert.test")
    assert "relay=mx.badname.test[127.0.0.63]:25" in line and "status=sent" in line, line
    assert tls_auth(line) == "none", line
    relay.wait_log(rf"{qid}: event=sts-testing-failure domain=testing-cert\.test "
                   r"host=mx\.badname\.test\[127\.0\.0\.63\]:25 reason=certificate not valid "
                   r"for the MX host name")
    peer_got(world.badname, "testing-cert")


# ----------------------------------------------------------------------------- the cache

def test_cached_enforce_policy_applies_when_the_fetch_fails(relay, world):
    before = len(world.alt.sessions)
    qid = send(relay, "lea@cached.test", subject="cached-1")
    line = attempt_line(relay, qid, "lea@cached.test")
    assert "relay=mx.good.test[127.0.0.61]:25" in line and "status=sent" in line, line
    not_tried(relay, qid, "mx.alt.test", ALT, "cached.test")

    # A new id the policy host cannot serve; the restart empties the relay's DNS cache (not
    # its MTA-STS cache) so that the next message sees the new id at once.
    world.web.serve("cached.test", "oops", status=500)
    world.new_id("cached.test", "two")
    relay.stop()
    relay.start()
    qid2 = send(relay, "lea@cached.test", subject="cached-2")
    line2 = attempt_line(relay, qid2, "lea@cached.test")
    assert "relay=mx.good.test[127.0.0.61]:25" in line2 and "status=sent" in line2, line2
    assert tls_auth(line2) == "mta-sts", line2
    not_tried(relay, qid2, "mx.alt.test", ALT, "cached.test")
    relay.wait_log(r"sts domain=cached\.test id=two sts-policy-fetch-error: HTTP 500 "
                   r"\(cached policy id=one stays in force\)")
    relay.wait_log(rf"{qid2}: event=sts-failure domain=cached\.test "
                   r"result=sts-policy-fetch-error detail=HTTP 500 policy=enforce")
    assert world.web.requests("cached.test") == 2
    assert len(world.alt.sessions) == before, "mx.alt.test is outside the cached policy"
    at(world.good, "lea@cached.test", "cached-2")


def test_new_policy_id_applies_the_new_policy_to_the_next_message(relay, world):
    before = len(world.alt.sessions)
    qid = send(relay, "max@change.test", subject="change-1")
    line = attempt_line(relay, qid, "max@change.test")
    assert "relay=mx.good.test[127.0.0.61]:25" in line and "status=sent" in line, line
    assert len(world.alt.sessions) == before

    world.web.serve("change.test", policy("enforce", "mx.alt.test"))
    world.new_id("change.test", "two")
    relay.stop()
    relay.start()
    qid2 = send(relay, "max@change.test", subject="change-2")
    line2 = attempt_line(relay, qid2, "max@change.test")
    assert "relay=mx.alt.test[127.0.0.62]:25" in line2 and "status=sent" in line2, line2
    assert tls_auth(line2) == "mta-sts", line2
    relay.wait_log(r"sts domain=change\.test fetching policy id=two cached=one")
    relay.wait_log(r"sts domain=change\.test policy id=two mode=enforce max_age=86400 mx=1")
    peer_got(world.alt, "change-2")
    assert world.alt.sni_names and world.alt.sni_names[-1] == "mx.alt.test", world.alt.sni_names
    assert world.web.requests("change.test") == 2


# ----------------------------------------------------------------------------- one MX host

def test_domains_sharing_an_mx_host_each_follow_their_own_policy(relay, world):
    """shared-a's policy leaves the shared host out: deferred. shared-b's lists it:
    delivered, authenticated by MTA-STS. shared-c's policy is invalid, which is no policy
    at all (RFC 8461 §3.3: with no valid policy fetched and none cached the sender MUST go
    on as though the domain had no MTA-STS; §3.2: a policy without mx is invalid):
    delivered as usual."""
    rcpts = ["amy@shared-a.test", "bob@shared-b.test", "cy@shared-c.test"]
    r = swaks(relay, "--from", SENDER, "--to", ",".join(rcpts), "--header", "Subject: shared")
    assert r.returncode == 0, r.stdout + r.stderr
    qid = swaks_queue_id(r.stdout)
    a, b, c = (attempt_line(relay, qid, x) for x in rcpts)
    assert_deferred_4_7_5(a)
    assert "MX host not in the MTA-STS policy of shared-a.test" in a, a
    assert "status=sent" in b and tls_auth(b) == "mta-sts", b
    assert "status=sent" in c and tls_auth(c) == "pkix", c
    relay.wait_log(rf"{qid}: event=sts-failure domain=shared-c\.test "
                   r"result=sts-policy-invalid detail=.* policy=none")
    at(world.good, "bob@shared-b.test", "shared")
    at(world.good, "cy@shared-c.test", "shared")
    assert not [m for m in world.good.messages() if m.recipient == "amy@shared-a.test"]
    states = {x["address"]: x["state"] for x in relay.dump_by_id()[qid]["recipients"]}
    assert states["amy@shared-a.test"] == "pending", states


def test_connection_kept_from_a_domain_without_policy_does_not_carry_enforced_mail(
        make_relay, world):
    """A session with an unverified certificate, kept open after mail to a domain without
    a policy, is no session for a domain whose policy binds the same host."""
    relay = start_relay(make_relay, world, connection_cache_time="30s")
    peer = world.badname
    before = len(peer.sessions)
    qid = send(relay, "ray@cache-open.test", subject="cache-open")
    line = attempt_line(relay, qid, "ray@cache-open.test")
    assert "status=sent" in line and tls_auth(line) == "none", line
    peer_got(peer, "cache-open")
    qid2 = send(relay, "sue@cache-bound.test", subject="cache-bound")
    line2 = attempt_line(relay, qid2, "sue@cache-bound.test")
    assert_deferred_4_7_5(line2)
    assert "certificate not valid for the MX host name (MTA-STS)" in line2, line2
    new = peer.sessions[before:]
    assert sum(len(s.messages) for s in new) == 1, [s.commands() for s in new]
    assert commands(new).count("MAIL") == 1, [s.commands() for s in new]


# ----------------------------------------------------------------------------- SOS verify

def test_sos_verify_is_met_by_mta_sts(relay, world):
    qid = send(relay, "ned@verify.test", "sos-verify", subject="verify")
    line = attempt_line(relay, qid, "ned@verify.test")
    assert "policy=SOS" in line and "status=sent" in line, line
    assert "relay=mx.good.test[127.0.0.61]:25" in line, line
    assert tls_auth(line) == "mta-sts", line
    at(world.good, "ned@verify.test", "verify")


# ----------------------------------------------------------------------------- routes

def test_route_bypasses_mta_sts(make_relay, world):
    relay = start_relay(make_relay, world,
                        extra=f'\n[[route]]\ndomain = "routed.test"\nhost = "[{ALT}]:25"\n')
    # The policy is cached, and it would not let the route's host in.
    got = ctl_json(relay, "sts", "fetch", "routed.test")
    assert got["fetch"]["result"] == "fetched", got
    assert got["policy"]["mode"] == "enforce" and got["policy"]["mx"] == ["mx.good.test"]
    qid = send(relay, "oli@routed.test", subject="routed")
    line = attempt_line(relay, qid, "oli@routed.test")
    assert "[127.0.0.62]:25" in line and "method=route" in line, line
    assert "status=sent" in line and tls_auth(line) != "mta-sts", line
    peer_got(world.alt, "routed")
    assert not re.search(rf"{qid}: .*(not tried|event=sts-)", relay.log())
    not_at(world.good, "routed")


# ----------------------------------------------------------------------------- lifetime

def test_enforce_failure_past_the_lifetime_bounces_5_7_5_with_a_dsn(make_relay, world):
    relay = start_relay(make_relay, world, retry=["1s"], max_lifetime="4s",
                        sos_lifetime="4s")
    before = len(world.alt.sessions)
    qid = send(relay, "pam@expiry.test", subject="sts-expiry")
    first = attempt_line(relay, qid, "pam@expiry.test")
    assert_deferred_4_7_5(first)
    final = wait_until(lambda: next((x for x in lines_of(relay, qid, "pam@expiry.test")
                                     if "status=bounced" in x), None),
                       30, "the bounce once the lifetime has passed")
    assert "dsn=5.7.5" in final, final
    assert "within the lifetime" in final and "mx.alt.test" in final, final
    gone_from_queue(relay, qid)

    def dsn():
        for m in world.good.messages():
            if m.recipient.lower() == SENDER and m.sender == "" and b"sts-expiry" in m.raw:
                return m
        return None
    [fields] = delivery_status(wait_until(dsn, 30, f"the DSN about sts-expiry at {SENDER}"))
    assert fields["Final-Recipient"] == "rfc822; pam@expiry.test"
    assert fields["Action"] == "failed" and fields["Status"] == "5.7.5", fields
    assert len(world.alt.sessions) == before, "the host outside the policy was connected to"
