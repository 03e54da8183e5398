"""Writing and reading ``.vcsnap`` files without building them in memory.

:class:`StreamingWriter` takes the body's pieces (vconsole/snapshot/encode.py:
packed fields and the histories' own buffers) and writes them into a
temporary file beside the target, after room left for the envelope, while a
second thread hashes the same pieces. At the end the envelope with the
digest goes in front, then fsync and rename. A failure at any point removes
the temporary file, so a reader sees the old file or the complete new one,
never a partial one.

Threads, because blocking file IO has no asyncio counterpart; hashlib and
os.writev release the GIL, so a gigabyte is written and hashed side by side.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading

from vconsole.snapshot.encode import EncodedBody, check_size, envelope
from vconsole.snapshot.model import Chunk, SnapshotError, SnapshotUnreadable

__all__ = ["StreamingWriter", "read_snapshot_file", "write_snapshot", "writev_all"]


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


BATCH_BYTES = 64 << 20  # one writev: few syscalls, and few GIL hand-offs between them
BATCH_PIECES = 512  # below IOV_MAX (1024)


def writev_all(fd: int, buffers: list[Chunk]) -> None:
    """os.writev until every byte of ``buffers`` is written."""
    views = [memoryview(b) for b in buffers if len(b)]
    while views:
        n = os.writev(fd, views)
        while views and n >= views[0].nbytes:
            n -= views[0].nbytes
            views.pop(0)
        if n:
            views[0] = views[0][n:]


class _Batcher:
    """Pieces gathered into large writev calls.

    A syscall per 1 MiB history would, on top of its own cost, wait for the
    GIL each time it returns.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.batch: list[Chunk] = []
        self.size = 0

    def add(self, piece: Chunk) -> None:
        self.batch.append(piece)
        self.size += len(piece)
        if self.size >= BATCH_BYTES or len(self.batch) >= BATCH_PIECES:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            batch, self.batch, self.size = self.batch, [], 0
            writev_all(self.fd, batch)


class StreamingWriter:
    """A snapshot file written from its body's pieces, hashed as it is written.

    :meth:`add` queues body pieces in order (they must not change until the
    file is finished: histories are handed over as views, copy on write).
    :meth:`finish` completes the file and :meth:`abort` removes it; both
    block, so an event loop runs them in a worker thread.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.size = 0  # body bytes added so far
        # Room for the envelope: its length for any body of 64 KiB or more. A
        # smaller body is moved to fit once its size is known (it is small).
        self._reserve = len(envelope(1 << 16, bytes(32)))
        self._tmp = f"{path}.tmp{os.getpid()}.{threading.get_ident()}.{id(self)}"
        self._fd = os.open(self._tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        self._sha = hashlib.sha256()
        self._failure: BaseException | None = None
        self._to_write: queue.SimpleQueue[list[Chunk] | None] = queue.SimpleQueue()
        self._to_hash: queue.SimpleQueue[list[Chunk] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._write, name="vcsnap-write", daemon=True),
                         threading.Thread(target=self._hash, name="vcsnap-sha256", daemon=True)]
        self._stopped = False
        for thread in self._threads:
            thread.start()

    def add(self, pieces: list[Chunk]) -> None:
        """Queue body pieces, in order."""
        self.size += sum(len(p) for p in pieces)
        self._to_write.put(pieces)
        self._to_hash.put(pieces)

    def _write(self) -> None:
        # Every queued list is taken, even after a failure, until the end
        # marker: finish() waits for it. The failure is raised by finish().
        batcher = _Batcher(self._fd)
        try:
            os.lseek(self._fd, self._reserve, os.SEEK_SET)
        except BaseException as exc:
            self._failure = exc
        while (pieces := self._to_write.get()) is not None:
            if self._failure is None:
                try:
                    for piece in pieces:
                        batcher.add(piece)
                except BaseException as exc:
                    self._failure = exc
        if self._failure is None:
            try:
                batcher.flush()
            except BaseException as exc:
                self._failure = exc

    def _hash(self) -> None:
        while (pieces := self._to_hash.get()) is not None:
            for piece in pieces:
                self._sha.update(piece)

    def _stop(self, hashed: bool = True) -> None:
        """No more pieces; wait for the writer (and the hasher unless ``hashed`` is False)."""
        if not self._stopped:
            self._stopped = True
            self._to_write.put(None)
            self._to_hash.put(None)
        for thread in self._threads if hashed else self._threads[:1]:
            thread.join()

    def finish(self) -> int:
        """Complete the file (envelope, fsync, rename); its size."""
        try:
            self._stop(hashed=False)
            if self._failure is not None:
                raise self._failure
            # The body goes to the disk while the hasher finishes (the same
            # order of time: a gigabyte each); the envelope is synced after.
            os.fsync(self._fd)
            self._stop()
            total = check_size(self.size)
            head = envelope(self.size, self._sha.digest())
            if len(head) != self._reserve:  # a small body: move it up behind its shorter envelope
                head += os.pread(self._fd, self.size, self._reserve)
                os.ftruncate(self._fd, len(head))
            _pwrite_all(self._fd, head, 0)
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        _sync_directory(os.path.dirname(self.path) or ".")
        return total

    def abort(self) -> None:
        """Give up: no file is left behind."""
        self._stop()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(OSError):
            os.unlink(self._tmp)


def _sync_directory(path: str) -> None:
    """Make a rename in ``path`` durable; a file system that cannot sync a directory is left as it is."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_snapshot(path: str, body: EncodedBody) -> int:
    """Write an encoded body as a file atomically (temporary file, fsync, rename), mode 0600; its size."""
    writer = StreamingWriter(path)
    writer.add(body.pieces)
    return writer.finish()


def read_snapshot_file(path: str, max_size: int) -> bytearray:
    """A snapshot file's bytes in one buffer, refusing an oversized one before reading it."""
    try:
        with open(path, "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_size:
                raise SnapshotError(f"{path}: {size} bytes exceeds the limit of {max_size}")
            buf = bytearray(size)
            view = memoryview(buf)
            got = 0
            while got < size:
                n = f.readinto(view[got:])
                if not n:
                    break  # the file shrank meanwhile: decode will find it truncated
                got += n
            view.release()
            if got < size:
                del buf[got:]
            elif f.read(1):
                raise SnapshotError(f"{path}: the file grew while it was read")
            return buf
    except OSError as exc:
        raise SnapshotUnreadable(f"{path}: {exc.strerror}") from None
