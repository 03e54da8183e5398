"""Starting a vconsole daemon (broker or lab) in the background, as tmux starts its server."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from vconsole.runtime_paths import state_dir


def start_detached(args: list[str], log_name: str) -> int:
    """Run ``python -m vconsole ARGS`` in a new session, output to a log; return its pid."""
    logs = state_dir()
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / log_name, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vconsole", *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def socket_answers(path: Path) -> bool:
    """Whether something accepts connections on the Unix socket ``path``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(1.0)
        sock.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        sock.close()


async def wait_for_socket(path: Path, timeout: float) -> bool:
    """Poll until ``path`` accepts connections or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and socket_answers(path):
            return True
        await asyncio.sleep(0.05)
    return False
