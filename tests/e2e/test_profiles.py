"""The national profiles in etc/examples against the real binary: they pass `--check`
without a warning, `--check` names every uncovered level at file:line, PROTECTED mail under
the Australian profile is queued SOS (verify), and a marking that breaks the EPMS takes
policy.unknown_marking, with the reason in the log and in /metrics.

The relays here run the profile's own [policy] section and rules; only the listeners,
queue and routes come from the test harness."""
import re
import shutil
import smtplib
import subprocess
import tomllib
import urllib.request
from pathlib import Path

from relaytest import free_port, relay_bin, render_toml

EXAMPLES = Path(__file__).resolve().parents[2] / "etc" / "examples"


def _check(tmp_path, tls_files, name: str, text: str | None = None):
    """`--check` on a copy of the profile beside the files its relative paths name."""
    (tmp_path / "tls").mkdir(parents=True, exist_ok=True)
    shutil.copy(tls_files[0], tmp_path / "tls" / "cert.pem")
    shutil.copy(tls_files[1], tmp_path / "tls" / "key.pem")
    path = tmp_path / name
    path.write_text(text if text is not None else (EXAMPLES / name).read_text())
    return path, subprocess.run([relay_bin(), "--config", str(path), "--check"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=30)


def test_profiles_pass_check_without_warnings(tmp_path, tls_files):
    for name in ("agency-au.toml", "agency-nz.toml", "agency.toml"):
        _, r = _check(tmp_path, tls_files, name)
        assert r.returncode == 0, name + ": " + r.stdout + r.stderr
        assert "warning" not in r.stdout + r.stderr, name + ": " + r.stderr


def test_check_names_the_uncovered_level_at_its_line(tmp_path, tls_files):
    """The issue's case: an NZ-only policy (the AU rule taken out of agency.toml) would
    send PROTECTED mail BES; `--check` says so, and with "error" refuses the file."""
    text = (EXAMPLES / "agency.toml").read_text()
    au_rule = ('[[policy.rule]]\nclassification = ["OFFICIAL:Sensitive", "PROTECTED"]\n'
               'policy = "SOS"\n')
    assert au_rule in text
    text = text.replace(au_rule, "")
    line = text.splitlines().index('default = "BES"') + 1
    path, r = _check(tmp_path, tls_files, "nz-only.toml", text)
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert (f"{path}:{line}: warning: policy: no rule covers level PROTECTED and "
            f'policy.default is "BES": mail marked PROTECTED would go BES') in out, out
    assert f"{path}:{line}: warning: policy: no rule covers level OFFICIAL:Sensitive" in out

    strict = text.replace('default = "BES"\n', 'default = "BES"\nuncovered_levels = "error"\n')
    path, r = _check(tmp_path, tls_files, "nz-only-strict.toml", strict)
    assert r.returncode != 0
    assert re.search(rf"{re.escape(str(path))}:{line}: policy: no rule covers level PROTECTED",
                     r.stdout + r.stderr), r.stdout + r.stderr


def _au_relay(make_relay):
    """A relay running agency-au.toml's [policy] and rules; mail to dest.example goes to a
    closed port, so what the policy stored stays queued to read."""
    profile = tomllib.loads((EXAMPLES / "agency-au.toml").read_text())
    policy = {k: v for k, v in profile["policy"].items() if k != "rule"}
    relay = make_relay(start=False, overrides={"policy": policy, "delivery": {"pause": False}})
    rules = "".join("\n[[policy.rule]]\n" + render_toml(r) for r in profile["policy"]["rule"])
    route = f'\n[[route]]\ndomain = "dest.example"\nhost = "[127.0.0.1]:{free_port()}"\n'
    relay.config_path.write_text(relay.config_path.read_text() + rules + route)
    return relay.start()


def _send(relay, headers: str) -> str:
    """One message through smtplib; returns the queue id from the 250 reply."""
    with smtplib.SMTP(relay.host, relay.port, timeout=30) as s:
        s.ehlo("client.test")
        assert s.mail("alice@agency.gov.au")[0] == 250
        assert s.rcpt("bob@dest.example")[0] == 250
        code, text = s.data((headers + "\r\nbody\r\n").encode())
    assert code == 250, text
    return re.search(rb"queued as (\S+)", text).group(1).decode()


def _metric(relay, sample: str) -> float:
    relay.wait_log(r"admin API listening")
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(f"http://127.0.0.1:{relay.admin_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.M)
    assert m, f"{sample} not in /metrics"
    return float(m.group(1))


def test_protected_is_queued_sos_under_the_au_profile(make_relay):
    relay = _au_relay(make_relay)
    qid = _send(relay, "From: alice@agency.gov.au\r\nSubject: Budget [SEC=PROTECTED]\r\n"
                       "X-Protective-Marking: VER=2024.1, NS=gov.au, SEC=PROTECTED, "
                       "ORIGIN=alice@agency.gov.au\r\n")
    [rc] = relay.dump_by_id()[qid]["recipients"]
    assert (rc["policy"], rc["tls"], rc["rule"]) == (
        "SOS", "verify", "rule=2(classification=PROTECTED)")
    relay.wait_log(rf"{qid}: queued .* policy=SOS rule=2\(classification=PROTECTED\)")
    assert f"{qid}: invalid marking" not in relay.log()


def test_invalid_epms_marking_takes_unknown_marking(make_relay):
    relay = _au_relay(make_relay)
    before = _metric(relay, 'secmx_markings_invalid_total{reason="order"}')
    # OFFICIAL would go BES; written out of order it is held (the profile's unknown_marking).
    qid = _send(relay, "From: alice@agency.gov.au\r\nSubject: hi\r\n"
                       "X-Protective-Marking: SEC=OFFICIAL, VER=2024.1, NS=gov.au\r\n")
    m = relay.dump_by_id()[qid]
    assert m["held"] is True
    [rc] = m["recipients"]
    assert (rc["policy"], rc["rule"]) == ("HOLD", "unknown-marking")
    relay.wait_log(rf"{qid}: invalid marking: reason=order policy=HOLD "
                   rf"why=X-Protective-Marking: VER after SEC")
    assert _metric(relay, 'secmx_markings_invalid_total{reason="order"}') == before + 1

    # A hostile "reason" stays on its log line.
    qid = _send(relay, "Subject: hi\r\nX-Protective-Marking: VER=2024.1, NS=gov.au, "
                       "SEC=OFFICIAL, ACCESS=\"x\\\"\x01\"\r\n")
    line = relay.wait_log(rf"{qid}: invalid marking: reason=\S+ policy=HOLD why=.*").group(0)
    assert "\x01" not in line
