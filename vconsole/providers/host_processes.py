"""The host's processes as /proc shows them: who runs what, since when, holding which lock.

Providers use it to name the holder of a busy console: the process whose
command line is ``lxc-console -n NAME -t N`` or ``vzctl console CTID N``,
the owner of xenconsole's flock in /proc/locks, or a pid the lab reports.
Everything here reads /proc once per call and copes with processes that exit
while it reads (they are simply not found).
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from vconsole.providers.base import ConsoleHolder

PROC = "/proc"
# Interpreters a tool may run under (a script's shebang): its own name is then argv[1].
INTERPRETERS = ("python", "python3", "perl", "sh", "bash", "env")


@dataclass(frozen=True)
class HostProcess:
    """One process: its pid, real uid, argv and start time (epoch seconds)."""

    pid: int
    uid: int
    argv: tuple[str, ...]
    started: float | None

    @property
    def command(self) -> str:
        """The command line, arguments joined by spaces (empty for a kernel thread)."""
        return " ".join(self.argv)

    def holder(self, since: float | None = None) -> ConsoleHolder:
        """This process as a console's holder; ``since`` defaults to its start."""
        return ConsoleHolder(self.pid, self.uid, user_name(self.uid), self.command,
                             since if since is not None else self.started)


def user_name(uid: int) -> str:
    """The login name of ``uid``, or the number as text when it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _boot_time() -> float:
    with open(f"{PROC}/stat", "rb") as f:
        for line in f:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    return 0.0


def read_process(pid: int) -> HostProcess | None:
    """Process ``pid`` as /proc shows it now; None if it is gone (or a zombie)."""
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as f:
            stat = f.read()
        with open(f"{PROC}/{pid}/status", "rb") as f:
            status = f.read()
        with open(f"{PROC}/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return None
    # Fields after the ")" of the command name: state ppid ... starttime is field 22 (index 19 here).
    fields = stat[stat.rfind(b")") + 2 :].split()
    if not fields or fields[0] == b"Z":
        return None
    uid = next((int(line.split()[1]) for line in status.splitlines() if line.startswith(b"Uid:")), -1)
    try:
        started: float | None = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError, OSError):
        started = None
    argv = tuple(a.decode("utf-8", "replace") for a in cmdline.rstrip(b"\0").split(b"\0")) if cmdline else ()
    return HostProcess(pid, uid, argv, started)


def parent_of(pid: int) -> int | None:
    """The parent pid of ``pid``; None if it is gone."""
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rfind(b")") + 2 :].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def pids() -> Iterator[int]:
    """Every pid in /proc now."""
    for entry in os.listdir(PROC):
        if entry.isdigit():
            yield int(entry)


def tool_arguments(argv: tuple[str, ...], tool: str) -> list[str] | None:
    """The arguments after ``tool`` if ``argv`` runs it (directly or as an interpreter's script), else None."""
    for at, word in enumerate(argv[:2]):
        name = os.path.basename(word)
        if name == tool:
            return list(argv[at + 1 :])
        if at == 0 and name.rstrip("0123456789.") not in INTERPRETERS:
            return None
    return None


def processes_running(tool: str, wanted: Callable[[list[str]], bool]) -> list[HostProcess]:
    """Processes running ``tool`` whose arguments ``wanted`` accepts, oldest first; never this process."""
    me = os.getpid()
    found = []
    for pid in pids():
        if pid == me:
            continue
        try:
            with open(f"{PROC}/{pid}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        argv = tuple(a.decode("utf-8", "replace") for a in raw.rstrip(b"\0").split(b"\0"))
        args = tool_arguments(argv, tool)
        if args is not None and wanted(args):
            process = read_process(pid)
            if process is not None:
                found.append(process)
    return sorted(found, key=lambda p: (p.started or 0.0, p.pid))


def option_value(args: list[str], short: str, long: str) -> str | None:
    """The value of ``-x VALUE``, ``-xVALUE``, ``--long VALUE`` or ``--long=VALUE`` in ``args`` (the last one)."""
    value = None
    for at, arg in enumerate(args):
        if arg in (short, long):
            value = args[at + 1] if at + 1 < len(args) else None
        elif arg.startswith(long + "="):
            value = arg[len(long) + 1 :]
        elif arg.startswith(short) and not arg.startswith("--") and len(arg) > len(short):
            value = arg[len(short) :]
    return value


def flock_owners(path: str) -> list[int]:
    """The pids /proc/locks names as holding a lock on file ``path`` (none if it does not exist)."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    ident = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    owners = []
    try:
        with open(f"{PROC}/locks") as f:
            lines = f.readlines()
    except OSError:
        return []
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 1234 00:2a:5678 0 EOF"; waiters are "1: -> FLOCK ..."
        fields = line.split()
        if len(fields) >= 6 and fields[1] != "->" and fields[5] == ident and fields[4].isdigit():
            owners.append(int(fields[4]))
    return owners


def is_vconsole_daemon(process: HostProcess) -> bool:
    """Whether ``process`` is a vconsole broker or lab (``vconsole serve``, ``lab``, ``--no-daemon``).

    ``attach --force`` never ends one: it holds every console it serves.
    """
    argv = process.argv
    runs = tool_arguments(argv, "vconsole")
    if runs is None and len(argv) >= 3 and argv[1] == "-m" and argv[2] == "vconsole":
        runs = list(argv[3:])
    if runs is None:
        runs = next((list(argv[i + 1 :]) for i, a in enumerate(argv[:3])
                     if a.endswith("vconsole/__main__.py")), None)
    return runs is not None and any(a in ("serve", "lab", "--no-daemon") for a in runs)
