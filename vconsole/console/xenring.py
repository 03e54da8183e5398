"""The Xen PV console ring (``struct xencons_interface``) over shared memory.

This follows Xen's ``xen/include/public/io/console.h`` as released in Xen 4.21
(xen-project/xen).  The header says, in full substance::

    typedef uint32_t XENCONS_RING_IDX;

    #define MASK_XENCONS_IDX(idx, ring) ((idx) & (sizeof(ring)-1))

    struct xencons_interface {
        char in[1024];
        char out[2048];
        XENCONS_RING_IDX in_cons, in_prod;
        XENCONS_RING_IDX out_cons, out_prod;
        /* Flag values signaling from backend to frontend whether the console
         * is connected.  i.e. Whether it will be serviced and emptied.
         * The flag starts as disconnected. */
        #define XENCONSOLE_DISCONNECTED 1
        /* The flag is set to connected when the backend connects and the
         * console will be serviced. */
        #define XENCONSOLE_CONNECTED    0
        uint8_t connection;
    };

    #ifdef XEN_WANT_FLEX_CONSOLE_RING
    #include "ring.h"
    DEFINE_XEN_FLEX_RING(xencons);
    #endif

Facts this module relies on:

* Offsets: ``in`` 0, ``out`` 1024, ``in_cons`` 3072, ``in_prod`` 3076,
  ``out_cons`` 3080, ``out_prod`` 3084, ``connection`` 3088; ``sizeof`` is
  3092 (tail padding); the page is 4096 bytes.  x86 is little-endian.
* ``MASK_XENCONS_IDX(idx, ring)`` masks a free-running 32-bit index with
  ``sizeof(ring) - 1``: the ring size itself (1024 or 2048, powers of two) is
  the only "ring size" the header defines.  There is no ``XENCONS_RING_SIZE``
  macro in the current header: that name belonged to the pre-3.0
  ``struct ring_head`` design (size ``PAGE_SIZE/2 - 8``, indexed with ``%``),
  which is obsolete.  Here ``size`` always means ``sizeof(ring)``.
* Indices are never reset or masked when stored; ``prod - cons`` (mod 2**32)
  is the fill level, so a value above the ring size means a corrupt ring.
* ``in`` carries backend -> frontend (keyboard input), ``out`` frontend ->
  backend (guest output).  Each ring has exactly one producer and one consumer.
* ``connection`` was merged for Xen 4.21 with DISCONNECTED = 1 and
  CONNECTED = 0 (the RFC in the seed had the opposite values and a uint32
  ``flag``).  0 keeps old, zero-initialised pages meaning "connected"; the
  toolstack (``xc_dom_console_init``) now writes DISCONNECTED when it builds
  the domain, and xenconsoled writes CONNECTED when it services the ring.
"""

from __future__ import annotations

import mmap
import os
import sys
from types import TracebackType
from typing import Final

__all__ = [
    "CONNECTION_OFFSET",
    "INTERFACE_SIZE",
    "IN_CONS_OFFSET",
    "IN_OFFSET",
    "IN_PROD_OFFSET",
    "IN_SIZE",
    "OUT_CONS_OFFSET",
    "OUT_OFFSET",
    "OUT_PROD_OFFSET",
    "OUT_SIZE",
    "PAGE_SIZE",
    "XENCONSOLE_CONNECTED",
    "XENCONSOLE_DISCONNECTED",
    "RingCorrupt",
    "XenConsoleRing",
    "mask_xencons_idx",
]

IN_OFFSET: Final = 0
IN_SIZE: Final = 1024
OUT_OFFSET: Final = 1024
OUT_SIZE: Final = 2048
IN_CONS_OFFSET: Final = 3072
IN_PROD_OFFSET: Final = 3076
OUT_CONS_OFFSET: Final = 3080
OUT_PROD_OFFSET: Final = 3084
CONNECTION_OFFSET: Final = 3088
INTERFACE_SIZE: Final = 3092  # sizeof(struct xencons_interface), with tail padding
PAGE_SIZE: Final = 4096

