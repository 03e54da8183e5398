"""Where vconsole keeps its sockets, configuration, state and logs.

Like tmux, one runtime directory is one installation: the broker socket, the
lab socket and the lab's shared pages all live in it, so two runtime
directories never see each other.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

SOCKET_NAME = "broker.sock"
LAB_SOCKET_NAME = "lab.sock"


class RuntimeDirError(Exception):
    """The runtime directory is missing, unsafe or owned by someone else."""


def default_runtime_dir() -> Path:
    """The runtime directory as design.md §3 places it."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "vconsole"
    uid = os.getuid()
    if uid == 0:
        return Path("/run/vconsole")
    return Path(f"/tmp/vconsole-{uid}")


@dataclass(frozen=True)
class RuntimePaths:
    """The files of one installation, derived from its broker socket path."""

    socket: Path

    @classmethod
    def resolve(cls, socket: str | os.PathLike[str] | None = None) -> RuntimePaths:
        """``--socket`` first, then ``VCONSOLE_SOCKET``, then the default directory."""
        chosen = socket or os.environ.get("VCONSOLE_SOCKET")
        if chosen:
            return cls(Path(chosen).absolute())
        return cls(default_runtime_dir() / SOCKET_NAME)

    @property
    def directory(self) -> Path:
        """The runtime directory holding the socket."""
        return self.socket.parent

    @property
    def lab_socket(self) -> Path:
        """The lab's control socket, beside the broker's."""
        return self.directory / LAB_SOCKET_NAME

    @property
    def lab_pages(self) -> Path:
        """Where the lab keeps shared pages (Xen rings)."""
        return self.directory / "lab"

    @property
    def lock(self) -> Path:
        """Serialises broker autostart between concurrent clients."""
        return self.socket.with_name(self.socket.name + ".lock")


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` mode 0700, or check an existing one is ours and private."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeDirError(f"cannot create {path}: {exc.strerror}") from None
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise RuntimeDirError(f"{path} is not a directory")
    if info.st_uid != os.getuid():
        raise RuntimeDirError(f"{path} belongs to uid {info.st_uid}, not to us")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/vconsole`` (default ``~/.config/vconsole``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "vconsole"


def state_dir() -> Path:
    """``$XDG_STATE_HOME/vconsole`` (default ``~/.local/state/vconsole``): logs, saved sessions."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "vconsole"


def snapshots_dir() -> Path:
    """Where snapshots go by default: ``$XDG_STATE_HOME/vconsole/snapshots``."""
    return state_dir() / "snapshots"


def default_snapshot_path(label: str) -> Path:
    """A fresh ``.vcsnap`` file name in the snapshots directory, from a label and the time."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:64] or "console"
    return snapshots_dir() / f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}.vcsnap"
