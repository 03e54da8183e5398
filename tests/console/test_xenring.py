"""Tests of the Xen console ring model and the event channel."""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vconsole.console.eventchannel import EventChannel
from vconsole.console.xenring import (
    CONNECTION_OFFSET,
    IN_SIZE,
    OUT_SIZE,
    PAGE_SIZE,
    XENCONSOLE_CONNECTED,
    XENCONSOLE_DISCONNECTED,
    RingCorrupt,
    XenConsoleRing,
    mask_xencons_idx,
)

U32 = 2**32
NEAR_WRAP = st.integers(min_value=U32 - 5, max_value=U32 - 1)
ANY_U32 = st.integers(min_value=0, max_value=U32 - 1)
START = st.one_of(NEAR_WRAP, ANY_U32, st.just(0))

OPS = st.lists(
    st.tuples(
        st.sampled_from(["write_out", "read_out", "write_in", "read_in"]),
        st.integers(min_value=0, max_value=3000),
    ),
    max_size=60,
)


def _stream(start: int, n: int) -> bytes:
    """Bytes that encode their own position, so reordering is visible."""
    return bytes((start + i) * 7 % 251 for i in range(n))


class _Direction:
    """Model of one direction: what was written, what was read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.sent = bytearray()
        self.received = bytearray()

    @property
    def pending(self) -> int:
        return len(self.sent) - len(self.received)


def _ring_at(out_start: int, in_start: int) -> XenConsoleRing:
    ring = XenConsoleRing(bytearray(PAGE_SIZE))
    ring.out_cons = ring.out_prod = out_start
    ring.in_cons = ring.in_prod = in_start
    return ring


@settings(max_examples=300, deadline=None)
@given(out_start=START, in_start=START, ops=OPS)
def test_interleaved_io_delivers_bytes_in_order(
    out_start: int, in_start: int, ops: list[tuple[str, int]]
) -> None:
    ring = _ring_at(out_start, in_start)
    dirs = {"out": _Direction(OUT_SIZE), "in": _Direction(IN_SIZE)}
    for op, size in ops:
        kind, name = op.split("_")
        d = dirs[name]
        if kind == "write":
            data = _stream(len(d.sent), size)
            n = getattr(ring, op)(data)
            assert n == min(size, d.size - d.pending)  # as much as fits, never more
            d.sent += data[:n]
        else:
            got = getattr(ring, op)(size)
            assert len(got) == min(size, d.pending)  # never more than written
            d.received += got
            assert d.sent.startswith(d.received)
        assert ring.out_pending == dirs["out"].pending
        assert ring.in_pending == dirs["in"].pending
        assert ring.in_space == IN_SIZE - dirs["in"].pending
        assert ring.out_space == OUT_SIZE - dirs["out"].pending
    # Drain: everything written arrives, in order, exactly once.
    dirs["out"].received += ring.read_out(OUT_SIZE)
    dirs["in"].received += ring.read_in(IN_SIZE)
    for d in dirs.values():
        assert d.received == d.sent
    assert ring.out_cons == (out_start + len(dirs["out"].sent)) % U32
    assert ring.in_cons == (in_start + len(dirs["in"].sent)) % U32


@settings(max_examples=200, deadline=None)
@given(out_start=START, in_start=START, ops=OPS)
def test_pending_and_peek_do_not_consume(
    out_start: int, in_start: int, ops: list[tuple[str, int]]
) -> None:
    ring = _ring_at(out_start, in_start)
    for op, size in ops:
        if op.startswith("write"):
            getattr(ring, op)(_stream(size, size))
        else:
            getattr(ring, op)(size)
    before = (ring.in_cons, ring.in_prod, ring.out_cons, ring.out_prod)
    out_bytes, in_bytes = ring.peek_out(), ring.peek_in()
    assert len(out_bytes) == ring.out_pending
    assert len(in_bytes) == ring.in_pending
    assert ring.peek_out() == out_bytes and ring.peek_in() == in_bytes
    assert (ring.in_cons, ring.in_prod, ring.out_cons, ring.out_prod) == before
    # What a peek showed is exactly what a read then returns.
    assert ring.read_out(OUT_SIZE) == out_bytes
    assert ring.read_in(IN_SIZE) == in_bytes


def _corrupt(cons: int, prod: int, size: int) -> bool:
    return (prod - cons) % U32 > size


INDEX_SETS = st.one_of(
    st.tuples(ANY_U32, ANY_U32, ANY_U32, ANY_U32),
    # Values around the corruption boundary, near and across the wrap.
    st.tuples(START, st.integers(-2, 2), START, st.integers(-2, 2)).map(
        lambda t: (t[0], (t[0] + IN_SIZE + t[1]) % U32, t[2], (t[2] + OUT_SIZE + t[3]) % U32)
    ),
)


@settings(max_examples=500, deadline=None)
@given(idx=INDEX_SETS, size=st.integers(min_value=0, max_value=4000))
def test_corrupt_indices_detected_by_every_operation(
    idx: tuple[int, int, int, int], size: int
) -> None:
    in_cons, in_prod, out_cons, out_prod = idx
    page = bytearray(os.urandom(PAGE_SIZE))
    ring = XenConsoleRing(page)
    ring.in_cons, ring.in_prod, ring.out_cons, ring.out_prod = idx
    in_bad = _corrupt(in_cons, in_prod, IN_SIZE)
    out_bad = _corrupt(out_cons, out_prod, OUT_SIZE)
    operations = {
        "out": [
            lambda: ring.write_out(b"x" * size),
            lambda: ring.read_out(size),
            lambda: ring.out_pending,
            lambda: ring.out_space,
            ring.peek_out,
        ],
        "in": [
            lambda: ring.write_in(b"y" * size),
            lambda: ring.read_in(size),
            lambda: ring.in_pending,
            lambda: ring.in_space,
            ring.peek_in,
        ],
    }
    for name, bad in (("out", out_bad), ("in", in_bad)):
        for operation in operations[name]:
            snapshot = bytes(page)
            if bad:
                with pytest.raises(RingCorrupt) as info:
                    operation()
                assert info.value.ring == name
                assert bytes(page) == snapshot  # a refused ring is left untouched
                msg = str(info.value)
                cons, prod = (out_cons, out_prod) if name == "out" else (in_cons, in_prod)
                assert f"{name}_prod={prod}" in msg and f"{name}_cons={cons}" in msg
            else:
                operation()  # must not raise anything
    if in_bad or out_bad:
        with pytest.raises(RingCorrupt):
            ring.check()
    else:
        ring.check()


@pytest.mark.parametrize("start", [0, U32 - 5, U32 - 1, U32 - OUT_SIZE])
def test_full_ring_across_wrap(start: int) -> None:
    ring = _ring_at(start, start)
    data = _stream(0, OUT_SIZE + 10)
    assert ring.write_out(data) == OUT_SIZE
    assert ring.write_out(b"more") == 0  # full: nothing fits
    assert ring.out_pending == OUT_SIZE and ring.out_space == 0
    assert ring.out_prod == (start + OUT_SIZE) % U32
    assert ring.read_out(OUT_SIZE + 1) == data[:OUT_SIZE]
    assert ring.read_out() == b""
    assert ring.write_in(data) == IN_SIZE
    assert ring.read_in(IN_SIZE) == data[:IN_SIZE]


def test_data_lands_at_masked_positions() -> None:
    page = bytearray(PAGE_SIZE)
    ring = XenConsoleRing(page)
    ring.out_cons = ring.out_prod = U32 - 2  # masked: 2046
    assert ring.write_out(b"abcd") == 4
    assert mask_xencons_idx(U32 - 2, OUT_SIZE) == 2046
    assert page[1024 + 2046 : 1024 + 2048] == b"ab"  # end of out
    assert page[1024 : 1024 + 2] == b"cd"  # wrapped to start of out
    assert ring.out_prod == 2
    assert struct.unpack_from("<4I", page, 3072) == (0, 0, U32 - 2, 2)
    ring.in_cons = ring.in_prod = 1023
    ring.write_in(b"XY")
    assert page[1023] == ord("X") and page[0] == ord("Y")


def test_invalid_arguments() -> None:
    ring = XenConsoleRing(bytearray(PAGE_SIZE))
    with pytest.raises(ValueError):
        ring.read_out(-1)
    with pytest.raises(ValueError):
        ring.out_prod = U32
    with pytest.raises(ValueError):
        ring.in_cons = -1
    with pytest.raises(ValueError):
        ring.connection = 256
    with pytest.raises(ValueError):
        XenConsoleRing(bytearray(3091))
    with pytest.raises(ValueError):
        XenConsoleRing(bytes(PAGE_SIZE))  # type: ignore[arg-type]  # read-only


def test_create_layout(tmp_path: Path) -> None:
    path = tmp_path / "page"
    with XenConsoleRing.create(path) as ring:
        assert ring.connection == XENCONSOLE_DISCONNECTED == 1
        assert (ring.in_cons, ring.in_prod, ring.out_cons, ring.out_prod) == (0, 0, 0, 0)
    raw = path.read_bytes()
    assert len(raw) == PAGE_SIZE == 4096
    assert raw[CONNECTION_OFFSET] == 1 and CONNECTION_OFFSET == 3088
    assert raw[:CONNECTION_OFFSET] == bytes(CONNECTION_OFFSET)
    assert raw[CONNECTION_OFFSET + 1 :] == bytes(PAGE_SIZE - CONNECTION_OFFSET - 1)
    assert os.stat(path).st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        XenConsoleRing.create(path)


def test_two_mappings_share_the_page(tmp_path: Path) -> None:
    path = tmp_path / "page"
    backend = XenConsoleRing.create(path)
    guest = XenConsoleRing.open(path)
    try:
        assert guest.write_out(b"boot log\n") == 9
        assert backend.out_pending == 9
        assert backend.read_out() == b"boot log\n"
        backend.connection = XENCONSOLE_CONNECTED
        assert guest.connection == 0
        backend.write_in(b"ls\r")
        assert guest.read_in() == b"ls\r"
        raw = path.read_bytes()
        assert struct.unpack_from("<4IB", raw, 3072) == (3, 3, 9, 9, 0)
    finally:
        guest.close()
        backend.close()
    backend.close()  # idempotent


def test_page_fd_over_scm_rights(tmp_path: Path) -> None:
    path = tmp_path / "page"
    lab = XenConsoleRing.create(path)
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fd = os.open(path, os.O_RDWR)
    with left, right:
        socket.send_fds(left, [b"page"], [fd])
        os.close(fd)
        _msg, fds, _flags, _addr = socket.recv_fds(right, 64, 1)
    broker = XenConsoleRing.from_fd(fds[0])
    os.close(fds[0])  # the mapping outlives the descriptor
    try:
        lab.write_out(b"via fd")
        assert broker.read_out() == b"via fd"
        assert lab.out_cons == 6
    finally:
        broker.close()
        lab.close()


def test_open_rejects_wrong_size(tmp_path: Path) -> None:
    path = tmp_path / "short"
    path.write_bytes(bytes(100))
    with pytest.raises(ValueError):
        XenConsoleRing.open(path)


# -- event channel ----------------------------------------------------------


def test_notify_then_consume() -> None:
    a, b = EventChannel.pair()
    with a, b:
        assert b.consume() is False
        assert a.notify() is True
        assert a.notify() is True
        assert b.consume() is True
        assert b.consume() is False
        assert b.notify() is True  # both directions work
        assert a.consume() is True


def test_notify_never_blocks_and_coalesces() -> None:
    a, b = EventChannel.pair()
    with a, b:
        started = time.monotonic()
        for _ in range(100_000):
            assert a.notify() is True
        assert time.monotonic() - started < 30  # it returned: nothing blocked
        assert b.consume() is True
        assert b.consume() is False


def test_fileno_readable_only_when_pending() -> None:
    import select

    a, b = EventChannel.pair()
    with a, b:
        assert select.select([b.fileno()], [], [], 0)[0] == []
        a.notify()
        assert select.select([b.fileno()], [], [], 1)[0] == [b.fileno()]
        b.consume()
        assert select.select([b.fileno()], [], [], 0)[0] == []


def test_peer_closed() -> None:
    a, b = EventChannel.pair()
    b.close()
    assert b.closed
    assert a.notify() is False
    assert a.peer_closed
    a.close()
    c, d = EventChannel.pair()
    c.notify()
    c.close()
    assert d.consume() is True  # the last notification is still delivered
    assert d.peer_closed
    d.close()


async def test_event_channel_wakes_asyncio_reader() -> None:
    import asyncio

    guest, backend = EventChannel.pair()
    loop = asyncio.get_running_loop()
    woke = asyncio.Event()

    def on_readable() -> None:
        if backend.consume():
            woke.set()

    loop.add_reader(backend.fileno(), on_readable)
    try:
        guest.notify()
        await asyncio.wait_for(woke.wait(), timeout=5)
    finally:
        loop.remove_reader(backend.fileno())
        guest.close()
        backend.close()


def test_event_channel_over_scm_rights() -> None:
    guest, backend = EventChannel.pair()
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        socket.send_fds(left, [b"evtchn"], [backend.fileno()])
        backend.close()  # the sender's copy goes away; the passed fd lives on
        msg, fds, _flags, _addr = socket.recv_fds(right, 64, 1)
    assert msg == b"evtchn" and len(fds) == 1
    received = EventChannel(fds[0])
    with guest, received:
        guest.notify()
        assert received.consume() is True
        assert received.notify() is True
        assert guest.consume() is True


def test_event_channel_across_fork() -> None:
    guest, backend = EventChannel.pair()
    pid = os.fork()
    if pid == 0:  # child: the guest, notifies and waits for an answer
        status = 1
        try:
            backend.close()
            guest.notify()
            import select

            if select.select([guest.fileno()], [], [], 10)[0] and guest.consume():
                status = 0
        finally:
            os._exit(status)
    guest.close()
    import select

    assert select.select([backend.fileno()], [], [], 10)[0]
    assert backend.consume() is True
    backend.notify()
    _, status = os.waitpid(pid, 0)
    backend.close()
    assert os.waitstatus_to_exitcode(status) == 0
