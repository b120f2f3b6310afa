"""relaytest.py - helpers for the end-to-end suite: run the real relay, talk raw SMTP.

Contract: every wait in here is a bounded poll on a condition (a log line, a reply, a
process exit); nothing sleeps and hopes. A Relay owns its process and its files under
one work directory; SmtpConn owns one client socket. Failures raise AssertionError with
the relay's log attached so that a red test says what the relay said.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "build" / "relay" / "secmx-relay"
HOSTNAME = "relay.test.example"
QUEUE_ID_RE = re.compile(r"queued as ([0-9A-Fa-f]{16})\b")
ENHANCED_RE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}(?: |$)")

# Sanitizer and crash markers that must never appear in a relay's log.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "ThreadSanitizer",
    "terminate called",
    "Segmentation fault",
)


def relay_bin() -> str:
    return os.environ.get("SECMX_RELAY_BIN", str(DEFAULT_BIN))


def queue_dump(config_path, with_bodies: bool = True) -> list[dict]:
    """`secmx-relay --queue-dump`: every queued message in the model's one JSON shape
    (docs/queue-schema.json: envelope, recipients, their attempt "history"), plus "body"
    with with_bodies. The one place the tests read the dump."""
    args = ["--queue-dump"] + (["--with-bodies"] if with_bodies else [])
    r = subprocess.run([relay_bin(), "--config", str(config_path), *args],
                       capture_output=True, timeout=30)
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode == 0, (f"--queue-dump exited {r.returncode}\nstdout:\n{out}\n"
                               f"stderr:\n{r.stderr.decode('utf-8', 'replace')}")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def ctl_bin() -> str:
    """secmxctl: $SECMX_CTL_BIN, else built beside the relay (BUILD/relay/secmx-relay ->
    BUILD/admin/secmxctl)."""
    if os.environ.get("SECMX_CTL_BIN"):
        return os.environ["SECMX_CTL_BIN"]
    return str(Path(relay_bin()).resolve().parent.parent / "admin" / "secmxctl")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(cond, timeout: float, what: str, interval: float = 0.02):
    """Polls cond() until it returns a truthy value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------- config


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot render {v!r} as TOML")


def render_toml(cfg: dict) -> str:
    """Top-level scalars first, then one [table] per dict value."""
    lines = []
    for k, v in cfg.items():
        if not isinstance(v, dict):
            lines.append(f"{k} = {_toml_value(v)}")
    for k, v in cfg.items():
        if isinstance(v, dict):
            lines.append("")
            lines.append(f"[{k}]")
            for kk, vv in v.items():
                lines.append(f"{kk} = {_toml_value(vv)}")
    return "\n".join(lines) + "\n"


def merge(base: dict, over: dict | None) -> dict:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k].update(v)
        elif v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


# --------------------------------------------------------------------------- relay


