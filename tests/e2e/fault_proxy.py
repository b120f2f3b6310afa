"""fault_proxy.py - a fault-injecting TCP proxy between the relay and a real receiver.

    proxy = FaultProxy("127.0.14.15", 25, upstream=("127.0.14.2", 25), name="mx.abort.test",
                       upstream_tls=True,
                       faults=[Fault("client_hello", "close"), Fault("client_hello", "rst")])
    with proxy:
        ...                                  # the relay delivers to 127.0.14.15:25
    c = proxy.conns[0]
    c.fired, c.cut, c.raced, c.tls           # what happened on the first connection
    c.cleartext_c2s()                        # every byte the client sent outside TLS

Each accepted connection gets the Fault at its index in `faults` (`then` once the list is
used up; by default pass-through) and one thread that forwards both directions. A Fault
is a trigger and an action:

  trigger         fires on
  "none"          never (pass-through)
  "banner"        the server's first reply (the greeting)
  "starttls_reply" the server's reply to STARTTLS
  "client_hello"  the client's first bytes after the server's 220 to STARTTLS
  "c2s_bytes"     the client's n-th byte of message content: counted from the 354 reply in
                  plaintext, from the 220 to STARTTLS under TLS (where the body dominates)
  "dot"           plaintext only: the client's "." that ends DATA (everything before it
                  has been forwarded; the "." line is not)
  "dot_reply"     the server's reply to the final ".": in plaintext the first reply after
                  the "." went through; under TLS the first server bytes after n client
                  bytes crossed since the handshake began (choose n above everything but the
                  body: after the body the only thing the server says is that reply)

  action          does
  "rst"           abort both connections with a TCP reset; the triggering bytes are dropped
  "close"         close both connections (FIN); the triggering bytes are dropped
  "forward_close" forward the triggering bytes, then close both (FIN)
  "forward_rst"   forward the triggering bytes, then reset both
  "hold"          drop the triggering bytes and everything the server says afterwards (a
                  reply later than any timeout); the client's bytes still go through, and
                  both connections close once the client gives up

strip_starttls=True removes STARTTLS from the server's EHLO reply (a man in the middle);
it applies whatever the trigger.

Recording: per connection (ProxyConn) every byte in each direction, split at the moment
the server's 220 to STARTTLS went through: before it is plaintext; after it the bytes are
parsed as TLS records, and anything in the client's stream that is not a well-formed
record counts as cleartext too (cleartext_c2s()). `tls` says whether the handshake
completed, judged from outside: after the 220 both sides exchanged application-data
records (the client's first, then the server's). `cut` says the proxy broke or stalled the
connection (the receiver looked unreachable to the client); `raced` says the server got
the final "." but its reply did not (or, reset right behind it, may not) reach the client:
a retry then delivers a duplicate.

Contract: everything stays on loopback; a proxy owns its listening socket and its threads
and stop() (or leaving the with block) joins them, bounded. Waits are bounded polls.
"""
from __future__ import annotations

import re
import select
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from relaytest import wait_until

TRIGGERS = ("none", "banner", "starttls_reply", "client_hello", "c2s_bytes", "dot",
            "dot_reply")
ACTIONS = ("pass", "rst", "close", "forward_close", "forward_rst", "hold")

