"""`secmx-relay --config FILE --check`: exit 0 with "FILE: OK", or exit 1 with
"FILE:LINE: message" naming the right line."""
import subprocess

from relaytest import Relay, relay_bin


def _check(path):
    return subprocess.run([relay_bin(), "--config", str(path), "--check"],
                          capture_output=True, text=True, timeout=30)


def _good_config(tmp_path, tls_files):
    r = Relay(tmp_path / "good", tls=tls_files)
    return r.config_path, r.config_path.read_text()


def test_check_good_file(tmp_path, tls_files):
    path, _ = _good_config(tmp_path, tls_files)
    r = _check(path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{path}: OK" in r.stdout


def _line_of(lines, prefix):
    return next(i for i, l in enumerate(lines, 1) if l.startswith(prefix))


def test_check_unknown_key_names_its_line(tmp_path, tls_files):
    path, text = _good_config(tmp_path, tls_files)
    lines = text.splitlines()
    at = _line_of(lines, "max_recipients")
    lines.insert(at, "max_recipents_typo = 5")  # becomes line at+1
    bad = tmp_path / "bad.toml"
    bad.write_text("\n".join(lines) + "\n")
    r = _check(bad)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout + r.stderr
    want = f"{bad}:{at + 1}:"
    assert any(l.startswith(want) and "max_recipents_typo" in l for l in out.splitlines()), out
    assert "OK" not in r.stdout


def test_check_several_errors_each_with_its_line(tmp_path, tls_files):
    path, text = _good_config(tmp_path, tls_files)
    lines = text.splitlines()
    nets = _line_of(lines, "relay_networks")
    lines[nets - 1] = 'relay_networks = ["10.0.0.0/33"]'
    level = _line_of(lines, "level")
    lines[level - 1] = 'level = "chatty"'
    lines.append("[nonsense]")
    lines.append("x = 1")
    bad = tmp_path / "bad.toml"
    bad.write_text("\n".join(lines) + "\n")
    r = _check(bad)
    out = (r.stdout + r.stderr).splitlines()
    assert r.returncode == 1, out
    assert any(l.startswith(f"{bad}:{nets}:") for l in out), out
    assert any(l.startswith(f"{bad}:{level}:") for l in out), out
    assert any(l.startswith(f"{bad}:{len(lines) - 1}:") or l.startswith(f"{bad}:{len(lines)}:")
               for l in out), out


def test_check_toml_syntax_error(tmp_path):
    bad = tmp_path / "syntax.toml"
    bad.write_text('hostname = "relay.test.example"\n[smtp\nlisten = ["127.0.0.1:1"]\n')
    r = _check(bad)
    assert r.returncode == 1
    assert any(l.startswith(f"{bad}:2:") for l in (r.stdout + r.stderr).splitlines()), \
        r.stdout + r.stderr


def test_relay_refuses_to_start_on_bad_config(tmp_path, tls_files):
    path, text = _good_config(tmp_path, tls_files)
    bad = tmp_path / "bad.toml"
    bad.write_text(text + "\nunknown_top_level = 1\n")
    r = subprocess.run([relay_bin(), "--config", str(bad)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0
    assert f"{bad}:" in r.stdout + r.stderr
