"""Issue 16, acceptance 4 on the lab: who holds a busy vtty, and ``attach --force`` taking it over.

The holder is a real process outside the broker (tests/vtty_holder.py) that
opened a lab vtty master, as ``vzctl console`` holds one on a real host.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab_host import REPO, LabHost
from tests.tmux_pane import TmuxPane, needs_tmux
from vconsole.console_events import ConsoleEvent, EventKind
from vconsole.protocol import Events

HOLDER = REPO / "tests" / "vtty_holder.py"


class Holder:
    """A vtty_holder.py process holding ``guest``'s vtty ``index`` through the lab."""

    def __init__(self, lab_socket: Path, guest: str, index: int, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HOLDER), str(lab_socket), guest, str(index), *extra],
            stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "holding", line
        self.started = time.time()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def gone(self, timeout: float) -> bool:
        """Whether the process exited within ``timeout`` seconds (it is reaped here)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    made: list[Holder] = []
    yield made
    for holder in made:
        holder.close()


def ls_json(host: LabHost) -> dict[str, Any]:
    result = host.cli("ls", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def console(
    host: LabHost, guest: str, name: str, timeout: float = 15, held: bool | None = None, **want: Any
) -> dict[str, Any]:
    """The listing of ``guest``'s console ``name`` once its fields have the wanted values.

    ``held``: and once it names a holder (True) or none (False).
    """
    deadline = time.monotonic() + timeout
    while True:
        found = None
        for g in ls_json(host)["guests"]:
            if g["name"] == guest:
                found = next((c for c in g["consoles"] if c["name"] == name), None)
        if (
            found is not None
            and all(found.get(k) == v for k, v in want.items())
            and (held is None or (found["holder"] is not None) == held)
        ):
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{guest} {name} never had {want}: {found}")
        time.sleep(0.2)


def events(host: LabHost, kind: EventKind) -> list[ConsoleEvent]:
    """The broker's kept events of ``kind``, oldest first."""

    async def read() -> list[ConsoleEvent]:
        client = await host.client()
        try:
            return [e for e in (await client.read_events(Events())).events if e.kind == kind]
        finally:
            await client.close()

    return asyncio.run(read())


def start(host: LabHost) -> None:
    host.start_lab(host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))


def test_ls_names_the_holder_of_a_busy_vtty(lab_host: LabHost, holders: list[Holder]) -> None:
    start(lab_host)
    holder = Holder(lab_host.paths.lab_socket, "web", 1)
    holders.append(holder)
    lab_host.start_broker()
    busy = console(lab_host, "web", "vtty1", state="busy", held=True)
    held = busy["holder"]
    assert held["pid"] == holder.pid
    assert held["uid"] == os.getuid() and held["user"] == pwd.getpwuid(os.getuid()).pw_name
    assert str(HOLDER) in held["command"] and held["command"].endswith("web 1")
    # Since: when it took the lease, not when the broker looked.
    assert holder.started - 5 < held["since"] <= holder.started + 1
    # The free console is the broker's as usual, with no holder.
    assert console(lab_host, "web", "vtty0", state="connected")["holder"] is None
    table = lab_host.cli("ls").stdout
    line = next(row for row in table.splitlines() if "vtty1" in row)
    assert f"busy by pid {holder.pid} {held['user']} since " in line and sys.executable[:20] in line, table
    # Found on every refresh while busy, announced once.
    time.sleep(2.5)
    found = events(lab_host, EventKind.HOLDER)
    assert len(found) == 1, found
    assert (found[0].holder_pid, found[0].holder_uid) == (holder.pid, os.getuid())
    assert str(HOLDER) in found[0].command and found[0].session.text == busy["session"]
    # Once the holder leaves, the broker takes the console and forgets the holder.
    holder.close()
    free = console(lab_host, "web", "vtty1", timeout=20, state="connected")
    assert free["holder"] is None


@pytest.fixture
def pane(lab_host: LabHost) -> Iterator[TmuxPane]:
    p = TmuxPane.shell()
    yield p
    p.close()


@needs_tmux
def test_attach_force_ends_the_holder_and_attaches(lab_host: LabHost, holders: list[Holder], pane: TmuxPane) -> None:
    start(lab_host)
    # It ignores SIGTERM: only the SIGKILL after the grace period ends it.
    holder = Holder(lab_host.paths.lab_socket, "web", 1, "--ignore-term")
    holders.append(holder)
    lab_host.start_broker()
    console(lab_host, "web", "vtty1", state="busy", held=True)
    plain = lab_host.cli("attach", "web", "1")
    assert plain.returncode == 6 and "busy" in plain.stderr, plain.stderr
    assert holder.proc.poll() is None  # without --force nothing is ended
    attach = f"{sys.executable} -m vconsole attach --force web 1 --socket {lab_host.paths.socket}; echo EXIT=$?"
    began = time.monotonic()
    pane.type(attach, "Enter")
    pane.wait_for("root@web:~#")
    assert holder.gone(5), "the holder is still running"
    assert time.monotonic() - began >= 1.5  # SIGTERM was ignored: the grace period passed first
    pane.type("echo took-$((6*7))", "Enter")
    pane.wait_for("took-42")
    pane.type("C-]", ".")
    pane.wait_for("EXIT=0")
    assert console(lab_host, "web", "vtty1", state="connected")["holder"] is None
    took = events(lab_host, EventKind.TAKEOVER)
    assert len(took) == 1, took
    # Who took it (the attach process, as the broker saw it) and what it ended.
    assert took[0].uid == os.getuid() and isinstance(took[0].pid, int) and took[0].pid != holder.pid
    assert took[0].holder_pid == holder.pid and str(HOLDER) in took[0].command
    attached = [e for e in events(lab_host, EventKind.ATTACH) if e.session == took[0].session]
    assert attached and attached[-1].pid == took[0].pid


