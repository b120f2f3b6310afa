"""SIGHUP reload: policy rules, routes, delivery pause and the STARTTLS certificate change in
a running relay without dropping its connections; a file with a mistake is refused with a
log line naming file:line and the running configuration stays; settings that need a
restart are named and kept as they run.
"""
from __future__ import annotations

import re
import signal
import socket
import ssl
import urllib.error
import urllib.request

import pytest

from mta import ScriptedPeer
from pki import TestCA
from relaytest import HOSTNAME, Relay, free_port, merge, render_toml, simple_message, wait_until

prometheus_parser = pytest.importorskip(
    "prometheus_client.parser",
    reason="python3-prometheus-client is not installed (scripts/install-deps.sh --with-tests)")

SOS_RULE = """
[[policy.rule]]
sender = "@agency.example"
policy = "SOS"
"""


def write_config(relay: Relay, over: dict | None = None, tail: str = "") -> None:
    relay.config_path.write_text(render_toml(merge(relay.config, over)) + tail)


def reload(relay: Relay, expect_ok: bool = True) -> None:
    """SIGHUP, then wait (bounded) for the relay's verdict, which must be `expect_ok`."""
    done = re.compile(r"reload: .* loaded: |the running configuration stays in force")
    before = len(done.findall(relay.log()))
    relay.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: len(done.findall(relay.log())) > before, 10, "the reload's log line")
    last = done.findall(relay.log())[-1]
    assert last.startswith("reload") == expect_ok, "\n".join(reload_lines(relay))
    assert relay.running(), relay.log()


def reload_lines(relay: Relay) -> list[str]:
    return [l for l in relay.log().splitlines() if "reload" in l]


def metrics(relay: Relay) -> dict[str, float]:
    relay.wait_log("admin API listening")
    with urllib.request.urlopen(f"http://127.0.0.1:{relay.admin_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {s.name: s.value for f in prometheus_parser.text_string_to_metric_families(text)
            for s in f.samples}


def policy_of(relay: Relay, qid: str) -> str:
    """The policy the relay logged for the message (the config file may be broken on
    purpose, so the queue is not read through it)."""
    m = re.search(rf"{qid}: queued .* policy=(\S+)", relay.log())
    assert m, f"no queued line for {qid}"
    return m.group(1)


def send(conn, sender: str, subject: str):
    r = conn.send_message(sender, ["rcpt@dest.example"], simple_message(subject, sender=sender))
    assert r.code == 250, r
    return r.queue_id()


def test_reload_puts_a_new_rule_in_force_without_dropping_a_session(make_relay):
    relay = make_relay()
    with relay.session() as c:
        first = send(c, "boss@agency.example", "before reload")
        assert policy_of(relay, first) == "BES"

        write_config(relay, tail=SOS_RULE)
        reload(relay)
        assert any("rules=1" in l for l in reload_lines(relay)), reload_lines(relay)

        # The session opened before the reload goes on, under the new rule.
        second = send(c, "boss@agency.example", "same session after reload")
        c.expect("QUIT", 221)
    assert policy_of(relay, second) == "SOS"
    with relay.session() as c:
        third = send(c, "boss@agency.example", "new session after reload")
    assert policy_of(relay, third) == "SOS"
    assert metrics(relay)["secmx_config_reloads_total"] == 1


def test_a_config_with_a_mistake_is_refused_and_the_old_one_stays(make_relay):
    relay = make_relay()
    write_config(relay, tail=SOS_RULE)
    reload(relay)

    # A typo on a known line: the whole file is refused, the SOS rule stays in force.
    text = relay.config_path.read_text() + '\n[smtp2]\nmax_recipients = 5\n'
    relay.config_path.write_text(text)
    bad_line = text.splitlines().index("[smtp2]") + 1
    reload(relay, expect_ok=False)
    refused = [l for l in reload_lines(relay) if "reload refused" in l]
    assert any(f"{relay.config_path}:{bad_line}:" in l for l in refused), refused

    with relay.session() as c:
        qid = send(c, "boss@agency.example", "after a refused reload")
    assert policy_of(relay, qid) == "SOS"
    m = metrics(relay)
    assert m["secmx_config_reloads_total"] == 1
    assert m["secmx_config_reload_failures_total"] == 1

    # A rule that does not compile is refused the same way.
    write_config(relay, tail='\n[[policy.rule]]\nheader = "Subject"\nmatch = "(unclosed"\n'
                             'policy = "BES"\n')
    reload(relay, expect_ok=False)
    assert metrics(relay)["secmx_config_reload_failures_total"] == 2

    # Once fixed, the next SIGHUP takes it.
    write_config(relay)
    reload(relay)
    with relay.session() as c:
        qid = send(c, "boss@agency.example", "after the fix")
    assert policy_of(relay, qid) == "BES"


def test_settings_that_need_a_restart_are_named_and_kept(make_relay):
    relay = make_relay()
    other = free_port()
    write_config(relay, over={"smtp": {"listen": [f"127.0.0.1:{other}"]},
                              "delivery": {"workers": 5}})
    reload(relay)
    lines = reload_lines(relay)
    assert any("smtp.listen changed; it takes effect at the next restart" in l for l in lines), lines
    assert any("delivery.workers changed" in l for l in lines), lines
    # Still listening where it was, not on the new port.
    with relay.connect() as c:
        c.banner()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", other), timeout=2).close()


def presented(sock: ssl.SSLSocket, cert_file) -> bool:
    """Is the certificate the relay presented on `sock` the one in cert_file?"""
    pem = ssl.DER_cert_to_PEM_cert(sock.getpeercert(binary_form=True))
    return pem.split() == cert_file.read_text().split()


