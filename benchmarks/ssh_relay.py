"""Relay over ssh: guest -> remote broker -> bridge -> ssh -> client, against ``ssh HOST cat FILE``.

Both carry the same bytes (tests/guest_program.py ``pattern``) through the
same sshd on 127.0.0.1, with the same ssh client and key:

- vconsole: a lab guest (pty in raw mode) writes N bytes; a Client made by
  SshBroker (``ssh -T ... vconsole bridge``, as ``--host`` and ``[[hosts]]``
  do) and attached read-only receives all of them. Time from the first byte
  of the burst to the last, as in the local relay benchmark.
- ssh cat: ``ssh -T HOST cat FILE`` of a file holding the same bytes; this
  process reads ssh's standard output (a pipe) in a plain loop. Time from
  the first byte to end of file, so ssh's connection set-up is not counted
  (the vconsole client's connection is made once, before the runs).
"""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.harness import lab, stop
from benchmarks.relay import BrokerRelay, RawPty
from benchmarks.report import Report, Row, Stats
from benchmarks.ssh_hosts import host_settings, loopback_sshd, ssh_argv
from tests.guest_program import pattern
from tests.ssh_server import SshServer
from vconsole.ssh_transport import SshBroker

BENCH = "sshrelay"


def ssh_cat(server: SshServer, path: Path, size: int) -> tuple[float, float]:
    """MB/s of one ``ssh HOST cat FILE`` (first byte to last), and its whole run in seconds (connection included)."""
    began = time.perf_counter()
    proc = subprocess.Popen(ssh_argv(server, f"cat {path}"), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    fd = proc.stdout.fileno()
    got, first = 0, 0.0
    try:
        while True:
            if not select.select([fd], [], [], 60)[0]:
                raise TimeoutError("ssh cat stalled")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            if not first:
                first = time.perf_counter()
            got += len(chunk)
        last = time.perf_counter()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.stdout.close()
        error = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
    if got != size:
        raise RuntimeError(f"ssh cat delivered {got} of {size} bytes (exit {proc.returncode}): {error}")
    return size / 1e6 / (last - first), last - began


async def measure(size: int, repeat: int, workdir: Path) -> dict[str, list[float]]:
    """Interleaved runs (vconsole over ssh, ssh cat) so a busy machine hurts both alike."""
    data = workdir / "data.bin"
    data.write_bytes(pattern(1, size))
    out: dict[str, list[float]] = {"vconsole": [], "missed": [], "cat": [], "cat_wall": [], "connect": [], "raw": []}
    with lab(build=lambda h: [{"id": 401, "name": "talker", "vttys": 1, "init": h.scripted("talker")}],
             config='[broker]\nhistory = "4MiB"\n') as host, loopback_sshd(workdir) as server:
        ssh = SshBroker(host_settings("bench", server, host.base))
        relay = BrokerRelay(host, size)
        raw = RawPty(size, workdir)  # the guest's own ceiling: its pty read directly, no vconsole, no ssh
        try:
            began = time.perf_counter()
            client = await ssh.connect(start=False)
            out["connect"].append(time.perf_counter() - began)
            await relay.start(client)
            ssh_cat(server, data, size)  # a warm-up: the file in the page cache, sshd's first login done
            for _ in range(repeat):
                rate, lost = await relay.once()
                out["vconsole"].append(rate)
                out["missed"].append(lost)
                rate, wall = ssh_cat(server, data, size)
                out["cat"].append(rate)
                out["cat_wall"].append(wall)
                out["raw"].append(raw.once())
        finally:
            stop(raw.proc, raw.master)
            await ssh.close()
    return out


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    size = (8 if quick else 32) << 20
    repeat = 3 if quick else 5
    with tempfile.TemporaryDirectory(prefix="vcbsr") as tmp:
        res = asyncio.run(measure(size, repeat, Path(tmp)))
    report.add([
        Row(BENCH, "guest->broker->bridge->ssh->client", "MB/s", Stats(res["vconsole"]),
            "ssh HOST cat FILE (same bytes, same sshd)", Stats(res["cat"]), "≥ 0.5x ssh cat", ratio_min=0.5),
        Row(BENCH, "guest->broker->bridge->ssh->client", "MB/s", Stats(res["vconsole"]),
            "raw PTY read directly (the same guest program, no vconsole, no ssh)", Stats(res["raw"])),
    ])
    report.note(BENCH, f"{size >> 20} MiB of 64-byte lines per run, {repeat} runs each, interleaved, after one "
                "ssh cat to warm up; a private sshd on 127.0.0.1 (tests/ssh_server.py), the same ssh client, "
                "key and options on both paths; the guest's pty in raw mode; broker history 4 MiB. Bytes the "
                f"client missed per run (history overrun, not counted as received): "
                f"{[int(m) for m in res['missed']]}.")
    report.note(BENCH, "vconsole: a Client from SshBroker (`ssh -T ... vconsole bridge`, connected once before "
                f"the runs, in {res['connect'][0] * 1e3:.0f} ms) attached read-only; first byte to last byte "
                "received. ssh cat: first byte to end of file on ssh's standard output (a pipe read in a plain "
                f"loop); its whole run, connection included, took {Stats(res['cat_wall']).show()} s.")
