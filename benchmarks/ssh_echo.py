"""Key echo over ssh: client -> ssh -> bridge -> remote broker -> guest and back, against ``ssh -tt HOST``.

Both paths end at the same raw echo program (benchmarks/echo_guest.py) on a
pty, reached through the same sshd on 127.0.0.1 with the same ssh client and
key. One key at a time, from the moment it is sent until its echo is back:

- vconsole: a Client made by SshBroker (``ssh -T ... vconsole bridge``, as
  ``--host`` and ``[[hosts]]`` do), attached read-write to a lab console
  running the echo program; sends ``input`` and waits for the ``output`` event.
- ssh -tt: ``ssh -tt HOST ECHO-PROGRAM`` (sshd gives it a pty, as a login
  shell gets), its standard input and output one end of a socketpair this
  process writes the key to and reads the echo from.
- local: the same Client on the broker's own socket (no ssh, no bridge):
  what the broker path costs without ssh, so the rest is ssh and the bridge.

Both are timed by benchmarks/echo.py's clock, from callbacks of one event
loop (the Client's event handler; a loop reader on the socket).
"""

from __future__ import annotations

import asyncio
import shlex
import socket
import subprocess
import tempfile
from pathlib import Path

from benchmarks.echo import GAP, _broker_keys, _fd_keys, _percentiles, client_keys
from benchmarks.harness import echo_argv, lab, read_until
from benchmarks.report import Report, Row, Stats
from benchmarks.ssh_hosts import host_settings, loopback_sshd, ssh_argv
from tests.ssh_server import SshServer
from vconsole.config import HostSettings
from vconsole.ssh_transport import SshBroker

BENCH = "sshecho"


async def vconsole_keys(settings: HostSettings, keys: int) -> list[float]:
    """One run over a fresh bridge connection (the broker already runs there)."""
    ssh = SshBroker(settings)
    try:
        return await client_keys(await ssh.connect(start=False), keys)
    finally:
        await ssh.close()


async def ssh_tt_keys(server: SshServer, keys: int) -> list[float]:
    """One run over a fresh ``ssh -tt HOST echo-program``."""
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(ssh_argv(server, shlex.join(echo_argv()), tty=True), stdin=theirs.fileno(),
                            stdout=theirs.fileno(), stderr=subprocess.DEVNULL, start_new_session=True)
    theirs.close()
    try:
        read_until(ours.fileno(), b"READY", 30)
        return await _fd_keys(ours.fileno(), keys, strip=False)
    finally:
        ours.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def measure(keys: int, repeat: int, workdir: Path) -> dict[str, list[tuple[float, float]]]:
    """(p50, p99) per run of each path; runs interleaved, the first of each a warm-up not counted."""
    out: dict[str, list[tuple[float, float]]] = {"vconsole": [], "ssh": [], "local": []}
    with lab([{"id": 501, "name": "echo", "vttys": 1, "init": echo_argv()}]) as host, \
            loopback_sshd(workdir) as server:
        settings = host_settings("bench", server, host.base)
        for run in range(repeat + 1):
            rounds = {"vconsole": await vconsole_keys(settings, keys), "ssh": await ssh_tt_keys(server, keys),
                      "local": await _broker_keys(host, keys)}
            if run:
                for name, samples in rounds.items():
                    out[name].append(_percentiles(samples))
    return out


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    keys, repeat = (100, 3) if quick else (300, 5)
    with tempfile.TemporaryDirectory(prefix="vcbse") as tmp:
        res = asyncio.run(measure(keys, repeat, Path(tmp)))

    def col(name: str, i: int) -> Stats:
        return Stats([pair[i] * 1e6 for pair in res[name]])

    ref = "ssh -tt HOST (echo program on sshd's pty)"
    report.add([
        Row(BENCH, "key echo p50 over the bridge", "µs", col("vconsole", 0), ref, col("ssh", 0),
            "≤ 1.5x ssh -tt", ratio_max=1.5),
        Row(BENCH, "key echo p99 over the bridge", "µs", col("vconsole", 1), ref, col("ssh", 1)),
        Row(BENCH, "key echo p50 over the bridge", "µs", col("vconsole", 0), "same Client, local socket (no ssh)",
            col("local", 0)),
    ])
    report.note(BENCH, f"{keys} keys per run, one in flight at a time ({GAP * 1000:.0f} ms apart), {repeat} runs "
                "of each path interleaved after one warm-up run each, every run on a fresh ssh connection; "
                "p50/p99 within a run, then median and [min..max] over runs. A private sshd on 127.0.0.1 "
                "(tests/ssh_server.py), the same ssh client, key and options on both paths; both end at the raw "
                "echo program (benchmarks/echo_guest.py) on a pty: a lab vtty, or the pty sshd makes for -tt.")
    report.note(BENCH, "local: the same Client and guest on the broker's own socket, interleaved with the others "
                f"(p99 {col('local', 1).show()} µs); over the bridge minus local is what ssh and the bridge add.")
    report.note(BENCH, "vconsole: a Client from SshBroker (`ssh -T ... vconsole bridge`) attached read-write; "
                "send_nowait `input` with ack false, the clock stops in the `output` event handler. ssh -tt: its "
                "standard input and output are a socketpair; the clock stops in a loop reader on it "
                "(benchmarks/echo.py's clock for both).")
