"""Raw-socket protocol tests: the exact bytes a client library would tidy up."""
import re
import time


from relaytest import (HOSTNAME, ConnectionClosed, SmtpConn, content_of, render_toml,
                       simple_message, wait_until)

ENH = re.compile(r"^\d\.\d{1,3}\.\d{1,3} ")


def test_banner_and_ehlo_keywords(relay):
    with relay.connect() as c:
        b = c.banner()
        assert b.lines == [f"{HOSTNAME} ESMTP secmx-relay"]
        r = c.ehlo()
        assert r.lines[0].startswith(HOSTNAME)
        kw = [l.split(" ")[0].upper() for l in r.lines[1:]]
        for k in ("PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN",
                  "CHUNKING"):
            assert k in kw, r
        assert "SIZE 1048576" in r.lines
        # No certificate configured: no STARTTLS; no TLS: no REQUIRETLS.
        assert "STARTTLS" not in kw and "REQUIRETLS" not in kw, r
        assert c.cmd("STARTTLS").code == 502
        c.expect("QUIT", 221, "2.0.0")
        c.wait_closed()


def test_simple_commands(relay):
    with relay.session() as c:
        assert c.cmd("NOOP").code == 250
        assert c.cmd("VRFY postmaster").code == 252
        assert c.cmd("HELP").code == 214
        r = c.cmd("FROBNICATE now")
        assert (r.code, r.enhanced()) == (500, "5.5.2"), r
        r = c.cmd("RCPT TO:<a@b.example>")
        assert r.code == 503, r
        r = c.cmd("DATA")
        assert r.code == 503, r
        assert c.cmd("RSET").code == 250
        c.expect("QUIT", 221)
        assert c.wait_closed() == b""


def test_commands_before_helo(relay):
    with relay.connect() as c:
        c.banner()
        r = c.cmd("MAIL FROM:<a@x.example>")
        assert r.code == 503, r
        assert c.cmd("EHLO").code == 501  # a name is required
        c.ehlo()
        c.expect("MAIL FROM:<a@x.example>", 250, "2.1.0")


def test_pipelining_replies_in_order(relay):
    with relay.session() as c:
        c.send("MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n"
               "RCPT TO:<c@y.example>\r\nDATA\r\n")
        replies = [c.reply() for _ in range(4)]
        assert [(r.code, r.enhanced()) for r in replies] == [
            (250, "2.1.0"), (250, "2.1.5"), (250, "2.1.5"), (354, None)], replies
        # The content, its end, and a whole second transaction, in one write.
        c.send("Subject: one\r\n\r\nfirst\r\n.\r\n"
               "MAIL FROM:<a2@x.example>\r\nRCPT TO:<bad\r\nRCPT TO:<d@y.example>\r\nDATA\r\n")
        r1 = c.reply()
        assert r1.code == 250 and r1.queue_id(), r1
        rest = [c.reply() for _ in range(4)]
        assert [r.code for r in rest] == [250, 501, 250, 354], rest
        c.send("Subject: two\r\n\r\nsecond\r\n.\r\nQUIT\r\n")
        r2 = c.reply()
        assert r2.code == 250 and r2.queue_id(), r2
        assert c.reply().code == 221
        c.wait_closed()
    q = relay.dump()
    assert [m["id"] for m in q] == [r1.queue_id(), r2.queue_id()]
    assert q[0]["sender"] == "a@x.example"
    assert [x["address"] for x in q[0]["recipients"]] == ["b@y.example", "c@y.example"]
    assert content_of(q[0]) == "Subject: one\r\n\r\nfirst\r\n"
    assert q[1]["sender"] == "a2@x.example"
    assert [x["address"] for x in q[1]["recipients"]] == ["d@y.example"]
    assert content_of(q[1]) == "Subject: two\r\n\r\nsecond\r\n"


def test_helo_session_has_no_enhanced_codes(relay):
    with relay.connect() as c:
        c.banner()
        r = c.cmd("HELO client.test")
        assert r.code == 250 and r.lines == [HOSTNAME], r
        replies = []
        for line in ("MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>", "NOOP"):
            replies.append(c.cmd(line))
        r = c.cmd("MAIL FROM:<a@x.example>")  # nested MAIL: an error reply
        replies.append(r)
        assert r.code == 503
        assert c.cmd("DATA").code == 354
        c.send("Subject: helo\r\n\r\nplain SMTP\r\n.\r\n")
        end = c.reply()
        replies.append(end)
        assert end.code == 250 and end.queue_id(), end
        r = c.cmd("MAIL FROM:<a@x.example> SIZE=10")  # no ESMTP parameters after HELO
        assert r.code in (501, 555), r
        replies.append(r)
        for r in replies:
            assert not ENH.match(r.lines[0]), f"enhanced code after HELO: {r}"
        assert end.lines[0].startswith("Ok: queued as "), end
    [m] = relay.dump()
    assert m["client"]["helo"] == "client.test"
    assert f"with SMTP id {m['id']}" in m["body"]


