"""A mistake in config.toml or the fleet file it names is one line and exit 2 at once, before any daemon starts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import vconsole_cmd

FAST = 2.0  # seconds: the old failure mode was a 15 s wait for a broker that had died


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _run(*args: str, timeout: float = 30) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    result = subprocess.run(
        vconsole_cmd(*args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    return result, time.monotonic() - began


def _assert_one_line(result: subprocess.CompletedProcess[str], took: float, code: int, *words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert took < FAST, f"took {took:.2f}s: {result.stderr}"
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vconsole: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


FLEET_CASES = [
    # (fleet text, words the error must hold)
    ('[[container]]\nid = 5\nname = "x"\nvtty = 3\n', ["container x", "vtty is not a setting", "did you mean 'vttys'"]),
    ('[[container]]\nid = -5\nname = "x"\n', ["container x", "id -5 is negative"]),
    ('[[domu]]\nid = 1\nname = "d"\nfrontent = "legacy"\n', ["domu d", "frontent", "did you mean 'frontend'"]),
    ('hots = "lab"\n', ["hots is not a setting", "did you mean 'host'"]),
    ('[[container]]\nid = 5\nname = "x"\nvttys = 13\n', ["container x", "vttys must be 1..12"]),
    ("[[container]\n", ["fleet.toml"]),
]

CONFIG_CASES = [
    ('[broker]\nhistroy = "1MiB"\n', ["broker.histroy is not a setting", "did you mean 'history'"]),
    ("[borker]\n", ["borker is not a setting", "did you mean 'broker'"]),
    ('[client]\nescpe = "^A"\n', ["client.escpe", "did you mean 'escape'"]),
    ("[lab]\nenable = true\n", ["lab.enable is not a setting", "did you mean 'enabled'"]),
    ('[broker]\nhistory = "lots"\n', ["broker.history"]),
    ("[broker]\nallow_uids = [-1]\n", ["broker.allow_uids"]),
    ('[providers.lxc]\nlxcpth = "/x"\n', ["providers.lxc.lxcpth", "did you mean 'lxcpath'"]),
    ("[providers.lcx]\n", ["providers.lcx", "did you mean 'lxc'"]),
    ('[lab]\nfleet = "/nonexistent.toml"\n', ["lab.fleet", "/nonexistent.toml", "No such file"]),
    ("[broker\n", []),
]


def _no_daemon_started(runtime: Path) -> None:
    assert not (runtime / "run" / "vconsole" / "broker.sock").exists()
    assert not (runtime / "state" / "vconsole" / "broker.log").exists()
    assert not (runtime / "state" / "vconsole" / "lab.log").exists()


@pytest.mark.parametrize("text,words", CONFIG_CASES, ids=[c[1][0] if c[1] else "syntax" for c in CONFIG_CASES])
def test_a_bad_config_is_refused_at_once_before_a_broker_starts(runtime: Path, text: str, words: list[str]) -> None:
    config = _write(runtime / "config" / "vconsole" / "config.toml", text)
    result, took = _run("ls")
    _assert_one_line(result, took, 2, str(config), *words)
    _no_daemon_started(runtime)


@pytest.mark.parametrize("text,words", FLEET_CASES, ids=[c[1][-1] for c in FLEET_CASES])
def test_a_bad_fleet_named_by_the_config_is_refused_at_once(runtime: Path, text: str, words: list[str]) -> None:
    fleet = _write(runtime / "fleet.toml", text)
    # A relative path is relative to config.toml's directory.
    _write(runtime / "config" / "vconsole" / "config.toml", '[lab]\nfleet = "../../fleet.toml"\n')
    result, took = _run("ls")
    _assert_one_line(result, took, 2, str(fleet.name), *words)
    _no_daemon_started(runtime)
    # The same file given to the lab itself, and a broker run in-process or in the foreground.
    for args in (("lab", "--fleet", str(fleet)), ("ls", "--no-daemon"), ("serve",)):
        result, took = _run(*args)
        _assert_one_line(result, took, 2, str(fleet.name), *words)
    _no_daemon_started(runtime)


def test_a_broker_that_dies_at_start_is_reported_at_once_with_its_log(runtime: Path) -> None:
    # A socket path longer than a Unix socket allows: the broker cannot bind and exits.
    socket = runtime / ("d" * 110) / "broker.sock"
    result, took = _run("ls", "--socket", str(socket))
    log = runtime / "state" / "vconsole" / "broker.log"
    _assert_one_line(result, took, 3, "the broker did not start", "path too long", str(log))
    assert log.exists()


def test_a_good_config_with_a_relative_fleet_serves_that_fleet(runtime: Path) -> None:
    _write(runtime / "config" / "vconsole" / "fleet.toml", 'host = "rel"\n[[container]]\nid = 42\nname = "answer"\nvttys = 1\n')
    _write(runtime / "config" / "vconsole" / "config.toml", '[lab]\nfleet = "fleet.toml"\n')
    # From another working directory: the path is the config file's, not the cwd's.
    result = subprocess.run(
        [sys.executable, "-m", "vconsole", "ls"], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, cwd="/",
    )
    try:
        assert result.returncode == 0, result.stderr
        assert "answer" in result.stdout
    finally:
        subprocess.run([sys.executable, "-m", "vconsole", "shutdown", "--lab"], capture_output=True, timeout=30)
