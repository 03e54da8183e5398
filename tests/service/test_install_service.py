"""Issue 18: the packaged unit, `vconsole install-service` and systemd-analyze's verdict on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli, vconsole_cmd
from vconsole.cli.service_install import UNIT_DIR, UNITS, rendered_unit

UNIT_PATH = Path("etc/systemd/system/vconsole.service")


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _installed(tmp_path: Path) -> Path:
    result = run_cli("install-service", "--prefix", str(tmp_path))
    assert result.returncode == 0, result.stderr
    unit = tmp_path / UNIT_PATH
    assert f"write {unit}" in result.stdout
    return unit


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "keep").write_text("x")
    before = _tree(tmp_path)
    result = run_cli("install-service", "--dry-run", "--prefix", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"would write {tmp_path / UNIT_PATH} from {UNIT_DIR / 'vconsole.service'}" in result.stdout
    assert _tree(tmp_path) == before
    assert not (tmp_path / "etc").exists()


def test_dry_run_on_this_host_says_every_step(tmp_path: Path) -> None:
    unit = Path("/etc/systemd/system/vconsole.service")
    existed = unit.exists()
    result = run_cli("install-service", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(("would write /etc/systemd/system/vconsole.service", "/etc/systemd/system/vconsole.service is up to date"))
    assert any("group 'vconsole' exists" in ln or ln == "would groupadd --system vconsole" for ln in lines)
    assert lines[-1] == "not enabled: start it with `systemctl enable --now vconsole.service`"
    assert unit.exists() == existed


def test_prefix_installs_the_unit_pointing_at_this_vconsole(tmp_path: Path) -> None:
    unit = _installed(tmp_path)
    text = unit.read_text()
    shipped = (UNIT_DIR / "vconsole.service").read_text()
    exec_line = next(ln for ln in text.splitlines() if ln.startswith("ExecStart="))
    # run_cli runs `python -m vconsole`: the unit runs that same interpreter and package.
    assert exec_line in (f"ExecStart={sys.executable} -m vconsole serve --system", f"ExecStart={Path(sys.executable).with_name('vconsole')} serve --system")
    assert text.replace(exec_line, "ExecStart=/usr/local/bin/vconsole serve --system") == shipped
    assert unit.stat().st_mode & 0o777 == 0o644
    again = run_cli("install-service", "--prefix", str(tmp_path))
    assert again.returncode == 0 and f"{unit} is up to date" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--prefix", "/no/such/dir"), "vconsole: --prefix /no/such/dir: not a directory\n"),
        (("--prefix", "{tmp}", "--enable"), "vconsole: --enable cannot be used with --prefix (it enables the unit on this host)\n"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run_cli("install-service", *(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert (result.returncode, result.stderr, result.stdout) == (2, message, "")
    assert list(tmp_path.iterdir()) == []


def test_installing_on_the_host_needs_root() -> None:
    # As root, the command runs as nobody (setpriv), as a user who forgot sudo would.
    as_user: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv (util-linux) to become another user")
        as_user = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    result = subprocess.run(
        [*as_user, *vconsole_cmd("install-service")], capture_output=True, text=True, timeout=30, cwd="/"
    )
    assert (result.returncode, result.stderr) == (2, "vconsole: install-service needs root (or --dry-run, or --prefix DIR)\n")


def test_systemd_analyze_accepts_the_installed_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing (Debian: apt-get install systemd; .ci/run installs it)")
    unit = _installed(tmp_path)
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # verify reports unknown keys and bad values as warnings with exit 0: any word on the unit fails.
    said = [ln for ln in (result.stdout + result.stderr).splitlines() if "vconsole.service" in ln]
    assert result.returncode == 0 and not said, result.stdout + result.stderr
    # And it does look: a broken copy is refused.
    broken = tmp_path / "broken" / "vconsole.service"
    broken.parent.mkdir()
    broken.write_text(unit.read_text().replace("Type=notify", "Type=notify\nWatchdogSec=soon"))
    bad = subprocess.run([analyze, "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert "broken/vconsole.service:12: Failed to parse sec value" in bad.stdout + bad.stderr


def test_every_shipped_unit_is_installed() -> None:
    assert sorted(p.name for p in UNIT_DIR.iterdir()) == sorted(UNITS)


def test_a_command_path_with_spaces_and_percent_stays_one_word(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing (Debian: apt-get install systemd; .ci/run installs it)")
    command = tmp_path / "my venv 100%" / "bin" / "vconsole"
    command.parent.mkdir(parents=True)
    command.write_text("#!/bin/sh\n")
    command.chmod(0o755)
    unit = tmp_path / "vconsole.service"
    unit.write_text(rendered_unit("vconsole.service", [str(command)]))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # A wrong split or specifier would name a missing command or a bad specifier.
    assert result.returncode == 0 and "vconsole.service" not in result.stdout + result.stderr, result.stderr
    assert f'ExecStart="{str(command).replace("%", "%%")}" serve --system' in unit.read_text()
