"""TLS settings of the inbound listener, as a scanner sees them: Debian's sslscan runs
STARTTLS against the relay and lists every protocol and suite the listener accepts.

By default: no protocol below TLS 1.2, no static RSA key exchange, no CBC - only
forward-secret AEAD suites. A configured floor of TLS 1.3 leaves only TLS 1.3, at start-up
and after a reload (new sessions get the new context).

The listener gets an RSA certificate here: with the EC certificate the other suites use,
static RSA suites could not be negotiated whatever the cipher list says.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field

import pytest

from relaytest import HOSTNAME, Relay, relay_bin
from test_reload import reload, write_config

pytestmark = pytest.mark.skipif(
    shutil.which("sslscan") is None,
    reason="sslscan is not installed (scripts/install-deps.sh --with-tests)")

_PROTOCOL = re.compile(r"^(SSLv[23]|TLSv1\.[0-3])\s+(enabled|disabled)\s*$")
_CIPHER = re.compile(r"^(?:Preferred|Accepted)\s+(SSLv[23]|TLSv1\.[0-3])\s+\d+\s+bits\s+(\S+)")


@dataclass
class Scan:
    protocols: dict[str, bool] = field(default_factory=dict)  # "TLSv1.2" -> enabled
    ciphers: list[tuple[str, str]] = field(default_factory=list)  # ("TLSv1.2", "ECDHE-...")
    text: str = ""

    def enabled(self) -> set[str]:
        return {p for p, on in self.protocols.items() if on}


def sslscan(relay: Relay) -> Scan:
    """Every protocol and suite the listener accepts after STARTTLS."""
    out = subprocess.run(
        ["sslscan", "--no-colour", "--no-heartbleed", "--no-compression", "--no-groups",
         "--no-fallback", "--no-renegotiation",
         "--no-check-certificate", "--starttls-smtp", f"{relay.host}:{relay.port}"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    scan = Scan(text=out.stdout)
    for line in out.stdout.splitlines():
        # Strip what colour codes may remain, should --no-colour ever be ignored.
        line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
        if m := _PROTOCOL.match(line):
            scan.protocols[m.group(1)] = m.group(2) == "enabled"
        elif m := _CIPHER.match(line):
            scan.ciphers.append((m.group(1), m.group(2)))
    # A scan that parsed to nothing must not pass as "nothing weak found".
    assert {"TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"} <= scan.protocols.keys(), out.stdout
    assert scan.ciphers, out.stdout
    assert {p for p, _ in scan.ciphers} <= scan.enabled(), out.stdout
    return scan


def forward_secret(tls12_cipher: str) -> bool:
    return tls12_cipher.startswith(("ECDHE-", "DHE-"))


def aead(tls12_cipher: str) -> bool:
    return any(mode in tls12_cipher for mode in ("-GCM-", "CHACHA20-POLY1305", "-CCM"))


@pytest.fixture(scope="module")
def rsa_files(tmp_path_factory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("rsa")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", f"/CN={HOSTNAME}",
         "-addext", f"subjectAltName=DNS:{HOSTNAME}"],
        check=True, capture_output=True, timeout=60)
    key.chmod(0o600)
    return str(cert), str(key)


@pytest.fixture
def rsa_relay(make_relay, rsa_files):
    def start(smtp: dict | None = None) -> Relay:
        cert, key = rsa_files
        r = make_relay(start=False, overrides={"smtp": {"tls_cert": cert, "tls_key": key,
                                                        **(smtp or {})}})
        return r.start()
    return start


def test_default_listener_offers_only_tls12_and_up_with_forward_secret_aead(rsa_relay):
    scan = sslscan(rsa_relay())
    assert scan.enabled() == {"TLSv1.2", "TLSv1.3"}, scan.text
    tls12 = [c for p, c in scan.ciphers if p == "TLSv1.2"]
    assert tls12, scan.text
    assert [c for c in tls12 if not forward_secret(c)] == [], "static RSA key exchange:\n" + scan.text
    assert [c for c in tls12 if not aead(c)] == [], "CBC suites:\n" + scan.text
    assert all(c.startswith("TLS_") for p, c in scan.ciphers if p == "TLSv1.3"), scan.text


def test_the_scan_sees_weak_suites_when_they_are_configured(rsa_relay):
    """The scanner and its parsing can tell: the same listener with CBC and static RSA
    configured shows both (so the default test above is not passing by blindness)."""
    scan = sslscan(rsa_relay({"tls12_ciphers": "ECDHE+AESGCM:AES128-SHA:ECDHE-RSA-AES128-SHA"}))
    tls12 = {c for p, c in scan.ciphers if p == "TLSv1.2"}
    assert {"AES128-SHA", "ECDHE-RSA-AES128-SHA"} <= tls12, scan.text
    assert not forward_secret("AES128-SHA") and not aead("ECDHE-RSA-AES128-SHA")


def test_min_protocol_tls13_shows_only_tls13(rsa_relay):
    scan = sslscan(rsa_relay({"tls_min_protocol": "TLSv1.3"}))
    assert scan.enabled() == {"TLSv1.3"}, scan.text
    assert {p for p, _ in scan.ciphers} == {"TLSv1.3"}, scan.text


def test_reload_applies_new_tls_settings_to_new_sessions(rsa_relay):
    relay = rsa_relay()
    assert "TLSv1.2" in sslscan(relay).enabled()
    write_config(relay, {"smtp": {"tls_min_protocol": "TLSv1.3",
                                  "tls13_suites": "TLS_AES_256_GCM_SHA384"}})
    reload(relay)
    scan = sslscan(relay)
    assert scan.enabled() == {"TLSv1.3"}, scan.text
    assert [c for _, c in scan.ciphers] == ["TLS_AES_256_GCM_SHA384"], scan.text


def test_check_names_every_bad_tls_value_at_its_line(make_relay, rsa_files):
    relay = make_relay(start=False, tls=False)
    cert, key = rsa_files
    write_config(relay, {"smtp": {"tls_cert": cert, "tls_key": key, "tls_min_protocol": "TLSv1.1"},
                         "delivery": {"tls13_suites": "TLS_AES_128_GCM_SHA256:TLS_NOPE",
                                      "ca_system": False}})
    out = subprocess.run([relay_bin(), "--config", str(relay.config_path), "--check"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1, out.stdout + out.stderr
    lines = relay.config_path.read_text().splitlines()

    def line_of(section: str, key: str) -> int:
        start = lines.index(f"[{section}]")
        return next(i for i, l in enumerate(lines[start:], start + 1) if l.startswith(key + " "))

    errors = out.stderr.splitlines()
    for section, key, words in [
            ("smtp", "tls_min_protocol", "unknown protocol 'TLSv1.1'"),
            ("delivery", "tls13_suites", "'TLS_NOPE' is not a TLS 1.3 suite"),
            ("delivery", "ca_system", "false needs ca_file")]:
        want = f"{relay.config_path}:{line_of(section, key)}: {section}.{key}: {words}"
        assert any(e.startswith(want) for e in errors), (want, errors)


def test_reload_refuses_a_cipher_openssl_refuses_at_its_line(rsa_relay):
    relay = rsa_relay()
    write_config(relay, {"smtp": {"tls12_ciphers": "ECDHE+AESGCM:ECDHE-RSA-AES128-GCM-SHA265"}})
    reload(relay, expect_ok=False)
    m = re.search(rf"{re.escape(str(relay.config_path))}:(\d+): smtp\.tls12_ciphers: "
                  r"'ECDHE-RSA-AES128-GCM-SHA265' matches no TLS 1\.2 cipher", relay.log())
    assert m, relay.log()
    lines = relay.config_path.read_text().splitlines()
    assert lines[int(m.group(1)) - 1].startswith("tls12_ciphers"), lines
    # The running settings stay: TLS 1.2 with the default suites.
    scan = sslscan(relay)
    assert "TLSv1.2" in scan.enabled(), scan.text