_REPLY_END_RE = re.compile(rb"^\d{3}(?: |\r?$)")
_STARTTLS_LINE_RE = re.compile(rb"^250[ -]STARTTLS\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Fault:
    trigger: str = "none"
    action: str = "pass"
    n: int = 0                   # byte count for c2s_bytes and (under TLS) dot_reply
    strip_starttls: bool = False

    def __post_init__(self):
        if self.trigger not in TRIGGERS:
            raise ValueError(f"trigger {self.trigger!r}")
        if self.action not in ACTIONS:
            raise ValueError(f"action {self.action!r}")
        if (self.trigger == "none") != (self.action == "pass"):
            raise ValueError("a trigger needs an action and an action a trigger")

    def __str__(self):
        parts = [] if self.trigger == "none" else [f"{self.action}@{self.trigger}"
                                                   + (f"[{self.n}]" if self.n else "")]
        if self.strip_starttls:
            parts.append("strip-starttls")
        return "+".join(parts) or "pass"


PASS = Fault()
MITM = Fault(strip_starttls=True)


class _TlsRecords:
    """Splits one direction of a TLS stream into records; what does not parse is kept."""

    def __init__(self):
        self.buf = b""
        self.types: list[int] = []
        self.garbage = b""   # bytes that are not TLS records (and everything after them)
        self.broken = False

    def feed(self, data: bytes) -> list[int]:
        if self.broken:
            self.garbage += data
            return []
        self.buf += data
        new = []
        while len(self.buf) >= 5:
            ctype, major, minor, length = self.buf[0], self.buf[1], self.buf[2], \
                struct.unpack(">H", self.buf[3:5])[0]
            if ctype not in (20, 21, 22, 23, 24) or major != 3 or minor > 4 or length > 18432:
                self.broken = True
                self.garbage += self.buf
                self.buf = b""
                return new
            if len(self.buf) < 5 + length:
                break
            self.buf = self.buf[5 + length:]
            new.append(ctype)
        self.types += new
        return new


@dataclass
class ProxyConn:
    """What crossed one proxied connection."""
    index: int
    fault: Fault
    t_start: float = field(default_factory=time.time)
    t_end: float | None = None
    c2s_clear: bytearray = field(default_factory=bytearray)  # client -> server, before TLS
    s2c_clear: bytearray = field(default_factory=bytearray)
    c2s_tls: bytearray = field(default_factory=bytearray)    # after the 220 to STARTTLS
    s2c_tls: bytearray = field(default_factory=bytearray)
    starttls_stripped: bool = False   # STARTTLS removed from an EHLO reply
    starttls_sent: bool = False       # the client asked for STARTTLS
    starttls_accepted: bool = False   # the server's 220 went through: TLS phase began
    tls: bool = False                 # the handshake completed (seen from outside)
    fired: str | None = None          # the fault that fired, as "action@trigger"
    cut: bool = False
    raced: bool = False
    upstream_error: str | None = None
    closed: bool = False

    def cleartext_c2s(self) -> bytes:
        """Everything the client sent that was not inside a TLS record."""
        return bytes(self.c2s_clear) + self._c2s_records.garbage

    def data_in_clear(self) -> bool:
        """A DATA or BDAT command crossed in cleartext."""
        return re.search(rb"(?im)^(DATA|BDAT)\b", self.cleartext_c2s()) is not None

    def summary(self) -> dict:
        return {"index": self.index, "fault": str(self.fault), "fired": self.fired,
                "tls": self.tls, "cut": self.cut, "raced": self.raced,
                "starttls_stripped": self.starttls_stripped,
                "c2s_clear": len(self.c2s_clear), "c2s_tls": len(self.c2s_tls),
                "s2c_clear": len(self.s2c_clear), "s2c_tls": len(self.s2c_tls),
                "data_in_clear": self.data_in_clear()}

    def __post_init__(self):
        self._c2s_records = _TlsRecords()
        self._s2c_records = _TlsRecords()
        self._client_appdata = False


class _Abort(Exception):
    pass


class FaultProxy:
    """Listens on host:port, forwards each connection to `upstream`; see the module doc."""

    def __init__(self, host: str, port: int, upstream: tuple[str, int], name: str = "",
                 upstream_tls: bool = False, faults: list[Fault] | None = None,
                 then: Fault = PASS, max_hold: float = 60.0):
        self.host, self.port = host, port
        self.upstream = upstream
        self.name = name or host
        self.upstream_tls = upstream_tls   # the receiver behind offers STARTTLS
        self.faults = list(faults or [])
        self.then = then
        self.max_hold = max_hold
        self.conns: list[ProxyConn] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(32)
        self._sock.settimeout(0.1)
        self._accept = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"proxy-{self.name}")

    # -- lifetime ------------------------------------------------------------------

    def start(self) -> "FaultProxy":
        self._accept.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._accept.is_alive():
            self._accept.join(timeout)
        for t in list(self._threads):
            t.join(timeout)
        self._sock.close()

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- observing -------------------------------------------------------------------

    def fault_for(self, index: int) -> Fault:
        return self.faults[index] if index < len(self.faults) else self.then

    def wait_conns(self, count: int, timeout: float = 30.0) -> list[ProxyConn]:
        """Waits until `count` connections have ended."""
        def done():
            with self._lock:
                ended = [c for c in self.conns if c.closed]
            return ended if len(ended) >= count else None
        return wait_until(done, timeout, f"{count} finished connection(s) at proxy {self.name}")

    # -- the work --------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            with self._lock:
                conn = ProxyConn(len(self.conns), self.fault_for(len(self.conns)))
                self.conns.append(conn)
            t = threading.Thread(target=self._serve, args=(client, conn), daemon=True,
                                 name=f"proxy-{self.name}-{conn.index}")
            self._threads.append(t)
            t.start()

    def _serve(self, client: socket.socket, conn: ProxyConn) -> None:
        server = None
        try:
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError as e:
                conn.upstream_error = str(e)
                return
            _Session(self, conn, client, server).run()
        except _Abort:
            pass
        except OSError:
            pass
        finally:
            for s in (client, server):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
            conn.t_end = time.time()
            conn.closed = True


