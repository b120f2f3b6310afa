"""STARTTLS (RFC 3207) and REQUIRETLS (RFC 8689) over raw sockets + Python's ssl."""
from relaytest import HOSTNAME, content_of, split_received


def _keywords(r):
    return [l.split(" ")[0].upper() for l in r.lines[1:]]


def test_starttls_discards_pipelined_plaintext(tls_relay):
    """CVE-2011-0411 class: a command pipelined after STARTTLS must not run inside TLS."""
    with tls_relay.session() as c:
        assert "STARTTLS" in _keywords(c.ehlo_reply)
        c.send("STARTTLS\r\nRSET\r\n")
        r = c.reply()
        assert (r.code, r.lines) == (220, ["2.0.0 Ready to start TLS"]), r
        c.tls_handshake()
        r = c.cmd("EHLO client.test")
        # The first reply inside TLS must be the EHLO's, not a stray "250 2.0.0 Ok".
        assert r.code == 250 and r.lines[0].startswith(HOSTNAME), r
        kw = _keywords(r)
        assert "STARTTLS" not in kw and "REQUIRETLS" in kw, r
        c.sync()
    tls_relay.wait_log(r"discarding \d+ bytes pipelined after STARTTLS")


def test_starttls_injected_mail_does_not_survive(tls_relay):
    with tls_relay.session() as c:
        c.send("STARTTLS\r\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<victim@y.example>\r\n")
        assert c.reply().code == 220
        c.tls_handshake()
        # RFC 3207 4.2: the session starts over; nothing from before TLS is kept.
        r = c.cmd("RCPT TO:<victim@y.example>")
        assert r.code == 503, r
        r = c.cmd("MAIL FROM:<a@x.example>")
        assert r.code == 503, r  # no EHLO yet inside TLS
        c.ehlo()
        c.expect("MAIL FROM:<a@x.example>", 250)
    assert tls_relay.dump() == []


def test_starttls_twice_refused(tls_relay):
    with tls_relay.session(starttls=True) as c:
        r = c.cmd("STARTTLS")
        assert r.code in (502, 503, 554), r
        c.sync()


def test_requiretls_refused_before_starttls(tls_relay):
    with tls_relay.session() as c:
        assert "REQUIRETLS" not in _keywords(c.ehlo_reply)
        r = c.cmd("MAIL FROM:<a@x.example> REQUIRETLS")
        assert (r.code, r.enhanced()) == (555, "5.5.4"), r
        c.expect("MAIL FROM:<a@x.example>", 250)


def test_requiretls_after_starttls_is_stored_as_sos(tls_relay):
    content = b"Subject: requiretls\r\n\r\nsecret\r\n"
    with tls_relay.session(starttls=True) as c:
        r = c.send_message("a@x.example", ["b@y.example", "c@z.example"], content,
                           mail_params="REQUIRETLS")
        assert (r.code, r.enhanced()) == (250, "2.0.0") and r.queue_id(), r
        qid = r.queue_id()
    [m] = tls_relay.dump()
    assert m["id"] == qid
    assert m["requiretls"] is True
    assert [(x["policy"], x["rule"]) for x in m["recipients"]] == [("SOS", "requiretls")] * 2
    assert m["client"]["tls_protocol"].startswith("TLSv1.") and m["client"]["tls_cipher"]
    received, stored = split_received(m["body"])
    assert "with ESMTPS" in received and "version=TLSv1." in received, received
    assert stored.encode() == content
    tls_relay.wait_log(rf"{qid}: queued client=\[127\.0\.0\.1\]:\d+ helo=client\.test "
                       r"from=<a@x\.example> nrcpt=2 size=\d+ tls=TLSv1\.[23]/\S+ "
                       r"requiretls=yes policy=SOS")


