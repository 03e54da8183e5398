"""Issue 18: shell completion generated from the parser, and `vconsole help config` from one key table."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from vconsole.cli.config_keys import KEYS_DOCUMENTED, render_markdown
from vconsole.config import TABLES, Config, ConfigError

REPO = Path(__file__).resolve().parents[2]


def _script(shell: str, tmp_path: Path) -> Path:
    result = run_cli("completion", shell)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    path = tmp_path / f"vconsole.{shell}"
    path.write_text(result.stdout)
    return path


def _bash_complete(script: Path, *words: str) -> list[str]:
    """What bash's completion offers for the command line ``vconsole WORDS`` (the last word being typed)."""
    line = " ".join(f"'{w}'" for w in ("vconsole", *words))
    program = f'source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words)}; _vconsole_complete; printf "%s\\n" "${{COMPREPLY[@]}}"'
    result = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_bash_script_is_valid_and_completes_from_the_parser(tmp_path: Path) -> None:
    script = _script("bash", tmp_path)
    check = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    assert _bash_complete(script, "l") == ["ls", "lab", "log"]
    # An option's value is not taken for the command.
    assert _bash_complete(script, "--socket", "/tmp/x", "install-") == ["install-service"]
    assert set(_bash_complete(script, "attach", "--r")) == {"--read-only", "--reconnect-timeout"}
    assert _bash_complete(script, "completion", "") == ["bash", "zsh", "-h", "--help"]
    assert _bash_complete(script, "install-service", "--d") == ["--dry-run"]
    assert _bash_complete(script, "wait", "--from", "") == ["now", "start"]


def test_zsh_script_is_valid_and_registers(tmp_path: Path) -> None:
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("zsh is not installed (.ci/run installs it)")
    script = _script("zsh", tmp_path)
    check = subprocess.run([zsh, "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    # Sourced after compinit, as a user's .zshrc does: the function is vconsole's completer.
    program = f"autoload -U compinit; compinit -u -D; source {script}; print -r -- $_comps[vconsole]"
    loaded = subprocess.run([zsh, "-f", "-c", program], capture_output=True, text=True, timeout=30)
    assert (loaded.returncode, loaded.stdout.strip(), loaded.stderr) == (0, "_vconsole", "")
    text = script.read_text()
    for command in ("ls", "attach", "install-service", "completion", "help"):
        assert re.search(rf"^\s+'{command}:", text, re.M), command


def _documented_keys(table: str) -> set[str]:
    """The keys of ``[table]`` the help names: its own, and its sub-tables ([log.guests] is log's "guests")."""
    keys = set()
    for key in KEYS_DOCUMENTED:
        if key.table == table:
            keys.add(key.name)
        elif key.table.startswith(table + "."):
            keys.add(key.table.split(".")[1])
    return keys


def test_help_config_names_every_key_config_accepts() -> None:
    result = run_cli("help", "config")
    assert result.returncode == 0, result.stderr
    for key in KEYS_DOCUMENTED:
        assert f"  {key.name} = {key.takes}" in result.stdout
    for table in TABLES:
        if table in ("watches", "hosts", "providers"):
            continue  # watches, hosts: arrays of tables with their own notes; providers: from the providers' own table
        # With no near match, config.py lists the keys it knows: the same as documented.
        with pytest.raises(ConfigError, match=r"\(known: .*\)") as caught:
            Config.from_dict({table: {"zzzzqqqq": 1}})
        known = str(caught.value).split("(known: ")[1].rstrip(")").split(", ")
        assert set(known) == _documented_keys(table), table


def test_every_documented_example_is_accepted() -> None:
    document: dict[str, Any] = {}
    for key in KEYS_DOCUMENTED:
        if not key.example:
            continue
        table = document
        for part in key.table.split("."):
            table = table.setdefault(part, {})
        table["web" if key.name == "NAME" else key.name] = tomllib.loads(f"v = {key.example}")["v"]
    config = Config.from_dict(document)
    assert config.history_cap == 2 << 20 and config.log.guests == {"web": 64 << 20}


def test_docs_configuration_is_generated_from_the_table() -> None:
    assert (REPO / "docs" / "configuration.md").read_text() == render_markdown(), (
        "docs/configuration.md is stale: vconsole help config --markdown > docs/configuration.md"
    )
