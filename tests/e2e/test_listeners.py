"""Listeners with their own settings ([[smtp.listener]]) against real clients: implicit
TLS (RFC 8314) with swaks --tlsc, relay_networks per listener (the client bound to two
loopback addresses), a listener that requires login, and sender authorization through
smtplib's login()."""
import smtplib
import ssl
import subprocess

import pytest

from relaytest import free_port, swaks, swaks_queue_id

PASSWORD = "correct horse battery staple"


def _listener_relay(make_relay, tmp_path, extra: str = ""):
    """A relay whose [smtp] listen port relays for 127.0.0.1 only, plus an implicit-TLS
    listener relaying for 127.0.0.3 only and a submission listener requiring login."""
    users = tmp_path / "users"
    hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=PASSWORD,
                            capture_output=True, text=True, check=True).stdout.strip()
    users.write_text(f"app:{hashed}\nhr:{hashed}\n")
    senders = tmp_path / "senders"
    senders.write_text("# who may send as whom\n"
                       "app: scanner@agency.example\n"
                       "hr: @hr.agency.example, payroll-*@agency.example\n")
    relay = make_relay(tls=True, start=False,
                       overrides={"smtp": {"relay_networks": ["127.0.0.1/32"]}})
    # Three distinct ports: free_port() can hand back the main listener's port, which is
    # chosen but not bound until the relay starts.
    taken = {relay.port, relay.admin_port}
    relay.smtps_port = free_port()
    while relay.smtps_port in taken:
        relay.smtps_port = free_port()
    taken.add(relay.smtps_port)
    relay.submission_port = free_port()
    while relay.submission_port in taken:
        relay.submission_port = free_port()
    with open(relay.config_path, "a") as f:
        f.write(f"""
[smtp.auth]
users_file = "{users}"
senders_file = "{senders}"

[[smtp.listener]]
address = "127.0.0.1:{relay.smtps_port}"
tls = "implicit"
relay_networks = ["127.0.0.3/32"]

[[smtp.listener]]
address = "127.0.0.1:{relay.submission_port}"
auth = "required"
sender_login = true
{extra}""")
    relay.start()
    relay.wait_log(rf"listening on 127\.0\.0\.1:{relay.smtps_port} tls=implicit auth=optional")
    relay.wait_log(rf"listening on 127\.0\.0\.1:{relay.submission_port} tls=starttls "
                   r"auth=required")
    return relay


def _message(tmp_path, subject: str):
    p = tmp_path / f"{subject}.eml"
    p.write_text(f"From: <s@x.example>\nTo: <r@y.example>\nSubject: {subject}\n\nhello\n")
    return str(p)


def test_implicit_tls_listener_with_swaks_tlsc(make_relay, tmp_path):
    relay = _listener_relay(make_relay, tmp_path)
    r = swaks(relay, "--port", str(relay.smtps_port), "--tlsc", "--local-interface", "127.0.0.3",
              "--from", "s@x.example", "--to", "r@y.example",
              "--data", _message(tmp_path, "implicit"))
    assert r.returncode == 0, r.stdout + r.stderr
    # The greeting came inside TLS, and STARTTLS is not offered there.
    assert "TLS started" in r.stdout, r.stdout
    assert "STARTTLS" not in r.stdout, r.stdout
    qid = swaks_queue_id(r.stdout)
    [m] = relay.dump()
    assert m["id"] == qid
    assert m["client"]["address"] == "127.0.0.3"
    assert m["client"]["tls_protocol"].startswith("TLSv1."), m
    relay.wait_log(rf"{qid}: queued client=\[127\.0\.0\.3\]:\d+ .* tls=TLSv1\.[23]/")

    # A plaintext client on the implicit port gets no plaintext greeting at all.
    plain = swaks(relay, "--port", str(relay.smtps_port), "--local-interface", "127.0.0.3",
                  "--from", "s@x.example", "--to", "r@y.example", "--quit-after", "CONNECT",
                  "--timeout", "3")
    assert plain.returncode != 0, plain.stdout
    assert "220 " not in plain.stdout, plain.stdout
    assert [x["id"] for x in relay.dump()] == [qid]


def test_relay_networks_are_per_listener(make_relay, tmp_path):
    relay = _listener_relay(make_relay, tmp_path)
    msg = _message(tmp_path, "networks")
    # 127.0.0.3 relays on the implicit-TLS listener only ...
    denied = swaks(relay, "--local-interface", "127.0.0.3", "--from", "s@x.example",
                   "--to", "r@y.example", "--data", msg)
    assert denied.returncode != 0, denied.stdout
    assert "550 5.7.1 <r@y.example>: Relay access denied" in denied.stdout, denied.stdout
    ok = swaks(relay, "--port", str(relay.smtps_port), "--tlsc", "--local-interface",
               "127.0.0.3", "--from", "s@x.example", "--to", "r@y.example", "--data", msg)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # ... and 127.0.0.1 on the [smtp] listen port only.
    denied2 = swaks(relay, "--port", str(relay.smtps_port), "--tlsc", "--local-interface",
                    "127.0.0.1", "--from", "s@x.example", "--to", "r@y.example", "--data", msg)
    assert denied2.returncode != 0, denied2.stdout
    assert "550 5.7.1 <r@y.example>: Relay access denied" in denied2.stdout, denied2.stdout
    ok2 = swaks(relay, "--local-interface", "127.0.0.1", "--from", "s@x.example",
                "--to", "r@y.example", "--data", msg)
    assert ok2.returncode == 0, ok2.stdout + ok2.stderr
    assert sorted(m["id"] for m in relay.dump()) == sorted(
        [swaks_queue_id(ok.stdout), swaks_queue_id(ok2.stdout)])


