"""dns_fixtures.py - pytest fixtures around dns_server.DnsServer (a real unbound).

Use in a test module with

    from dns_fixtures import dns_server  # noqa: F401

`dns_server` is a DnsServer (see dns_server.py) on 127.0.0.1 and a free port, not yet
started: add records, call start(), then put `dns_server.address` into `[dns] servers`.
It is stopped at teardown; if the test failed, unbound's log is printed.
`dns_server_v6` is the same on [::1].
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dns_server import DnsServer  # noqa: E402


def _serve(request, tmp_path, host: str):
    server = DnsServer(tmp_path / ("dns6" if ":" in host else "dns"), host=host)
    try:
        yield server
    finally:
        server.stop()
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            print(f"\n===== unbound log ({server.workdir}) tail =====\n{server.log()[-4000:]}")


@pytest.fixture
def dns_server(request, tmp_path) -> DnsServer:
    yield from _serve(request, tmp_path, "127.0.0.1")


@pytest.fixture
def dns_server_v6(request, tmp_path) -> DnsServer:
    yield from _serve(request, tmp_path, "::1")
