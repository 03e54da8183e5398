"""Key echo over ssh: client -> ssh -> bridge -> remote broker -> guest and back, against ``ssh -tt HOST``.

Both paths end at the same program on a pty, reached through the same sshd
on 127.0.0.1 with the same ssh client and key; twice over: the raw echo
program (benchmarks/echo_guest.py: nothing but the relay is timed) and bash
at its prompt (the "shell echo" a person sees; Ctrl-U every LINE keys, untimed).
One key at a time, from the moment it is sent until its echo is back:

- vconsole: a Client made by SshBroker (``ssh -T ... vconsole bridge``, as
  ``--host`` and ``[[hosts]]`` do), attached read-write to a lab console
  running the program; sends ``input`` and waits for the ``output`` event.
- ssh -tt: ``ssh -tt HOST PROGRAM`` (sshd gives it a pty, as a login
  shell gets), its standard input and output one end of a socketpair this
  process writes the key to and reads the echo from.
- local: the same Client on the broker's own socket (no ssh, no bridge):
  what the broker path costs without ssh, so the rest is ssh and the bridge.

All are timed by benchmarks/echo.py's clock, from callbacks of one event
loop (the Client's event handler; a loop reader on the socket).
"""

from __future__ import annotations

import asyncio
import shlex
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.echo import GAP, _drain, _fd_keys, _percentiles, client_keys
from benchmarks.harness import echo_argv, lab, read_until
from benchmarks.report import Report, Row, Stats
from benchmarks.ssh_hosts import host_settings, loopback_sshd, ssh_argv
from tests.lab_host import LabHost
from tests.ssh_server import SshServer
from vconsole.config import HostSettings
from vconsole.ssh_transport import SshBroker

BENCH = "sshecho"


LINE = 20  # keys on a shell's line before Ctrl-U


@dataclass(frozen=True)
class Program:
    """What answers the keys: a lab guest's program, and the same run by ``ssh -tt``."""

    label: str
    guest: str
    argv: list[str]
    marker: bytes  # it shows this once it reads keys
    line: int = 0  # Ctrl-U after this many keys (0: never)
    strip: bool = False  # escapes in its output are not echo

    def container(self, guest_id: int) -> dict[str, object]:
        """Its lab container."""
        return {"id": guest_id, "name": self.guest, "vttys": 1, "init": self.argv}


PROGRAMS = (
    Program("echo program", "echo", echo_argv(), b"READY"),
    Program("bash", "shell", ["env", "PS1=# ", "HISTFILE=", "TERM=xterm", "bash", "--noprofile", "--norc", "-i"],
            b"# ", LINE, True),
)


async def vconsole_keys(settings: HostSettings, keys: int, program: Program) -> list[float]:
    """One run over a fresh bridge connection (the broker already runs there)."""
    ssh = SshBroker(settings)
    try:
        return await client_keys(await ssh.connect(start=False), keys, program.guest, program.marker,
                                 program.line, program.strip)
    finally:
        await ssh.close()


async def local_keys(host: LabHost, keys: int, program: Program) -> list[float]:
    """One run of the same Client on the broker's own socket."""
    return await client_keys(await host.client(), keys, program.guest, program.marker, program.line, program.strip)


async def ssh_tt_keys(server: SshServer, keys: int, program: Program) -> list[float]:
    """One run over a fresh ``ssh -tt HOST PROGRAM``."""
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(ssh_argv(server, shlex.join(program.argv), tty=True), stdin=theirs.fileno(),
                            stdout=theirs.fileno(), stderr=subprocess.DEVNULL, start_new_session=True)
    theirs.close()
    try:
        read_until(ours.fileno(), program.marker, 30)
        _drain(ours.fileno())  # the rest of what it printed lands before the clock is armed
        return await _fd_keys(ours.fileno(), keys, program.strip, program.line)
    finally:
        ours.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


PATHS = ("vconsole", "ssh", "local")


async def measure(keys: int, repeat: int, workdir: Path) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(p50, p99) per run of each (program, path); runs interleaved, the first a warm-up not counted."""
    out: dict[tuple[str, str], list[tuple[float, float]]] = {(p.guest, path): [] for p in PROGRAMS for path in PATHS}
    with lab([p.container(501 + i) for i, p in enumerate(PROGRAMS)]) as host, loopback_sshd(workdir) as server:
        settings = host_settings("bench", server, host.base)
        for run in range(repeat + 1):
            for program in PROGRAMS:
                rounds = {"vconsole": await vconsole_keys(settings, keys, program),
                          "ssh": await ssh_tt_keys(server, keys, program),
                          "local": await local_keys(host, keys, program)}
                if run:
                    for path, samples in rounds.items():
                        out[(program.guest, path)].append(_percentiles(samples))
    return out


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    keys, repeat = (100, 3) if quick else (300, 5)
    with tempfile.TemporaryDirectory(prefix="vcbse") as tmp:
        res = asyncio.run(measure(keys, repeat, Path(tmp)))

    def col(program: Program, path: str, i: int) -> Stats:
        return Stats([pair[i] * 1e6 for pair in res[(program.guest, path)]])

    rows: list[Row] = []
    for program in PROGRAMS:
        ref = f"ssh -tt HOST {program.label} (sshd's pty)"
        rows += [
            Row(BENCH, f"key echo p50 over the bridge, {program.label}", "µs", col(program, "vconsole", 0), ref,
                col(program, "ssh", 0), "≤ 1.5x ssh -tt", ratio_max=1.5),
            Row(BENCH, f"key echo p99 over the bridge, {program.label}", "µs", col(program, "vconsole", 1), ref,
                col(program, "ssh", 1)),
            Row(BENCH, f"key echo p50 over the bridge, {program.label}", "µs", col(program, "vconsole", 0),
                "same Client, local socket (no ssh)", col(program, "local", 0)),
        ]
    report.add(rows)
    report.note(BENCH, f"{keys} keys per run, one in flight at a time ({GAP * 1000:.0f} ms apart), {repeat} runs "
                "of each (program, path) interleaved after one warm-up round, every run on a fresh connection; "
                "p50/p99 within a run, then median and [min..max] over runs. A private sshd on 127.0.0.1 "
                "(tests/ssh_server.py), the same ssh client, key and options on both ssh paths. Programs, the "
                "same on a lab vtty and on the pty sshd makes for -tt: the raw echo program "
                "(benchmarks/echo_guest.py), and `bash --noprofile --norc -i` with PS1='# ' and TERM=xterm "
                f"(Ctrl-U after every {LINE} keys, untimed; escapes in its output are not taken for the echo).")
    local = "; ".join(f"{p.label} p99 {col(p, 'local', 1).show()} µs" for p in PROGRAMS)
    report.note(BENCH, "local: the same Client and guest on the broker's own socket, interleaved with the others "
                f"({local}); over the bridge minus local is what ssh and the bridge add.")
    report.note(BENCH, "vconsole: a Client from SshBroker (`ssh -T ... vconsole bridge`) attached read-write; "
                "send_nowait `input` with ack false, the clock stops in the `output` event handler. ssh -tt: its "
                "standard input and output are a socketpair; the clock stops in a loop reader on it "
                "(benchmarks/echo.py's clock for both).")
