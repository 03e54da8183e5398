"""The broker's saved sessions are never lost or mixed up (issue 14, items 11 and 12).

* A save that fails (a full disk, a read-only directory) is `vconsole
  shutdown`'s error, with its own exit code; the broker keeps running with
  every history, says so in `ls`, and the last good file stays as it was.
* Two brokers with different runtime directories share one state
  directory: each restores its own sessions, never the other's.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.guest_program import pattern
from tests.lab_host import LabHost
from tests.xen.conftest import history_until, read_history, wait_console
from vconsole.broker.registry import ConsoleRegistry
from vconsole.broker.snapshots.saved_sessions import SavedSessions, saved_sessions_file
from vconsole.cli.exit_codes import EXIT_NOT_SAVED
from vconsole.detached import socket_answers
from vconsole.providers.base import ConsoleSpec, GuestInfo
from vconsole.snapshot.decode import decode


def _can_mount() -> str | None:
    """Why a small tmpfs cannot be mounted here; None if it can."""
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount/umount are not installed"
    return None


@contextlib.contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``path`` (a full disk on demand)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(directory: Path) -> Path:
    """Take every free byte of ``directory``'s file system; the filler file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for block in (64 << 10, 1 << 10, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * block):
                    pass
    finally:
        os.close(fd)
    with pytest.raises(OSError) as err:
        (directory / "probe").write_bytes(b"\0" * 4096)
    assert err.value.errno == errno.ENOSPC
    (directory / "probe").unlink(missing_ok=True)
    return filler


