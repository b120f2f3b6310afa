"""SMTP AUTH (RFC 4954) with real clients: swaks --auth PLAIN and LOGIN over STARTTLS,
Python's smtplib login(), refusals (538 before TLS, 535 on a bad password), the lockout
of one client while another keeps being served, and an authenticated message delivered
to a real Postfix with "with ESMTPSA" in its Received header, a Postfix client with
smtp_sasl_auth_enable relaying by login alone, and SIGHUP reading the users file again.
Users are hashed with the relay's own --hash-password."""
import base64
import os
import re
import shutil
import signal
import smtplib
import ssl
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest

from mta import PostfixMTA, mta_base
from relaytest import relay_bin, split_received, swaks, swaks_queue_id, wait_until

PASSWORD = "Tr0ub4dor&3 horse"


def _hash(password: str) -> str:
    r = subprocess.run([relay_bin(), "--hash-password"], input=password + "\n",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip()
    assert line.startswith("$y$") and password not in line
    return line


@pytest.fixture(scope="module")
def users_text() -> str:
    return f"# e2e users\napp:{_hash(PASSWORD)}\nscanner:{_hash('other password')}\n"


@pytest.fixture
def auth_relay(make_relay, users_text, tmp_path):
    """A STARTTLS relay with [smtp.auth]; extra keys and [[route]] tables appended."""
    def factory(auth: dict | None = None, extra: str = "", overrides: dict | None = None):
        relay = make_relay(tls=True, start=False, overrides=overrides)
        users = relay.workdir / "users"
        users.write_text(users_text)
        keys = {"users_file": str(users), "failure_delay": "0s", "max_failure_delay": "0s",
                **(auth or {})}
        text = relay.config_path.read_text() + "\n[smtp.auth]\n" + "".join(
            f'{k} = {v if isinstance(v, int) else chr(34) + v + chr(34)}\n'
            for k, v in keys.items()) + extra
        relay.config_path.write_text(text)
        return relay.start()
    return factory


def _ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _smtp(relay, source: str | None = None) -> smtplib.SMTP:
    return smtplib.SMTP(relay.host, relay.port, local_hostname="client.test", timeout=30,
                        source_address=(source, 0) if source else None)


def _login_plain(s: smtplib.SMTP, user: str, password: str):
    """login() with PLAIN alone: smtplib's login() tries every mechanism offered after a
    535, which would count twice against the limiter."""
    if s.helo_resp is None and s.ehlo_resp is None:
        s.ehlo()
    s.esmtp_features["auth"] = "PLAIN"
    return s.login(user, password)


def _message(subject: str) -> str:
    return (f"From: app@x.example\r\nTo: r@y.example\r\nSubject: {subject}\r\n\r\n"
            "logged in\r\n")


def _metric(relay, result: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{relay.admin_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(rf'^secmx_smtp_auth_total{{result="{result}"}} (\S+)$', text, re.M)
    assert m, text
    return float(m.group(1))


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_auth_over_starttls(auth_relay, mech):
    relay = auth_relay()
    r = swaks(relay, "--tls", "--auth", mech, "--auth-user", "app", "--auth-password", PASSWORD,
              "--from", "app@x.example", "--to", "r@y.example",
              "--header", f"Subject: swaks auth {mech}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250-AUTH PLAIN LOGIN" in r.stdout
    assert "235 2.7.0 Authentication successful" in r.stdout
    if mech == "LOGIN":
        assert "334 VXNlcm5hbWU6" in r.stdout and "334 UGFzc3dvcmQ6" in r.stdout
    qid = swaks_queue_id(r.stdout)
    [m] = relay.dump()
    assert m["id"] == qid and m["client"]["auth_user"] == "app"
    received, _ = split_received(m["body"])
    assert f"with ESMTPSA id {qid}" in received
    line = relay.wait_log(rf"{qid}: queued .*").group(0)
    assert line.endswith(" sasl_username=app"), line
    assert re.search(rf"auth from \[127\.0\.0\.1\]: sasl_method={mech} sasl_username=app",
                     relay.log())
    assert PASSWORD not in relay.log()


def test_smtplib_login_and_send(auth_relay):
    relay = auth_relay()
    with _smtp(relay) as s:
        s.ehlo()
        assert not s.has_extn("auth"), "AUTH must not be offered before STARTTLS"
        s.starttls(context=_ctx())
        s.ehlo()
        assert s.has_extn("auth")
        code, text = s.login("app", PASSWORD)
        assert code == 235, text
        s.sendmail("app@x.example", ["r@y.example"], _message("smtplib login"))
    [m] = relay.dump()
    assert m["client"]["auth_user"] == "app"
    assert _metric(relay, "success") == 1


def test_auth_before_starttls_is_refused_538(auth_relay):
    relay = auth_relay()
    with relay.session() as c:
        assert "AUTH" not in c.ehlo_reply.text
        plain = base64.b64encode(f"\0app\0{PASSWORD}".encode()).decode()
        c.expect(f"AUTH PLAIN {plain}", 538, "5.7.11")
        # A client that sends its response ahead of the answer (pipelining AUTH LOGIN):
        # refused, the response is an unknown command - answered, never logged.
        user = base64.b64encode(b"app").decode()
        secret = base64.b64encode(PASSWORD.encode()).decode()
        c.expect("AUTH LOGIN", 538, "5.7.11")
        c.expect(user, 500, "5.5.2")
        c.expect(secret, 500, "5.5.2")
    log = relay.log()
    assert "auth from" not in log
    assert "unknown command" in log, log
    for text in (plain, secret, user, PASSWORD):
        assert text not in log, f"{text!r} logged"


def test_bad_password_is_535_and_logged_without_the_password(auth_relay):
    relay = auth_relay()
    with _smtp(relay) as s:
        s.starttls(context=_ctx())
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            _login_plain(s, "app", "wrong password")
        assert e.value.smtp_code == 535
        assert b"5.7.8" in e.value.smtp_error
        # The session goes on: the right password still works.
        code, _ = _login_plain(s, "app", PASSWORD)
        assert code == 235
    line = relay.wait_log(r"auth failed from \[127\.0\.0\.1\]: .*").group(0)
    assert "sasl_username=app" in line and "result=failure" in line
    assert "wrong password" not in relay.log()
    assert _metric(relay, "failure") == 1


def test_lockout_after_failures_while_another_client_is_served(auth_relay):
    relay = auth_relay(auth={"max_failures": 3, "lockout": "10m", "max_session_failures": 10})
    with _smtp(relay, source="127.0.0.1") as s:
        s.starttls(context=_ctx())
        for i in range(3):
            with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                _login_plain(s, "scanner", f"guess {i}")
            assert e.value.smtp_code == 535
        # Locked: even the right password of another user is refused, and no hash is run.
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            _login_plain(s, "app", PASSWORD)
        assert e.value.smtp_code == 454 and b"4.7.0" in e.value.smtp_error
    # Another client, from another address, logs in and sends meanwhile.
    with _smtp(relay, source="127.0.0.3") as s:
        s.starttls(context=_ctx())
        code, _ = _login_plain(s, "app", PASSWORD)
        assert code == 235
        s.sendmail("app@x.example", ["r@y.example"], _message("still served"))
    assert [m["client"]["address"] for m in relay.dump()] == ["127.0.0.3"]
    assert _metric(relay, "locked") == 1 and _metric(relay, "failure") == 3
    # "scanner" itself is locked now, from every address.
    with _smtp(relay, source="127.0.0.4") as s:
        s.starttls(context=_ctx())
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            _login_plain(s, "scanner", "other password")
        assert e.value.smtp_code == 454


def test_too_many_failures_in_one_session_disconnect(auth_relay):
    relay = auth_relay(auth={"max_session_failures": 2, "max_failures": 100})
    with relay.session(starttls=True) as c:
        bad = base64.b64encode(b"\0app\0nope").decode()
        c.expect(f"AUTH PLAIN {bad}", 535, "5.7.8")
        assert c.cmd(f"AUTH PLAIN {bad}").code == 535  # then 421, and the connection closes
        assert c.reply().code == 421
        c.wait_closed()


@pytest.fixture
def postfix(request):
    base = mta_base()
    mta = PostfixMTA(base, "authmx", host="127.0.0.2", hostname="mx.test.example",
                     domains=["test.example"]).start()
    yield mta
    mta.stop()
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        print(f"\n===== postfix log =====\n{mta.log()[-6000:]}")
    shutil.rmtree(base, ignore_errors=True)


def test_authenticated_message_is_delivered_with_esmtpsa(auth_relay, postfix):
    route = ('\n[[route]]\ndomain = "test.example"\n'
             f'host = "[{postfix.host}]:{postfix.port}"\n')
    relay = auth_relay(extra=route, overrides={"delivery": {"pause": False}})
    with _smtp(relay) as s:
        s.starttls(context=_ctx())
        s.login("app", PASSWORD)
        s.sendmail("app@x.example", ["rcpt@test.example"], _message("delivered"))
    [d] = postfix.wait_for_messages(1, timeout=60)
    received = [h for h in d.message.get_all("Received") if "secmx-relay" in h]
    assert received and "with ESMTPSA" in received[0], d.raw[:2000]


def test_sighup_reads_the_users_file_again(auth_relay):
    relay = auth_relay()
    users = relay.workdir / "users"
    users.write_text(users.read_text() + f"newapp:{_hash('new password')}\n")
    relay.proc.send_signal(signal.SIGHUP)
    relay.wait_log(r"reload: .* loaded: .*auth_users=3")
    with _smtp(relay) as s:
        s.starttls(context=_ctx())
        code, _ = s.login("newapp", "new password")
        assert code == 235


@pytest.fixture
def open_dir():
    """A directory Postfix's unprivileged daemons may enter (tmp_path is root-only)."""
    d = Path(tempfile.mkdtemp(prefix="secmx-auth-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_postfix_with_smtp_sasl_relays_by_login_alone(auth_relay, open_dir):
    from test_deploy import PostfixInstance
    # No address may relay: only the login lets Postfix's mail through.
    relay = auth_relay(overrides={"smtp": {"relay_networks": ["192.0.2.0/24"]}})
    pf = PostfixInstance(open_dir / "postfix", f"[127.0.0.1]:{relay.port}", "encrypt")
    try:
        passwords = open_dir / "postfix" / "etc" / "sasl_passwd"
        passwords.write_text(f"[127.0.0.1]:{relay.port} app:{PASSWORD}\n")
        with open(open_dir / "postfix" / "etc" / "main.cf", "a") as f:
            f.write("smtp_sasl_auth_enable = yes\n"
                    f"smtp_sasl_password_maps = texthash:{passwords}\n"
                    "smtp_sasl_security_options = noanonymous\n"
                    "smtp_sasl_tls_security_options = noanonymous\n")
        pf.postfix("reload")
        subject = "logged-in postfix"
        pf.sendmail("alice@agency.test", "bob@remote.test",
                    f"From: alice@agency.test\nTo: bob@remote.test\nSubject: {subject}\n\nhi\n")
        try:
            [m] = wait_until(lambda: [m for m in relay.dump() if subject in m["body"]] or None,
                             60, "the message in the relay's queue")
        except AssertionError:
            raise AssertionError("not relayed; Postfix log:\n" + pf.maillog()[-4000:])
        assert m["client"]["auth_user"] == "app"
        assert "with ESMTPSA" in split_received(m["body"])[0]
        assert re.search(r"auth from \[127\.0\.0\.1\]: sasl_method=(PLAIN|LOGIN) "
                         r"sasl_username=app", relay.log())
    finally:
        pf.stop()


def test_check_names_bad_users_file_lines(make_relay):
    relay = make_relay(tls=True, start=False)
    users = relay.workdir / "users"
    users.write_text(f"app:{_hash(PASSWORD)}\nplain:hunter2\nno colon\n")
    relay.config_path.write_text(relay.config_path.read_text()
                                 + f'\n[smtp.auth]\nusers_file = "{users}"\n')
    r = subprocess.run([relay_bin(), "--check", "--config", str(relay.config_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{users}:2: user 'plain': password hash is not" in r.stderr
    assert f'{users}:3: expected "name:hash"' in r.stderr
    assert "hunter2" not in r.stderr
