"""Wire protocol: length-prefixed msgpack maps on a stream socket.

Every frame is a 4-byte big-endian length followed by one msgpack map. The
length prefix lets a receiver skip a frame whose body is garbage and keep the
connection, and bound memory before it reads a byte of the body. Both the
broker's client protocol and the lab's control protocol use these frames.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgpack

from vconsole.domain import Mark, SessionKey

# One message of either protocol: a msgpack map with string keys.
Message = dict[str, Any]
PROTOCOL_VERSION = 1
# Output chunks are at most 256 KiB, so 1 MiB leaves room for any request.
MAX_FRAME = 1 << 20
HEADER = struct.Struct(">I")


class Op(StrEnum):
    """The operations of the broker's client protocol (docs/protocol.md)."""

    HELLO = "hello"
    LIST = "list"
    WATCH = "watch"
    ATTACH = "attach"
    INPUT = "input"
    RESIZE = "resize"
    DETACH = "detach"
    PAUSE = "pause"
    RESUME = "resume"
    START = "start"
    STOP = "stop"
    SNAPSHOT = "snapshot"
    RESTORE = "restore"
    SHUTDOWN = "shutdown"
    LOG_READ = "log_read"
    EVENTS = "events"
    ACKNOWLEDGE = "acknowledge"
    RELOAD = "reload"
    TRANSFER_OPEN = "transfer_open"
    TRANSFER_WRITE = "transfer_write"
    TRANSFER_READ = "transfer_read"
    HANDOFF = "handoff"