def test_auth_required_listener_refuses_mail_without_login(make_relay, tmp_path):
    relay = _listener_relay(make_relay, tmp_path)
    # From inside relay_networks, with and without TLS: still 530.
    for tls in (False, True):
        r = swaks(relay, "--port", str(relay.submission_port), "--local-interface", "127.0.0.1",
                  *(["--tls"] if tls else []), "--from", "s@x.example", "--to", "r@y.example",
                  "--data", _message(tmp_path, "unauthenticated"))
        assert r.returncode != 0, r.stdout
        assert "530 5.7.0 Authentication required" in r.stdout, r.stdout
    assert relay.dump() == []
    relay.wait_log(r"reject: MAIL from \[127\.0\.0\.1\]: 530 5.7.0 Authentication required; "
                   rf"listener=127\.0\.0\.1:{relay.submission_port}")


def _login(relay, user: str) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", relay.submission_port, local_hostname="client.test",
                          timeout=20)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    client.starttls(context=ctx)
    client.ehlo("client.test")
    client.login(user, PASSWORD)
    return client


def test_sender_authorization_after_login(make_relay, tmp_path):
    relay = _listener_relay(make_relay, tmp_path)
    with _login(relay, "hr") as client:
        code, text = client.mail("boss@agency.example")
        assert (code, text) == (553, b"5.7.1 <boss@agency.example>: sender not owned by user hr")
        client.rset()
        # Another user's address is not hr's either.
        code, _ = client.mail("scanner@agency.example")
        assert code == 553
        client.rset()
        # Owned through "@hr.agency.example" (domain case-insensitive) and the glob.
        refused = client.sendmail("anna@HR.Agency.Example", ["r@y.example"],
                                  b"Subject: owned\r\n\r\nhello\r\n")
        assert refused == {}
        refused = client.sendmail("payroll-march@agency.example", ["r@y.example"],
                                  b"Subject: glob\r\n\r\nhello\r\n")
        assert refused == {}
        # The null sender (the user's own MTA's bounces) is allowed.
        code, _ = client.mail("")
        assert code == 250
        client.rset()
    senders = sorted(m["sender"] for m in relay.dump())
    assert senders == ["anna@HR.Agency.Example", "payroll-march@agency.example"]
    relay.wait_log(r"reject: MAIL from \[127\.0\.0\.1\]: 553 5.7.1 <boss@agency\.example>: "
                   r"sender not owned by user hr")


def test_login_relays_from_outside_relay_networks(make_relay, tmp_path):
    relay = _listener_relay(make_relay, tmp_path)
    client = smtplib.SMTP("127.0.0.1", relay.submission_port, local_hostname="client.test",
                          timeout=20, source_address=("127.0.0.5", 0))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    client.starttls(context=ctx)
    client.ehlo("client.test")
    client.login("app", PASSWORD)
    assert client.sendmail("scanner@agency.example", ["r@y.example"],
                           b"Subject: app\r\n\r\nhello\r\n") == {}
    client.quit()
    [m] = relay.dump()
    assert m["client"]["address"] == "127.0.0.5"


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_logs_in_on_the_implicit_tls_port(make_relay, tmp_path, mech):
    # 127.0.0.5 is in no relay_networks: only the login lets it relay here.
    relay = _listener_relay(make_relay, tmp_path)
    r = swaks(relay, "--port", str(relay.smtps_port), "--tlsc", "--local-interface", "127.0.0.5",
              "--auth", mech, "--auth-user", "app", "--auth-password", PASSWORD,
              "--from", "scanner@agency.example", "--to", "r@y.example",
              "--data", _message(tmp_path, f"implicit-{mech}"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0 Authentication successful" in r.stdout, r.stdout
    qid = swaks_queue_id(r.stdout)
    [m] = relay.dump()
    assert (m["id"], m["client"]["address"], m["client"]["auth_user"]) == (qid, "127.0.0.5", "app")
    relay.wait_log(rf"{qid}: queued client=\[127\.0\.0\.5\]:\d+ .* sasl_username=app")
    # Without the login the same client is refused there.
    denied = swaks(relay, "--port", str(relay.smtps_port), "--tlsc", "--local-interface",
                   "127.0.0.5", "--from", "scanner@agency.example", "--to", "r@y.example",
                   "--data", _message(tmp_path, f"implicit-{mech}-anon"))
    assert denied.returncode != 0, denied.stdout
    assert "550 5.7.1 <r@y.example>: Relay access denied" in denied.stdout, denied.stdout


@pytest.mark.parametrize("listener, error", [
    ('[[smtp.listener]]\naddress = "127.0.0.1:4650"\ntls = "implicit"\n',
     'tls = "implicit" needs [smtp] tls_cert and tls_key'),
    ('[[smtp.listener]]\naddress = "127.0.0.1:5870"\nauth = "required"\n',
     'auth = "required" needs [smtp.auth] users_file'),
])
def test_check_names_listener_problems(make_relay, listener, error):
    relay = make_relay(start=False)
    with open(relay.config_path, "a") as f:
        f.write("\n" + listener)
    r = relay.run_cli("--check")
    out = (r.stdout + r.stderr).decode()
    assert r.returncode != 0, out
    assert f"{relay.config_path}:" in out and error in out, out
