"""The first step of a daemon a client started: fork away from that client.

``detached.start_detached`` starts ``python -m vconsole ARGS`` with
``DAEMONIZE_ENV`` set to a pipe's write end; ``vconsole/__main__.py`` calls ``fork_away_if_asked``
before importing anything else, so the process the client waits for exits
after a bare interpreter start-up. This module imports nothing but ``os`` for
that reason.
"""

from __future__ import annotations

import os

DAEMONIZE_ENV = "_VCONSOLE_DAEMONIZE"


def fork_away_if_asked() -> None:
    """In a process start_detached started: fork, and let that first process exit at once.

    The daemon is then reparented to init, never a child of the client. The
    first process tells the client the daemon's pid on the pipe, so the client
    can see a daemon that dies at start at once. The variable is removed, so
    nothing the daemon runs (guests, tools) inherits it.
    """
    fd_text = os.environ.pop(DAEMONIZE_ENV, None)
    if fd_text is None or not fd_text.isdigit():
        return
    fd = int(fd_text)
    pid = os.fork()
    if pid > 0:
        try:
            os.write(fd, str(pid).encode())
        finally:
            os._exit(0)
    os.close(fd)
