"""Inbound handshake cost, as real clients see it (openssl s_client -starttls smtp): the
ECDSA certificate served beside the RSA one and chosen by the client's signature
algorithms, X25519 as the key exchange, and session tickets that resume."""
import re
import subprocess

import pytest

from relaytest import HOSTNAME, Relay, relay_bin


@pytest.fixture(scope="module")
def rsa_files(tmp_path_factory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("rsa")
    cert, key = d / "rsa-cert.pem", d / "rsa-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={HOSTNAME}",
                    "-addext", f"subjectAltName=DNS:{HOSTNAME}"],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


@pytest.fixture
def dual_relay(rsa_files, tls_files, tmp_path):
    """The RSA pair as tls_cert/tls_key, the EC one (tls_files) beside it."""
    r = Relay(tmp_path / "dual", tls=rsa_files,
              overrides={"smtp": {"tls_ecdsa_cert": tls_files[0],
                                  "tls_ecdsa_key": tls_files[1]}})
    r.start()
    yield r
    r.stop(timeout=10)


def s_client(relay, *args: str) -> str:
    """One STARTTLS session that says QUIT and waits for the server to close (so a TLS 1.3
    ticket sent after the handshake is read and can be saved)."""
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                        f"{relay.host}:{relay.port}", "-servername", HOSTNAME, "-ign_eof",
                        *args],
                       input="QUIT\r\n", capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    assert "221" in out, out
    return out


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_client_gets_the_certificate_its_signature_algorithms_take(dual_relay, version):
    ec = s_client(dual_relay, version, "-sigalgs", "ECDSA+SHA256")
    assert re.search(r"Server public key is 256 bit", ec), ec
    rsa = s_client(dual_relay, version, "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256")
    assert re.search(r"Server public key is 2048 bit", rsa), rsa


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_key_exchange_is_x25519(dual_relay, version):
    out = s_client(dual_relay, version)
    assert "Server Temp Key: X25519" in out, out


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_session_ticket_resumes(dual_relay, version, tmp_path):
    sess, sess2 = tmp_path / "session.pem", tmp_path / "session2.pem"
    first = s_client(dual_relay, version, "-sess_out", str(sess))
    assert re.search(r"^New, TLSv1\.[23]", first, re.M), first
    assert sess.stat().st_size > 0
    again = s_client(dual_relay, version, "-sess_in", str(sess), "-sess_out", str(sess2))
    assert re.search(r"^Reused, TLSv1\.[23]", again, re.M), again
    # TLS 1.3: the resumed session hands out a new ticket (clients use each once); TLS 1.2
    # keeps the session it resumed, and its ticket stays good.
    third = s_client(dual_relay, version, "-sess_in",
                     str(sess2 if version == "-tls1_3" else sess))
    assert re.search(r"^Reused, TLSv1\.[23]", third, re.M), third


def test_check_refuses_an_rsa_certificate_in_the_ecdsa_slot(rsa_files, tls_files, tmp_path):
    cfg = tmp_path / "relay.toml"
    cfg.write_text(f'[smtp]\ntls_cert = "{rsa_files[0]}"\ntls_key = "{rsa_files[1]}"\n'
                   f'tls_ecdsa_cert = "{rsa_files[0]}"\ntls_ecdsa_key = "{rsa_files[1]}"\n')
    r = subprocess.run([relay_bin(), "--config", str(cfg), "--check"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{cfg}:4: smtp.tls_ecdsa_cert: '{rsa_files[0]}' is not an ECDSA certificate" \
        in r.stderr, r.stderr
    cfg.write_text(f'[smtp]\ntls_cert = "{rsa_files[0]}"\ntls_key = "{rsa_files[1]}"\n'
                   f'tls_ecdsa_cert = "{tls_files[0]}"\ntls_ecdsa_key = "{rsa_files[1]}"\n')
    r = subprocess.run([relay_bin(), "--config", str(cfg), "--check"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{cfg}:5: smtp.tls_ecdsa_key: private key '{rsa_files[1]}' does not match" \
        in r.stderr, r.stderr
