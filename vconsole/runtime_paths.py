"""Where vconsole keeps its sockets, configuration, state and logs.

Like tmux, one runtime directory is one installation: the broker socket, the
lab socket and the lab's shared pages all live in it, so two runtime
directories never see each other.
"""

from __future__ import annotations

import os
import socket
import stat
import time
from dataclasses import dataclass
from pathlib import Path

SOCKET_NAME = "broker.sock"
LAB_SOCKET_NAME = "lab.sock"
# The system broker's files live under this root ("/" unless a test moves them).
SYSTEM_ROOT_ENV = "VCONSOLE_SYSTEM_ROOT"
# Members of this group may use the system broker (its socket's group).
SYSTEM_GROUP = "vconsole"


class RuntimeDirError(Exception):
    """The runtime directory is missing, unsafe or owned by someone else."""


def default_runtime_dir() -> Path:
    """A user's own runtime directory (a per-user broker's): ``$XDG_RUNTIME_DIR/vconsole`` or /tmp.

    Root's is /tmp/vconsole-0 too: /run/vconsole belongs to the system broker.
    """
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "vconsole"
    return Path(f"/tmp/vconsole-{os.getuid()}")


@dataclass(frozen=True)
class SystemLayout:
    """Where the system broker (``vconsole serve --system``) keeps its files, under ``root``."""

    root: Path

    @classmethod
    def current(cls) -> SystemLayout:
        """Under ``$VCONSOLE_SYSTEM_ROOT`` (tests), else under /."""
        return cls(Path(os.environ.get(SYSTEM_ROOT_ENV) or "/"))

    @property
    def run_dir(self) -> Path:
        """Sockets: /run/vconsole."""
        return self.root / "run" / "vconsole"

    @property
    def socket(self) -> Path:
        """The system broker's socket."""
        return self.run_dir / SOCKET_NAME

    @property
    def state_dir(self) -> Path:
        """Saved sessions: /var/lib/vconsole."""
        return self.root / "var" / "lib" / "vconsole"

    @property
    def log_dir(self) -> Path:
        """Console logs: /var/log/vconsole."""
        return self.root / "var" / "log" / "vconsole"

    @property
    def config_file(self) -> Path:
        """/etc/vconsole/config.toml."""
        return self.root / "etc" / "vconsole" / "config.toml"


def system_broker_there(layout: SystemLayout | None = None) -> bool:
    """Whether a system broker listens (also when its socket is there but not for us: that is said on connect)."""
    path = (layout or SystemLayout.current()).socket
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except PermissionError:
        return True
    except OSError:
        return False
    finally:
        probe.close()
    return True


@dataclass(frozen=True)
class RuntimePaths:
    """The files of one installation, derived from its broker socket path."""

    socket: Path

    @classmethod
    def resolve(cls, socket: str | os.PathLike[str] | None = None) -> RuntimePaths:
        """``--socket`` first, then ``VCONSOLE_SOCKET``, then the system broker if one runs, else the user's own.

        (``--system`` and ``--user`` set ``--socket`` to one of those two.)
        """
        chosen = socket or os.environ.get("VCONSOLE_SOCKET")
        if chosen:
            return cls(Path(chosen).absolute())
        layout = SystemLayout.current()
        if system_broker_there(layout):
            return cls(layout.socket)
        return cls.user()

    @classmethod
    def user(cls) -> RuntimePaths:
        """The user's own broker's files."""
        return cls(default_runtime_dir() / SOCKET_NAME)

    @classmethod
    def system_broker(cls) -> RuntimePaths:
        """The system broker's files."""
        return cls(SystemLayout.current().socket)

    @property
    def system(self) -> bool:
        """Whether these are the system broker's files (its socket is /run/vconsole/broker.sock)."""
        return self.socket == SystemLayout.current().socket

    @property
    def directory(self) -> Path:
        """The runtime directory holding the socket."""
        return self.socket.parent

    @property
    def lab_socket(self) -> Path:
        """The lab's control socket, beside the broker's (the system broker's: in a private lab/ below)."""
        if self.system:  # /run/vconsole is readable by all; the lab's socket is the broker's alone
            return self.directory / "lab" / LAB_SOCKET_NAME
        return self.directory / LAB_SOCKET_NAME

    @property
    def lab_pages(self) -> Path:
        """Where the lab keeps shared pages (Xen rings)."""
        return self.directory / "lab" / "pages" if self.system else self.directory / "lab"

    @property
    def lock(self) -> Path:
        """Serialises broker autostart between concurrent clients."""
        return self.socket.with_name(self.socket.name + ".lock")


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` mode 0700, or check an existing one is ours and make it private."""
    _ensure_own_dir(path, 0o700)


def ensure_shared_dir(path: Path) -> None:
    """Create ``path`` mode 0755 (others may reach the socket in it), or check an existing one is ours and set 0755."""
    _ensure_own_dir(path, 0o755)


def _ensure_own_dir(path: Path, mode: int) -> None:
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeDirError(f"cannot create {path}: {exc.strerror}") from None
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise RuntimeDirError(f"{path} is not a directory")
    if info.st_uid != os.getuid():
        raise RuntimeDirError(f"{path} belongs to uid {info.st_uid}, not to us")
    if stat.S_IMODE(info.st_mode) != mode:
        os.chmod(path, mode)


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