class Relay:
    """One relay process with its own config, queue, token and log under workdir."""

    def __init__(self, workdir: Path, tls: tuple[str, str] | None = None,
                 overrides: dict | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.admin_port = free_port()
        while self.admin_port == self.port:
            self.admin_port = free_port()
        self.config_path = self.workdir / "relay.toml"
        self.log_path = self.workdir / "relay.log"
        self.queue_path = self.workdir / "queue"
        token = self.workdir / "token"
        token.write_text("e2e-test-token-0123456789abcdef\n")
        os.chmod(token, 0o600)
        smtp = {
            "listen": [f"{self.host}:{self.port}"],
            "relay_networks": ["127.0.0.0/8", "::1/128"],
        }
        if tls:
            smtp["tls_cert"], smtp["tls_key"] = tls
        smtp.update({
            "max_message_size": "1MiB",
            "max_recipients": 100,
            "max_line_length": 1000,
            "max_connections": 1000,
            "max_connections_per_client": 100,
            "max_errors": 10,
            "command_timeout": "5m",
            "data_timeout": "5m",
        })
        base = {
            "hostname": HOSTNAME,
            "smtp": smtp,
            "queue": {"path": str(self.queue_path)},
            # Nothing may leave loopback: unless a test brings its own DNS server, lookups
            # go to a closed loopback port and fail at once, so mail stays queued
            # (deferred) where the inbound tests expect to find it.
            "dns": {"servers": ["127.0.0.1:9"]},
            # The inbound tests look at what was queued; delivery tests unpause.
            "delivery": {"pause": True},
            "admin": {"listen": f"127.0.0.1:{self.admin_port}", "token_file": str(token)},
            "log": {"level": "info"},
        }
        self.config = merge(base, overrides)
        self.config_path.write_text(render_toml(self.config))
        self.proc: subprocess.Popen | None = None
        self.env: dict[str, str] = {}  # added to the environment the relay starts with
        self._log_start = 0
        self.exit_codes: list[int] = []

    # -- process ---------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> "Relay":
        assert self.proc is None or self.proc.poll() is not None, "relay already running"
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [relay_bin(), "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                cwd=self.workdir, env={**os.environ, **self.env} if self.env else None)
        finally:
            logf.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 20.0):
        want = f"listening on {self.host}:{self.port}"
        deadline = time.monotonic() + timeout
        log_only_until = time.monotonic() + min(5.0, timeout / 2)
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"relay exited with {self.proc.returncode} before it was ready:\n"
                    + self.log(since_start=True))
            if want in self.log(since_start=True):
                return
            # Fallback if the log wording changes: a TCP connect (after a grace period,
            # so that tests counting connections are not disturbed in the normal case).
            if time.monotonic() > log_only_until:
                try:
                    with socket.create_connection((self.host, self.port), timeout=1):
                        return
                except OSError:
                    pass
            if time.monotonic() >= deadline:
                raise AssertionError(f"relay not ready after {timeout}s:\n" + self.log())
            time.sleep(0.02)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then wait (bounded). Returns the exit code; raises if it hangs."""
        if not self.running():
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"relay did not exit within {timeout}s of SIGTERM:\n"
                                 + self.log())
        self.exit_codes.append(rc)
        return rc

    def kill(self):
        """SIGKILL: the crash test's power cut."""
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.exit_codes.append(self.proc.returncode)

    # -- log --------------------------------------------------------------------

    def log(self, since_start: bool = False) -> str:
        try:
            data = self.log_path.read_bytes()
        except FileNotFoundError:
            return ""
        if since_start:
            data = data[self._log_start:]
        return data.decode("utf-8", "replace")

    def wait_log(self, pattern: str, timeout: float = 10.0) -> re.Match:
        rx = re.compile(pattern)
        return wait_until(lambda: rx.search(self.log()), timeout,
                          f"log line matching {pattern!r}")

    def sanitizer_report(self) -> str | None:
        text = self.log()
        for marker in SANITIZER_MARKERS:
            i = text.find(marker)
            if i >= 0:
                return text[max(0, i - 200): i + 4000]
        return None

    # -- queue --------------------------------------------------------------------

    def run_cli(self, *args, timeout: float = 30.0) -> subprocess.CompletedProcess:
        return subprocess.run([relay_bin(), "--config", str(self.config_path), *args],
                              capture_output=True, timeout=timeout)

    def dump(self, with_bodies: bool = True) -> list[dict]:
        return queue_dump(self.config_path, with_bodies)

    def dump_by_id(self) -> dict[str, dict]:
        return {m["id"]: m for m in self.dump()}

    # -- clients --------------------------------------------------------------------

    def connect(self, source: str | None = None, timeout: float = 10.0) -> "SmtpConn":
        """A bare connection: nothing read yet, not even the greeting."""
        return SmtpConn(self.host, self.port, source=source, timeout=timeout)

    def session(self, source: str | None = None, ehlo: str = "client.test",
                starttls: bool = False, timeout: float = 10.0) -> "SmtpConn":
        """A connection past its opening (see SmtpConn.hello): greeted, EHLO accepted,
        and with starttls inside TLS with a second EHLO accepted. Use it as a context
        manager; the EHLO reply stays in conn.ehlo_reply. A test that checks the greeting
        or the EHLO reply itself connects with connect() and reads them step by step."""
        c = self.connect(source=source, timeout=timeout)
        try:
            c.hello(ehlo, starttls=starttls)
        except BaseException:
            c.close()
            raise
        return c


# --------------------------------------------------------------------------- stored bodies


def split_received(body: str) -> tuple[str, str]:
    """Splits the relay's prepended Received: header (with its folded lines) off."""
    assert body.startswith("Received: "), f"stored body does not start with Received:\n{body[:300]!r}"
    i = 0
    while True:
        j = body.find("\r\n", i)
        assert j >= 0, f"unterminated Received header: {body[:300]!r}"
        i = j + 2
        if i >= len(body) or body[i] not in " \t":
            return body[:i], body[i:]


def content_of(msg: dict) -> str:
    """The client's content as stored (after the Received header)."""
    return split_received(msg["body"])[1]


def crlf(text: str) -> str:
    return re.sub(r"\r?\n", "\r\n", text)


# --------------------------------------------------------------------------- raw SMTP


@dataclass
class Reply:
    code: int
    lines: list[str] = field(default_factory=list)  # text after "NNN-" / "NNN "

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def first(self) -> str:
        return f"{self.code} {self.lines[0] if self.lines else ''}"

    def enhanced(self) -> str | None:
        m = ENHANCED_RE.match(self.lines[0]) if self.lines else None
        return m.group(0).strip() if m else None

    def queue_id(self) -> str | None:
        m = QUEUE_ID_RE.search(self.text)
        return m.group(1) if m else None

    def __str__(self):
        return "\n".join(f"{self.code} {l}" for l in self.lines)


class ConnectionClosed(Exception):
    pass


