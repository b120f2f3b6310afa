"""SMTP smuggling (2023 advisories): a bare LF or bare CR in DATA or BDAT content must not
end the message early nor let smuggled commands run. The data goes on to the real
CRLF.CRLF, then exactly one 550 5.5.2 reply comes, nothing is stored, and the session
continues."""
import pytest

from relaytest import content_of

SMUGGLED = (b"MAIL FROM:<ceo@victim.example>\r\n"
            b"RCPT TO:<target@elsewhere.example>\r\n"
            b"DATA\r\n"
            b"From: ceo@victim.example\r\nSubject: smuggled\r\n\r\nwire money\r\n")

VARIANTS = {
    "lf-dot-lf": b"\n.\n",
    "crlf-dot-lf": b"\r\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "cr-dot-crlf": b"\r.\r\n",
    "crlf-dot-cr": b"\r\n.\r",
    "cr-dot-cr": b"\r.\r",
}


def _open_data(c):
    """MAIL, RCPT and DATA pipelined in one write on a fresh session."""
    c.send("MAIL FROM:<alice@x.example>\r\nRCPT TO:<bob@y.example>\r\nDATA\r\n")
    assert [c.reply().code for _ in range(3)] == [250, 250, 354]


@pytest.mark.parametrize("marker", list(VARIANTS.values()), ids=list(VARIANTS))
def test_bare_line_ending_smuggling_in_data(relay, marker):
    with relay.session() as c:
        _open_data(c)
        c.send(b"From: alice@x.example\r\nSubject: innocent\r\n\r\nhello" + marker
               + SMUGGLED + b".\r\n")
        r = c.reply()
        assert (r.code, r.enhanced()) == (550, "5.5.2"), r
        assert "bare" in r.text.lower(), r
        # Exactly one reply for the whole DATA: the next reply must be HELP's.
        c.sync()
        # The session continues and can still send a good message.
        ok = c.send_message("alice@x.example", ["bob@y.example"],
                            b"Subject: good\r\n\r\nfine\r\n")
        assert ok.code == 250, ok
    q = relay.dump()
    assert [m["id"] for m in q] == [ok.queue_id()], q
    assert q[0]["sender"] == "alice@x.example"
    assert content_of(q[0]) == "Subject: good\r\n\r\nfine\r\n"


@pytest.mark.parametrize("where", ["header", "body", "last-line"])
@pytest.mark.parametrize("bad", [b"\n", b"\r"], ids=["bare-lf", "bare-cr"])
def test_single_bare_line_ending_rejects_message(relay, where, bad):
    parts = {
        "header": b"Subject: a" + bad + b"X-Other: b\r\n\r\nbody\r\n",
        "body": b"Subject: a\r\n\r\nline one" + bad + b"line two\r\n",
        "last-line": b"Subject: a\r\n\r\nend" + bad + b"\r\n",
    }
    with relay.session() as c:
        _open_data(c)
        c.send(parts[where] + b".\r\n")
        r = c.reply()
        assert (r.code, r.enhanced()) == (550, "5.5.2"), r
        c.sync()
    assert relay.dump() == []


def test_smuggling_with_pipelined_commands_in_one_write(relay):
    """Everything, including the smuggled transaction and the real end, in one packet."""
    with relay.session() as c:
        c.send(b"MAIL FROM:<alice@x.example>\r\nRCPT TO:<bob@y.example>\r\nDATA\r\n"
               b"Subject: innocent\r\n\r\nhello\n.\n" + SMUGGLED + b".\r\nHELP\r\n")
        codes = [c.reply().code for _ in range(5)]
        assert codes == [250, 250, 354, 550, 214], codes
    assert relay.dump() == []


def test_bdat_with_bare_lf_is_rejected(relay):
    with relay.session() as c:
        c.open_transaction("alice@x.example", ["bob@y.example"], data=False)
        chunk = b"Subject: bdat\r\n\r\nhello\n.\nMAIL FROM:<evil@x.example>\r\n"
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        r = c.reply()
        assert (r.code, r.enhanced()) == (550, "5.5.2"), r
        c.sync()
        # Bare CR split across two chunks: "...\r" | "x..." is still a bare CR.
        c.open_transaction("alice@x.example", ["bob@y.example"], data=False)
        c1, c2 = b"Subject: split\r\n\r\nab\r", b"cd\r\n"
        c.send(b"BDAT %d\r\n" % len(c1) + c1)
        r = c.reply()
        assert r.code == 250, r
        c.send(b"BDAT %d LAST\r\n" % len(c2) + c2)
        r = c.reply()
        assert (r.code, r.enhanced()) == (550, "5.5.2"), r
        c.sync()
    assert relay.dump() == []
