"""The client protocol's snapshot requests: ``snapshot``, ``restore`` and the transfer of a file in parts.

Split from protocol.py (the same rules: one definition for both ends,
``fields()`` out, ``parse()`` in with every field checked).
"""

from __future__ import annotations

from dataclasses import dataclass

from vconsole.domain import Target
from vconsole.protocol import MAX_OFFSET, target_fields
from vconsole.wire import (
    MAX_FRAME,
    Message,
    field_bytes,
    field_int,
    field_str,
)


@dataclass(slots=True)
class SnapshotRequest:
    """Capture ``targets`` (None: every console) into ``path``, or inline when no path.

    ``parts``: without a path, a snapshot larger than one part is kept in a
    transfer buffer for ``transfer_read`` rather than refused.
    """

    targets: list[Target] | None
    path: str | None = None
    parts: bool = False

    def fields(self) -> Message:
        out: Message = {"all": True} if self.targets is None else {
            "targets": [target_fields(t) for t in self.targets]
        }
        if self.path is not None:
            out["path"] = self.path
        if self.parts:
            out["parts"] = True
        return out


@dataclass(slots=True)
class RestoreRequest:
    """Restore the snapshot at ``path`` (or inline ``data``, or an uploaded ``transfer``), optionally elsewhere."""

    path: str | None = None
    data: bytes | None = None
    into: Target | None = None
    inject_input: bool = False
    transfer: str | None = None

    def fields(self) -> Message:
        out: Message = {"inject_input": self.inject_input}
        if self.path is not None:
            out["path"] = self.path
        if self.data is not None:
            out["data"] = self.data
        if self.transfer is not None:
            out["transfer"] = self.transfer
        if self.into is not None:
            out["into"] = target_fields(self.into)
        return out


# A snapshot too large for one frame travels in parts of at most this many bytes
# (``transfer_read``, ``transfer_write``): a part and its fields fit a frame.
MAX_TRANSFER_PART = 512 * 1024
MAX_TRANSFER_TOKEN = 64


def transfer_field(msg: Message) -> str:
    """A transfer's token (the broker made it; it names a buffer of this connection only)."""
    return field_str(msg, "transfer", max_len=MAX_TRANSFER_TOKEN)


@dataclass(slots=True)
class TransferOpen:
    """Open an upload buffer of exactly ``size`` bytes (a snapshot file that ``restore`` will name)."""

    size: int

    def fields(self) -> Message:
        return {"size": self.size}

    @classmethod
    def parse(cls, msg: Message) -> TransferOpen:
        return cls(field_int(msg, "size", lo=1, hi=MAX_OFFSET))


@dataclass(slots=True)
class TransferWrite:
    """The next part of an upload: ``data`` at ``offset`` (the bytes received so far)."""

    transfer: str
    offset: int
    data: bytes

    def fields(self) -> Message:
        return {"transfer": self.transfer, "offset": self.offset, "data": self.data}

    @classmethod
    def parse(cls, msg: Message) -> TransferWrite:
        return cls(transfer_field(msg), field_int(msg, "offset", lo=0, hi=MAX_OFFSET),
                   field_bytes(msg, "data", max_len=MAX_TRANSFER_PART))


@dataclass(slots=True)
class TransferRead:
    """A part of a snapshot kept for download: at most ``limit`` bytes from ``offset``."""

    transfer: str
    offset: int
    limit: int = MAX_TRANSFER_PART

    def fields(self) -> Message:
        return {"transfer": self.transfer, "offset": self.offset, "limit": self.limit}

    @classmethod
    def parse(cls, msg: Message) -> TransferRead:
        return cls(transfer_field(msg), field_int(msg, "offset", lo=0, hi=MAX_OFFSET),
                   field_int(msg, "limit", lo=1, hi=MAX_TRANSFER_PART, default=MAX_TRANSFER_PART))


# The most a snapshot sent inline (a snapshot reply's or a restore request's ``data``) may be:
# one frame (wire.MAX_FRAME), with room for the message's other fields.
MAX_INLINE_SNAPSHOT = MAX_FRAME - 64 * 1024
