"""swaks (a real SMTP client, Debian package) against the relay: plain, STARTTLS,
PIPELINING, 8-bit content. Asserts on what the queue stored and on the log line."""
import re

from relaytest import HOSTNAME, content_of, crlf, split_received, swaks, swaks_queue_id


def _as_stored(text: str) -> str:
    """What swaks puts on the wire for --data FILE: LF made CRLF, and it always adds one
    CRLF before the final "." (checked against a capture of swaks 20201014)."""
    return crlf(text) + "\r\n"


def _data_file(tmp_path, text: str):
    p = tmp_path / "message.eml"
    p.write_bytes(text.encode("utf-8"))
    return str(p)


MESSAGE = (
    "From: Sender <s@x.example>\n"
    "To: Rcpt <r@y.example>\n"
    "Subject: e2e swaks plain\n"
    "Message-ID: <swaks-plain@client.test>\n"
    "\n"
    "hello from swaks\n"
    ".a line starting with a dot\n"
    "last line\n"
)


def test_swaks_plain_message_is_queued(relay, tmp_path):
    r = swaks(relay, "--from", "s@x.example", "--to", "r@y.example",
              "--data", _data_file(tmp_path, MESSAGE))
    assert r.returncode == 0, r.stdout + r.stderr
    qid = swaks_queue_id(r.stdout)

    q = relay.dump()
    assert [m["id"] for m in q] == [qid]
    m = q[0]
    assert m["sender"] == "s@x.example"
    assert [x["address"] for x in m["recipients"]] == ["r@y.example"]
    rc = m["recipients"][0]
    assert rc["state"] == "pending"
    assert rc["policy"] == "BES"
    assert rc["notify"] == []
    assert rc["orcpt"] == ""
    assert m["client"]["address"] == "127.0.0.1"
    assert m["client"]["helo"] == "client.test"
    assert m["client"]["tls_protocol"] == "" and m["client"]["tls_cipher"] == ""
    assert m["requiretls"] is False and m["smtputf8"] is False
    assert m["body_type"] == "7BIT"
    assert m["held"] is False

    received, content = split_received(m["body"])
    assert content == _as_stored(MESSAGE)
    assert m["size"] == len(m["body"].encode("utf-8"))
    assert received.startswith("Received: from client.test ([127.0.0.1])")
    assert f"by {HOSTNAME}" in received
    assert f"with ESMTP id {qid}" in received
    assert "ESMTPS" not in received

    # One log line per received message, in the documented format.
    line = relay.wait_log(rf"{qid}: queued .*")
    assert re.search(
        rf"{qid}: queued client=\[127\.0\.0\.1\]:\d+ helo=client\.test from=<s@x\.example> "
        rf"nrcpt=1 size={m['size']} tls=none requiretls=no policy=BES rule=default",
        line.group(0)), line.group(0)


def test_swaks_starttls_message_is_queued_with_tls_details(tls_relay, tmp_path):
    r = swaks(tls_relay, "--tls", "--from", "s@x.example", "--to", "r@y.example",
              "--data", _data_file(tmp_path, MESSAGE.replace("plain", "tls")))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "220 2.0.0 Ready to start TLS" in r.stdout
    qid = swaks_queue_id(r.stdout)

    [m] = tls_relay.dump()
    assert m["id"] == qid
    assert m["client"]["tls_protocol"].startswith("TLSv1."), m["client"]["tls_protocol"]
    assert m["client"]["tls_cipher"], m
    received, content = split_received(m["body"])
    assert "with ESMTPS" in received and "version=TLSv1." in received, received
    assert content == _as_stored(MESSAGE.replace("plain", "tls"))
    tls_relay.wait_log(
        rf"{qid}: queued client=\[127\.0\.0\.1\]:\d+ .* tls=TLSv1\.[23]/\S+ requiretls=no "
        r"policy=BES rule=default")


def test_swaks_pipelining_multiple_recipients(relay, tmp_path):
    rcpts = ["a@y.example", "b@y.example", "c@z.example"]
    r = swaks(relay, "--pipeline", "--from", "s@x.example", "--to", ",".join(rcpts),
              "--data", _data_file(tmp_path, MESSAGE))
    assert r.returncode == 0, r.stdout + r.stderr
    qid = swaks_queue_id(r.stdout)
    [m] = relay.dump()
    assert m["id"] == qid
    assert [x["address"] for x in m["recipients"]] == rcpts
    assert content_of(m) == _as_stored(MESSAGE)
    relay.wait_log(rf"{qid}: queued .* nrcpt=3 ")


def test_swaks_8bit_body_is_stored_byte_exact(relay, tmp_path):
    text = (
        "From: <s@x.example>\n"
        "To: <r@y.example>\n"
        "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        "Grüße aus Zürich — ✓ 日本語\n"
        "\n"
    )
    # swaks 20201014 has no option for MAIL parameters, so BODY=8BITMIME itself is tested
    # with smtplib (test_smtplib.py); here the 8-bit octets must pass through unchanged.
    r = swaks(relay, "--from", "s@x.example", "--to", "r@y.example",
              "--data", _data_file(tmp_path, text))
    assert r.returncode == 0, r.stdout + r.stderr
    qid = swaks_queue_id(r.stdout)
    [m] = relay.dump()
    assert m["id"] == qid
    assert content_of(m).encode("utf-8") == _as_stored(text).encode("utf-8")


def test_swaks_relay_denied_from_outside_relay_networks(make_relay, tmp_path):
    relay = make_relay(overrides={"smtp": {"relay_networks": ["127.0.0.1/32"]}})
    r = swaks(relay, "--local-interface", "127.0.0.2", "--from", "s@x.example",
              "--to", "r@y.example", "--data", _data_file(tmp_path, MESSAGE))
    assert r.returncode != 0, r.stdout
    assert "550 5.7.1 <r@y.example>: Relay access denied" in r.stdout, r.stdout
    assert relay.dump() == []
    # The same client from inside relay_networks may relay.
    ok = swaks(relay, "--local-interface", "127.0.0.1", "--from", "s@x.example",
               "--to", "r@y.example", "--data", _data_file(tmp_path, MESSAGE))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert [m["id"] for m in relay.dump()] == [swaks_queue_id(ok.stdout)]
