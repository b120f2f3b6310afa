"""tlsrpt_collector.py - an HTTPS TLS-RPT collector for the end-to-end suite (RFC 8460 §5.2:
the https rua of a _smtp._tls record): it records every POST (host, path, headers, body)
and answers what the test says for the path.

    from pki import TestCA
    from tlsrpt_collector import Collector

    ca = TestCA(tmp_path / "pki")
    c = Collector(tmp_path / "collector", ca, host="127.0.0.126", name="collector.d.test")
    c.answer("/tlsrpt", 200)          # a working endpoint
    c.answer("/broken", 500)          # one that fails
    c.start()                         # port 443 (root: run in `unshare -n`, as every e2e file)
    dns.add_a("collector.d.test", c.host)
    ...
    [post] = c.wait_posts(1, path="/tlsrpt", timeout=20)
    post.headers["content-type"], post.body, post.json_report()   # gunzipped, parsed

The certificate (SAN = name) comes from the test CA, so a client trusting that CA accepts
it. A POST to a path not given to answer() is recorded and answered 404; any other method
answers 405. Bodies are read by Content-Length or chunked transfer coding (at most
MAX_BODY bytes; a larger one is answered 413 and recorded truncated). The TLS, SNI and
thread machinery is sts_server.py's TlsHttpServer; every wait is bounded.
"""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from pki import TestCA
from relaytest import wait_until
from sts_server import QuietHandler, TlsHttpServer

MAX_BODY = 16 << 20


@dataclass
class Post:
    """One POST as it arrived."""
    host: str                  # the Host header, without a port
    path: str
    headers: dict[str, str]    # names in lower case; a repeated header: its last value
    body: bytes
    status: int                # what the collector answered

    def json_report(self) -> dict:
        """The body gunzipped (one gzip member, as application/tlsrpt+gzip is) and parsed."""
        return json.loads(gzip.decompress(self.body).decode("utf-8"))


class Collector(TlsHttpServer):
    def __init__(self, workdir: Path | str, ca: TestCA, host: str, name: str, port: int = 443):
        super().__init__(workdir, ca, host, port)
        self.name = name.lower()
        self.add_certificate(self.name, [self.name])
        self._answers: dict[str, int] = {}
        self._posts: list[Post] = []

    def answer(self, path: str, status: int) -> "Collector":
        """POSTs to `path` are answered `status` from now on."""
        with self._lock:
            self._answers[path] = status
        return self

    def posts(self, path: str | None = None) -> list[Post]:
        with self._lock:
            return [p for p in self._posts if path is None or p.path == path]

    def wait_posts(self, count: int, path: str | None = None, timeout: float = 20) -> list[Post]:
        """At least `count` POSTs (to `path`, if given)."""
        def enough():
            got = self.posts(path)
            return got if len(got) >= count else None
        return wait_until(enough, timeout,
                          f"{count} POST(s) at the collector {self.name}{path or ''}")

    def handler_class(self) -> type:
        class Handler(QuietHandler):
            def do_POST(self):
                server = self.server_ref
                body, too_big = self._read_body()
                with server._lock:
                    status = 413 if too_big else server._answers.get(self.path, 404)
                post = Post(host=(self.headers.get("Host") or "").split(":")[0].lower(),
                            path=self.path,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body, status=status)
                # Recorded before the answer: once the client has its status, the test
                # finds the POST.
                with server._lock:
                    server._posts.append(post)
                self.answer(status, "text/plain", b"ok\n" if status < 300 else b"no\n")

            def _read_body(self) -> tuple[bytes, bool]:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass  # trailer fields
                            return out, False
                        if len(out) + size > MAX_BODY:
                            return out, True
                        out += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    return self.rfile.read(MAX_BODY), True
                return self.rfile.read(length), False

            def _refuse(self):
                self.answer(405, "text/plain", b"POST only\n")

            do_GET = do_PUT = do_DELETE = _refuse
        return Handler
