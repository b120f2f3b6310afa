"""test_secmxctl.py - secmxctl as an operator meets it: `route` ends with what delivery
would do per policy (against a real DNS server and real receivers), exits non-zero when
the domain cannot have mail at all; `reload` makes the running relay read its file again
and fails, with the file:line errors, when the file is wrong; a relay that is not running
is said so in one line.
"""
from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dns_fixtures import dns_server  # noqa: E402,F401
from mta import ScriptedPeer  # noqa: E402
from pki import TestCA  # noqa: E402
from relaytest import wait_until  # noqa: E402
from test_admin import Admin, _ctl_built, start_admin_relay  # noqa: E402,F401

ROUTE_EXIT_PERMANENT = 7  # docs/admin.md
ROUTE_EXIT_TEMPORARY = 8
EXIT_NOT_RUNNING = 2
EXIT_FAILED = 6


def verdicts(stdout: str) -> dict[str, str]:
    """The last section of `secmxctl route`: policy -> its verdict line."""
    tail = stdout.split("What delivery would do now:\n", 1)[1]
    return {l.split(": ", 1)[0]: l.split(": ", 1)[1] for l in tail.splitlines() if l}


def test_route_ends_with_a_verdict_per_policy(make_relay, dns_server, tmp_path):
    ca = TestCA(tmp_path / "ca")
    good = ca.issue("mx.tls.test")
    with ScriptedPeer(hostname="mx.plain.test") as plain, \
         ScriptedPeer(starttls="ok", tls=tuple(map(str, good)), hostname="mx.tls.test") as tls:
        dns_server.add_mx("plain.test", 10, "mx.plain.test")
        dns_server.add_a("mx.plain.test", "127.0.0.1")
        # SRV: its own port, beside the plain receiver's delivery.port.
        dns_server.add_srv("tls.test", 10, 1, tls.port, "mx.tls.test")
        dns_server.add_a("mx.tls.test", "127.0.0.1")
        dns_server.start()
        relay, admin = start_admin_relay(
            make_relay,
            overrides={"dns": {"servers": [dns_server.address]},
                       "delivery": {"pause": False, "port": plain.port, "ca_file": str(ca.cert)}})

        r = admin.ctl("route", "plain.test")
        assert r.returncode == 0, r.stderr
        v = verdicts(r.stdout)
        assert v["BES"] == (f"would deliver to mx.plain.test[127.0.0.1]:{plain.port} "
                            "(no STARTTLS: plaintext)"), r.stdout
        for sos in ("SOS encrypt", "SOS verify"):
            assert v[sos].startswith("would bounce 5.7.10: no secure (TLS) receiver: "
                                     f"mx.plain.test[127.0.0.1]:{plain.port}"), r.stdout
        assert "Discovery trace:" not in r.stdout

        r = admin.ctl("route", "tls.test", "-v")
        assert r.returncode == 0, r.stderr
        v = verdicts(r.stdout)
        target = f"mx.tls.test[127.0.0.1]:{tls.port}"
        for policy in ("BES", "SOS encrypt", "SOS verify"):
            assert v[policy].startswith(f"would deliver to {target} (STARTTLS offered, TLSv1."), r.stdout
        assert "authenticated: pkix" in v["SOS verify"], r.stdout
        trace = r.stdout.split("Discovery trace:\n", 1)[1].split("\n\n", 1)[0]
        assert "tls.test" in trace and trace.startswith("  "), r.stdout

        # The same verdicts in the API's JSON.
        j = admin.ctl_json("route", "plain.test")
        by = {x["policy"]: x for x in j["verdicts"]}
        assert by["SOS verify"]["action"] == "bounce" and by["SOS verify"]["status"] == "5.7.10"
        assert by["BES"]["action"] == "deliver"


def test_route_exits_non_zero_when_the_domain_takes_no_mail(make_relay, dns_server):
    dns_server.add_mx("null.test", 0, ".")
    dns_server.add_mx("noaddr.test", 10, "ghost.noaddr.test")
    dns_server.start()
    relay, admin = start_admin_relay(make_relay, overrides={"dns": {"servers": [dns_server.address]}})
    for domain in ("nowhere.test", "null.test", "noaddr.test"):
        r = admin.ctl("route", domain)
        assert r.returncode == ROUTE_EXIT_PERMANENT, (domain, r.returncode, r.stdout, r.stderr)
        v = verdicts(r.stdout)
        assert set(v) == {"BES", "SOS encrypt", "SOS verify"}, r.stdout
        assert all(x.startswith("would bounce 5.") for x in v.values()), r.stdout
        assert admin.ctl("--json", "route", domain).returncode == ROUTE_EXIT_PERMANENT


