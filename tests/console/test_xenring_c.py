"""Check XenConsoleRing against an independent C frontend built from the ABI.

``xenring_check.c`` has its own copy of ``struct xencons_interface`` from
Xen's public/io/console.h; it acts as the guest on a page file while Python
acts as the backend on the same page, through two separate mappings.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from vconsole.console.xenring import (
    XENCONSOLE_CONNECTED,
    XENCONSOLE_DISCONNECTED,
    XenConsoleRing,
)

SOURCE = Path(__file__).with_name("xenring_check.c")
U32 = 2**32


@pytest.fixture(scope="module")
def checker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc/gcc) on PATH: cannot build xenring_check")
    exe = tmp_path_factory.mktemp("xenring_check") / "xenring_check"
    subprocess.run(
        [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(exe), str(SOURCE)],
        check=True,
        capture_output=True,
        text=True,
    )
    return exe


def parse(stdout: str) -> dict[str, str]:
    """``key=value`` pairs from every line (later lines win)."""
    facts: dict[str, str] = {}
    for line in stdout.splitlines():
        for word in line.split():
            key, sep, value = word.partition("=")
            if sep:
                facts[key] = value
    return facts


def run(checker: Path, page: Path, *args: str) -> tuple[int, dict[str, str], str]:
    proc = subprocess.run(
        [str(checker), str(page), *args], capture_output=True, text=True, timeout=60
    )
    return proc.returncode, parse(proc.stdout), proc.stdout


def test_layout_matches_header(checker: Path, tmp_path: Path) -> None:
    page = tmp_path / "page"
    XenConsoleRing.create(page).close()
    code, facts, out = run(checker, page)
    assert code == 0, out
    first = out.splitlines()[0]
    assert first.startswith("layout=ok ")
    assert parse(first) == {
        "layout": "ok",
        "sizeof": "3092",
        "in": "0",
        "out": "1024",
        "in_cons": "3072",
        "in_prod": "3076",
        "out_cons": "3080",
        "out_prod": "3084",
        "connection": "3088",
    }
    assert facts["connection_initial"] == str(XENCONSOLE_DISCONNECTED)
    assert facts["result"] == "ok"


@pytest.mark.parametrize("start", [0, U32 - 5, U32 - 1, 0x7FFFFFFF])
def test_c_frontend_python_backend(checker: Path, tmp_path: Path, start: int) -> None:
    page = tmp_path / "page"
    backend = XenConsoleRing.create(page)
    backend.in_cons = backend.in_prod = start
    backend.out_cons = backend.out_prod = (start + 7) % U32
    # Larger than both rings, so both sides must wait for space and wrap.
    guest_output = bytes(range(256)) * 40  # 10240 bytes, includes NUL and 0xff
    marker = b"\x00<END>"
    guest_input = bytes((i * 13 + 1) % 256 for i in range(3000)) + marker
    proc = subprocess.Popen(
        [
            str(checker),
            str(page),
            "--expect-connection",
            "1",
            "--wait-connection",
            "0",
            "--write-hex",
            guest_output.hex(),
            "--read-until-hex",
            marker.hex(),
            "--timeout-ms",
            "30000",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(2)]
    assert lines[0].startswith("layout=ok"), lines
    assert lines[1].strip() == "connection_initial=1", lines

    backend.connection = XENCONSOLE_CONNECTED  # the guest waits for this
    received = bytearray()
    to_send = memoryview(guest_input)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        chunk = backend.read_out(500)  # odd sizes: exercise partial reads
        received += chunk
        sent = backend.write_in(to_send[:333])
        to_send = to_send[sent:]
        if not chunk and not sent:
            time.sleep(0.0005)
    rest, _ = proc.communicate(timeout=10)
    received += backend.read_out()
    facts = parse("".join(lines) + rest)

    assert proc.returncode == 0, rest
    assert facts["connection_seen"] == "0"
    assert facts["result"] == "ok"
    assert int(facts["wrote"]) == len(guest_output)
    assert bytes(received) == guest_output
    assert len(to_send) == 0
    assert bytes.fromhex(facts["read_hex"]) == guest_input
    # Both sides agree on the final free-running indices.
    assert int(facts["out_prod"]) == backend.out_prod == (start + 7 + len(guest_output)) % U32
    assert int(facts["in_cons"]) == backend.in_cons == (start + len(guest_input)) % U32
    assert backend.out_pending == 0 and backend.in_pending == 0
    backend.close()


def test_c_frontend_refuses_corrupt_ring(checker: Path, tmp_path: Path) -> None:
    page = tmp_path / "page"
    with XenConsoleRing.create(page) as ring:
        ring.out_cons, ring.out_prod = 10, 10 + 2049
    code, facts, out = run(checker, page, "--write", "x", "--timeout-ms", "200")
    assert code == 5, out
    assert facts["reason"] == "corrupt" and facts["ring"] == "out"
    assert facts["out_prod"] == str(10 + 2049)


def test_c_frontend_reports_connection_mismatch_and_timeout(checker: Path, tmp_path: Path) -> None:
    page = tmp_path / "page"
    XenConsoleRing.create(page).close()
    code, facts, _ = run(checker, page, "--expect-connection", "0")
    assert code == 3 and facts["reason"] == "connection"
    code, facts, _ = run(checker, page, "--wait-connection", "0", "--timeout-ms", "50")
    assert code == 4 and facts["phase"] == "wait-connection"
    code, facts, _ = run(checker, page, "--read-until", "never", "--timeout-ms", "50")
    assert code == 4 and facts["phase"] == "read-until" and facts["read_len"] == "0"


def test_python_sees_c_writes_through_peek(checker: Path, tmp_path: Path) -> None:
    page = tmp_path / "page"
    backend = XenConsoleRing.create(page)
    try:
        code, facts, out = run(checker, page, "--write", "early boot\n", "--timeout-ms", "500")
        assert code == 0, out
        assert facts["wrote"] == "11"
        # Nobody consumed: the bytes are pending, and peeking leaves them so.
        assert backend.out_pending == 11
        assert backend.peek_out() == b"early boot\n"
        assert backend.out_pending == 11
        assert backend.read_out() == b"early boot\n"
    finally:
        backend.close()