def test_unknown_mail_parameter(relay):
    with relay.session() as c:
        r = c.cmd("MAIL FROM:<a@x.example> FOO=BAR")
        assert (r.code, r.enhanced()) == (555, "5.5.4"), r
        c.expect("MAIL FROM:<a@x.example>", 250)


def test_size_parameter_above_limit_rejected_at_mail(relay):
    with relay.session() as c:
        r = c.cmd("MAIL FROM:<a@x.example> SIZE=%d" % (1024 * 1024 + 1))
        assert (r.code, r.enhanced()) == (552, "5.3.4"), r
        c.expect("MAIL FROM:<a@x.example> SIZE=%d" % (1024 * 1024 - 4096), 250)
    assert relay.dump() == []


def test_content_above_limit_rejected_at_end_of_data(relay):
    line = b"x" * 998 + b"\r\n"
    big = b"Subject: big\r\n\r\n" + line * (1100 * 1024 // len(line))
    assert len(big) > 1024 * 1024
    with relay.session() as c:
        c.open_transaction("a@x.example", ["b@y.example"])
        c.send(big + b".\r\n")
        r = c.reply(timeout=30)
        assert (r.code, r.enhanced()) == (552, "5.3.4"), r
        c.sync()  # exactly one reply for the whole DATA; the session goes on
        r = c.send_message("a@x.example", ["b@y.example"], b"Subject: small\r\n\r\nok\r\n")
        assert r.code == 250, r
    q = relay.dump()
    assert [m["id"] for m in q] == [r.queue_id()]


def test_dot_stuffing_round_trip(relay):
    wire = (b"Subject: dots\r\n\r\n"
            b"..one leading dot\r\n"
            b"...two leading dots\r\n"
            b"..\r\n"
            b"middle . dot\r\n"
            b". space\r\n"  # a single dot not followed by CRLF is not stuffing
            b"end\r\n")
    stored = (b"Subject: dots\r\n\r\n"
              b".one leading dot\r\n"
              b"..two leading dots\r\n"
              b".\r\n"
              b"middle . dot\r\n"
              b" space\r\n"
              b"end\r\n")
    with relay.session() as c:
        r = c.send_message("a@x.example", ["b@y.example"], wire)
        assert r.code == 250, r
    [m] = relay.dump()
    assert content_of(m).encode() == stored


def test_empty_message_and_no_trailing_crlf_headers(relay):
    with relay.session() as c:
        c.open_transaction("a@x.example", ["b@y.example"])
        c.send(b".\r\n")
        r = c.reply()
        assert r.code == 250, r
    [m] = relay.dump()
    assert content_of(m) == ""


def test_command_line_too_long(relay):
    with relay.session() as c:
        r = c.cmd("NOOP " + "x" * 2000)
        assert (r.code, r.enhanced()) == (500, "5.5.2"), r
        # A line far longer than any buffer: still one reply, and the session goes on.
        r = c.cmd("MAIL FROM:<" + "y" * 200_000 + "@x.example>")
        assert (r.code, r.enhanced()) == (500, "5.5.2"), r
        c.sync()
        c.expect("MAIL FROM:<a@x.example>", 250)


def test_too_many_errors_disconnects(make_relay):
    relay = make_relay(overrides={"smtp": {"max_errors": 3}})
    with relay.session() as c:
        codes = []
        for _ in range(6):
            try:
                c.send("BOGUS\r\n")
                r = c.reply()
            except (ConnectionClosed, BrokenPipeError, ConnectionResetError):
                break
            codes.append((r.code, r.enhanced()))
            if r.code == 421:
                break
        assert codes[-1] == (421, "4.7.0"), codes
        assert codes[:-1].count((500, "5.5.2")) in (2, 3), codes
        c.wait_closed()


def test_command_timeout(make_relay):
    relay = make_relay(overrides={"smtp": {"command_timeout": "2s"}})
    with relay.session() as c:
        t0 = time.monotonic()
        r = c.reply(timeout=15)
        elapsed = time.monotonic() - t0
        assert (r.code, r.enhanced()) == (421, "4.4.2"), r
        assert "timeout exceeded" in r.text
        assert 1.5 <= elapsed <= 10, elapsed
        c.wait_closed()


def test_data_timeout_stores_nothing(make_relay):
    relay = make_relay(overrides={"smtp": {"data_timeout": "2s"}})
    with relay.session() as c:
        c.open_transaction("a@x.example", ["b@y.example"])
        c.send("Subject: slow\r\n\r\npartial content")
        r = c.reply(timeout=15)
        assert (r.code, r.enhanced()) == (421, "4.4.2"), r
        c.wait_closed()
    assert relay.dump() == []


def test_connection_limit_per_client(make_relay):
    relay = make_relay(overrides={"smtp": {"max_connections_per_client": 2}})
    a, b = relay.connect(), relay.connect()
    try:
        a.banner()
        b.banner()
        with relay.connect() as third:
            refusal = third.reply()
            assert refusal.code == 421, refusal
            third.wait_closed()
        # Another client address is not affected.
        with relay.connect(source="127.0.0.2") as other:
            other.banner()
        # When one of the two leaves, a new connection is welcome again (the server
        # notices the close asynchronously: poll, bounded).
        a.cmd("QUIT")
        a.wait_closed()

        def welcomed():
            with relay.connect() as c:
                return c.reply().code == 220
        wait_until(welcomed, 10, "a 220 after a connection slot was freed", interval=0.1)
        b.ehlo()  # the surviving session is untouched
    finally:
        a.close()
        b.close()
    # The interface promises the enhanced code at greeting too (as Postfix sends it).
    assert refusal.enhanced() == "4.7.0", refusal


def test_relay_denied_from_outside_relay_networks(make_relay):
    relay = make_relay(overrides={"smtp": {"relay_networks": ["127.0.0.1/32"]}})
    with relay.session(source="127.0.0.2") as c:
        c.expect("MAIL FROM:<a@x.example>", 250)
        r = c.cmd("RCPT TO:<b@y.example>")
        assert (r.code, r.enhanced()) == (550, "5.7.1"), r
        assert r.lines[0] == "5.7.1 <b@y.example>: Relay access denied", r
        r = c.cmd("DATA")
        assert r.code in (503, 554), r
        c.sync()
    with relay.session(source="127.0.0.1") as c:
        r = c.send_message("a@x.example", ["b@y.example"], simple_message("inside"))
        assert r.code == 250, r
    q = relay.dump()
    assert [m["id"] for m in q] == [r.queue_id()]
    assert q[0]["client"]["address"] == "127.0.0.1"
    relay.wait_log(r"Relay access denied")


def test_max_recipients(make_relay):
    relay = make_relay(overrides={"smtp": {"max_recipients": 3}})
    with relay.session() as c:
        c.open_transaction("a@x.example", [f"r{i}@y.example" for i in range(3)], data=False)
        r = c.cmd("RCPT TO:<r3@y.example>")
        assert r.code == 452, r
        c.expect("DATA", 354)
        c.send("Subject: three\r\n\r\nx\r\n.\r\n")
        assert c.reply().code == 250
    [m] = relay.dump()
    assert len(m["recipients"]) == 3


def test_sigterm_with_open_session_exits_cleanly(relay):
    with relay.session() as c:
        t0 = time.monotonic()
        relay.proc.send_signal(15)
        rc = relay.proc.wait(timeout=10)
        assert rc == 0
        assert time.monotonic() - t0 < 5
        rest = c.wait_closed()
        # A session idle in command state is told why it ends.
        assert rest == b"" or rest.startswith(b"421 "), rest


def test_size_limit_boundaries(relay):
    limit = 1024 * 1024
    with relay.session() as c:
        c.expect(f"MAIL FROM:<a@x.example> SIZE={limit}", 250)
        c.expect("RSET", 250)
        # Content of exactly the limit is accepted, one octet more is not.
        head = b"Subject: exact\r\n\r\n"
        line = b"z" * 510 + b"\r\n"
        body = head + line * ((limit - len(head)) // len(line))
        body += b"q" * (limit - len(body) - 2) + b"\r\n"
        assert len(body) == limit
        r = c.send_message("a@x.example", ["b@y.example"], body)
        assert r.code == 250, r
        over = body[:-2] + b"q\r\n"
        r2 = c.send_message("a@x.example", ["b@y.example"], over)
        assert (r2.code, r2.enhanced()) == (552, "5.3.4"), r2
    [m] = relay.dump()
    assert m["id"] == r.queue_id()
    assert content_of(m).encode() == body


def test_end_of_data_marker_split_across_writes(relay):
    """The DataReader must find CRLF.CRLF whatever the TCP segmentation."""
    import socket as _s
    content = (b"Subject: split\r\n\r\n" + b"..a\r\n" * 3 + b"tail")
    with relay.session() as c:
        c.sock.setsockopt(_s.IPPROTO_TCP, _s.TCP_NODELAY, 1)
        c.open_transaction("a@x.example", ["b@y.example"])
        for b in content + b"\r\n.\r\n":
            c.send(bytes([b]))
        r = c.reply()
        assert r.code == 250 and r.queue_id(), r
        c.sync()
    [m] = relay.dump()
    assert content_of(m).encode() == b"Subject: split\r\n\r\n" + b".a\r\n" * 3 + b"tail\r\n"


def test_large_message_with_dots_in_odd_writes(relay):
    import random
    rng = random.Random(1234)
    lines = []
    size = 0
    while size < 900 * 1024:
        n = rng.randrange(0, 998)
        s = bytes(rng.choice(b"abcdefghij. \t-=") for _ in range(n))
        if rng.random() < 0.05:
            s = b"." + s[:997]
        lines.append(s)
        size += len(s) + 2
    stored = b"Subject: big\r\n\r\n" + b"\r\n".join(lines) + b"\r\n"
    wire = b"Subject: big\r\n\r\n" + b"".join(
        (b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"
    with relay.session() as c:
        c.open_transaction("a@x.example", ["b@y.example"])
        pos = 0
        while pos < len(wire):
            step = rng.choice([1, 2, 3, 7, 1000, 4093, 65537])
            c.send(wire[pos:pos + step])
            pos += step
        r = c.reply(timeout=30)
        assert r.code == 250, r
    [m] = relay.dump()
    assert content_of(m).encode() == stored


def test_many_pipelined_commands_answered_in_order(relay):
    n = 3000
    with relay.session() as c:
        c.send(b"NOOP\r\nRSET\r\n" * n + b"HELP\r\n")
        for i in range(n):
            assert c.reply().lines == ["2.0.0 Ok"], i
            assert c.reply().code == 250, i
        assert c.reply().code == 214


def test_global_connection_limit(make_relay):
    relay = make_relay(overrides={"smtp": {"max_connections": 2,
                                           "max_connections_per_client": 2}})
    a, b = relay.connect(), relay.connect(source="127.0.0.2")
    try:
        a.banner()
        b.banner()
        with relay.connect(source="127.0.0.3") as third:
            r = third.reply()
            assert r.code == 421, r
            third.wait_closed()
        b.cmd("QUIT")
        b.wait_closed()

        def welcomed():
            with relay.connect(source="127.0.0.3") as c:
                return c.reply().code == 220
        wait_until(welcomed, 10, "a 220 after a connection slot was freed", interval=0.1)
    finally:
        a.close()
        b.close()


def test_client_disconnect_mid_data_stores_nothing(relay):
    with relay.session() as c:
        c.open_transaction("a@x.example", ["b@y.example"])
        c.send(b"Subject: cut\r\n\r\nhalf a message\r\n")
    relay.wait_log(r"lost connection after DATA")
    with relay.session():  # still serving: greeted, EHLO accepted
        pass
    assert relay.dump() == []


def test_rset_and_ehlo_reset_the_transaction(relay):
    with relay.session() as c:
        c.open_transaction("a@x.example", ["b@y.example"], data=False)
        c.expect("RSET", 250)
        assert c.cmd("DATA").code == 503
        c.open_transaction("a2@x.example", ["c@y.example"], data=False)
        c.ehlo()
        assert c.cmd("RCPT TO:<d@y.example>").code == 503
        r = c.send_message("a3@x.example", ["e@y.example"], b"Subject: r\r\n\r\nx\r\n")
        assert r.code == 250
    [m] = relay.dump()
    assert m["sender"] == "a3@x.example"
    assert [x["address"] for x in m["recipients"]] == ["e@y.example"]


def test_bdat_bad_size_closes_session(relay):
    with relay.session() as c:
        r = c.cmd("BDAT abc LAST")
        assert r.code == 501, r
        c.wait_closed()


def test_sigterm_during_data_stores_nothing(relay):
    with relay.session() as c:
        c.open_transaction("a@x.example", ["b@y.example"])
        c.send(b"Subject: interrupted\r\n\r\nnot finished\r\n")
        assert relay.stop(timeout=10) == 0
        c.wait_closed()
    assert relay.dump() == []


def test_control_characters_in_helo_do_not_reach_the_header(relay):
    with relay.connect() as c:
        c.banner()
        r = c.cmd(b"EHLO evil\x1b[31m\x00name\x7f.test")
        if r.code != 250:
            assert r.code == 501, r
            c.ehlo()
        r = c.send_message("a@x.example", ["b@y.example"], b"Subject: h\r\n\r\nx\r\n")
        assert r.code == 250, r
    [m] = relay.dump()
    received = m["body"].split("\r\n\r\n")[0]
    bad = [ch for ch in received if ord(ch) < 0x20 and ch not in "\t\r\n" or ord(ch) == 0x7f]
    assert not bad, repr(received)
    for l in received.split("\r\n")[1:]:
        assert l[:1] in (" ", "\t") or ":" in l, f"header line injected: {l!r}"


def test_malformed_paths_refused(relay):
    with relay.session() as c:
        for arg in ("MAIL FROM:a@x.example>", "MAIL FROM:<a@x.example", "MAIL FROM:<a@x.example> <b@y>",
                    "MAIL TO:<a@x.example>", "MAIL FROM:<a@@x.example>"):
            r = c.cmd(arg)
            assert 500 <= r.code < 600, (arg, r)
        c.expect("MAIL FROM:<a@x.example>", 250)
        for arg in ("RCPT TO:<>", "RCPT TO:b@y.example", "RCPT TO:<b@y.example",
                    "RCPT FROM:<b@y.example>"):
            r = c.cmd(arg)
            assert 500 <= r.code < 600, (arg, r)
        c.expect("RCPT TO:<b@y.example>", 250)


def test_nothing_runs_after_quit(relay):
    with relay.session() as c:
        c.send("NOOP\r\nQUIT\r\nMAIL FROM:<a@x.example>\r\nNOOP\r\n")
        assert c.reply().code == 250
        assert c.reply().code == 221
        assert c.wait_closed() == b""


def test_mail_parameter_values_are_checked(make_relay):
    relay = make_relay(overrides={"smtp": {"max_errors": 100}})
    with relay.session() as c:
        for params in ("SIZE=18446744073709551617",       # 2^64 + 1: must not wrap
                       "SIZE=99999999999999999999999999",
                       "SIZE=abc", "SIZE=-1", "BODY=9BITMIME", "RET=SOME",
                       "ENVID=bad+ZZxtext", "ENVID=" + "e" * 101):
            r = c.cmd(f"MAIL FROM:<a@x.example> {params}")
            assert 500 <= r.code < 600, (params, r)
            assert r.code != 250, (params, r)
        c.expect("MAIL FROM:<a@x.example> SIZE=10 BODY=8BITMIME RET=FULL ENVID=ok", 250)
        for params in ("ORCPT=rfc822;bad+ZZ", "ORCPT=noaddrtype", "NOTIFY=", "FOO=bar"):
            r = c.cmd(f"RCPT TO:<b@y.example> {params}")
            assert 500 <= r.code < 600, (params, r)
        c.expect("RCPT TO:<b@y.example>", 250)


def test_binarymime_requires_bdat(relay):
    with relay.session() as c:
        c.open_transaction("a@x.example", ["b@y.example"], mail_params="BODY=BINARYMIME",
                           data=False)
        r = c.cmd("DATA")
        assert r.code == 503, r
        c.sync()
    assert relay.dump() == []


def test_ipv6_client(make_relay):
    import socket as _s
    probe = _s.socket(_s.AF_INET6)
    probe.bind(("::1", 0))
    port6 = probe.getsockname()[1]
    probe.close()
    relay = make_relay(start=False)
    relay.config["smtp"]["listen"].append(f"[::1]:{port6}")
    relay.config_path.write_text(render_toml(relay.config))
    relay.start()
    relay.wait_log(rf"listening on \[::1\]:{port6}")
    with SmtpConn("::1", port6) as c:
        c.hello()
        r = c.send_message("a@x.example", ["b@y.example"], b"Subject: v6\r\n\r\nx\r\n")
        assert r.code == 250, r
    [m] = relay.dump()
    assert m["client"]["address"] == "::1"
    received = m["body"].split("\r\n\t")[0]
    # RFC 5321 4.1.3 / 4.4: an IPv6 address literal is written "[IPv6:...]".
    assert "([IPv6:::1])" in received, received