def test_reload_swaps_the_starttls_certificate_and_keeps_tls_sessions(make_relay, tmp_path):
    ca = TestCA(tmp_path / "pki")
    old_cert, old_key = ca.issue(HOSTNAME, stem="old")
    new_cert, new_key = ca.issue(HOSTNAME, stem="new")
    relay = make_relay(start=False)
    relay.config["smtp"]["tls_cert"], relay.config["smtp"]["tls_key"] = str(old_cert), str(old_key)
    write_config(relay)
    relay.start()

    held = relay.session()
    sock = held.starttls()
    assert presented(sock, old_cert)
    held.ehlo()

    write_config(relay, over={"smtp": {"tls_cert": str(new_cert), "tls_key": str(new_key)}})
    reload(relay)

    with relay.session() as c:
        fresh = c.starttls()
        assert presented(fresh, new_cert)
    # The TLS session made before the reload still carries mail.
    qid = send(held, "user@example.org", "over the old TLS session")
    held.expect("QUIT", 221)
    held.close()
    assert relay.dump_by_id()[qid]["client"]["tls_protocol"].startswith("TLS")

    # A certificate that does not load is refused; STARTTLS goes on with the last good one.
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    write_config(relay, over={"smtp": {"tls_cert": str(broken), "tls_key": str(new_key)}})
    reload(relay, expect_ok=False)
    with relay.session() as c:
        again = c.starttls()
        assert presented(again, new_cert)


def test_reload_changes_routes_and_lifts_a_delivery_pause(make_relay):
    with ScriptedPeer(host="127.0.0.1") as old_dest, ScriptedPeer(host="127.0.0.1") as new_dest:
        route = '\n[[route]]\ndomain = "dest.example"\nhost = "[127.0.0.1]:{}"\n'
        relay = make_relay(start=False)  # paused, like every e2e relay
        write_config(relay, tail=route.format(old_dest.port))
        relay.start()
        with relay.session() as c:
            qid = send(c, "user@example.org", "waits for the reload")
        assert qid in relay.dump_by_id()

        write_config(relay, over={"delivery": {"pause": False}}, tail=route.format(new_dest.port))
        reload(relay)
        assert any("pause=off" in l for l in reload_lines(relay)), reload_lines(relay)
        [session] = new_dest.wait_sessions(1, timeout=30)
        wait_until(lambda: session.messages, 20, "message at the new route's host")
        assert b"Subject: waits for the reload" in session.messages[0]
        assert old_dest.sessions == []
        wait_until(lambda: qid not in relay.dump_by_id(), 20, "delivered message leaves the queue")


def test_reload_reads_a_new_admin_token(make_relay):
    relay = make_relay()

    def stats(token: str) -> int:
        req = urllib.request.Request(f"http://127.0.0.1:{relay.admin_port}/api/v1/stats")
        req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    relay.wait_log("admin API listening")
    old = (relay.workdir / "token").read_text().strip()
    assert stats(old) == 200
    new_file = relay.workdir / "token.new"
    new_file.write_text("rotated-token-abcdefghijklmnop\n")
    new_file.chmod(0o600)
    write_config(relay, over={"admin": {"token_file": str(new_file)}})
    reload(relay)
    assert stats("rotated-token-abcdefghijklmnop") == 200
    assert stats(old) == 401


def file_text(path) -> str:
    return path.read_text() if path.exists() else ""


def rotated_log(make_relay, tmp_path):
    """A relay logging to log.file, once it has started, and that file renamed as logrotate
    does: (relay, the configured path, the renamed file)."""
    logfile = tmp_path / "logs" / "secmx.log"
    relay = make_relay(overrides={"log": {"file": str(logfile)}})
    wait_until(lambda: "listening on" in file_text(logfile), 10, "the start lines in log.file")
    rotated = logfile.with_name("secmx.log.1")
    logfile.rename(rotated)
    return relay, logfile, rotated


def test_sighup_opens_a_new_log_file_after_rotation(make_relay, tmp_path):
    """logrotate without copytruncate: rename log.file, SIGHUP; the lines before go to the
    renamed file, the reload's and everything after to a new file at the configured path,
    even when the configuration file has a mistake by then."""
    relay, logfile, rotated = rotated_log(make_relay, tmp_path)
    with relay.session() as c:
        before = send(c, "a@agency.example", "before rotation")
    wait_until(lambda: f"{before}: queued" in file_text(rotated), 10, "the queued line in the renamed file")
    assert not logfile.exists()

    relay.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload: " in file_text(logfile), 10, "the reload line in a new log.file")
    with relay.session() as c:
        after = send(c, "a@agency.example", "after rotation")
    wait_until(lambda: f"{after}: queued" in file_text(logfile), 10, "the queued line in the new file")
    assert before not in file_text(logfile)
    assert after not in file_text(rotated)
    assert "reload: " not in file_text(rotated)

    # A second rotation while the config file is broken: the log still moves on.
    logfile.rename(tmp_path / "logs" / "secmx.log.2")
    relay.config_path.write_text(relay.config_path.read_text() + "\nno_such_key = 1\n")
    relay.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "the running configuration stays in force" in file_text(logfile), 10,
               "the refused reload's lines in the new log.file")
    assert relay.running()


def test_a_log_file_that_cannot_be_reopened_is_kept_and_said_on_stderr(make_relay, tmp_path):
    """The path cannot take a new file (a directory stands there): the relay keeps writing
    to the renamed file, says so there and on stderr, and applies the reload all the same."""
    relay, logfile, rotated = rotated_log(make_relay, tmp_path)
    logfile.mkdir()

    relay.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload: " in file_text(rotated), 10, "the reload line in the renamed file")
    assert "log file not reopened, still writing to the old one" in file_text(rotated)
    assert "log file not reopened, still writing to the old one" in relay.log()  # stderr
    assert relay.running()
