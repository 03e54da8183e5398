"""Who may use this broker, and how: the access policy, decided on each client's credentials.

The kernel tells the broker each client's uid, gid and pid (SO_PEERCRED);
the client's supplementary groups are read from /proc/PID/status (the groups
the connecting process really has). The broker's own uid and root may do
everything; so may ``allow_uids`` and members of ``allow_groups`` (for the
system broker, also the ``vconsole`` group). Members of ``spy_groups`` may
list, read and attach read-only; nobody else gets past the greeting.
"""

from __future__ import annotations

import grp
import logging
import os
from dataclasses import dataclass
from enum import StrEnum

from vconsole.config import Config
from vconsole.runtime_paths import SYSTEM_GROUP, RuntimePaths
from vconsole.wire import Op

log = logging.getLogger("vconsole.broker")

# What a client that may only watch can ask for.
SPY_OPS = frozenset({
    Op.HELLO, Op.LIST, Op.WATCH, Op.ATTACH, Op.DETACH, Op.PAUSE, Op.RESUME, Op.LOG_READ, Op.EVENTS,
    Op.HANDOFF,  # the handed-off connection keeps this client's access
})


class Access(StrEnum):
    """What one client may do."""

    FULL = "full"
    SPY = "spy"  # list, read, attach read-only
    NONE = "none"


def peer_groups(pid: int, uid: int, gid: int) -> frozenset[int]:
    """The groups of the client process ``pid`` (SO_PEERCRED's gid and its supplementary ones)."""
    return frozenset({gid}) | _process_groups(pid, uid, gid)


def _process_groups(pid: int, uid: int, gid: int) -> frozenset[int]:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Groups:"):
                    return frozenset(int(g) for g in line.split()[1:])
    except (OSError, ValueError):
        pass
    try:  # the process is gone already: its user's groups
        import pwd

        return frozenset(os.getgrouplist(pwd.getpwuid(uid).pw_name, gid))
    except (KeyError, OSError):
        return frozenset()


def _gids(names: list[str | int], key: str) -> frozenset[int]:
    gids: set[int] = set()
    for name in names:
        if isinstance(name, int):
            gids.add(name)
            continue
        try:
            gids.add(grp.getgrnam(name).gr_gid)
        except KeyError:
            log.warning("broker.%s: no group named %r (ignored)", key, name)
    return frozenset(gids)


def system_group() -> int | None:
    """The gid of the ``vconsole`` group, if the host has one."""
    try:
        return grp.getgrnam(SYSTEM_GROUP).gr_gid
    except KeyError:
        return None


@dataclass(frozen=True)
class AccessPolicy:
    """The uids and groups that may use the broker, fully or to watch."""

    owner: int
    uids: frozenset[int]
    groups: frozenset[int]
    spy_groups: frozenset[int]

    @classmethod
    def of(cls, config: Config, paths: RuntimePaths) -> AccessPolicy:
        """The policy ``config`` sets; the system broker also admits the ``vconsole`` group."""
        groups = _gids(config.allow_groups, "allow_groups")
        if paths.system:
            gid = system_group()
            if gid is not None:
                groups |= {gid}
        return cls(os.getuid(), frozenset(config.allow_uids), groups, _gids(config.spy_groups, "spy_groups"))

    @property
    def admits_others(self) -> bool:
        """Whether anyone but the owner, root and the socket's group is admitted (the socket must let them in)."""
        return bool(self.uids or self.spy_groups or self.groups - {system_group()})

    def decide(self, uid: int, gid: int, pid: int) -> Access:
        """What the client process ``pid`` of ``uid``/``gid`` may do (its groups read only when they matter)."""
        if uid in (self.owner, 0) or uid in self.uids:
            return Access.FULL
        if not (self.groups or self.spy_groups):
            return Access.NONE
        groups = peer_groups(pid, uid, gid)
        if groups & self.groups:
            return Access.FULL
        return Access.SPY if groups & self.spy_groups else Access.NONE
