"""The first run on a host with LXC says which providers the broker it starts serves, and how to get the lab."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.lab_host import REPO

LXC_HOST = REPO / "tests" / "fakes" / "lxc-host"  # an lxc-ls and no containers


@pytest.fixture
def lxc_host(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A runtime where LXC is installed and nothing chooses the providers (a fresh install)."""
    monkeypatch.delenv("VCONSOLE_PROVIDERS")
    monkeypatch.setenv("PATH", f"{LXC_HOST}:{os.environ['PATH']}")
    return runtime


def test_the_first_client_says_the_lab_is_off_and_how_to_see_it(lxc_host: Path) -> None:
    first = run_cli("ls", "--json")
    assert first.returncode == 0, first.stderr
    assert [p["name"] for p in json.loads(first.stdout)["providers"]] == ["lxc"]
    said = first.stderr
    assert "vconsole: started the broker: guests from lxc; the demo lab is off" in said
    assert "--providers lab" in said and "[lab] enabled = true" in said and "vconsole shutdown" in said
    assert said.count("\n") == 1, "one line"

    again = run_cli("ls")
    assert again.returncode == 0 and "started the broker" not in again.stderr, "said again by a later client"

    assert run_cli("shutdown").returncode == 0
    lab = run_cli("--providers", "lab", "ls", "--json")
    assert lab.returncode == 0, lab.stderr
    assert [p["name"] for p in json.loads(lab.stdout)["providers"]] == ["lab"]
    assert "started the broker: guests from the demo lab" in lab.stderr
    run_cli("shutdown", "--lab")


def test_no_daemon_says_it_too(lxc_host: Path) -> None:
    result = run_cli("--no-daemon", "ls")
    assert result.returncode == 0, result.stderr
    assert "started the broker: guests from lxc; the demo lab is off" in result.stderr


def test_lab_beside_lxc_from_the_config(lxc_host: Path) -> None:
    config = lxc_host / "config" / "vconsole" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[lab]\nenabled = true\n")
    result = run_cli("ls", "--json")
    assert result.returncode == 0, result.stderr
    assert [p["name"] for p in json.loads(result.stdout)["providers"]] == ["lxc", "lab"]
    assert "started the broker: guests from lxc and the demo lab" in result.stderr
    run_cli("shutdown", "--lab")


def test_an_unknown_provider_is_refused_before_anything_starts(lxc_host: Path) -> None:
    result = run_cli("--providers", "lab,lcx", "ls")
    assert result.returncode == 2
    assert result.stderr == "vconsole: unknown provider 'lcx' (known: lxc, openvz, xen, lab)\n"
    assert not (lxc_host / "run" / "vconsole" / "broker.sock").exists()