def test_plain_message_on_tls_relay_without_starttls(tls_relay):
    with tls_relay.session() as c:
        r = c.send_message("a@x.example", ["b@y.example"], b"Subject: p\r\n\r\nx\r\n")
        assert r.code == 250, r
    [m] = tls_relay.dump()
    assert m["client"]["tls_protocol"] == "" and m["requiretls"] is False
    assert m["recipients"][0]["policy"] == "BES"
    assert "with ESMTP id" in m["body"] and "ESMTPS" not in m["body"]
    assert content_of(m) == "Subject: p\r\n\r\nx\r\n"


def test_failed_handshake_does_not_hurt_the_relay(tls_relay):
    with tls_relay.session() as c:
        assert c.cmd("STARTTLS").code == 220
        c.send(b"this is not a TLS ClientHello\r\n" * 4)
        c.wait_closed()
    with tls_relay.session(starttls=True) as c:
        c.sync()


def test_tls12_client_is_recorded(tls_relay):
    import ssl
    with tls_relay.session() as c:
        assert c.cmd("STARTTLS").code == 220
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        c.sock = ctx.wrap_socket(c.sock, server_hostname=HOSTNAME)
        c.ehlo()
        r = c.send_message("a@x.example", ["b@y.example"], b"Subject: t12\r\n\r\nx\r\n")
        assert r.code == 250, r
    [m] = tls_relay.dump()
    assert m["client"]["tls_protocol"] == "TLSv1.2", m
    assert "version=TLSv1.2" in m["body"]


def test_tls_handshake_timeout(make_relay):
    relay = make_relay(tls=True, overrides={"smtp": {"command_timeout": "2s"}})
    with relay.session() as c:
        assert c.cmd("STARTTLS").code == 220
        # Say nothing: the relay must give up on the handshake, bounded by the timeout.
        c.wait_closed(timeout=15)
    with relay.connect() as c:
        c.banner()


def test_large_message_and_bdat_over_tls(tls_relay):
    line = b"0123456789abcdef" * 6 + b"\r\n"
    big = b"Subject: big tls\r\n\r\n" + line * (900 * 1024 // len(line))
    chunk = "Grüße over TLS\r\n".encode() * 20000
    with tls_relay.session(starttls=True) as c:
        r1 = c.send_message("a@x.example", ["b@y.example"], big)
        assert r1.code == 250, r1
        c.open_transaction("a@x.example", ["b@y.example"], data=False)
        c.send(b"BDAT %d\r\n" % len(chunk) + chunk + b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        assert c.reply(timeout=30).code == 250
        r2 = c.reply(timeout=30)
        assert r2.code == 250 and r2.queue_id(), r2
    q = tls_relay.dump_by_id()
    assert content_of(q[r1.queue_id()]).encode() == big
    assert content_of(q[r2.queue_id()]).encode("utf-8") == chunk + chunk


def test_concurrent_starttls_sessions(tls_relay):
    import smtplib
    import ssl
    import threading
    results, errors = [], []
    lock = threading.Lock()

    def worker(tid):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with smtplib.SMTP(tls_relay.host, tls_relay.port, local_hostname=f"t{tid}.test",
                              timeout=30) as s:
                s.starttls(context=ctx)
                s.ehlo()
                for n in range(8):
                    body = (b"Subject: tls %d/%d\r\n\r\n" % (tid, n)
                            + (b"line %d-%d\r\n" % (tid, n)) * (2000 * (n + 1)))
                    assert s.mail(f"t{tid}@x.example")[0] == 250
                    assert s.rcpt("r@y.example")[0] == 250
                    code, text = s.data(body)
                    assert code == 250, text
                    with lock:
                        results.append((text.decode().rsplit(" ", 1)[-1], body))
        except Exception as e:  # reported below
            with lock:
                errors.append(f"thread {tid}: {e!r}")

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == 48
    q = tls_relay.dump_by_id()
    for qid, body in results:
        assert content_of(q[qid]).encode() == body
        assert q[qid]["client"]["tls_protocol"].startswith("TLSv1.")
