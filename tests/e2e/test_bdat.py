"""CHUNKING (RFC 3030): BDAT chunks are stored byte-exact, without dot-unstuffing."""
import re

from relaytest import content_of

OCTETS = re.compile(r"^2\.0\.0 Ok: (\d+) octets received$")


def _start(c):
    """On a fresh session: CHUNKING offered, a transaction open for BDAT."""
    assert "CHUNKING" in [l.upper() for l in c.ehlo_reply.lines[1:]]
    c.open_transaction("alice@x.example", ["bob@y.example"], data=False)


def test_bdat_chunks_stored_byte_exact(relay):
    chunks = [
        "Subject: chunked\r\nX-Note: Grüße\r\n\r\n".encode(),
        b"..two dots stay two dots\r\n.\r\n",  # no end marker inside BDAT
        "line with 8-bit ✓ and a split CR".encode() + b"\r",
        b"\nsplit CRLF across chunks worked\r\n",
        b"",
        b"last\r\n",
    ]
    expected = b"".join(chunks)
    with relay.session() as c:
        _start(c)
        total = 0
        for chunk in chunks[:-1]:
            c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
            r = c.reply()
            total += len(chunk)
            m = OCTETS.match(r.lines[0])
            assert r.code == 250 and m, r
            assert int(m.group(1)) in (len(chunk), total), r
        c.send(b"BDAT %d LAST\r\n" % len(chunks[-1]) + chunks[-1])
        r = c.reply()
        assert (r.code, r.enhanced()) == (250, "2.0.0") and r.queue_id(), r
        qid = r.queue_id()
    [m] = relay.dump()
    assert m["id"] == qid
    assert content_of(m).encode("utf-8") == expected
    relay.wait_log(rf"{qid}: queued .* nrcpt=1 ")


def test_bdat_pipelined_in_one_write(relay):
    c1 = b"Subject: one write\r\n\r\n"
    c2 = b"body\r\n"
    with relay.session() as c:
        c.send(b"MAIL FROM:<alice@x.example> BODY=BINARYMIME\r\nRCPT TO:<bob@y.example>\r\n"
               + b"BDAT %d\r\n" % len(c1) + c1 + b"BDAT %d LAST\r\n" % len(c2) + c2
               + b"NOOP\r\n")
        replies = [c.reply() for _ in range(5)]
        assert [r.code for r in replies] == [250, 250, 250, 250, 250], replies
        assert replies[3].queue_id(), replies
        assert replies[4].lines == ["2.0.0 Ok"], replies
    [m] = relay.dump()
    assert m["body_type"] == "BINARYMIME"
    assert content_of(m).encode() == c1 + c2


def test_bdat_last_only_and_zero_length_last(relay):
    body = b"Subject: single\r\n\r\nonly chunk\r\n"
    with relay.session() as c:
        _start(c)
        c.send(b"BDAT %d LAST\r\n" % len(body) + body)
        r1 = c.reply()
        assert r1.code == 250 and r1.queue_id(), r1
        c.open_transaction("alice@x.example", ["bob@y.example"], data=False)
        c.send(b"BDAT %d\r\n" % len(body) + body)
        assert c.reply().code == 250
        r2 = c.cmd("BDAT 0 LAST")
        assert r2.code == 250 and r2.queue_id(), r2
    q = relay.dump()
    assert [m["id"] for m in q] == [r1.queue_id(), r2.queue_id()]
    assert all(content_of(m).encode() == body for m in q)


def test_bdat_without_transaction_consumes_chunk(relay):
    """A chunk that cannot be accepted is still read (the session stays in step)."""
    junk = b"RSET\r\nQUIT\r\n"  # must be treated as chunk data, not commands
    with relay.session() as c:
        c.send(b"BDAT %d LAST\r\n" % len(junk) + junk)
        r = c.reply()
        assert r.code == 503, r
        c.sync()
    assert relay.dump() == []


def test_data_after_bdat_refused(relay):
    with relay.session() as c:
        _start(c)
        c.send(b"BDAT 5\r\nhello")
        assert c.reply().code == 250
        r = c.cmd("DATA")
        assert r.code == 503, r
        c.expect("RSET", 250)
        c.sync()
    assert relay.dump() == []


def test_bdat_content_above_limit(relay):
    chunk = b"x" * 998 + b"\r\n"
    with relay.session() as c:
        _start(c)
        block = chunk * 600  # ~600 KB per BDAT
        codes = []
        c.send(b"BDAT %d\r\n" % len(block) + block)
        codes.append(c.reply(timeout=30))
        c.send(b"BDAT %d LAST\r\n" % len(block) + block)
        codes.append(c.reply(timeout=30))
        assert any((r.code, r.enhanced()) == (552, "5.3.4") for r in codes), codes
        assert all(r.code != 250 or not r.queue_id() for r in codes), codes
        c.expect("RSET", 250)
        c.sync()
    assert relay.dump() == []
