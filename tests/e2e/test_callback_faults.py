"""An exception at a callback boundary of the inbound server fails one session, never the
relay.

Each relay here runs with SECMX_TEST_INJECT_THROW naming one point of the server, which
throws the first time it is reached. The client of that session gets 421 (or sees the
connection close), the log has one `S<n> event=exception where=...` line carrying that
session's id, and the very next session is served normally: the process stayed up."""
import re

from relaytest import simple_message


def faulty_relay(make_relay, point: str):
    relay = make_relay(start=False)
    relay.env["SECMX_TEST_INJECT_THROW"] = point
    return relay.start()


def session_id(relay, conn) -> str:
    """The relay's id ("S3") of the session behind conn, found by the client's port."""
    port = conn.sock.getsockname()[1]
    m = relay.wait_log(rf"(S\d+) connect from \[127\.0\.0\.1\]:{port}\b")
    return m.group(1)


def assert_next_session_served(relay, subject: str) -> str:
    with relay.session() as c:
        r = c.send_message("s@x.example", ["r@y.example"], simple_message(subject))
        assert r.code == 250, r
        qid = r.queue_id()
        c.expect("QUIT", 221)
    relay.wait_log(rf"{qid}: queued ")
    assert qid in relay.dump_by_id()
    assert relay.running()
    return qid


def test_throw_in_read_fails_that_session_only(make_relay):
    relay = faulty_relay(make_relay, "server.read:1")
    with relay.connect() as c:
        c.banner()
        sid = session_id(relay, c)
        r = c.cmd("EHLO client.test")
        assert r.code == 421 and "internal error" in r.text, r
        c.wait_closed()
    relay.wait_log(rf"{sid} event=exception where=read what=injected fault at server\.read")
    relay.wait_log(rf"{sid} disconnect from \[127\.0\.0\.1\]")
    assert_next_session_served(relay, "after a read fault")
    assert len(re.findall(r"event=exception", relay.log())) == 1


def test_throw_when_the_commit_answers_fails_that_session_only(make_relay):
    relay = faulty_relay(make_relay, "server.commit:1")
    with relay.session() as c:
        sid = session_id(relay, c)
        port = c.sock.getsockname()[1]
        r = c.send_message("s@x.example", ["r@y.example"], simple_message("first"))
        assert (r.code, r.enhanced()) == (421, "4.3.0"), r
        c.wait_closed()
    relay.wait_log(rf"{sid} event=exception where=commit what=injected fault at server\.commit")
    # The commit had answered before the throw: the message is on disk and its queued
    # line is there, although its client saw 421 and will send it again.
    first = relay.wait_log(rf"(\w+): queued client=\[127\.0\.0\.1\]:{port} ").group(1)
    second = assert_next_session_served(relay, "after a commit fault")
    assert {first, second} <= set(relay.dump_by_id())


def test_throw_while_accepting_fails_that_connection_only(make_relay):
    relay = faulty_relay(make_relay, "server.accept:1")
    with relay.connect() as c:
        r = c.reply()
        assert r.code == 421 and "internal error" in r.text, r
        sid = session_id(relay, c)
        c.wait_closed()
    relay.wait_log(rf"{sid} event=exception where=accept what=injected fault at server\.accept")
    assert_next_session_served(relay, "after an accept fault")