class ProtocolError(Exception):
    """A peer sent something the protocol does not allow.

    ``code`` is the machine-readable error code sent back in the structured
    error; ``fatal`` means the stream cannot be resynchronised and the
    connection must close after the error is sent.
    """

    def __init__(self, code: str, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = fatal


def _wire_form(value: object) -> object:
    """How a domain value travels: a session key as its text, a mark as its map."""
    if isinstance(value, SessionKey):
        return value.text
    if isinstance(value, Mark):
        return value.to_wire()
    raise TypeError(f"can not serialize {type(value).__name__!r} object")


def encode(message: Message) -> bytes:
    """Encode one message as a frame (domain values in their wire form)."""
    try:
        body: bytes = msgpack.packb(message, use_bin_type=True, default=_wire_form)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ProtocolError("bad_message", f"cannot encode message: {exc}") from None
    if len(body) > MAX_FRAME:
        raise ProtocolError("too_large", f"message of {len(body)} bytes exceeds {MAX_FRAME}")
    return HEADER.pack(len(body)) + body


def decode_body(body: bytes | memoryview) -> Message:
    """Decode one frame body into a map, refusing anything that is not a map."""
    try:
        value = msgpack.unpackb(body, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types
        raise ProtocolError("bad_message", f"undecodable msgpack: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolError("bad_message", f"message must be a map, not {type(value).__name__}")
    if not all(isinstance(k, str) for k in value):
        raise ProtocolError("bad_message", "message keys must be strings")
    return value


@dataclass
class FrameDecoder:
    """Incremental frame splitter for a byte stream.

    ``feed`` returns the complete messages (or ProtocolErrors for bodies that
    did not decode) found so far. An oversized length is a fatal error: the
    stream cannot be resynchronised without reading the whole body, so the
    decoder ignores everything fed after it.

    Frames are decoded in place through a memoryview at a moving offset, and
    what is left of an incomplete frame is kept with one compaction per
    ``feed``: copying the buffer per frame cost a copy of every byte of a
    large output stream (and was quadratic for many small frames in one read).
    """

    max_frame: int = MAX_FRAME

    def __post_init__(self) -> None:
        self._buf = bytearray()
        # After a fatal error the stream has no frame boundaries any more:
        # everything that follows is dropped unread.
        self._broken = False

    def feed(self, data: bytes) -> list[Message | ProtocolError]:
        """Add bytes; return decoded messages and per-frame errors in order."""
        out: list[Message | ProtocolError] = []
        if self._broken:
            return out
        # Nothing held back (the usual case): decode straight from ``data``.
        buf: bytes | bytearray
        if self._buf:
            self._buf += data
            buf = self._buf
        else:
            buf = data
        size = len(buf)
        pos = 0
        with memoryview(buf) as view:
            while size - pos >= HEADER.size:
                (length,) = HEADER.unpack_from(buf, pos)
                if length > self.max_frame:
                    out.append(
                        ProtocolError(
                            "too_large",
                            f"frame of {length} bytes exceeds the limit of {self.max_frame}",
                            fatal=True,
                        )
                    )
                    self._broken = True
                    pos = size  # the rest of the stream cannot be framed
                    break
                end = pos + HEADER.size + length
                if end > size:
                    break
                body = view[pos + HEADER.size : end]
                try:
                    out.append(decode_body(body))
                except ProtocolError as err:
                    out.append(err)
                finally:
                    # An error's traceback still refers to the slice: release it
                    # here, or the buffer could not be compacted below.
                    body.release()
                pos = end
        # The view is released: the bytearray may be resized now.
        if buf is self._buf:
            del self._buf[:pos]
        elif pos < size:
            self._buf = bytearray(memoryview(data)[pos:])
        return out

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)


def error_reply(req_id: Any, code: str, message: str) -> Message:
    """A structured error, answering request ``req_id`` (None if unknown)."""
    return {"id": req_id, "ok": False, "error": {"code": code, "message": message}}


def ok_reply(req_id: Any, **fields: Any) -> Message:
    """A successful reply to request ``req_id``."""
    return {"id": req_id, "ok": True, **fields}


def pending_reply(req_id: Any) -> Message:
    """Request ``req_id`` is under way: its real reply follows with the same id."""
    return {"id": req_id, "pending": True}


# --- field validation: every request field is untrusted ---------------------


def field_str(msg: Message, name: str, *, max_len: int = 256) -> str:
    """A required string field."""
    value = msg.get(name)
    if not isinstance(value, str):
        raise ProtocolError("bad_request", f"field {name!r} must be a string")
    if len(value) > max_len:
        raise ProtocolError("bad_request", f"field {name!r} is longer than {max_len}")
    return value


def field_int(
    msg: Message,
    name: str,
    *,
    lo: int,
    hi: int,
    default: int | None = None,
) -> int:
    """An integer field within [lo, hi]; ``default`` if absent and allowed."""
    value = msg.get(name)
    if value is None and default is not None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError("bad_request", f"field {name!r} must be an integer")
    if not lo <= value <= hi:
        raise ProtocolError("bad_request", f"field {name!r} must be in {lo}..{hi}")
    return value


def field_opt_int(msg: Message, name: str, *, lo: int, hi: int) -> int | None:
    """An optional integer field within [lo, hi]."""
    if msg.get(name) is None:
        return None
    return field_int(msg, name, lo=lo, hi=hi)


def field_bytes(msg: Message, name: str, *, max_len: int = MAX_FRAME) -> bytes:
    """A required binary field."""
    value = msg.get(name)
    if not isinstance(value, bytes):
        raise ProtocolError("bad_request", f"field {name!r} must be bytes")
    if len(value) > max_len:
        raise ProtocolError("bad_request", f"field {name!r} is longer than {max_len}")
    return value


def field_choice(msg: Message, name: str, choices: tuple[str, ...], default: str) -> str:
    """A string field that must be one of ``choices``."""
    value = msg.get(name, default)
    if value not in choices:
        raise ProtocolError("bad_request", f"field {name!r} must be one of {', '.join(choices)}")
    assert isinstance(value, str)
    return value


def field_bool(msg: Message, name: str, *, default: bool) -> bool:
    """An optional boolean field (msgpack true/false, not an integer)."""
    value = msg.get(name, default)
    if not isinstance(value, bool):
        raise ProtocolError("bad_request", f"field {name!r} must be true or false")
    return value
