"""Run ``vconsole ARGS`` as another user: ``python as_user.py USER ARGS...`` (run by root).

The checkout may not be readable by that user (CI clones under /root), so
the modules are imported first, as root, and only then are the privileges
dropped (groups, gid, uid): the broker sees the user's credentials on connect.
"""

from __future__ import annotations

import asyncio
import concurrent.futures.thread  # noqa: F401 - run_in_executor imports it late, when root's Python may be unreadable
import os
import pwd
import sys

import vconsole.cli
import vconsole.cli.command_line  # the whole command line (vconsole.cli alone loads nothing)
import vconsole.cli.commands
import vconsole.cli.host_snapshots
import vconsole.cli.log_command
import vconsole.cli.snapshot_commands
import vconsole.cli.wait_command
import vconsole.providers.detect
from vconsole.client import Client, RequestFailed
from vconsole.domain import AttachMode, parse_target
from vconsole.runtime_paths import RuntimePaths

user = pwd.getpwnam(sys.argv[1])
os.initgroups(user.pw_name, user.pw_gid)
os.setgid(user.pw_gid)
os.setuid(user.pw_uid)
os.environ.update(HOME="/nonexistent", XDG_CONFIG_HOME="/nonexistent", XDG_STATE_HOME="/nonexistent")
os.environ.pop("XDG_RUNTIME_DIR", None)
if sys.argv[2] != "attach-probe":
    sys.exit(vconsole.cli.main(sys.argv[2:]))


async def probe(target: str, mode: str) -> int:
    """Attach with ``mode``; read-write also types a command and waits for its answer."""
    client = await Client.connect(RuntimePaths.resolve(), autostart=False)
    try:
        reply = await client.attach(parse_target(target), AttachMode(mode))
        if mode == "rw":
            await client.input(reply.session, b"echo probe-$((6*7))\n")
            seen = b""
            while b"probe-42" not in seen:
                event = await asyncio.wait_for(client.events.get(), 10)
                seen += event.get("data", b"")
        access = client.broker_info.access if client.broker_info is not None else "?"
        print("attached", mode, access)
        return 0
    except RequestFailed as exc:
        print(f"refused: {exc.code}: {exc.message}")
        return 7
    finally:
        await client.close()


sys.exit(asyncio.run(probe(sys.argv[3], sys.argv[4])))
