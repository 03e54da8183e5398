"""OutputHistory: a bounded byte ring addressed by absolute 64-bit offsets."""

from __future__ import annotations

from dataclasses import dataclass

_INITIAL = 4 * 1024  # first allocation, on the first output


@dataclass(frozen=True)
class HistoryView:
    """The bytes ``[start, end)`` of a history as views of its buffer, without a copy.

    ``parts`` stay valid and unchanged until :meth:`OutputHistory.release`:
    the history copies its buffer before its next change instead (copy on
    write), so a snapshot writer thread can read them while the console keeps
    printing.
    """

    parts: tuple[memoryview, ...]
    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


class OutputHistory:
    """Everything a console printed, addressed by absolute offset.

    ``start`` is the offset of the oldest byte still held and ``end`` the
    offset one past the newest; ``dropped`` counts bytes evicted to respect the
    cap, so ``start == dropped`` always and a reader at offset ``o < start``
    knows it missed exactly ``start - o`` bytes. Nothing is allocated until the
    first output, then the buffer starts at 4 KiB and doubles up to ``cap``,
    because a thousand idle consoles must not cost a thousand caps.
    """

    def __init__(self, cap: int = 1 << 20, *, start: int = 0) -> None:
        if cap <= 0:
            raise ValueError("history cap must be positive")
        self.cap = cap
        self._buf = bytearray()
        self._head = 0  # buffer index of the byte at offset `start`
        self._len = 0
        self._start = start
        self._shares = 0  # views handed out by view() and not yet released

    @property
    def start(self) -> int:
        """Offset of the oldest byte held."""
        return self._start

    @property
    def end(self) -> int:
        """Offset one past the newest byte."""
        return self._start + self._len

    @property
    def dropped(self) -> int:
        """Bytes evicted from the front since offset 0."""
        return self._start

    @property
    def allocated(self) -> int:
        """Bytes of buffer currently allocated (grows on demand up to ``cap``)."""
        return len(self._buf)

    def __len__(self) -> int:
        return self._len

    def set_cap(self, cap: int) -> None:
        """A new cap (a config reload): the newest ``cap`` bytes stay; older ones are dropped and counted."""
        if cap <= 0:
            raise ValueError("history cap must be positive")
        keep = min(self._len, cap)
        data = self.read(self.end - keep) if keep else b""
        # A new buffer: views handed out keep the old one.
        self._shares = 0
        self._start = self.end - keep
        self._buf = bytearray(data)
        self._head = 0
        self._len = keep
        self.cap = cap

    def append(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes at the end, evicting the oldest beyond the cap."""
        n = len(data)
        if n == 0:
            return
        if n >= self.cap:
            # Only the newest `cap` bytes can survive; the rest are dropped. A
            # new buffer: a view handed out keeps the old one.
            self._shares = 0
            self._start += self._len + n - self.cap
            self._buf = bytearray(data[n - self.cap :])
            self._head = 0
            self._len = self.cap
            return
        self._unshare()
        need = self._len + n
        if need > len(self._buf) and len(self._buf) < self.cap:
            size = max(_INITIAL, len(self._buf))
            while size < need:
                size *= 2
            self._grow(min(size, self.cap))
        size = len(self._buf)
        overflow = self._len + n - size
        if overflow > 0:
            self._head = (self._head + overflow) % size
            self._len -= overflow
            self._start += overflow
        tail = (self._head + self._len) % size
        first = min(n, size - tail)
        self._buf[tail : tail + first] = data[:first]
        if first < n:
            self._buf[: n - first] = data[first:]
        self._len += n

    def _parts(self, offset: int, n: int) -> tuple[memoryview, ...]:
        """Views of the ``n`` bytes from ``offset`` (within the held range): one or two pieces."""
        size = len(self._buf)
        pos = (self._head + offset - self._start) % size
        first = min(n, size - pos)
        whole = memoryview(self._buf)
        if first == n:
            return (whole[pos : pos + n],)
        return whole[pos:size], whole[: n - first]

    def read(self, offset: int, limit: int | None = None) -> bytes:
        """Bytes from ``offset`` (clamped to ``start``) up to ``limit`` bytes: one copy."""
        offset = max(offset, self._start)
        avail = self.end - offset
        if avail <= 0:
            return b""
        n = avail if limit is None else min(avail, limit)
        parts = self._parts(offset, n)
        try:
            return bytes(parts[0]) if len(parts) == 1 else b"".join(parts)
        finally:
            for part in parts:
                part.release()  # an exported view would forbid resizing the buffer later

    def view(self) -> HistoryView:
        """Everything held, by reference; call :meth:`release` with it when done."""
        if self._len == 0:
            return HistoryView((), self._start, self._start)
        self._shares += 1
        return HistoryView(self._parts(self._start, self._len), self._start, self.end)

    def release(self, parts: tuple[bytes | memoryview, ...]) -> None:
        """The holder of a view's ``parts`` is done with them: changes may happen in place again."""
        first = parts[0] if parts else None
        if isinstance(first, memoryview) and first.obj is self._buf and self._shares > 0:
            self._shares -= 1

    def _unshare(self) -> None:
        # A view handed out must keep seeing the bytes it was given: change a copy.
        if self._shares:
            self._buf = bytearray(self._buf)
            self._shares = 0

    def tail_offset(self, lines: int, max_bytes: int = 64 * 1024) -> int:
        """Offset where the last ``lines`` lines begin (bounded by ``max_bytes``)."""
        lo = max(self._start, self.end - max_bytes)
        data = self.read(lo)
        # A trailing newline ends the current line; it does not start a new one.
        pos = len(data) - 1 if data.endswith(b"\n") else len(data)
        for _ in range(lines):
            pos = data.rfind(b"\n", 0, pos)
            if pos < 0:
                return lo
        return lo + pos + 1

    def _grow(self, size: int) -> None:
        if size <= len(self._buf):
            return
        fresh = bytearray(size)
        at = 0
        if self._len:
            for part in self._parts(self._start, self._len):
                fresh[at : at + len(part)] = part
                at += len(part)
                part.release()
        self._buf = fresh
        self._head = 0

    def seed(self, data: bytes | memoryview, start: int) -> int:
        """Put ``data`` (once at offsets ``[start, start+len)``) before what is held.

        Used to restore a snapshot: the held bytes move to just after the
        seeded ones, keeping the cap. Returns how far the held bytes' offsets
        moved, so cursors and marks can follow.
        """
        held = self.read(self._start)
        shift = start + len(data) - self._start
        fresh = OutputHistory(self.cap, start=start)
        fresh.append(data)
        fresh.append(held)
        self._shares = 0  # the buffer is replaced, not changed: a view handed out keeps the old one
        self._buf, self._head, self._len, self._start = fresh._buf, fresh._head, fresh._len, fresh._start
        return shift