def test_route_exits_differently_when_dns_fails_for_now(make_relay, dns_server):
    dns_server.servfail_zone("broken.test")
    dns_server.start()
    relay, admin = start_admin_relay(make_relay, overrides={"dns": {"servers": [dns_server.address]}})
    r = admin.ctl("route", "broken.test")
    assert r.returncode == ROUTE_EXIT_TEMPORARY, (r.returncode, r.stdout, r.stderr)
    assert all(x.startswith("would defer 4.") for x in verdicts(r.stdout).values()), r.stdout


def test_policy_test_shows_how_the_marking_was_read(make_relay):
    relay, admin = start_admin_relay(make_relay)
    r = admin.ctl("policy", "test", "--from", "a@x.example", "--rcpt", "r@y.example", "--header",
                  "X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=PROTECTED, ORIGIN=a@x.example")
    assert r.returncode == 0, r.stderr
    assert "classification:  PROTECTED\n" in r.stdout, r.stdout
    assert "marking:         X-Protective-Marking: VER=2018.1, NS=gov.au, SEC=PROTECTED" in r.stdout
    # Elements out of order: invalid, and the output says why.
    r = admin.ctl("policy", "test", "--from", "a@x.example", "--rcpt", "r@y.example", "--header",
                  "X-Protective-Marking: SEC=PROTECTED, VER=2018.1, NS=gov.au")
    assert r.returncode == 0, r.stderr
    assert "classification:  unknown (" in r.stdout, r.stdout
    assert "-> invalid: " in r.stdout and "invalid marking: " in r.stdout, r.stdout


def test_reload_applies_a_good_file_and_refuses_a_bad_one_with_file_line(make_relay):
    relay, admin = start_admin_relay(make_relay)
    good = relay.config_path.read_text()

    relay.config_path.write_text(good + '\n[[policy.rule]]\nsender = "@new.example"\npolicy = "SOS"\n')
    r = admin.ctl("reload")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.splitlines()[-1].startswith(f"reloaded {relay.config_path}: rules="), r.stdout
    assert re.search(r"reload: .* loaded: ", relay.log()), relay.log()
    decided = admin.ctl_json("policy", "test", "--from", "a@new.example", "--rcpt", "r@x.example")
    assert decided["policy"] == "SOS", decided

    # A route whose host is not a string: the loader names the file and line.
    relay.config_path.write_text(good + '\n[[route]]\ndomain = "bad.example"\nhost = 5\n')
    line = len(good.splitlines()) + 4  # the `host` line
    r = admin.ctl("reload")
    assert r.returncode == EXIT_FAILED, (r.returncode, r.stdout, r.stderr)
    assert f"{relay.config_path}:{line}:" in r.stderr, r.stderr
    assert "reload refused" in r.stderr and r.stdout == "", (r.stdout, r.stderr)
    assert relay.running()
    # The running configuration stayed: the rule of the good file still decides.
    assert admin.ctl_json("policy", "test", "--from", "a@new.example", "--rcpt", "r@x.example")["policy"] == "SOS"

    # SIGHUP keeps working beside it.
    relay.config_path.write_text(good)
    loaded = len(re.findall(r"reload: .* loaded: ", relay.log()))
    relay.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: len(re.findall(r"reload: .* loaded: ", relay.log())) > loaded, 10,
               "the SIGHUP reload's log line")
    assert admin.ctl_json("policy", "test", "--from", "a@new.example", "--rcpt", "r@x.example")["policy"] == "BES"


def test_not_running_is_said_in_one_line(make_relay):
    relay, admin = start_admin_relay(make_relay)
    assert relay.stop() == 0
    for args in (("stats",), ("reload",), ("route", "x.example")):
        r = admin.ctl(*args)
        assert r.returncode == EXIT_NOT_RUNNING, (args, r.returncode, r.stderr)
        assert r.stderr == (f"secmxctl: secmx-relay is not running (no answer on "
                            f"127.0.0.1:{relay.admin_port})\n"), r.stderr
