"""Unpacking msgpack with chosen byte strings as views into the buffer instead of copies.

msgpack's unpacker copies every bin it returns, and what it is fed. A
snapshot of a thousand consoles holds a gigabyte of history in two layers of
bins (the file's ``body``, each record's ``history.data``); copying them
doubles the memory and the time of a restore. :func:`unpack_views` walks the
maps and arrays on the way to those bins itself, lets msgpack (with the same
limits) unpack everything else from a small window of the buffer, and returns
the chosen bins as ``memoryview`` slices of the buffer.

It only handles what vconsole writes. On anything else — a type it does not
expect on the way, a truncated or oversized value, trailing bytes — it
returns None and the caller takes the general path, whose error messages
name the problem; it never decides that a file is invalid.
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack

WINDOW = 64 * 1024  # bytes fed to msgpack at a time: a bin to be viewed is over-fed by at most this


class _Irregular(Exception):
    """Not the layout this path handles: use the general path."""


class _Reader:
    """msgpack values from ``buf``, fed a window at a time, restartable after a viewed bin."""

    def __init__(self, buf: memoryview, limits: dict[str, int]) -> None:
        self.buf = buf
        self.limits = limits
        self._restart(0)

    def _restart(self, at: int) -> None:
        self.base = self.fed = at
        lim = self.limits
        self.unpacker = msgpack.Unpacker(
            raw=False, strict_map_key=True, use_list=True, max_buffer_size=max(self.buf.nbytes, 1),
            max_bin_len=lim["max_bin"], max_str_len=lim["max_str"], max_array_len=lim["max_array"],
            max_map_len=lim["max_map"], max_ext_len=0,
        )

    def _feed(self) -> None:
        if self.fed >= self.buf.nbytes:
            raise _Irregular("truncated")
        n = max(WINDOW, self.fed - self.base)  # doubling: a large value is not fed in tiny steps
        chunk = self.buf[self.fed : self.fed + n]
        self.unpacker.feed(chunk)
        self.fed += chunk.nbytes

    def value(self) -> Any:
        while True:
            try:
                return self.unpacker.unpack()
            except msgpack.OutOfData:
                self._feed()

    def header(self, kind: str) -> int:
        read = self.unpacker.read_map_header if kind == "map" else self.unpacker.read_array_header
        while True:
            try:
                n = int(read())
            except msgpack.OutOfData:
                self._feed()
                continue
            if n > self.limits["max_map" if kind == "map" else "max_array"]:
                raise _Irregular("too long")
            return n

    @property
    def pos(self) -> int:
        """Offset in ``buf`` of the next value."""
        return self.base + int(self.unpacker.tell())

    def bin_view(self) -> Any:
        """The next value; a bin comes back as a view of ``buf``, not a copy."""
        at, buf = self.pos, self.buf
        if at >= buf.nbytes:
            raise _Irregular("truncated")
        tag = buf[at]
        if tag == 0xC4 and at + 2 <= buf.nbytes:
            size, n = 2, buf[at + 1]
        elif tag == 0xC5 and at + 3 <= buf.nbytes:
            size, n = 3, struct.unpack_from(">H", buf, at + 1)[0]
        elif tag == 0xC6 and at + 5 <= buf.nbytes:
            size, n = 5, struct.unpack_from(">I", buf, at + 1)[0]
        else:
            return self.value()  # not a bin (the checks will say so) or a truncated header
        end = at + size + n
        if n > self.limits["max_bin"] or end > buf.nbytes:
            raise _Irregular("bin too long")
        self._restart(end)  # msgpack never sees the bin's bytes
        return buf[at + size : end]


def _walk(reader: _Reader, path: tuple[str, ...]) -> Any:
    if not path:
        return reader.bin_view()
    if path[0] == "*":
        return [_walk(reader, path[1:]) for _ in range(reader.header("array"))]
    out: dict[str, Any] = {}
    for _ in range(reader.header("map")):
        key = reader.value()
        if type(key) is not str:
            raise _Irregular("key")
        out[key] = _walk(reader, path[1:]) if key == path[0] else reader.value()
    return out


def unpack_views(buf: memoryview, limits: dict[str, int], path: tuple[str, ...]) -> Any:
    """The one value in ``buf``, bins at ``path`` as views; None if not laid out as expected.

    ``path`` names map keys from the top, ``"*"`` every item of an array:
    ``("records", "*", "history", "data")``. ``limits`` are the unpacker's
    (``max_bin``, ``max_str``, ``max_array``, ``max_map``).
    """
    reader = _Reader(buf, limits)
    try:
        value = _walk(reader, path)
    except _Irregular:
        return None
    except RecursionError:
        return None
    except Exception:  # msgpack raises many unrelated types for bad input; the general path names it
        return None
    if reader.pos != buf.nbytes:
        return None  # trailing bytes, or a value still incomplete
    return value