XENCONSOLE_CONNECTED: Final = 0
XENCONSOLE_DISCONNECTED: Final = 1

_U32: Final = 0xFFFFFFFF

# Slots of the uint32 view over the four indices (offset 3072, 16 bytes).
_IN_CONS, _IN_PROD, _OUT_CONS, _OUT_PROD = 0, 1, 2, 3


def mask_xencons_idx(idx: int, ring_size: int) -> int:
    """``MASK_XENCONS_IDX``: position of free-running index *idx* in a ring."""
    return idx & (ring_size - 1)


class RingCorrupt(Exception):
    """A ring's indices claim more bytes than the ring holds.

    The backend must stop servicing such a ring and report it: the guest (or
    whoever wrote the page) is broken or hostile, and trusting the indices
    would read or write garbage.
    """

    def __init__(self, ring: str, cons: int, prod: int, size: int) -> None:
        self.ring = ring
        self.cons = cons
        self.prod = prod
        self.size = size
        super().__init__(
            f"xencons ring {ring!r} is corrupt: {ring}_prod={prod} {ring}_cons={cons} "
            f"(prod - cons = {(prod - cons) & _U32} > size {size})"
        )


class XenConsoleRing:
    """One ``struct xencons_interface`` in a writable buffer (usually an mmap).

    The guest (frontend) calls :meth:`write_out` and :meth:`read_in`; the
    broker (backend) calls :meth:`read_out` and :meth:`write_in`.  Any two
    objects over the same memory - in one process or several - cooperate.

    Every operation on a ring first validates that ring's indices and raises
    :class:`RingCorrupt` without touching anything if they are inconsistent.

    Ordering: each operation reads the indices once, copies data, and only
    then publishes its own index.  Python has no memory barriers; this is
    still correct on x86 (TSO), because there stores become visible in
    program order and loads are not reordered with older loads or with
    later stores - the only relaxation, a store passing a later load, cannot
    expose unwritten data or let a slot be reused early.  CPython performs
    each copy and each index store as separate C calls, so the compiler cannot
    reorder them either, and an index is stored with a single aligned native
    4-byte write (memoryview cast "I"), so the peer never sees a torn index.
    On weakly ordered CPUs (Arm) this would need real barriers.
    """

    def __init__(self, buffer: mmap.mmap | bytearray | memoryview) -> None:
        """Wrap a writable buffer of at least ``INTERFACE_SIZE`` bytes."""
        if sys.byteorder != "little":  # the ABI is x86's; native stores below
            raise RuntimeError("XenConsoleRing supports little-endian hosts only")
        view = memoryview(buffer)
        if view.readonly:
            raise ValueError("the ring buffer must be writable")
        view = view.cast("B")
        if view.nbytes < INTERFACE_SIZE:
            nbytes = view.nbytes
            view.release()
            raise ValueError(f"buffer is {nbytes} bytes, need {INTERFACE_SIZE}")
        self._mmap: mmap.mmap | None = buffer if isinstance(buffer, mmap.mmap) else None
        self._bytes = view
        self._in = view[IN_OFFSET : IN_OFFSET + IN_SIZE]
        self._out = view[OUT_OFFSET : OUT_OFFSET + OUT_SIZE]
        self._idx = view[IN_CONS_OFFSET : IN_CONS_OFFSET + 16].cast("I")
        self._closed = False

    # -- construction -----------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str], mode: int = 0o600) -> XenConsoleRing:
        """Create a new 4096-byte page file at *path*, as the toolstack does.

        The page is all zeros except ``connection = XENCONSOLE_DISCONNECTED``.
        It is written whole before mapping, so no reader can observe a
        half-initialised page.  Fails with FileExistsError if *path* exists.
        """
        page = bytearray(PAGE_SIZE)
        page[CONNECTION_OFFSET] = XENCONSOLE_DISCONNECTED
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        try:
            written = os.write(fd, page)
            if written != PAGE_SIZE:
                raise OSError(f"short write creating {os.fspath(path)!r}: {written} bytes")
            return cls.from_fd(fd)
        finally:
            os.close(fd)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> XenConsoleRing:
        """Map an existing page file read-write."""
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            return cls.from_fd(fd)
        finally:
            os.close(fd)

    @classmethod
    def from_fd(cls, fd: int) -> XenConsoleRing:
        """Map a page file descriptor (e.g. received with SCM_RIGHTS).

        The caller keeps ownership of *fd*; the mapping stays valid after it
        is closed.
        """
        size = os.fstat(fd).st_size
        if size != PAGE_SIZE:
            raise ValueError(f"console page must be {PAGE_SIZE} bytes, file has {size}")
        return cls(mmap.mmap(fd, PAGE_SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE))

    def close(self) -> None:
        """Release the views and unmap (if this object owns an mmap)."""
        if self._closed:
            return
        self._closed = True
        # Views must go before the mmap, or mmap.close() raises BufferError.
        for v in (self._idx, self._in, self._out, self._bytes):
            v.release()
        if self._mmap is not None:
            self._mmap.close()

    def __enter__(self) -> XenConsoleRing:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- raw fields ---------------------------------------------------------

    def _set_index(self, slot: int, value: int) -> None:
        if not 0 <= value <= _U32:
            raise ValueError(f"ring index out of uint32 range: {value}")
        self._idx[slot] = value

    @property
    def in_cons(self) -> int:
        """Backend->frontend ring consumer index (advanced by the guest)."""
        return int(self._idx[_IN_CONS])

    @in_cons.setter
    def in_cons(self, value: int) -> None:
        self._set_index(_IN_CONS, value)

    @property
    def in_prod(self) -> int:
        """Backend->frontend ring producer index (advanced by the backend)."""
        return int(self._idx[_IN_PROD])

    @in_prod.setter
    def in_prod(self, value: int) -> None:
        self._set_index(_IN_PROD, value)

    @property
    def out_cons(self) -> int:
        """Frontend->backend ring consumer index (advanced by the backend)."""
        return int(self._idx[_OUT_CONS])

    @out_cons.setter
    def out_cons(self, value: int) -> None:
        self._set_index(_OUT_CONS, value)

    @property
    def out_prod(self) -> int:
        """Frontend->backend ring producer index (advanced by the guest)."""
        return int(self._idx[_OUT_PROD])

    @out_prod.setter
    def out_prod(self, value: int) -> None:
        self._set_index(_OUT_PROD, value)

    @property
    def connection(self) -> int:
        """The ``connection`` byte: XENCONSOLE_CONNECTED (0) or _DISCONNECTED (1)."""
        return int(self._bytes[CONNECTION_OFFSET])

    @connection.setter
    def connection(self, value: int) -> None:
        if not 0 <= value <= 0xFF:
            raise ValueError(f"connection is a uint8_t, got {value}")
        self._bytes[CONNECTION_OFFSET] = value

    # -- ring arithmetic ------------------------------------------------------

    def _level(self, name: str, cons_slot: int, prod_slot: int, size: int) -> tuple[int, int, int]:
        """Snapshot (cons, prod, fill level) of one ring, or raise RingCorrupt."""
        # Read each index exactly once: the peer may move its index meanwhile,
        # and all decisions must use one consistent snapshot.
        cons = int(self._idx[cons_slot])
        prod = int(self._idx[prod_slot])
        level = (prod - cons) & _U32
        if level > size:
            raise RingCorrupt(name, cons, prod, size)
        return cons, prod, level

    @staticmethod
    def _copy_from(ring: memoryview, start: int, count: int) -> bytes:
        pos = mask_xencons_idx(start, len(ring))
        first = min(count, len(ring) - pos)
        data = bytes(ring[pos : pos + first])
        if first < count:
            data += bytes(ring[: count - first])
        return data

    @staticmethod
    def _copy_into(ring: memoryview, start: int, data: bytes | bytearray | memoryview) -> None:
        count = len(data)
        pos = mask_xencons_idx(start, len(ring))
        first = min(count, len(ring) - pos)
        ring[pos : pos + first] = data[:first]
        if first < count:
            ring[: count - first] = data[first:]

    def _consume(
        self, name: str, ring: memoryview, cons_slot: int, prod_slot: int, n: int
    ) -> bytes:
        if n < 0:
            raise ValueError(f"read size must be >= 0, got {n}")
        cons, _prod, level = self._level(name, cons_slot, prod_slot, len(ring))
        count = min(n, level)
        if count == 0:
            return b""
        data = self._copy_from(ring, cons, count)
        # Publish only after the copy: the slots become the producer's again.
        self._idx[cons_slot] = (cons + count) & _U32
        return data

    def _produce(
        self,
        name: str,
        ring: memoryview,
        cons_slot: int,
        prod_slot: int,
        data: bytes | bytearray | memoryview,
    ) -> int:
        _cons, prod, level = self._level(name, cons_slot, prod_slot, len(ring))
        src = memoryview(data).cast("B")
        count = min(len(src), len(ring) - level)
        if count == 0:
            return 0
        self._copy_into(ring, prod, src[:count])
        # Publish only after the copy: the consumer must never see the new
        # producer index before the bytes it covers.
        self._idx[prod_slot] = (prod + count) & _U32
        return count

    def check(self) -> None:
        """Raise RingCorrupt if either ring's indices are inconsistent."""
        self._level("in", _IN_CONS, _IN_PROD, IN_SIZE)
        self._level("out", _OUT_CONS, _OUT_PROD, OUT_SIZE)

    # -- frontend (guest) side -----------------------------------------------

    def write_out(self, data: bytes | bytearray | memoryview) -> int:
        """Guest: append as much of *data* to ``out`` as fits; return the count."""
        return self._produce("out", self._out, _OUT_CONS, _OUT_PROD, data)

    def read_in(self, n: int = IN_SIZE) -> bytes:
        """Guest: consume up to *n* bytes of input from ``in``."""
        return self._consume("in", self._in, _IN_CONS, _IN_PROD, n)

    # -- backend (broker) side -----------------------------------------------

    def read_out(self, n: int = OUT_SIZE) -> bytes:
        """Backend: consume up to *n* bytes of guest output from ``out``."""
        return self._consume("out", self._out, _OUT_CONS, _OUT_PROD, n)

    def write_in(self, data: bytes | bytearray | memoryview) -> int:
        """Backend: append as much of *data* to ``in`` as fits; return the count."""
        return self._produce("in", self._in, _IN_CONS, _IN_PROD, data)

    # -- non-consuming views ----------------------------------------------------

    @property
    def out_pending(self) -> int:
        """Guest output not yet consumed (``out_prod - out_cons``)."""
        return self._level("out", _OUT_CONS, _OUT_PROD, OUT_SIZE)[2]

    @property
    def out_space(self) -> int:
        """Free bytes in ``out`` (what the guest could write now)."""
        return OUT_SIZE - self.out_pending

    @property
    def in_pending(self) -> int:
        """Input the guest has not consumed yet (``in_prod - in_cons``)."""
        return self._level("in", _IN_CONS, _IN_PROD, IN_SIZE)[2]

    @property
    def in_space(self) -> int:
        """Free bytes in ``in`` (what the backend could write now)."""
        return IN_SIZE - self.in_pending

    def peek_out(self) -> bytes:
        """Copy of the unconsumed bytes of ``out``, oldest first; consumes nothing."""
        cons, _prod, level = self._level("out", _OUT_CONS, _OUT_PROD, OUT_SIZE)
        return self._copy_from(self._out, cons, level)

    def peek_in(self) -> bytes:
        """Copy of the unconsumed bytes of ``in``, oldest first; consumes nothing."""
        cons, _prod, level = self._level("in", _IN_CONS, _IN_PROD, IN_SIZE)
        return self._copy_from(self._in, cons, level)

    def __repr__(self) -> str:
        if self._closed:
            return "<XenConsoleRing closed>"
        return (
            f"<XenConsoleRing in_cons={self.in_cons} in_prod={self.in_prod} "
            f"out_cons={self.out_cons} out_prod={self.out_prod} connection={self.connection}>"
        )
