"""OutputHistory: a bounded byte ring addressed by absolute 64-bit offsets."""

from __future__ import annotations

_INITIAL = 64 * 1024


class OutputHistory:
    """Everything a console printed, addressed by absolute offset.

    ``start`` is the offset of the oldest byte still held and ``end`` the
    offset one past the newest; ``dropped`` counts bytes evicted to respect the
    cap, so ``start == dropped`` always and a reader at offset ``o < start``
    knows it missed exactly ``start - o`` bytes. The buffer grows on demand up
    to ``cap`` because a thousand idle consoles must not cost a thousand caps.
    """

    def __init__(self, cap: int = 1 << 20, *, start: int = 0) -> None:
        if cap <= 0:
            raise ValueError("history cap must be positive")
        self.cap = cap
        self._buf = bytearray(min(_INITIAL, cap))
        self._head = 0  # buffer index of the byte at offset `start`
        self._len = 0
        self._start = start

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

    def __len__(self) -> int:
        return self._len

    def append(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes at the end, evicting the oldest beyond the cap."""
        n = len(data)
        if n == 0:
            return
        if n >= self.cap:
            # Only the newest `cap` bytes can survive; the rest are dropped.
            self._grow(self.cap)
            self._start += self._len + n - self.cap
            self._buf[:] = bytes(data[n - self.cap :])
            self._head = 0
            self._len = self.cap
            return
        need = self._len + n
        if need > len(self._buf) and len(self._buf) < self.cap:
            self._grow(min(self.cap, max(need, 2 * len(self._buf))))
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

    def read(self, offset: int, limit: int | None = None) -> bytes:
        """Bytes from ``offset`` (clamped to ``start``) up to ``limit`` bytes."""
        offset = max(offset, self._start)
        avail = self.end - offset
        if avail <= 0:
            return b""
        n = avail if limit is None else min(avail, limit)
        size = len(self._buf)
        pos = (self._head + offset - self._start) % size
        first = min(n, size - pos)
        if first == n:
            return bytes(self._buf[pos : pos + n])
        return bytes(self._buf[pos:size]) + bytes(self._buf[: n - first])

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
        data = self.read(self._start)
        self._buf = bytearray(size)
        self._buf[: len(data)] = data
        self._head = 0

    def seed(self, data: bytes, start: int) -> int:
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
        self._buf, self._head, self._len, self._start = fresh._buf, fresh._head, fresh._len, fresh._start
        return shift
