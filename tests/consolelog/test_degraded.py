"""Write errors: the writer never raises, turns degraded, counts what it could not log, resumes by itself."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from tests.consolelog.conftest import meta, open_store
from vconsole.consolelog import writer as writer_module
from vconsole.consolelog.layout import console_dir
from vconsole.consolelog.reader import ConsoleLog
from vconsole.consolelog.records import LogMarkKind
from vconsole.consolelog.writer import LogLimits, LogState

T0 = 1_700_000_000.0

FSIZE_WRITER = textwrap.dedent(
    """
    import json, resource, signal, sys
    from pathlib import Path
    from vconsole.consolelog import writer as writer_module
    from vconsole.consolelog.layout import LogMeta
    from vconsole.consolelog.store import LogStore
    from vconsole.consolelog.writer import LogLimits

    writer_module.RETRY_INTERVAL = 0.0  # retry on the very next append
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))
    store = LogStore(Path(sys.argv[1]), limits_for=lambda m: LogLimits(console=1 << 30, segment=64 << 10))
    store.open()
    w = store.console(LogMeta("lab", "201", "guest-201", "vtty0", 0, "testhost"))
    states = []
    for n in range(1, 301):
        w.append(bytes([n % 256]) * 100, 1_700_000_000.0 + n)
        states.append((w.state.value, w.reason))
    print(json.dumps({"states": states, "describe": w.describe()}))
    store.close()
    """
)


def test_file_size_limit_degrades_and_resumes_deterministically(root: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", FSIZE_WRITER, str(root)], capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(out.stdout)
    states = result["states"]
    # Appends 1-100 fill 10000 bytes; 101 fails (EFBIG); 102 starts a new segment; and again.
    assert [n + 1 for n, (state, _) in enumerate(states) if state == "degraded"] == [101, 202]
    assert "File too large" in states[100][1]
    assert result["describe"]["not_logged"] == 200
    assert result["describe"]["log_state"] == "ok"
    log = ConsoleLog(console_dir(root, meta().key))
    assert (log.start, log.end, log.not_logged, log.dropped) == (0, 30_000, 200, 0)
    holes = [(m.offset, m.value) for m in log.marks() if m.kind is LogMarkKind.NOT_LOGGED]
    assert holes == [(10_000, 10_100), (20_100, 20_200)]
    chunks = list(log.chunks())
    assert sum(len(c.data) for c in chunks) == 29_800
    for c in chunks:  # every held byte is where and when it was written
        n = c.offset // 100 + 1
        assert c.data == bytes([n % 256]) * 100 and c.time == T0 + n
    assert log.read(10_000, 50) == (10_100, bytes([102]) * 50)  # a read skips the hole


def _mount_tmpfs(target: Path, size: str) -> None:
    target.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the RLIMIT_FSIZE test covers the error path)")
    disk = tmp_path / "disk"
    try:
        _mount_tmpfs(disk, "256k")
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        pytest.skip(f"cannot mount a tmpfs here: {e}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def test_full_disk_degrades_then_resumes_when_space_returns(
    small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "RETRY_INTERVAL", 0.2)
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (100 << 10))
    root = small_disk / "log"
    store = open_store(root, LogLimits(console=1 << 30, segment=16 << 10))
    w = store.console(meta())
    n = 0
    while w.state is LogState.OK:
        assert n < 1000, "the disk never filled"
        w.append(b"%07d\n" % n * 128, T0 + n)  # 1 KiB
        n += 1
    hole = w.end - 1024
    assert "No space left on device" in w.reason
    assert store.describe()["state"] == "degraded"
    for _ in range(5):
        w.append(b"%07d\n" % n * 128, T0 + n)
        n += 1
    filler.unlink()
    w.append(b"%07d\n" % n * 128, T0 + n)  # before RETRY_INTERVAL: not retried yet
    n += 1
    assert w.state is LogState.DEGRADED and w.not_logged == 7 * 1024
    time.sleep(0.25)
    resumed_at = w.end
    w.append(b"%07d\n" % n * 128, T0 + n)
    assert w.state is LogState.OK and w.reason == ""
    assert w.describe()["not_logged"] == 7 * 1024
    store.close()
    log = ConsoleLog(console_dir(root, meta().key))
    assert [(m.offset, m.value) for m in log.marks() if m.kind is LogMarkKind.NOT_LOGGED] == [(hole, resumed_at)]
    assert (log.not_logged, log.dropped, log.end) == (7 * 1024, 0, resumed_at + 1024)
    offset, data = log.read(hole, 1024)
    assert (offset, data) == (resumed_at, b"%07d\n" % n * 128)
    again = open_store(root)
    assert again.console(meta()).not_logged == 7 * 1024  # from the NOT_LOGGED mark, after a restart
    again.close()


def test_deleted_directory_degrades_then_resumes(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "RETRY_INTERVAL", 0.0)
    store = open_store(root)
    w = store.console(meta())
    w.append(b"first\n", T0)
    w.close()
    d = console_dir(root, meta().key)
    shutil.rmtree(d.parent.parent)  # the whole provider directory
    with mock.patch.object(writer_module, "make_dirs"):  # the retry cannot recreate it yet
        w.append(b"lost\n", T0 + 1)
        assert w.state is LogState.DEGRADED and "No such file" in w.reason
        w.append(b"lost too\n", T0 + 2)
    assert w.not_logged == 14
    w.append(b"back\n", T0 + 3)  # the retry recreates the directory
    assert w.state is LogState.OK
    assert stat.S_IMODE(d.stat().st_mode) == 0o700 and stat.S_IMODE(d.parent.parent.stat().st_mode) == 0o700
    store.close()
    log = ConsoleLog(d)
    assert log.read(0, 100) == (20, b"back\n")
    assert [(m.offset, m.value) for m in log.marks() if m.kind is LogMarkKind.NOT_LOGGED] == [(6, 20)]
