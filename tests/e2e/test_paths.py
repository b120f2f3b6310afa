"""Paths and containers: relative paths in a config file are taken against the file's own
directory (not the working directory), the admin token is made on the first start, the
container's health check asks the admin API's /healthz, and compose publishes nothing on
every interface by default.

The relay here is started from a directory that is neither the config's nor the queue's,
with a config that names everything relatively; no container engine runs on the build
machines, so the health check script runs against this relay and compose.yaml is read
as YAML."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from relaytest import REPO, ctl_bin, free_port, relay_bin, render_toml, wait_until

HEALTHCHECK = REPO / "docker" / "healthcheck.sh"


class PathRelay:
    """A relay whose config lives in conf/ and names its files relatively, run from
    elsewhere/; the log goes to a file."""

    def __init__(self, root: Path):
        self.conf_dir = root / "conf"
        self.elsewhere = root / "elsewhere"
        self.conf_dir.mkdir()
        self.elsewhere.mkdir()
        self.smtp_port, self.admin_port = free_port(), free_port()
        self.config = self.conf_dir / "relay.toml"
        self.config.write_text(render_toml({
            "hostname": "relay.test.example",
            "smtp": {"listen": [f"127.0.0.1:{self.smtp_port}"]},
            "queue": {"path": "data/queue"},
            "dns": {"servers": ["127.0.0.1:9"]},
            "delivery": {"pause": True},
            "admin": {"listen": f"127.0.0.1:{self.admin_port}", "token_file": "admin.token"},
        }))
        self.log_path = root / "relay.log"
        self.proc: subprocess.Popen | None = None

    def start(self):
        with open(self.log_path, "ab") as logf:
            # The config named relatively too, from the working directory.
            self.proc = subprocess.Popen([relay_bin(), "--config", "../conf/relay.toml"],
                                         cwd=self.elsewhere, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT)
        self.wait_log("secmx-relay started")
        wait_until(lambda: self.health() == 0, 10, "the admin API's /healthz")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, text: str, timeout: float = 20):
        def seen():
            if self.proc.poll() is not None:
                raise AssertionError(f"relay exited with {self.proc.returncode}:\n{self.log()}")
            return text in self.log()
        wait_until(seen, timeout, f"relay log line {text!r}")

    def health(self) -> int:
        env = {**os.environ, "SECMX_ADMIN_HOST": "127.0.0.1",
               "SECMX_ADMIN_PORT": str(self.admin_port)}
        return subprocess.run(["bash", str(HEALTHCHECK)], env=env, capture_output=True,
                              timeout=30).returncode

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=20) if self.proc else 0


@pytest.fixture
def path_relay(tmp_path):
    r = PathRelay(tmp_path)
    yield r
    if r.proc and r.proc.poll() is None:
        r.proc.kill()
        r.proc.wait(timeout=10)


def test_check_v_prints_the_paths_resolved_against_the_config_directory(path_relay):
    r = subprocess.run([relay_bin(), "--config", "../conf/relay.toml", "--check", "-v"],
                       cwd=path_relay.elsewhere, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    conf = path_relay.conf_dir
    assert f"queue.path = {conf / 'data' / 'queue'}" in lines, r.stdout
    assert f"admin.token_file = {conf / 'admin.token'}" in lines, r.stdout
    assert "smtp.tls_cert = (none)" in lines, r.stdout
    # --check makes nothing, not even the token.
    assert not (conf / "admin.token").exists()
    assert not (conf / "data").exists()


def test_relay_started_elsewhere_keeps_its_queue_and_token_beside_the_config(path_relay):
    conf, elsewhere = path_relay.conf_dir, path_relay.elsewhere
    assert not (conf / "admin.token").exists()
    path_relay.start()

    # The queue is beside the config, nothing under the working directory.
    assert (conf / "data" / "queue" / "data.mdb").is_file()
    assert list(elsewhere.iterdir()) == []
    assert f"queue={conf / 'data' / 'queue'}" in path_relay.log()

    # The token was made at the first start: private, named in the log, never printed.
    token_file = conf / "admin.token"
    st = token_file.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert st.st_uid == os.geteuid()
    token = token_file.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", token), token
    assert f"event=admin-token-created file={token_file} mode=0600" in path_relay.log()
    assert token not in path_relay.log()

    # secmxctl finds it through the same config, from yet another directory.
    ctl = subprocess.run([ctl_bin(), "--config", str(path_relay.config), "stats"],
                         cwd="/", capture_output=True, text=True, timeout=30)
    assert ctl.returncode == 0, ctl.stdout + ctl.stderr

    # A restart keeps the token it made.
    assert path_relay.stop() == 0
    path_relay.start()
    assert token_file.read_text().strip() == token
    assert path_relay.log().count("event=admin-token-created") == 1
    assert path_relay.stop() == 0


def test_healthcheck_asks_healthz_without_an_smtp_session(path_relay):
    path_relay.start()
    before = path_relay.log()
    assert path_relay.health() == 0
    assert path_relay.health() == 0
    # No SMTP session: nothing was logged by the SMTP server for the checks.
    added = path_relay.log()[len(before):]
    assert " connect from " not in added, added
    assert path_relay.stop() == 0
    assert path_relay.health() != 0, "the health check passes with the relay stopped"


def test_compose_publishes_loopback_only_and_provides_the_token():
    compose = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())
    relay = compose["services"]["relay"]
    # Every published port names a host address, and by default only loopback.
    for mapping in relay["ports"]:
        host_ip = str(mapping).rsplit(":", 2)[0] if str(mapping).count(":") == 2 else ""
        assert host_ip == "127.0.0.1", f"port {mapping!r} is published on every interface"

    # The token file the image's config names is on a volume the container can write,
    # so the relay makes it at the first start and secmxctl in the container reads it.
    cfg = tomllib.loads((REPO / "docker" / "secmx-relay.toml").read_text())
    token_dir = str(Path(cfg["admin"]["token_file"]).parent)
    targets = {str(v).split(":")[1] for v in relay["volumes"]}
    assert token_dir in targets, (token_dir, targets)
    named = {str(v).split(":")[0] for v in relay["volumes"]} & set(compose["volumes"])
    assert any(str(v).split(":")[1] == token_dir for v in relay["volumes"]
               if str(v).split(":")[0] in named), "the token's directory is not a named volume"

    # The HEALTHCHECK asks the admin port the image's config listens on.
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    health = re.search(r'CMD \["/usr/local/libexec/secmx-relay/healthcheck", "([^"]+)", '
                       r'"(\d+)"\]', dockerfile)
    assert health, "HEALTHCHECK does not call the health check script with host and port"
    assert f"{health.group(1)}:{health.group(2)}" == cfg["admin"]["listen"]
