"""``vconsole events --follow``: new events as they come, across a broker killed and restarted."""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
import subprocess

from tests.conftest import vconsole_cmd, wait_for
from tests.events.cli_events import FOREVER, LineReader, events_process, listed_console
from tests.lab_host import LabHost
from vconsole.domain import AttachMode, parse_target


async def _come_and_go(lab_host: LabHost, times: int) -> None:
    client = await lab_host.client()
    try:
        for _ in range(times):
            reply = await client.attach(parse_target("db"), AttachMode.RO)
            await client.detach(reply.session)
    finally:
        await client.close()


def _watch_names(lines: list[str]) -> list[str]:
    return [e["name"] for e in map(json.loads, lines) if e["kind"] == "watch"]


def test_follow_prints_new_events_and_survives_a_broker_killed_and_restarted(lab_host: LabHost) -> None:
    ctl = lab_host.ctl_dir("db")
    first, second = ctl / "first", ctl / "second"
    init = (
        f"while [ ! -e {first} ]; do sleep 0.05; done; printf 'Kernel panic - not syncing: first\\n'; "
        f"while [ ! -e {second} ]; do sleep 0.05; done; printf 'Oops: 0002 [#1] SMP second\\n'; {FOREVER}"
    )
    lab_host.start_lab(lab_host.write_fleet([{"id": 611, "name": "db", "vttys": 1, "init": init}]))
    lab_host.start_broker()
    follower = events_process(lab_host, "-f", "--json", "--severity", "warning")
    assert follower.stdout is not None and follower.stderr is not None
    lines = LineReader(follower.stdout)
    try:
        wait_for(lambda: listed_console(lab_host, "db")["state"] == "connected", what="the console")
        asyncio.run(_come_and_go(lab_host, 20))  # the panic's seq is then past 40; the new broker's oops is not
        first.touch()
        seen = lines.until(lambda line: json.loads(line)["kind"] == "watch")
        assert _watch_names(seen) == ["panic"]
        assert json.loads(seen[-1])["seq"] > 40
        lab_host.kill_broker(signal.SIGKILL)
        lab_host.start_broker()  # a new broker: its events are numbered from 1 again
        wait_for(lambda: listed_console(lab_host, "db")["state"] == "connected", what="the console again")
        second.touch()
        seen = lines.until(lambda line: json.loads(line)["kind"] == "watch")
        assert _watch_names(seen) == ["oops"]
        oops = json.loads(seen[-1])
        assert oops["text"] == "Oops: 0002 [#1] SMP second" and oops["guest"] == "db"
        assert oops["seq"] < 40  # numbered anew by the new broker, and still printed
        follower.send_signal(signal.SIGINT)
        assert follower.wait(10) == 130
        assert lines.lines.get(timeout=5) is None  # nothing more: the panic was not printed again
    finally:
        follower.kill()
        follower.wait()
    notices = follower.stderr.read()
    assert "broker lost" in notices and "reconnected" in notices, notices


def test_follow_into_head_ends_once_head_has_its_lines(lab_host: LabHost) -> None:
    """Like ``tail -f | head``, but without waiting for another event to find the pipe closed."""
    lab_host.start_lab(lab_host.write_fleet([{"id": 612, "name": "db", "vttys": 1, "init": FOREVER}]))
    lab_host.start_broker()
    asyncio.run(_come_and_go(lab_host, 2))
    pipeline = f"{shlex.join(vconsole_cmd('events', '-f', '--socket', str(lab_host.paths.socket)))} | head -1; " \
        "echo status=${PIPESTATUS[0]}"
    done = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, timeout=30)
    first, status = done.stdout.splitlines()
    assert "db:vtty0  attach  uid" in first and status == "status=0", done
