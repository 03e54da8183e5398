"""Writing and reading ``.vcsnap`` files without building them in memory.

:func:`write_snapshot` streams an encoded body (vconsole/snapshot_encode.py)
into a temporary file beside the target: it leaves room for the envelope,
writes the pieces (the histories' own buffers) in order while another thread
hashes the same pieces, then writes the envelope with the digest in front,
fsyncs and renames. A failure at any point removes the temporary file, so a
reader sees the old file or the complete new one, never a partial one.

Both run in a worker thread (``run_in_executor``): blocking file IO has no
asyncio counterpart, and hashlib and os.write release the GIL, so hashing and
writing a gigabyte proceed side by side while the event loop keeps serving.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable

from vconsole.snapshot_encode import EncodedBody, envelope
from vconsole.snapshot_model import Chunk, SnapshotError

__all__ = ["read_snapshot_file", "write_all", "write_snapshot"]

SMALL = 256 * 1024  # pieces smaller than this are gathered into one write


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """os.write until every byte is written."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_pieces(fd: int, pieces: Iterable[Chunk]) -> None:
    # Many records add three small pieces each: gather them so the file gets
    # few large writes, but pass large pieces (histories) straight through.
    pending = bytearray()
    for piece in pieces:
        if len(piece) < SMALL:
            pending += piece
            if len(pending) < SMALL:
                continue
        if pending:
            write_all(fd, pending)
            pending.clear()
        if len(piece) >= SMALL:
            write_all(fd, piece)
    if pending:
        write_all(fd, pending)


def write_snapshot(path: str, body: EncodedBody) -> int:
    """Write the file atomically (temporary file, fsync, rename), mode 0600; its size."""
    head_size = len(envelope(body.size, bytes(32)))
    tmp = f"{path}.tmp{os.getpid()}.{threading.get_ident()}"
    hasher = _Hasher(body.pieces)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        try:
            os.lseek(fd, head_size, os.SEEK_SET)  # room for the envelope, written once the digest is known
            _write_pieces(fd, body.pieces)
            digest = hasher.result()
            head = envelope(body.size, digest)
            if len(head) != head_size:
                raise SnapshotError("the envelope changed size")  # cannot happen: the digest is 32 bytes
            os.lseek(fd, 0, os.SEEK_SET)
            write_all(fd, head)
            os.fsync(fd)
        finally:
            hasher.result()  # never leave the thread reading pieces the caller may release
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return head_size + body.size


class _Hasher:
    """SHA-256 of the pieces, computed in a thread of its own while the writer writes them."""

    def __init__(self, pieces: list[Chunk]) -> None:
        self._pieces = pieces
        self._digest: bytes | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="vcsnap-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            h = hashlib.sha256()
            for piece in self._pieces:
                h.update(piece)
            self._digest = h.digest()
        except BaseException as exc:  # handed to the writer, which raises it
            self._failure = exc

    def result(self) -> bytes:
        """The digest, once the thread is done."""
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        assert self._digest is not None
        return self._digest


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
        raise SnapshotError(f"{path}: {exc.strerror}") from None
