"""Python's smtplib (a second real client) against the relay: STARTTLS + send_message,
several recipients, DSN parameters, BODY=8BITMIME, SMTPUTF8."""
import smtplib
import ssl
from email.message import EmailMessage

import pytest

from relaytest import HOSTNAME, content_of, split_received


def _client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _smtp(relay):
    s = smtplib.SMTP(relay.host, relay.port, local_hostname="client.test", timeout=20)
    return s


def test_smtplib_send_message_over_starttls(tls_relay):
    msg = EmailMessage()
    msg["From"] = "Alice <alice@x.example>"
    msg["To"] = "Bob <bob@y.example>"
    msg["Subject"] = "e2e smtplib starttls"
    msg["Message-ID"] = "<smtplib-tls@client.test>"
    msg.set_content("Body over TLS.\n.leading dot\n")
    with _smtp(tls_relay) as s:
        code, _ = s.ehlo()
        assert code == 250
        assert s.has_extn("starttls")
        assert not s.has_extn("requiretls"), "REQUIRETLS must only be offered after STARTTLS"
        code, text = s.starttls(context=_client_ctx())
        assert code == 220, text
        s.ehlo()
        assert not s.has_extn("starttls")
        assert s.has_extn("requiretls")
        for ext in ("pipelining", "8bitmime", "smtputf8", "enhancedstatuscodes", "dsn",
                    "chunking"):
            assert s.has_extn(ext), ext
        assert s.esmtp_features["size"] == str(1024 * 1024)
        refused = s.send_message(msg)
        assert refused == {}
    [m] = tls_relay.dump()
    assert m["sender"] == "alice@x.example"
    assert [r["address"] for r in m["recipients"]] == ["bob@y.example"]
    assert m["client"]["tls_protocol"].startswith("TLSv1.") and m["client"]["tls_cipher"]
    received, content = split_received(m["body"])
    assert "with ESMTPS" in received and "version=TLSv1." in received
    expected = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")).decode()
    assert content == expected
    tls_relay.wait_log(rf"{m['id']}: queued .* from=<alice@x\.example> nrcpt=1 .*"
                       r"tls=TLSv1\.[23]/\S+ requiretls=no policy=BES rule=default")


def test_smtplib_multiple_recipients(relay):
    rcpts = [f"user{i}@d{i % 3}.example" for i in range(7)]
    body = b"Subject: many\r\n\r\nto many\r\n"
    with _smtp(relay) as s:
        refused = s.sendmail("s@x.example", rcpts, body)
        assert refused == {}
    [m] = relay.dump()
    assert [r["address"] for r in m["recipients"]] == rcpts
    assert all(r["state"] == "pending" and r["policy"] == "BES" for r in m["recipients"])
    assert content_of(m) == body.decode()
    relay.wait_log(rf"{m['id']}: queued .* nrcpt=7 ")


def test_smtplib_dsn_parameters_are_stored(relay):
    with _smtp(relay) as s:
        s.ehlo()
        assert s.has_extn("dsn")
        code, text = s.mail("s@x.example", ["RET=HDRS", "ENVID=abc+2Bdef"])
        assert code == 250, text
        code, text = s.rcpt("r@y.example", ["NOTIFY=SUCCESS,DELAY", "ORCPT=rfc822;x@y"])
        assert code == 250, text
        code, text = s.rcpt("n@y.example", ["NOTIFY=NEVER"])
        assert code == 250, text
        code, text = s.rcpt("f@y.example", ["NOTIFY=FAILURE", "ORCPT=rfc822;first+2Blast@y"])
        assert code == 250, text
        code, text = s.data(b"Subject: dsn\r\n\r\nx\r\n")
        assert code == 250, text
        qid = text.decode().rsplit(" ", 1)[-1]
    [m] = relay.dump()
    assert m["id"] == qid
    assert m["ret"] == "HDRS"
    assert m["envid"] == "abc+def"
    r1, r2, r3 = m["recipients"]
    assert sorted(r1["notify"]) == ["DELAY", "SUCCESS"]
    assert r1["orcpt"] == "rfc822;x@y"
    assert r2["notify"] == ["NEVER"] and r2["orcpt"] == ""
    assert r3["notify"] == ["FAILURE"] and r3["orcpt"] == "rfc822;first+last@y"


@pytest.mark.parametrize("param,code,enhanced", [
    ("NOTIFY=NEVER,SUCCESS", 501, "5.5.4"),
    ("NOTIFY=BOGUS", 501, "5.5.4"),
])
def test_smtplib_bad_notify_is_refused(relay, param, code, enhanced):
    with _smtp(relay) as s:
        s.ehlo()
        assert s.mail("s@x.example")[0] == 250
        got, text = s.rcpt("r@y.example", [param])
        assert got == code, text
        assert text.decode().startswith(enhanced), text
        assert s.rcpt("r@y.example")[0] == 250  # the transaction goes on
        assert s.data(b"Subject: x\r\n\r\ny\r\n")[0] == 250
    [m] = relay.dump()
    assert [r["notify"] for r in m["recipients"]] == [[]]


def test_smtplib_body_8bitmime(relay):
    content = ("Subject: 8bit\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
               "\r\nÄpfel, Öl und Übermut — ½ € ✓\r\n").encode("utf-8")
    with _smtp(relay) as s:
        refused = s.sendmail("s@x.example", ["r@y.example"], content,
                             mail_options=["BODY=8BITMIME"])
        assert refused == {}
    [m] = relay.dump()
    assert m["body_type"] == "8BITMIME"
    assert content_of(m).encode("utf-8") == content


def test_smtplib_smtputf8_addresses(relay):
    content = "Subject: utf8\r\nFrom: <jörg@bücher.example>\r\n\r\nHallo\r\n".encode("utf-8")
    with _smtp(relay) as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        refused = s.sendmail("jörg@bücher.example", ["zoë@例え.example"], content,
                             mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        assert refused == {}
    [m] = relay.dump()
    assert m["smtputf8"] is True
    assert m["sender"] == "jörg@bücher.example"
    assert m["recipients"][0]["address"] == "zoë@例え.example"
    assert content_of(m).encode("utf-8") == content


def test_smtplib_null_sender_and_size_param(relay):
    with _smtp(relay) as s:
        s.ehlo()
        code, text = s.mail("", ["SIZE=100"])
        assert code == 250, text
        assert s.rcpt("postmaster@y.example")[0] == 250
        code, text = s.data(b"Subject: bounce\r\n\r\nx\r\n")
        assert code == 250, text
    [m] = relay.dump()
    assert m["sender"] == ""
    assert m["recipients"][0]["address"] == "postmaster@y.example"
    assert HOSTNAME in m["body"]