class SmtpConn:
    """A raw SMTP client: sends exactly the bytes it is given, parses replies strictly."""

    def __init__(self, host: str, port: int, source: str | None = None, timeout: float = 10.0):
        self.timeout = timeout
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if source:
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""
        self.eof = False
        self.tls = False
        self.ehlo_reply: Reply | None = None  # the last accepted EHLO's reply

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes | str):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no reply from the relay in time; buffered: %r" % self.buf)
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no reply from the relay in time; buffered: %r" % self.buf)
        except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_line(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            if self.eof or not self._fill(deadline):
                raise ConnectionClosed("connection closed; partial: %r" % self.buf)
        line, _, self.buf = self.buf.partition(b"\n")
        assert line.endswith(b"\r"), f"reply line not ended by CRLF: {line!r}"
        return line[:-1]

    def reply(self, timeout: float | None = None) -> Reply:
        r = None
        while True:
            raw = self.read_line(timeout).decode("utf-8", "replace")
            assert re.match(r"^[2-5]\d\d[ -]", raw) or re.match(r"^[2-5]\d\d$", raw), \
                f"malformed reply line {raw!r}"
            code = int(raw[:3])
            if r is None:
                r = Reply(code)
            assert code == r.code, f"multi-line reply changes code: {raw!r} in {r}"
            r.lines.append(raw[4:])
            if len(raw) == 3 or raw[3] == " ":
                return r

    def cmd(self, line: str | bytes, timeout: float | None = None) -> Reply:
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.reply(timeout)

    def expect(self, line: str | bytes, code: int, enhanced: str | None = None) -> Reply:
        r = self.cmd(line)
        assert r.code == code, f"{line!r}: expected {code}, got {r}"
        if enhanced is not None:
            assert r.enhanced() == enhanced, f"{line!r}: expected {enhanced}, got {r}"
        return r

    def banner(self) -> Reply:
        r = self.reply()
        assert r.code == 220, f"unexpected greeting: {r}"
        return r

    def ehlo(self, name: str = "client.test") -> Reply:
        r = self.cmd(f"EHLO {name}")
        assert r.code == 250, f"EHLO failed: {r}"
        self.ehlo_reply = r
        return r

    def hello(self, name: str = "client.test", starttls: bool = False) -> Reply:
        """The session opening: the 220 greeting, EHLO (250); with starttls also
        STARTTLS (220), the handshake and EHLO again. Returns the last EHLO's reply."""
        self.banner()
        r = self.ehlo(name)
        if starttls:
            self.starttls()
            r = self.ehlo(name)
        return r

    def open_transaction(self, sender: str, rcpts: list[str], mail_params: str = "",
                         data: bool = True) -> Reply:
        """MAIL FROM (250), one RCPT TO per recipient (250 each) and, with data, DATA
        (354): the client may send the content next. Returns the last reply. A test that
        checks the reply to one of these steps sends that step itself."""
        r = self.expect(f"MAIL FROM:<{sender}>{(' ' + mail_params) if mail_params else ''}", 250)
        for rcpt in rcpts:
            r = self.expect(f"RCPT TO:<{rcpt}>", 250)
        if data:
            r = self.expect("DATA", 354)
        return r

    def starttls(self) -> ssl.SSLSocket:
        r = self.cmd("STARTTLS")
        assert r.code == 220, f"STARTTLS refused: {r}"
        return self.tls_handshake()

    def tls_handshake(self):
        assert self.buf == b"", f"bytes after the 220 to STARTTLS, before TLS: {self.buf!r}"
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=HOSTNAME)
        self.tls = True
        return self.sock

    def wait_closed(self, timeout: float = 10.0) -> bytes:
        """Reads until EOF (bounded); returns anything that arrived meanwhile."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                self._fill(deadline)
            except TimeoutError:
                raise AssertionError(f"relay did not close the connection within {timeout}s;"
                                     f" buffered {self.buf!r}")
        rest, self.buf = self.buf, b""
        return rest

    def sync(self):
        """Proves that no reply is outstanding: HELP's 214 must be the very next reply."""
        r = self.cmd("HELP")
        assert r.code == 214, f"expected HELP's 214 as the next reply, got {r}"

    def send_message(self, sender: str, rcpts: list[str], content: bytes | str,
                     mail_params: str = "") -> Reply:
        """MAIL/RCPT/DATA with one reply each; content must already be dot-stuffed and
        end in CRLF. Returns the end-of-data reply."""
        if isinstance(content, str):
            content = content.encode("utf-8")
        self.open_transaction(sender, rcpts, mail_params)
        self.send(content + b".\r\n")
        return self.reply()


def dot_stuff(content: bytes) -> bytes:
    out = re.sub(rb"(?m)^\.", b"..", content)
    return out


def simple_message(subject: str, body: str = "hello\r\n", sender="s@x.example",
                   to="r@y.example") -> str:
    return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@client.test>\r\n\r\n{body}")


# --------------------------------------------------------------------------- swaks


def swaks(relay: Relay, *args, timeout: float = 60.0) -> subprocess.CompletedProcess:
    cmd = ["swaks", "--server", relay.host, "--port", str(relay.port),
           "--helo", "client.test", "--timeout", "20", *args]
    return subprocess.run(cmd, capture_output=True, timeout=timeout, text=True,
                          stdin=subprocess.DEVNULL)


def swaks_queue_id(out: str) -> str:
    ids = QUEUE_ID_RE.findall(out)
    assert len(ids) == 1, f"expected exactly one 'queued as' in swaks output:\n{out}"
    return ids[0]