class _Session:
    """The forwarding loop of one connection, with its fault's trigger and action.

    In plaintext the client's command lines are queued (PIPELINING sends MAIL, RCPT and
    DATA at once) and each server reply after the greeting answers the oldest one; the
    final "." of a message is queued as the command "." when it goes through."""

    def __init__(self, proxy: FaultProxy, conn: ProxyConn, client: socket.socket,
                 server: socket.socket):
        self.p, self.c = proxy, conn
        self.f = conn.fault
        self.client, self.server = client, server
        for s in (client, server):
            s.settimeout(10)
        self.tls_phase = False
        self.s2c_lines = b""        # plaintext server bytes not yet a whole line
        self.reply_lines: list[bytes] = []
        self.c2s_lines = b""        # plaintext client bytes not yet a whole line
        self.commands: deque[bytes] = deque()  # client verbs not answered yet
        self.replies = 0
        self.body = False           # between the 354 and the final "."
        self.body_prev = b"\r\n"    # the last two body bytes forwarded
        self.body_hold = b""        # a possible start of the terminator, not forwarded yet
        self.body_bytes = 0         # content bytes (plaintext) since the 354
        self.tls_c2s_bytes = 0      # client bytes since the 220 to STARTTLS
        self.holding = False
        self.hold_until = 0.0
        self.eof_client = self.eof_server = False

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        while not self.p._stop.is_set():
            if self.eof_client and (self.eof_server or self.holding):
                return
            if self.holding and time.monotonic() > self.hold_until:
                return
            socks = [s for s, eof in ((self.client, self.eof_client),
                                      (self.server, self.eof_server)) if not eof]
            readable, _, _ = select.select(socks, [], [], 0.1)
            for s in readable:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if s is self.client:
                    if not data:
                        self.eof_client = True
                        self._shutdown(self.server)
                    else:
                        self._from_client(data)
                else:
                    if not data:
                        self.eof_server = True
                        if not self.holding:
                            self._shutdown(self.client)
                    else:
                        self._from_server(data)

    @staticmethod
    def _shutdown(s: socket.socket) -> None:
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _fire(self, trigger: str, data: bytes, to: socket.socket) -> None:
        """Forwards `data`, unless the trigger matches: then does the fault's action (and
        raises _Abort when that ends the connection)."""
        c, f = self.c, self.f
        if f.trigger != trigger or c.fired:
            return self._send(to, data)
        c.fired = f"{f.action}@{trigger}"
        c.cut = True
        if trigger == "dot_reply" and f.action != "forward_close":
            c.raced = True
        if f.action in ("forward_close", "forward_rst"):
            self._send(to, data)
            self._close_both(reset=f.action == "forward_rst")
        elif f.action in ("rst", "close"):
            self._close_both(reset=f.action == "rst")
        elif f.action == "hold":
            self.holding = True
            self.hold_until = time.monotonic() + self.p.max_hold

    def _close_both(self, reset: bool) -> None:
        for s in (self.client, self.server):
            try:
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        raise _Abort()

    def _send(self, to: socket.socket, data: bytes) -> None:
        if not data or (to is self.client and self.holding):
            return
        try:
            to.sendall(data)
        except OSError:
            if to is self.client:
                self.eof_client = True
            else:
                self.eof_server = True

    # -- client to server --------------------------------------------------------------

    def _from_client(self, data: bytes) -> None:
        c, f = self.c, self.f
        if self.tls_phase:
            first = self.tls_c2s_bytes == 0
            c.c2s_tls += data
            if 23 in c._c2s_records.feed(data):
                c._client_appdata = True
            if first and f.trigger == "client_hello":
                self.tls_c2s_bytes += len(data)
                return self._fire("client_hello", data, self.server)
            if f.trigger == "c2s_bytes" and not c.fired and \
                    self.tls_c2s_bytes + len(data) >= f.n > 0:
                cut = f.n - self.tls_c2s_bytes
                self.tls_c2s_bytes += len(data)
                self._send(self.server, data[:cut])
                return self._fire("c2s_bytes", data[cut:], self.server)
            self.tls_c2s_bytes += len(data)
            return self._send(self.server, data)
        c.c2s_clear += data
        if self.body:
            return self._body(data)
        self._client_lines(data)

    def _client_lines(self, data: bytes) -> None:
        self.c2s_lines += data
        while b"\n" in self.c2s_lines:
            line, self.c2s_lines = self.c2s_lines.split(b"\n", 1)
            verb = line.strip().split(b" ", 1)[0].upper()
            self.commands.append(verb)
            if verb == b"STARTTLS":
                self.c.starttls_sent = True
        self._send(self.server, data)

    def _body(self, data: bytes) -> None:
        f = self.f
        buf = self.body_hold + data
        self.body_hold = b""
        if f.trigger == "c2s_bytes" and not self.c.fired and \
                self.body_bytes + len(buf) >= f.n > 0:
            cut = f.n - self.body_bytes
            self.body_bytes += len(buf)
            self._send(self.server, buf[:cut])
            return self._fire("c2s_bytes", buf[cut:], self.server)
        end = (self.body_prev + buf).find(b"\r\n.\r\n")
        if end < 0:
            # Keep back what may be the start of the terminator: "\r\n." or "\r\n.\r".
            tail = (self.body_prev + buf)[-4:]
            keep = 2 if tail.endswith(b"\n.\r") else 1 if tail.endswith(b"\n.") else 0
            out, self.body_hold = buf[:len(buf) - keep], buf[len(buf) - keep:]
            self.body_bytes += len(out)
            self.body_prev = (self.body_prev + out)[-2:]
            return self._send(self.server, out)
        dot = end  # "\r\n" of body_prev + buf[:dot] precedes the "."
        self._send(self.server, buf[:dot])
        self.body_bytes += dot
        self.body = False
        rest = buf[dot + 3:]
        self.commands.append(b".")
        self._fire("dot", buf[dot:dot + 3], self.server)
        if rest:
            self._client_lines(rest)

    # -- server to client --------------------------------------------------------------

    def _from_server(self, data: bytes) -> None:
        c, f = self.c, self.f
        if self.tls_phase:
            c.s2c_tls += data
            if 23 in c._s2c_records.feed(data) and c._client_appdata:
                c.tls = True
            if f.trigger == "dot_reply" and self.tls_c2s_bytes >= f.n > 0:
                return self._fire("dot_reply", data, self.client)
            return self._send(self.client, data)
        c.s2c_clear += data
        self.s2c_lines += data
        while b"\n" in self.s2c_lines:
            line, self.s2c_lines = self.s2c_lines.split(b"\n", 1)
            self.reply_lines.append(line + b"\n")
            if not _REPLY_END_RE.match(line):
                continue
            reply, self.reply_lines = self.reply_lines, []
            self._server_reply(reply)
            if self.tls_phase:
                # Whatever followed the 220 is TLS already.
                rest, self.s2c_lines = self.s2c_lines, b""
                if rest:
                    del c.s2c_clear[len(c.s2c_clear) - len(rest):]
                    self._from_server(rest)
                return

    def _server_reply(self, lines: list[bytes]) -> None:
        c, f = self.c, self.f
        code = lines[-1][:3]
        self.replies += 1
        if self.replies == 1:
            return self._fire("banner", b"".join(lines), self.client)
        verb = self.commands.popleft() if self.commands else b""
        if verb == b"EHLO" and f.strip_starttls and code == b"250":
            kept = [l for l in lines if not _STARTTLS_LINE_RE.match(l.rstrip(b"\r\n"))]
            if len(kept) != len(lines):
                c.starttls_stripped = True
                kept[-1] = kept[-1][:3] + b" " + kept[-1][4:]
                lines = kept
        data = b"".join(lines)
        if verb == b"STARTTLS":
            if code == b"220":
                c.starttls_accepted = True
                self.tls_phase = True
            return self._fire("starttls_reply", data, self.client)
        if verb == b"DATA" and code == b"354":
            self.body = True
            self.body_prev, self.body_hold, self.body_bytes = b"\r\n", b"", 0
        if verb == b".":
            return self._fire("dot_reply", data, self.client)
        self._send(self.client, data)
