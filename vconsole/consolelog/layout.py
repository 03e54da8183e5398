"""Where a console log's files are: one directory per console under the log root.

    ROOT/.lock                                  flock held by the broker that writes
    ROOT/<provider>/<guest id>/<console>/meta.json
    ROOT/<provider>/<guest id>/<console>/<start offset, 16 hex>.seg   raw bytes
    ROOT/<provider>/<guest id>/<console>/<start offset, 16 hex>.idx   index records

Names are escaped so any guest id is one safe path component.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import unquote

from vconsole.domain import SessionKey
from vconsole.runtime_paths import (
    SOCKET_NAME,
    RuntimePaths,
    SystemLayout,
    default_runtime_dir,
    state_dir,
)

LOCK_NAME = ".lock"
META_NAME = "meta.json"
SEGMENT_SUFFIX = ".seg"
INDEX_SUFFIX = ".idx"


def escape_component(name: str) -> str:
    """``name`` as one path component: letters, digits, ``-`` and ``_`` kept, every other byte %XX."""
    return "".join(
        chr(b) if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "-_") else f"%{b:02X}"
        for b in name.encode()
    ) or "%"


def unescape_component(name: str) -> str:
    """The inverse of :func:`escape_component`."""
    return "" if name == "%" else unquote(name, errors="replace")


def default_log_root(socket: Path) -> Path:
    """``$XDG_STATE_HOME/vconsole/log`` for the default socket, ``log-<hash>`` for another one.

    Two brokers on two sockets never write the same files; the default
    installation keeps a path an admin can type.
    """
    if RuntimePaths(socket).system:
        return SystemLayout.current().log_dir
    if socket == default_runtime_dir() / SOCKET_NAME:
        return state_dir() / "log"
    digest = hashlib.sha256(os.fsencode(os.path.realpath(socket))).hexdigest()[:16]
    return state_dir() / f"log-{digest}"


def log_root(socket: Path, configured: Path | None) -> Path:
    """The log root of the broker on ``socket``: ``[log] dir`` when set, else the default."""
    return configured if configured is not None else default_log_root(socket)


def console_dir(root: Path, key: SessionKey) -> Path:
    """The directory of one console's log."""
    return root / escape_component(key.provider) / escape_component(key.guest_id) / escape_component(key.console)


def segment_name(start: int) -> str:
    """The stem of the segment starting at absolute offset ``start``."""
    return f"{start:016x}"


@dataclass(frozen=True)
class LogMeta:
    """What a console log is of: written once per broker start, read by ``vconsole log``."""

    provider: str
    guest_id: str
    guest_name: str
    console: str  # the console's name, e.g. "vtty0"
    index: int
    host: str
    version: int = 1
    created: float = 0.0  # when the log began: kept across broker restarts (0: not known)

    @property
    def key(self) -> SessionKey:
        """The console's session key."""
        return SessionKey(self.provider, self.guest_id, self.console)

    def write(self, directory: Path) -> None:
        """Replace ``meta.json`` atomically (mode 0600)."""
        tmp = directory / (META_NAME + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(self), f)
        os.replace(tmp, directory / META_NAME)

    @classmethod
    def read(cls, directory: Path) -> LogMeta | None:
        """The directory's meta, or None when it is missing or unreadable."""
        try:
            raw = json.loads((directory / META_NAME).read_text())
            meta = cls(**{k: raw[k] for k in ("provider", "guest_id", "guest_name", "console", "index", "host")})
            created = raw.get("created", 0.0)
            return replace(meta, created=float(created)) if isinstance(created, int | float) else meta
        except (OSError, ValueError, KeyError, TypeError):
            return None