def _ls(host: LabHost) -> dict[str, Any]:
    done = host.cli("ls", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _shutdown(host: LabHost) -> subprocess.CompletedProcess[str]:
    done = host.cli("shutdown", timeout=60)
    if done.returncode == 0:
        assert host.broker is not None
        host.broker.wait(20)
    return done


async def _write_and_see(host: LabHost, guest: str, seq: int, count: int) -> None:
    host.command(guest, seq, f"write {count}")
    host.wait_done(guest, seq)
    client = await host.client()
    try:
        await history_until(client, guest, pattern(seq, count)[-200:])
    finally:
        await client.close()


async def _save_then_fail(lab_host: LabHost, break_disk: Any) -> tuple[Path, bytes]:
    """Save once (the last good file), restart, print more, break the disk, shut down: refused."""
    # The console logs live elsewhere: the disk broken here is the saved sessions' alone.
    lab_host.write_config(f'[log]\ndir = "{lab_host.base / "console-logs"}"\n')
    lab_host.start_lab(lab_host.write_fleet([{"id": 501, "name": "ct", "vttys": 1,
                                              "init": lab_host.scripted("ct")}]))
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        await wait_console(client, "ct", lambda c: c["state"] == "connected", console="vtty0")
        await history_until(client, "ct", b"READY")
    finally:
        await client.close()
    await _write_and_see(lab_host, "ct", 1, 3000)
    done = _shutdown(lab_host)
    assert done.returncode == 0, done.stderr
    saved = saved_sessions_file(lab_host.paths.socket)
    good = saved.read_bytes()
    assert pattern(1, 3000) in good

    lab_host.start_broker()  # restores the good file
    await _write_and_see(lab_host, "ct", 2, 300_000)
    break_disk()
    done = _shutdown(lab_host)
    assert done.returncode == EXIT_NOT_SAVED, (done.returncode, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert str(saved) in done.stderr and "keeps running" in done.stderr
    # Nothing lost: the broker still holds every history, and says what went wrong.
    assert lab_host.broker is not None and lab_host.broker.poll() is None
    assert socket_answers(lab_host.paths.socket)
    status = _ls(lab_host)["saved_sessions"]
    assert status["save"] == "failed" and str(saved) in status["error"], status
    assert "could not save the sessions" in lab_host.cli("ls").stderr
    # The last good file is as it was, and no temporary file is left beside it.
    assert saved.read_bytes() == good
    assert [p.name for p in saved.parent.iterdir() if p.name.startswith("sessions")] == [saved.name]
    return saved, good


async def test_a_full_disk_fails_shutdown_and_keeps_the_last_good_file(lab_host: LabHost) -> None:
    reason = _can_mount()
    if reason:
        pytest.skip(reason)
    state = lab_host.base / "state"  # XDG_STATE_HOME (the runtime fixture)
    with small_filesystem(state, "2m"):
        filler: list[Path] = []
        saved, _good = await _save_then_fail(lab_host, lambda: filler.append(fill(state)))
        assert "No space left on device" in _ls(lab_host)["saved_sessions"]["error"]

        filler[0].unlink()  # space again: the next shutdown saves everything
        done = _shutdown(lab_host)
        assert done.returncode == 0, done.stderr
        data = saved.read_bytes()
        assert pattern(1, 3000) in data and pattern(2, 300_000)[-4096:] in data
        assert len(decode(data).records) == 1

        lab_host.start_broker()
        client = await lab_host.client()
        try:
            history, _ = await read_history(client, "ct", "vtty0")
            assert pattern(1, 3000) in history and pattern(2, 300_000)[-4096:] in history
        finally:
            await client.close()
        lab_host.cleanup()  # nothing may hold the file system when it is unmounted


async def test_a_read_only_state_directory_fails_shutdown_and_sigterm_keeps_the_file(lab_host: LabHost) -> None:
    state = lab_host.base / "state"
    with contextlib.ExitStack() as stack:
        if os.geteuid() == 0:  # root writes through directory permissions: make the file system read-only
            reason = _can_mount()
            if reason:
                pytest.skip(reason)
            stack.enter_context(small_filesystem(state, "8m"))

            def read_only() -> None:
                subprocess.run(["mount", "-o", "remount,ro", str(state)], check=True)

            def writable() -> None:
                subprocess.run(["mount", "-o", "remount,rw", str(state)], check=True)
        else:
            def read_only() -> None:
                os.chmod(state / "vconsole", 0o500)

            def writable() -> None:
                os.chmod(state / "vconsole", 0o700)

        stack.callback(lab_host.cleanup)
        saved, good = await _save_then_fail(lab_host, read_only)
        # SIGTERM still stops the broker; the failed save is in its log and the good file stays.
        lab_host.kill_broker(signal.SIGTERM)
        assert "could not save the sessions" in lab_host.log("broker")
        assert saved.read_bytes() == good
        writable()
        lab_host.start_broker()
        client = await lab_host.client()
        try:
            history, _ = await read_history(client, "ct", "vtty0")
            assert pattern(1, 3000) in history  # the last good save came back
        finally:
            await client.close()


async def test_two_brokers_sharing_a_state_directory_restore_only_their_own(runtime: Path) -> None:
    hosts = {}
    for word in ("ALPHA", "BETA"):
        base = runtime / word.lower()
        base.mkdir()
        hosts[word] = LabHost(base)
    try:
        for word, host in hosts.items():
            # The same guest id and console on both: the same session key.
            init = ["/bin/sh", "-c", f"printf '{word}-SAID-THIS\\n'; exec sleep 1000"]
            host.start_lab(host.write_fleet([{"id": 801, "name": "ct", "vttys": 1, "init": init}]))
            host.start_broker()
            client = await host.client()
            try:
                await wait_console(client, "ct", lambda c: c["state"] == "connected", console="vtty0")
                await history_until(client, "ct", f"{word}-SAID-THIS".encode())
            finally:
                await client.close()
        for host in hosts.values():  # BETA saves last: one shared file would hold only its sessions
            done = _shutdown(host)
            assert done.returncode == 0, done.stderr
        files = {saved_sessions_file(h.paths.socket) for h in hosts.values()}
        assert len(files) == 2 and all(f.exists() for f in files)

        for word, host in hosts.items():
            other = ({"ALPHA", "BETA"} - {word}).pop()
            host.start_broker()
            client = await host.client()
            try:
                history, _ = await read_history(client, "ct", "vtty0")
                assert f"{word}-SAID-THIS".encode() in history
                assert other.encode() not in history, f"{word}'s broker restored {other}'s sessions"
                info = await wait_console(client, "ct", lambda c: True, console="vtty0")
                assert any(m["source"] == "restored" for m in info["marks"])
            finally:
                await client.close()
    finally:
        for host in hosts.values():
            host.cleanup()


async def test_a_bad_or_unreadable_saved_file_is_set_aside_never_overwritten(tmp_path: Path) -> None:
    registry = ConsoleRegistry([], 1 << 20, lambda s: None)
    bad = tmp_path / "bad" / "sessions-x.vcsnap"
    bad.parent.mkdir()
    bad.write_bytes(b"\x80 not a snapshot")
    saved = SavedSessions(registry, bad)
    saved.start_restore()
    await saved.restored()
    assert (saved.status.restore, saved.status.restored) == ("refused", 0)
    assert "refused the saved sessions" in saved.status.error
    assert not bad.exists() and bad.with_suffix(".refused.vcsnap").read_bytes() == b"\x80 not a snapshot"

    unreadable = tmp_path / "unreadable" / "sessions-x.vcsnap"
    unreadable.mkdir(parents=True)  # read() fails: not a file
    (unreadable / "inside").write_text("kept")
    saved = SavedSessions(registry, unreadable)
    saved.start_restore()
    await saved.restored()
    assert saved.status.restore == "failed" and unreadable.is_dir()
    session = registry.session_for(GuestInfo("lab", "h", "container", "1", "ct", "running"), ConsoleSpec("vtty", 0))
    session.history.append(b"new history\r\n")
    assert await saved.save() == 1
    assert decode(unreadable.read_bytes()).records[0].history.data == b"new history\r\n"
    assert (unreadable.with_suffix(".unrestored.vcsnap") / "inside").read_text() == "kept"
