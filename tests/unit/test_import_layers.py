"""The layers of docs/architecture.md are a contract that import-linter enforces, and it bites.

Each test runs the real ``lint-imports`` on a copy of the package and of
pyproject.toml in a temporary directory; the offending import is added to the
copy only (a throwaway module, or a line appended to a leaf), so a report
naming it proves the copy was the one checked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of vconsole/ and pyproject.toml, without caches."""
    shutil.copytree(ROOT / "vconsole", tmp_path / "vconsole", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on ``tree``, which comes first on the import path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_package_keeps_every_contract(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "imported"),
    [
        # The terminal engine reaching up to the broker.
        ("term/upward_probe.py", "from vconsole.broker import server\n", "vconsole.broker.server"),
        # console/ asking providers/ for its exception, hidden in a function body as it once was.
        (
            "console/upward_probe.py",
            "def fail() -> None:\n    from vconsole.providers.base import ProviderError\n\n    raise ProviderError\n",
            "vconsole.providers.base",
        ),
        # The TUI borrowing from the CLI.
        ("tui/upward_probe.py", "from vconsole.cli import exit_codes\n", "vconsole.cli.exit_codes"),
        # A leaf (config.py) reaching up to providers/, as it once did.
        ("config.py", "from vconsole.providers import detect\n", "vconsole.providers.detect"),
    ],
)
def test_an_upward_import_breaks_the_layers(tree: Path, module: str, source: str, imported: str) -> None:
    path = tree / "vconsole" / module
    before = path.read_text() if path.exists() else '"""Throwaway: an import against the layers."""\n'
    path.write_text(f"{before}\n{source}")
    importer = "vconsole." + module.removesuffix(".py").replace("/", ".")
    result = lint(tree)
    assert result.returncode != 0, result.stdout
    assert "vconsole layers (docs/architecture.md) BROKEN" in result.stdout
    assert f"{importer} -> {imported}" in result.stdout, result.stdout


def test_the_lab_is_reached_only_through_its_provider(tree: Path) -> None:
    # The broker sits above the lab in the layers, yet must not import it.
    (tree / "vconsole" / "broker" / "lab_probe.py").write_text(
        '"""Throwaway: the broker reaching into the lab."""\n\nfrom vconsole.lab import fleet\n'
    )
    result = lint(tree)
    assert result.returncode != 0, result.stdout
    assert "vconsole.broker.lab_probe -> vconsole.lab.fleet" in result.stdout, result.stdout
