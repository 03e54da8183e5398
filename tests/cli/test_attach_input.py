"""``vconsole attach`` with stdin that is not a terminal: a file, /dev/null, a pipe (real lab and broker).

The rule (README, Using it): the input is sent in order; at its end attach
keeps showing output, like ``ssh -n``, until the guest stops, the escape, or
SIGINT/SIGTERM/SIGHUP (a clean detach, exit 128 + signal). Without a terminal
it never imposes a window size on the guest.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from tests.guest_program import pattern
from tests.lab_host import LabHost


class Attach:
    """A ``vconsole attach`` subprocess whose stdout and stderr are collected by threads."""

    def __init__(self, lab_host: LabHost, *args: str, stdin: Any) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vconsole", "attach", *args, "--socket", str(lab_host.paths.socket)],
            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.out = bytearray()
        self.err = bytearray()
        self.stop_out = False
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._collect, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._collect, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _collect(self, stream: IO[bytes], into: bytearray) -> None:
        fd = stream.fileno()
        while not self.stop_out or stream is not self.proc.stdout:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return
                into += chunk

    def close_stdout(self) -> None:
        """Stop reading the attach's stdout and close it, as ``| head`` does."""
        self.stop_out = True
        self._threads[0].join(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()

    def wait_for(self, text: bytes, where: str = "out", timeout: float = 15.0) -> None:
        buf = self.out if where == "out" else self.err
        deadline = time.monotonic() + timeout
        while text not in buf:
            if time.monotonic() > deadline or (self.proc.poll() is not None and text not in buf):
                time.sleep(0.2)
                if text in buf:
                    return
                pytest.fail(f"{text!r} never appeared in std{where}; rc={self.proc.poll()} "
                            f"err={bytes(self.err)[-800:]!r} out={bytes(self.out)[-800:]!r}")
            time.sleep(0.02)

    def finish(self, timeout: float = 15.0) -> int:
        code = self.proc.wait(timeout)
        for thread in self._threads:
            thread.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def _console(lab_host: LabHost, guest: str, name: str) -> dict[str, Any]:
    result = lab_host.cli("ls", "--json")
    assert result.returncode == 0, result.stderr
    g = next(g for g in json.loads(result.stdout)["guests"] if g["name"] == guest)
    return next(c for c in g["consoles"] if c["name"] == name)  # type: ignore[no-any-return]


async def _set_size(lab_host: LabHost, target: str, console: int, cols: int, rows: int) -> None:
    client = await lab_host.client()
    try:
        reply = await client.request("attach", target=target, console=console, mode="rw", tail_lines=1)
        await client.request("resize", session=reply["session"], cols=cols, rows=rows)
        await client.request("detach", session=reply["session"])
    finally:
        await client.close()


def test_input_from_a_file_is_sent_then_output_shows_until_the_guest_stops(lab_host: LabHost, runtime: Path) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    lab_host.start_broker()
    # Someone at a real terminal sized the console; a script must not change that.
    asyncio.run(_set_size(lab_host, "web", 1, 101, 33))
    keys = runtime / "keys.txt"
    keys.write_bytes(b"stty size; echo fromfile-$((40+2))\r")
    with open(keys, "rb") as stdin:
        attach = Attach(lab_host, "web", "1", stdin=stdin)
    try:
        attach.wait_for(b"fromfile-42")
        assert b"33 101" in attach.out, bytes(attach.out)
        attach.wait_for(b"end of input", where="err")
        time.sleep(0.5)
        assert attach.proc.poll() is None, "attach left at the end of its input"
        assert lab_host.cli("stop", "web").returncode == 0
        assert attach.finish() == 5  # EXIT_STOPPED
        assert b"the guest stopped" in attach.err
        assert b"Traceback" not in attach.err, bytes(attach.err)
    finally:
        attach.kill()


def test_stdin_from_dev_null_keeps_showing_output_until_sigterm_detaches(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 301, "name": "talker", "vttys": 1, "init": lab_host.scripted("talker")},
    ]))
    lab_host.start_broker()
    attach = Attach(lab_host, "talker", stdin=subprocess.DEVNULL)
    try:
        attach.wait_for(b"end of input", where="err")
        # Output the guest writes after the input ended still arrives.
        lab_host.command("talker", 1, "write 300")
        attach.wait_for(pattern(1, 300))
        assert _console(lab_host, "talker", "vtty0")["clients"] == 1
        attach.proc.send_signal(signal.SIGTERM)
        assert attach.finish() == 128 + signal.SIGTERM
        assert b"detached" in attach.err and b"Traceback" not in attach.err, bytes(attach.err)
        # A clean detach: the broker no longer counts the client.
        assert _console(lab_host, "talker", "vtty0")["clients"] == 0
    finally:
        attach.kill()


def test_attach_ends_quietly_when_its_output_reader_goes_away(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 302, "name": "talker", "vttys": 1, "init": lab_host.scripted("talker")},
    ]))
    lab_host.start_broker()
    attach = Attach(lab_host, "talker", stdin=subprocess.DEVNULL)
    try:
        attach.wait_for(b"end of input", where="err")
        lab_host.command("talker", 1, "write 100")
        attach.wait_for(pattern(1, 100))
        # Like `| head`: the reader closes the pipe; the next output ends the attach.
        attach.close_stdout()
        lab_host.command("talker", 2, "write 100")
        assert attach.finish() == 0
        assert b"Traceback" not in attach.err, bytes(attach.err)
        assert b"broker went away" not in attach.err
    finally:
        attach.kill()


def test_piped_input_arrives_whole_and_in_order_then_sigint_detaches(lab_host: LabHost) -> None:
    argv = [*lab_host.scripted("echoer"), "--hexecho"]
    lab_host.start_lab(lab_host.write_fleet([{"id": 303, "name": "echoer", "vttys": 1, "init": argv}]))
    lab_host.start_broker()
    asyncio.run(_set_size(lab_host, "echoer", 0, 101, 33))
    # More than the broker's 64 KiB input backlog, without the escape byte.
    data = bytes(range(32, 127)) * 3000
    attach = Attach(lab_host, "echoer", stdin=subprocess.PIPE)
    try:
        assert attach.proc.stdin is not None
        attach.proc.stdin.write(data)
        attach.proc.stdin.close()
        attach.wait_for(b"end of input", where="err", timeout=30)

        def received() -> bytes:
            lines = bytes(attach.out).split(b"\n")[:-1]
            return b"".join(bytes.fromhex(x[3:].strip().decode()) for x in lines if x.startswith(b"in:"))

        deadline = time.monotonic() + 30
        while len(received()) < len(data) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert received() == data
        assert b"input_full" not in attach.err
        assert attach.proc.poll() is None
        attach.proc.send_signal(signal.SIGINT)
        assert attach.finish() == 128 + signal.SIGINT
        assert b"detached" in attach.err and b"Traceback" not in attach.err, bytes(attach.err)
    finally:
        attach.kill()
