"""mta.py - real receiving MTAs (private Postfix instances) and scripted SMTP peers for the
end-to-end tests of the relay's outbound side.

Postfix
-------
    with PostfixMTA(base, "mx1", host="127.0.0.2", port=2525,
                    hostname="mx1.test.example", domains=["test.example"],
                    tls=(cert, key), tls_level="may",
                    rcpt_rules={"nobody@test.example": "550 5.1.1 no such user",
                                "later@test.example": "450 4.2.0 try later"}) as mx:
        ...                                # send mail to 127.0.0.2:2525
        msgs = mx.wait_for_messages(1, timeout=20)
        msgs[0].recipient, msgs[0].sender, msgs[0].message["Subject"], msgs[0].raw
        mx.wait_log(r"disconnect from .* mail=2", timeout=10)

`base` is a directory every instance may share (`mta_base()` makes one under /tmp that
the postfix and nobody users can traverse: pytest's own tmp dirs are root-only). Each
instance gets its own config_directory, queue_directory, data_directory, Maildir and
log file (maillog_file via postlogd) under base/name; nothing under /etc/postfix or
/var/spool/postfix is used or changed, and several instances run side by side. Every
domain in `domains` is a virtual mailbox domain: any recipient there is accepted (unless
a rcpt_rules entry says otherwise) and delivered to one Maildir; each delivered file
carries Postfix's Delivered-To: (the envelope recipient) and Return-Path: (the envelope
sender) headers, which `messages()` reads back. Delivery status notifications Postfix
generates (e.g. for NOTIFY=SUCCESS) are delivered the same way when the sender's domain
is one of `domains`.

tls_level: None (no STARTTLS offered), "may" (offered) or "encrypt" (required: mail
without STARTTLS is refused with 530). Postfix adds a Received: header naming the TLS
protocol and cipher (smtpd_tls_received_header). smtputf8=False turns SMTPUTF8 off;
size_limit sets message_size_limit (the EHLO SIZE value); discard_ehlo hides keywords
(e.g. ["pipelining", "dsn"]); main_cf adds or overrides any main.cf parameter.

Postfix binds the address from master.cf; inet_interfaces stays 127.0.0.1 because
Postfix insists on it being a configured interface address, and 127.0.0.2.. are only
routed to lo. start() creates the queue directories and runs Postfix's master with -w
(it returns once the daemon is up), then waits (bounded) until the port listens; stop()
sends the master SIGTERM (as `postfix stop` does), waits for it to exit and kills it if
it does not.

Scripted peers
--------------
ScriptedPeer is a small threaded SMTP server for what Postfix cannot be made to do:
`starttls="garbage"` answers 220 to STARTTLS and then sends bytes that are not TLS,
`starttls="close"` answers 220 and closes, `starttls="ok"` runs real TLS with the given
certificate (and records the SNI name each handshake asked for in `sni_names`). It records every command line with the number of reply flushes before it
arrived (`Session.lines`), so a test can tell whether MAIL/RCPT/DATA came in one
pipelined group: with PIPELINING offered it holds replies until a group ends (DATA,
EHLO, STARTTLS, QUIT, NOOP, end of data) or the client has been silent for
`idle_flush` seconds, as RFC 2920 servers may. Messages received with DATA are kept in
`Session.messages`.

All waits are bounded polls on a condition; nothing sleeps and hopes.
"""
from __future__ import annotations

import email
import grp
import email.policy
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from relaytest import free_port, wait_until



def _daemon_directory() -> str:
    try:
        r = subprocess.run(["postconf", "-dh", "daemon_directory"], capture_output=True,
                           text=True, timeout=30)
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return "/usr/lib/postfix/sbin"

_MASTER_CF = """\
{listen} inet n - n - - smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def mta_base() -> Path:
    """A fresh directory under /tmp that Postfix's unprivileged users can traverse."""
    d = Path(tempfile.mkdtemp(prefix="secmx-mta-"))
    os.chmod(d, 0o755)
    return d


def _listening(host: str, port: int) -> bool:
    """True when a TCP socket listens on host:port (read from /proc: no test connection
    that would show up in the peer's log)."""
    want = "%08X:%04X" % (int.from_bytes(socket.inet_aton(host), "little"), port)
    try:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[1] == want and parts[3] == "0A":
                    return True
    except OSError:
        pass
    return False


@dataclass
class Delivered:
    """One message as the MTA stored it."""
    recipient: str          # envelope recipient (Delivered-To:)
    sender: str             # envelope sender (Return-Path:, without <>)
    raw: bytes
    message: email.message.Message
    path: Path


