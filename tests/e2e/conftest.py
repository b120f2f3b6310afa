"""Fixtures for the end-to-end suite.

Each test gets fresh relays (own config, queue, ports) from `make_relay`; at teardown
every relay still running is stopped with SIGTERM and must exit 0 within 10 s, and no
relay log may contain a sanitizer report. On a failing test the tail of each relay's log
is printed so that the report shows what the relay said.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import relaytest  # noqa: E402
from relaytest import Relay  # noqa: E402


def pytest_configure(config):
    binary = relaytest.relay_bin()
    if not os.access(binary, os.X_OK):
        raise pytest.UsageError(
            f"relay binary {binary} not found or not executable: build it first or set "
            "SECMX_RELAY_BIN")
    for tool in ("swaks", "openssl"):
        if shutil.which(tool) is None:
            raise pytest.UsageError(f"{tool} is not installed (scripts/install-deps.sh "
                                    "--with-tests)")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", f"/CN={relaytest.HOSTNAME}",
         "-addext", f"subjectAltName=DNS:{relaytest.HOSTNAME}"],
        check=True, capture_output=True, timeout=30)
    os.chmod(key, 0o600)
    return str(cert), str(key)


@pytest.fixture
def make_relay(request, tmp_path, tls_files):
    relays: list[Relay] = []

    def factory(tls: bool = False, overrides: dict | None = None, start: bool = True,
                name: str | None = None) -> Relay:
        r = Relay(tmp_path / (name or f"relay{len(relays)}"), tls=tls_files if tls else None,
                  overrides=overrides)
        relays.append(r)
        if start:
            r.start()
        return r

    yield factory

    problems = []
    for r in relays:
        if r.running():
            try:
                rc = r.stop(timeout=10)
                if rc != 0:
                    problems.append(f"{r.workdir.name}: exit code {rc} after SIGTERM")
            except AssertionError as e:
                problems.append(f"{r.workdir.name}: {e}")
        report = r.sanitizer_report()
        if report:
            problems.append(f"{r.workdir.name}: sanitizer/crash report in log:\n{report}")
    failed = getattr(request.node, "rep_call", None)
    if problems or (failed is not None and failed.failed):
        for r in relays:
            tail = r.log()[-6000:]
            print(f"\n===== {r.workdir.name} log ({r.log_path}) tail =====\n{tail}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def relay(make_relay) -> Relay:
    """A running relay without TLS."""
    return make_relay()


@pytest.fixture
def tls_relay(make_relay) -> Relay:
    """A running relay offering STARTTLS."""
    return make_relay(tls=True)
