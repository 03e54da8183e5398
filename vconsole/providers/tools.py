"""Running host tools (lxc-ls, vzlist, xl, xenstore-read) for providers.

Every provider learns about guests by running the host's own tools. A tool
that is missing, fails, hangs or prints garbage must never take the broker
down with it: each of those becomes a ProviderError whose message is one line
naming the tool and the reason, which the broker shows as the provider's error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import Sequence
from typing import Any

from vconsole.console.process_endpoint import one_line
from vconsole.providers.base import ProviderError

DEFAULT_TIMEOUT = 5.0
MAX_OUTPUT = 16 << 20  # a listing larger than this is garbage, not a host


class ToolError(ProviderError):
    """A host tool failed; ``returncode`` and ``stderr`` say how."""

    def __init__(self, message: str, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


def find_tool(name: str, path: str | None = None) -> str | None:
    """The full path of tool ``name``: ``path`` if given and executable, else on $PATH."""
    if path:
        return path if os.access(path, os.X_OK) and os.path.isfile(path) else None
    return shutil.which(name)


async def run_tool(
    argv: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> str:
    """Run ``argv`` without a terminal and return its stdout as text.

    A missing tool, a non-zero exit (with ``check``), a run longer than
    ``timeout`` seconds (the tool is killed) and undecodable output are all
    ToolError with a one-line reason.
    """
    tool = os.path.basename(argv[0])
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,  # so a hang is killed with its children
        )
    except FileNotFoundError:
        raise ToolError(f"{tool}: not found") from None
    except OSError as exc:
        raise ToolError(f"{tool}: cannot run: {exc.strerror}") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        _kill_group(proc)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 2.0)
        raise ToolError(f"{tool}: timed out after {timeout:g}s") from None
    except asyncio.CancelledError:
        _kill_group(proc)
        raise
    stderr = err.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        reason = one_line(stderr) or one_line(out.decode("utf-8", "replace")) or "no message"
        raise ToolError(f"{tool}: exit status {proc.returncode}: {reason}", proc.returncode, stderr)
    if len(out) > MAX_OUTPUT:
        raise ToolError(f"{tool}: output too large ({len(out)} bytes)")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{tool}: output is not text") from None


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, 9)


def parse_json(text: str, tool: str) -> Any:
    """``text`` as JSON, or a ToolError saying the tool printed garbage."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolError(f"{tool}: unparseable output ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:  # e.g. a number too long to convert
        raise ToolError(f"{tool}: unparseable output ({exc})") from None


def garbage(tool: str, what: str) -> ToolError:
    """The error for output that parsed but does not have the expected shape."""
    return ToolError(f"{tool}: unexpected output: {what}")
