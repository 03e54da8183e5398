"""``vconsole install-service``: put the packaged systemd unit in place, and the ``vconsole`` group.

The units ship inside the package (``vconsole/service/``). Installing one
writes it with ExecStart pointing at the vconsole command this runs from
(a virtualenv's, a system pip's), so the unit starts the same version.
Nothing is started or enabled unless ``--enable`` asks for it. ``--dry-run``
prints each step and changes nothing; ``--prefix DIR`` installs under DIR
as a staging root (packaging, tests): files only, no group, no systemctl.
"""

from __future__ import annotations

import grp
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vconsole.cli.exit_codes import EXIT_USAGE, CliError

UNIT_DIR = Path(__file__).resolve().parent.parent / "service"
UNITS = ("vconsole.service",)
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
GROUP = "vconsole"
SHIPPED_EXEC = "ExecStart=/usr/local/bin/vconsole "


@dataclass(frozen=True)
class Step:
    """One thing install-service does: said before it is done, or instead (``--dry-run``)."""

    says: str
    run: Callable[[], None] | None  # None: nothing to do (said for the record)


def vconsole_command() -> list[str]:
    """argv starting this vconsole: its console script when there is one, else ``python -m vconsole``."""
    script = Path(sys.argv[0])
    if script.name == "vconsole" and script.is_file():
        return [str(script.absolute())]
    beside = Path(sys.executable).with_name("vconsole")
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    return [sys.executable, "-m", "vconsole"]


def exec_words(command: list[str]) -> str:
    """``command`` as an ExecStart= command line: ``%`` is a unit specifier, spaces need quotes."""
    words = []
    for word in command:
        word = word.replace("%", "%%")
        if any(c.isspace() or c in "\"'\\;" for c in word):
            word = '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
        words.append(word)
    return " ".join(words)


def rendered_unit(name: str, command: list[str]) -> str:
    """The packaged unit ``name`` with ExecStart running ``command``."""
    text = (UNIT_DIR / name).read_text()
    if SHIPPED_EXEC not in text:
        raise CliError(f"{UNIT_DIR / name}: no {SHIPPED_EXEC.strip()!r} line to point at this vconsole")
    return text.replace(SHIPPED_EXEC, "ExecStart=" + exec_words(command) + " ")


def _write(path: Path, text: str) -> Callable[[], None]:
    def write() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        part.write_text(text)
        part.chmod(0o644)
        os.replace(part, path)

    return write


def _command(argv: list[str]) -> Callable[[], None]:
    def run() -> None:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            said = (result.stderr or result.stdout).strip().splitlines()
            raise CliError(f"{' '.join(argv)} failed: {said[-1] if said else f'exit {result.returncode}'}")

    return run


def plan(prefix: Path | None, enable: bool) -> list[Step]:
    """The steps installing the units under ``prefix`` (None: this host) would take."""
    unit_dir = SYSTEM_UNIT_DIR if prefix is None else prefix / SYSTEM_UNIT_DIR.relative_to("/")
    command = vconsole_command()
    steps: list[Step] = []
    for name in UNITS:
        target = unit_dir / name
        text = rendered_unit(name, command)
        if target.is_file() and target.read_text() == text:
            steps.append(Step(f"{target} is up to date", None))
        else:
            steps.append(Step(f"write {target} from {UNIT_DIR / name} (ExecStart={exec_words(command)} serve --system)", _write(target, text)))
    if prefix is not None:
        steps.append(Step(f"group {GROUP!r}: not created under --prefix (it is this host's)", None))
        return steps
    try:
        grp.getgrnam(GROUP)
        steps.append(Step(f"group {GROUP!r} exists", None))
    except KeyError:
        steps.append(Step(f"groupadd --system {GROUP}", _command(["groupadd", "--system", GROUP])))
    if Path("/run/systemd/system").is_dir():  # systemd is this host's init
        steps.append(Step("systemctl daemon-reload", _command(["systemctl", "daemon-reload"])))
    if enable:
        steps.append(Step(f"systemctl enable --now {UNITS[0]}", _command(["systemctl", "enable", "--now", UNITS[0]])))
    else:
        steps.append(Step(f"not enabled: start it with `systemctl enable --now {UNITS[0]}`", None))
    return steps


def install_service(prefix: str | None, dry_run: bool, enable: bool) -> None:
    """Check the arguments, then print and (unless ``dry_run``) take each step."""
    root: Path | None = None
    if prefix is not None:
        root = Path(prefix).absolute()
        if not root.is_dir():
            raise CliError(f"--prefix {prefix}: not a directory", EXIT_USAGE)
        if enable:
            raise CliError("--enable cannot be used with --prefix (it enables the unit on this host)", EXIT_USAGE)
    elif not dry_run and os.geteuid() != 0:
        raise CliError("install-service needs root (or --dry-run, or --prefix DIR)", EXIT_USAGE)
    if root is None and enable and shutil.which("systemctl") is None and not dry_run:
        raise CliError("--enable needs systemctl, which this host lacks", EXIT_USAGE)
    for step in plan(root, enable):
        if dry_run:
            print(("would " if step.run is not None else "") + step.says)
            continue
        print(step.says)
        if step.run is not None:
            step.run()