class PostfixMTA:
    """A private Postfix instance; see the module docstring."""

    def __init__(self, base: Path, name: str, host: str = "127.0.0.2", port: int | None = None,
                 hostname: str = "mx.test.example", domains: list[str] | None = None,
                 tls: tuple[str, str] | None = None, tls_level: str | None = None,
                 smtputf8: bool = True, size_limit: int | None = None,
                 discard_ehlo: list[str] | None = None,
                 rcpt_rules: dict[str, str] | None = None,
                 main_cf: dict[str, str] | None = None):
        if tls_level not in (None, "may", "encrypt"):
            raise ValueError(f"tls_level {tls_level!r}")
        if tls_level and not tls:
            raise ValueError("tls_level needs tls=(cert, key)")
        self.name = name
        self.host = host
        self.port = port or free_port(host)
        self.hostname = hostname
        self.domains = domains or ["test.example"]
        self.root = Path(base) / name
        self.conf = self.root / "conf"
        self.queue = self.root / "queue"
        self.data = self.root / "data"
        self.maildir = self.root / "mail" / "inbox"
        self.log_path = self.root / "postfix.log"
        for d in (self.conf, self.queue, self.data, self.root / "mail"):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        shutil.chown(self.data, "postfix")
        nobody = _uid_gid("nobody")
        os.chown(self.root / "mail", *nobody)

        (self.conf / "rcpt_access").write_text(
            "".join(f"{addr} {reply}\n" for addr, reply in (rcpt_rules or {}).items()))
        params = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue),
            "data_directory": str(self.data),
            "syslog_name": f"postfix-{name}",
            "maillog_file": str(self.log_path),
            "maillog_file_prefixes": str(self.root),
            "myhostname": hostname,
            "mydomain": hostname.split(".", 1)[-1],
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "relay_domains": "",
            "relayhost": "",
            # Nothing may leave loopback: mail to other domains bounces at once.
            "default_transport": "error:no outbound delivery in tests",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_peername_lookup": "no",
            "smtpd_banner": "$myhostname ESMTP test-postfix",
            "virtual_mailbox_domains": ", ".join(self.domains),
            "virtual_mailbox_base": str(self.root / "mail"),
            "virtual_mailbox_maps": "static:inbox/",
            "virtual_uid_maps": f"static:{nobody[0]}",
            "virtual_gid_maps": f"static:{nobody[1]}",
            "virtual_minimum_uid": "1",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "smtpd_recipient_restrictions":
                f"check_recipient_access texthash:{self.conf}/rcpt_access, permit_mynetworks, "
                "reject_unauth_destination",
            "smtputf8_enable": "yes" if smtputf8 else "no",
            "delay_warning_time": "0",
            "notify_classes": "",
            "biff": "no",
            "tls_random_source": "dev:/dev/urandom",
        }
        if size_limit is not None:
            params["message_size_limit"] = str(size_limit)
        if discard_ehlo:
            params["smtpd_discard_ehlo_keywords"] = ", ".join(discard_ehlo)
        if tls_level:
            params.update({
                "smtpd_tls_cert_file": str(tls[0]),
                "smtpd_tls_key_file": str(tls[1]),
                "smtpd_tls_security_level": tls_level,
                "smtpd_tls_loglevel": "1",
                "smtpd_tls_received_header": "yes",
                "smtpd_tls_session_cache_timeout": "3600s",
            })
        params.update(main_cf or {})
        (self.conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in params.items()))
        (self.conf / "master.cf").write_text(_MASTER_CF.format(listen=f"{host}:{self.port}"))
        self._started = False

    # -- process ----------------------------------------------------------------

    def master_pid(self) -> int | None:
        try:
            pid = int((self.queue / "pid" / "master.pid").read_text().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def _make_queue_dirs(self) -> None:
        # What `postfix check` (post-install create-missing) would create; doing it here
        # saves its ~5 s of permission checks per instance.
        postfix_ids = _uid_gid("postfix")
        postdrop_gid = grp.getgrnam("postdrop").gr_gid
        for d in ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold",
                  "incoming", "private", "saved", "trace"):
            (self.queue / d).mkdir(mode=0o700, exist_ok=True)
            os.chown(self.queue / d, postfix_ids[0], 0)
        for d, mode in (("maildrop", 0o730), ("public", 0o710)):
            (self.queue / d).mkdir(exist_ok=True)
            os.chown(self.queue / d, postfix_ids[0], postdrop_gid)
            os.chmod(self.queue / d, mode)
        (self.queue / "pid").mkdir(mode=0o755, exist_ok=True)

    def start(self, timeout: float = 30) -> "PostfixMTA":
        self._make_queue_dirs()
        # master -w returns once the daemon has initialised (or failed to).
        r = subprocess.run([os.path.join(_daemon_directory(), "master"), "-c", str(self.conf),
                            "-w"], capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            # Postfix reports fatal errors to its log (or a tty), not to a pipe.
            raise AssertionError(f"postfix {self.name} failed to start ({r.returncode}): "
                                 f"{r.stdout}{r.stderr}\n{self.log()}")
        self._started = True
        wait_until(lambda: _listening(self.host, self.port), timeout,
                    f"postfix {self.name} to listen on {self.host}:{self.port}")
        return self

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to the master (what `postfix stop` does), bounded wait, then SIGKILL."""
        if not self._started:
            return
        self._started = False
        pid = self.master_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        try:
            wait_until(lambda: self.master_pid() is None, timeout,
                        f"postfix {self.name} master to exit")
        except AssertionError:
            # The master's children exit on their own once it is gone.
            os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> "PostfixMTA":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what happened -------------------------------------------------------------

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern: str, timeout: float = 20) -> re.Match:
        rx = re.compile(pattern)
        return wait_until(lambda: rx.search(self.log()), timeout,
                           f"/{pattern}/ in the log of postfix {self.name}")

    def messages(self) -> list[Delivered]:
        out = []
        for sub in ("new", "cur"):
            d = self.maildir / sub
            if not d.is_dir():
                continue
            for p in sorted(d.iterdir()):
                raw = p.read_bytes()
                msg = email.message_from_bytes(raw, policy=email.policy.compat32)
                # str(): a header with UTF-8 in it (SMTPUTF8 mail) comes back as a Header.
                out.append(Delivered(
                    recipient=str(msg.get("Delivered-To") or "").strip(),
                    sender=str(msg.get("Return-Path") or "").strip().strip("<>"),
                    raw=raw, message=msg, path=p))
        return out

    def wait_for_messages(self, count: int, timeout: float = 20,
                          recipient: str | None = None) -> list[Delivered]:
        """Waits until at least `count` messages (to `recipient`, if given) are stored."""
        def found():
            msgs = [m for m in self.messages()
                    if recipient is None or m.recipient.lower() == recipient.lower()]
            return msgs if len(msgs) >= count else None
        return wait_until(found, timeout,
                           f"{count} message(s) at postfix {self.name}"
                           + (f" for {recipient}" if recipient else ""))


def _uid_gid(user: str) -> tuple[int, int]:
    import pwd
    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid


# ------------------------------------------------------------------ scripted peers


@dataclass
class Session:
    """One connection to a ScriptedPeer."""
    lines: list[tuple[str, int]] = field(default_factory=list)  # (command, flushes before)
    messages: list[bytes] = field(default_factory=list)
    tls: bool = False
    closed: bool = False

    def commands(self) -> list[str]:
        return [line for line, _ in self.lines]

    def batch_of(self, prefix: str) -> list[int]:
        return [b for line, b in self.lines if line.upper().startswith(prefix.upper())]


class ScriptedPeer:
    """A threaded SMTP server with scripted STARTTLS behaviour; see the module docstring."""

    GROUP_END = ("DATA", "EHLO", "HELO", "STARTTLS", "QUIT", "NOOP")

    def __init__(self, host: str = "127.0.0.1", port: int | None = None,
                 hostname: str = "peer.test.example",
                 ehlo: list[str] | None = None, starttls: str | None = None,
                 tls: tuple[str, str] | None = None, ehlo_after_tls: list[str] | None = None,
                 idle_flush: float = 2.0):
        if starttls not in (None, "ok", "garbage", "close", "refuse"):
            raise ValueError(f"starttls {starttls!r}")
        self.host = host
        self.port = port or free_port(host)
        self.hostname = hostname
        self.ehlo = ehlo if ehlo is not None else ["PIPELINING", "8BITMIME", "SIZE 10000000"]
        if starttls:
            self.ehlo = self.ehlo + ["STARTTLS"]
        self.ehlo_after_tls = ehlo_after_tls if ehlo_after_tls is not None else \
            [k for k in self.ehlo if k != "STARTTLS"]
        self.starttls = starttls
        self.idle_flush = idle_flush
        self.ctx = None
        self.sni_names: list[str | None] = []  # SNI of each TLS handshake, in order
        if starttls == "ok":
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*tls)
            self.ctx.sni_callback = lambda _sock, name, _ctx: self.sni_names.append(name)
        self.sessions: list[Session] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, self.port))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._accept_loop, daemon=True)

    def __enter__(self) -> "ScriptedPeer":
        self._accept.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._accept.is_alive():
            self._accept.join(timeout)
        for t in self._threads:
            t.join(timeout)
        self._sock.close()

    def wait_sessions(self, count: int, timeout: float = 20) -> list[Session]:
        """Waits until `count` sessions have ended."""
        def done():
            with self._lock:
                ended = [s for s in self.sessions if s.closed]
            return ended if len(ended) >= count else None
        return wait_until(done, timeout, f"{count} finished session(s) at the scripted peer")

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            s = Session()
            with self._lock:
                self.sessions.append(s)
            t = threading.Thread(target=self._serve, args=(conn, s), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket, s: Session) -> None:
        try:
            self._dialogue(conn, s)
        except (OSError, ssl.SSLError, ConnectionError):
            pass
        finally:
            try:
                conn.close()
            finally:
                s.closed = True

    def _dialogue(self, conn: socket.socket, s: Session) -> None:
        conn.settimeout(0.2)
        buf = b""
        out: list[bytes] = []
        flushes = 0
        last_input = time.monotonic()
        pipelining = any(k.upper() == "PIPELINING" for k in self.ehlo)

        def flush():
            nonlocal flushes
            if out:
                conn.sendall(b"".join(out))
                out.clear()
                flushes += 1

        def reply(text: str):
            out.append(text.encode() + b"\r\n")

        reply(f"220 {self.hostname} ESMTP scripted")
        flush()
        ehlo_keywords = self.ehlo
        while not self._stop.is_set():
            if b"\n" not in buf:
                if out and time.monotonic() - last_input >= self.idle_flush:
                    flush()
                try:
                    chunk = conn.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    return
                buf += chunk
                last_input = time.monotonic()
                continue
            line, buf = buf.split(b"\n", 1)
            cmd = line.rstrip(b"\r").decode("utf-8", "replace")
            s.lines.append((cmd, flushes))
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                keys = ehlo_keywords if verb == "EHLO" else []
                lines = [self.hostname] + keys
                for i, k in enumerate(lines):
                    reply(f"250{'-' if i < len(lines) - 1 else ' '}{k}")
            elif verb == "STARTTLS" and self.starttls == "refuse":
                # Postfix's words when its certificate cannot be loaded; the session goes
                # on in plaintext (RFC 3207 §4).
                reply("454 4.7.0 TLS not available due to local problem")
            elif verb == "STARTTLS" and self.starttls and not s.tls:
                reply("220 2.0.0 Ready to start TLS")
                flush()
                if self.starttls == "close":
                    return
                if self.starttls == "garbage":
                    conn.sendall(b"this is not a TLS record\r\n" * 4)
                    _wait_closed(conn, 5)
                    return
                conn.settimeout(10)
                conn = self.ctx.wrap_socket(conn, server_side=True)
                conn.settimeout(0.2)
                s.tls = True
                buf = b""
                ehlo_keywords = self.ehlo_after_tls
                continue
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                reply("250 2.0.0 Ok")
            elif verb == "DATA":
                reply("354 End data with <CR><LF>.<CR><LF>")
                flush()
                data, buf = _read_data(conn, buf, self._stop)
                s.messages.append(data)
                s.lines.append((".", flushes))
                reply("250 2.0.0 Ok: queued")
                flush()
                continue
            elif verb == "QUIT":
                reply("221 2.0.0 Bye")
                flush()
                return
            else:
                reply("502 5.5.2 Error: command not recognized")
            if not pipelining or verb in self.GROUP_END:
                flush()


def _read_data(conn, buf: bytes, stop: threading.Event) -> tuple[bytes, bytes]:
    deadline = time.monotonic() + 30
    while b"\r\n.\r\n" not in b"\r\n" + buf:
        if stop.is_set() or time.monotonic() > deadline:
            raise ConnectionError("no end of data")
        try:
            chunk = conn.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            raise ConnectionError("EOF in data")
        buf += chunk
    whole = b"\r\n" + buf
    end = whole.index(b"\r\n.\r\n")
    return whole[2:end + 2], whole[end + 5:]


def _wait_closed(conn: socket.socket, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not conn.recv(65536):
                return
        except socket.timeout:
            continue
        except OSError:
            return
