"""pki.py - a throw-away certificate authority for the end-to-end tests (openssl CLI).

    ca = TestCA(tmp_path / "pki")                 # self-signed CA, EC P-256
    cert, key = ca.issue("mx1.test.example")     # leaf signed by the CA, SAN = the name
    cert, key = ca.issue("mx1.test.example", expired=True)     # validity ended in 2021
    cert, key = ca.issue("mx1.test.example", sans=["*.x.test"])  # explicit SAN list
    ca.cert                                        # PEM to use as a client's --ca-file
    ca.chain(cert)                                 # leaf + CA in one file, for a server

Contract: every file lives under the directory given; keys are unencrypted, mode 0600;
nothing touches the system trust store. Leaves carry serverAuth and a SAN list (DNS
names, or IP addresses for literals), since clients check the SAN, not the CN. Each call
runs openssl with a bounded timeout and raises CalledProcessError with openssl's stderr
when it fails.
"""
from __future__ import annotations

import ipaddress
import os
import subprocess
from pathlib import Path

_TIMEOUT = 30


def _openssl(*args: str, cwd: Path | None = None) -> None:
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=_TIMEOUT,
                       cwd=cwd)
    if r.returncode != 0:
        raise subprocess.CalledProcessError(r.returncode, r.args, r.stdout, r.stderr)


def _san_entry(name: str) -> str:
    try:
        ipaddress.ip_address(name)
        return f"IP:{name}"
    except ValueError:
        return f"DNS:{name}"


class TestCA:
    """A CA certificate and key under `directory`, made on construction."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, directory: Path, name: str = "secmx e2e test CA", days: int = 3):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert = self.dir / "ca.pem"
        self.key = self.dir / "ca.key"
        self._serial = 1000
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", str(self.key), "-out", str(self.cert),
                 "-days", str(days), "-subj", f"/CN={name}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        os.chmod(self.key, 0o600)

    def issue(self, name: str, sans: list[str] | None = None, expired: bool = False,
              days: int = 2, stem: str | None = None) -> tuple[Path, Path]:
        """Returns (cert, key) paths of a leaf for `name` signed by this CA.

        expired: valid from 2020-01-01 to 2021-01-01 (made with `openssl ca`, which is the
        only openssl 3.0 command that takes explicit dates)."""
        self._serial += 1
        stem = stem or f"{name.replace('*', 'star')}-{self._serial}"
        key = self.dir / f"{stem}.key"
        csr = self.dir / f"{stem}.csr"
        cert = self.dir / f"{stem}.pem"
        ext = self.dir / f"{stem}.ext"
        san = ",".join(_san_entry(n) for n in (sans or [name]))
        ext.write_text("[leaf]\n"
                       "basicConstraints = critical,CA:FALSE\n"
                       "keyUsage = critical,digitalSignature,keyEncipherment\n"
                       "extendedKeyUsage = serverAuth\n"
                       f"subjectAltName = {san}\n")
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
        os.chmod(key, 0o600)
        if not expired:
            _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey",
                     str(self.key), "-set_serial", str(self._serial), "-days", str(days),
                     "-extfile", str(ext), "-extensions", "leaf", "-out", str(cert))
            return cert, key
        cadir = self.dir / f"{stem}.cadb"
        cadir.mkdir(exist_ok=True)
        (cadir / "index.txt").write_text("")
        (cadir / "serial").write_text(f"{self._serial:04X}\n")
        conf = cadir / "ca.cnf"
        conf.write_text("[ca]\ndefault_ca = test\n"
                        "[test]\n"
                        f"database = {cadir}/index.txt\n"
                        f"serial = {cadir}/serial\n"
                        f"new_certs_dir = {cadir}\n"
                        "default_md = sha256\n"
                        "policy = any\n"
                        "unique_subject = no\n"
                        "copy_extensions = none\n"
                        "[any]\ncommonName = supplied\n"
                        + ext.read_text())
        _openssl("ca", "-batch", "-config", str(conf), "-cert", str(self.cert), "-keyfile",
                 str(self.key), "-in", str(csr), "-out", str(cert), "-extensions", "leaf",
                 "-startdate", "20200101000000Z", "-enddate", "20210101000000Z", "-notext")
        return cert, key

    def chain(self, cert: Path) -> Path:
        """A file holding the leaf `cert` followed by this CA's certificate: what a server
        presents when a client must see the CA too (DANE-TA matches a certificate of the
        chain the peer sends, RFC 7671 §5.2.2)."""
        out = Path(cert).with_suffix(".chain.pem")
        out.write_text(Path(cert).read_text() + self.cert.read_text())
        return out