def test_attach_force_never_ends_a_vconsole_broker(lab_host: LabHost, runtime: Path) -> None:
    """Another broker holds the lab's vttys (it reaches the same lab): it is named, and left alone."""
    start(lab_host)
    (runtime / "other" / "run").mkdir(parents=True, mode=0o700)
    other = LabHost(runtime / "other")
    other.paths.directory.mkdir(mode=0o700)
    other.paths.lab_socket.symlink_to(lab_host.paths.lab_socket)
    try:
        other.start_broker()
        assert other.broker is not None
        console(other, "web", "vtty1", state="connected")
        lab_host.start_broker()
        held = console(lab_host, "web", "vtty1", state="busy", held=True)["holder"]
        assert held["pid"] == other.broker.pid and " serve " in f" {held['command']} "
        refused = lab_host.cli("attach", "--force", "web", "1")
        assert refused.returncode == 7, refused.stderr
        line = refused.stderr.strip()
        assert "\n" not in line and f"pid {other.broker.pid} is a vconsole broker" in line, line
        assert "Traceback" not in refused.stderr
        time.sleep(0.5)
        assert other.broker.poll() is None
        assert console(other, "web", "vtty1", state="connected")["holder"] is None
        assert not events(lab_host, EventKind.TAKEOVER)
    finally:
        other.cleanup()


@needs_tmux
def test_attach_force_demotes_a_read_write_client_and_tells_it(lab_host: LabHost, pane: TmuxPane) -> None:
    """Acceptance 5: conserver's "bumped": the other typist is made read-only and sees it on its screen."""
    start(lab_host)
    lab_host.start_broker()
    other = TmuxPane(pane.env)
    try:
        base = f"{sys.executable} -m vconsole attach web 1 --socket {lab_host.paths.socket}"
        pane.type(base, "Enter")
        pane.wait_for("root@web:~#")
        pane.type("echo first-$((2+3))", "Enter")
        pane.wait_for("first-5")
        other.type(base + " --force", "Enter")
        other.wait_for("first-5")
        notice = pane.wait_for("reattach to type")
        line = next(row for row in notice.splitlines() if "reattach to type" in row)
        demoted = events(lab_host, EventKind.DEMOTED)
        assert len(demoted) == 1, demoted
        taker = [e for e in events(lab_host, EventKind.ATTACH) if e.session == demoted[0].session][-1]
        by = f"uid {os.getuid()} pid {taker.pid}"
        assert line.strip() == f"[vconsole: made read-only by {by}; reattach to type]", line
        assert demoted[0].mode == "ro" and demoted[0].uid == os.getuid() and demoted[0].pid != taker.pid
        assert demoted[0].text == f"made read-only by {by}"
        # The demoted client's keys no longer reach the guest; the taker's do, and both see them.
        pane.type("echo from-demoted-$((1+1))", "Enter")
        other.type("echo from-taker-$((3+3))", "Enter")
        other.wait_for("from-taker-6")
        pane.wait_for("from-taker-6")
        assert "from-demoted-2" not in other.screen() and "from-demoted-2" not in pane.screen()
        listed = console(lab_host, "web", "vtty1", state="connected")
        assert sorted(a["mode"] for a in listed["attached"]) == ["ro", "rw"]
        # Without --force, a second typist shares the console as before: nobody is demoted.
        pane.type("C-]", ".")
        pane.wait_for("detached")
        pane.type(base, "Enter")
        pane.wait_for("read-write")
        time.sleep(0.5)
        assert len(events(lab_host, EventKind.DEMOTED)) == 1
        assert [a["mode"] for a in console(lab_host, "web", "vtty1")["attached"]] == ["rw", "rw"]
    finally:
        other.close()


NOBODY = 65534


def _why_no_other_uid() -> str | None:
    if os.geteuid() != 0:
        return "needs root to run a client as another uid (setpriv)"
    if shutil.which("setpriv") is None:
        return "setpriv is not installed (util-linux)"
    return None


def test_attach_force_never_ends_another_users_process(lab_host: LabHost, holders: list[Holder]) -> None:
    """A client of uid 65534 (allowed to use the broker) may not end root's holder; root's client may."""
    reason = _why_no_other_uid()
    if reason:
        pytest.skip(reason)
    start(lab_host)
    lab_host.write_config(f"[broker]\nallow_uids = [{NOBODY}]\n")
    holder = Holder(lab_host.paths.lab_socket, "web", 1)
    holders.append(holder)
    lab_host.start_broker()
    console(lab_host, "web", "vtty1", state="busy", held=True)
    # uid 65534, keeping only the right to reach root's files (this checkout, the 0700 socket directory).
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                 "--inh-caps=+dac_override", "--ambient-caps=+dac_override"]
    refused = subprocess.run(
        [*as_nobody, sys.executable, "-m", "vconsole", "attach", "--force", "web", "1",
         "--socket", str(lab_host.paths.socket)],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert refused.returncode == 7, (refused.returncode, refused.stderr)
    line = refused.stderr.strip()
    assert "\n" not in line and f"pid {holder.pid} belongs to root (uid 0), not to uid {NOBODY}" in line, line
    time.sleep(0.5)
    assert holder.proc.poll() is None
    assert console(lab_host, "web", "vtty1", state="busy", held=True)["holder"]["pid"] == holder.pid
    assert not events(lab_host, EventKind.TAKEOVER)
