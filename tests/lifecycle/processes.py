"""The process table as a person would read it with ps: daemons by their command line, zombies."""

from __future__ import annotations

import os
from pathlib import Path


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of ``pid``, or None when it has no /proc entry."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    return fields[0].decode(), int(fields[1])


def command_lines() -> dict[int, list[str]]:
    """Every live (not zombie) process's argv."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0]:
            found[int(entry)] = [a.decode(errors="replace") for a in argv if a]
    return found


def vconsole_processes(subcommand: str | None, mentioning: Path) -> list[int]:
    """Pids of ``vconsole SUBCOMMAND ...`` processes whose arguments mention ``mentioning``.

    ``subcommand`` None means the TUI (no subcommand: only options).
    """
    pids = []
    for pid, argv in command_lines().items():
        if not any(a.endswith("vconsole") for a in argv[:3]) or not any(str(mentioning) in a for a in argv):
            continue
        words = [a for a in argv[1:] if not a.startswith("-") and "/" not in a and a != "vconsole"]
        if (subcommand is None and not words) or (subcommand is not None and words[:1] == [subcommand]):
            pids.append(pid)
    return pids


def zombie_children(parent: int) -> list[int]:
    """Children of ``parent`` that exited and were not reaped (``<defunct>`` in ps)."""
    zombies = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            state, ppid = stat
            if ppid == parent and state == "Z":
                zombies.append(int(entry))
    return zombies


def has_proc_entry(pid: int) -> bool:
    """Whether ``pid`` is in the process table at all (running, or a zombie nobody reaped)."""
    return _stat(pid) is not None
