"""sts_server.py - an MTA-STS policy host for the end-to-end suite: Python's http.server
over TLS, loopback only, serving https://mta-sts.<domain>/.well-known/mta-sts.txt for as
many domains as a test names (RFC 8461 §3.3).

    from pki import TestCA
    from sts_server import StsServer

    ca = TestCA(tmp_path / "pki")
    sts = StsServer(tmp_path / "sts", ca, host="127.0.0.80")    # port 443 by default
    sts.serve("d.test", "version: STSv1\\nmode: enforce\\nmx: mx.d.test\\nmax_age: 86400\\n")
    sts.serve("bad.test", "...", status=301, location="https://elsewhere.test/")
    sts.serve("slow.test", body, delay=5.0)             # waits before answering
    sts.serve("wrong.test", body, cert_names=["mta-sts.other.test"])  # certificate for another name
    sts.start()
    dns.add_a("mta-sts.d.test", sts.host)                 # the relay's DNS decides where it goes
    ...
    assert sts.requests("d.test") == 1
    sts.serve("d.test", other_body)                       # takes effect at once, no restart

Each domain gets its own leaf certificate from the test CA (SAN mta-sts.<domain>, or the
names given), chosen by the client's SNI; a client that sends no SNI gets the first
domain's. A request for an unknown host or another path answers 404. Responses carry
Content-Length and close the connection. Binding 443 needs root: run the suite in a
private network namespace (unshare -n), as every e2e file does. The server runs in a
thread of the test process; stop() (also on context exit) shuts it down, bounded.

TlsHttpServer is the TLS, SNI and thread part without the MTA-STS part, for other HTTPS
peers of the suite (tlsrpt_collector.py); QuietHandler is the handler base they share.
"""
from __future__ import annotations

import http.server
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pki import TestCA

POLICY_PATH = "/.well-known/mta-sts.txt"


@dataclass
class Policy:
    body: bytes
    status: int = 200
    content_type: str = "text/plain"
    location: str | None = None
    delay: float = 0.0
    cert_names: list[str] = field(default_factory=list)


class TlsHttpServer:
    """Python's http.server over TLS on loopback, in a thread of the test process: a leaf
    certificate from the test CA per name (add_certificate), chosen by the client's SNI
    (no SNI or an unknown name: the first one added). Subclasses say what is answered by
    returning their BaseHTTPRequestHandler subclass from handler_class(); `self.server_ref`
    there is this object. Responses close the connection."""

    def __init__(self, workdir: Path | str, ca: TestCA, host: str, port: int = 443):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca = ca
        self.host = host
        self.port = port
        self._contexts: dict[str, ssl.SSLContext] = {}  # by SNI name
        self._lock = threading.Lock()
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add_certificate(self, sni: str, names: list[str]):
        """Clients asking for `sni` get a leaf for `names` (the first is its CN)."""
        cert, key = self.ca.issue(names[0], sans=names)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(cert), str(key))
        with self._lock:
            self._contexts[sni.lower()] = ctx

    def handler_class(self) -> type:
        raise NotImplementedError

    def start(self) -> "TlsHttpServer":
        assert self._contexts, "add a certificate first"
        server = self
        handler = type("Handler", (self.handler_class(),), {"server_ref": server})

        def pick_certificate(sock, name, _ctx):
            with server._lock:
                chosen = server._contexts.get((name or "").lower())
            if chosen is not None:
                sock.context = chosen

        with self._lock:
            default = next(iter(self._contexts.values()))
        default.sni_callback = pick_certificate
        httpd = http.server.ThreadingHTTPServer((self.host, self.port), handler)
        httpd.daemon_threads = True
        # A client that refuses our certificate (the point of some tests) is no error here.
        httpd.handle_error = lambda request, client_address: None
        httpd.socket = default.wrap_socket(httpd.socket, server_side=True,
                                           do_handshake_on_connect=False)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> "TlsHttpServer":
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1, no access log (tests assert on what was recorded), one request per
    connection."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status: int, content_type: str, body: bytes, location: str | None = None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client gave up (size or time limit): fine
        self.close_connection = True


class StsServer(TlsHttpServer):
    def __init__(self, workdir: Path | str, ca: TestCA, host: str = "127.0.0.80", port: int = 443):
        super().__init__(workdir, ca, host, port)
        self._policies: dict[str, Policy] = {}
        self._requests: dict[str, int] = {}

    # -- what is served -------------------------------------------------------------

    def serve(self, domain: str, body: str | bytes, status: int = 200,
              content_type: str = "text/plain", location: str | None = None,
              delay: float = 0.0, cert_names: list[str] | None = None) -> "StsServer":
        """What https://mta-sts.<domain>/.well-known/mta-sts.txt answers from now on."""
        domain = domain.lower().rstrip(".")
        names = cert_names or [f"mta-sts.{domain}"]
        if isinstance(body, str):
            body = body.encode()
        self.add_certificate(f"mta-sts.{domain}", names)
        with self._lock:
            self._policies[domain] = Policy(body, status, content_type, location, delay, names)
        return self

    def requests(self, domain: str) -> int:
        """How many policy requests arrived for the domain (complete or not)."""
        with self._lock:
            return self._requests.get(domain.lower(), 0)

    # -- process --------------------------------------------------------------------

    def start(self) -> "StsServer":
        assert self._policies, "serve() at least one domain first"
        return super().start()

    def handler_class(self) -> type:
        class Handler(QuietHandler):
            def do_GET(self):
                server = self.server_ref
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                domain = host[len("mta-sts."):] if host.startswith("mta-sts.") else ""
                with server._lock:
                    policy = server._policies.get(domain)
                    if policy is not None:
                        server._requests[domain] = server._requests.get(domain, 0) + 1
                if policy is None or self.path != POLICY_PATH:
                    return self.answer(404, "text/plain", b"not found\n")
                if policy.delay:
                    time.sleep(policy.delay)
                self.answer(policy.status, policy.content_type, policy.body, policy.location)
        return Handler
