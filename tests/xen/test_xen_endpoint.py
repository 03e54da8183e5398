"""XenRingEndpoint and ConsoleSession over a real shared page and event channel.

The guest side here is XenConsoleRing's frontend API on a second mapping of
the same page file, so every byte crosses real shared memory.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vconsole.broker.session import ConsoleSession
from vconsole.console.eventchannel import EventChannel
from vconsole.console.xen_endpoint import (
    CONNECTED_BANNER,
    HYPERVISOR_BANNER,
    RingCorruptClosed,
    XenRingEndpoint,
)
from vconsole.console.xenring import (
    IN_SIZE,
    OUT_SIZE,
    XENCONSOLE_CONNECTED,
    XENCONSOLE_DISCONNECTED,
    RingCorrupt,
    XenConsoleRing,
)
from vconsole.domain import ConsoleState
from vconsole.lab.hypervisor_log import DATA, HypervisorLog, RecordReader, record
from vconsole.providers.base import ConsoleSpec, GuestInfo

U32 = 2**32


class Page:
    """A page file, the guest's mapping of it and the guest's event channel end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.guest = XenConsoleRing.create(path)
        self.guest_evt, back = EventChannel.pair()
        self._back_fd = os.dup(back.fileno())
        back.close()

    def endpoint(self, **kw: float) -> XenRingEndpoint:
        fd = os.open(self.path, os.O_RDWR)
        back, self._back_fd = self._back_fd, -1
        return XenRingEndpoint(fd, back, ring_path=str(self.path), **kw)  # type: ignore[arg-type]

    def close(self) -> None:
        if self._back_fd >= 0:
            os.close(self._back_fd)
        self.guest_evt.close()
        self.guest.close()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    p = Page(tmp_path / "page")
    yield p
    p.close()


def test_open_connects_and_notifies_close_disconnects(page: Page) -> None:
    assert page.guest.connection == XENCONSOLE_DISCONNECTED
    ep = page.endpoint()
    assert page.guest.connection == XENCONSOLE_CONNECTED
    assert page.guest_evt.consume()  # the guest was notified
    ep.close()
    assert page.guest.connection == XENCONSOLE_DISCONNECTED
    assert page.guest_evt.consume()
    ep.close()  # idempotent


def test_rate_limit_leaves_bytes_in_the_ring(page: Page) -> None:
    ep = page.endpoint(allowance=4096, period=30.0, poll=1.0)
    got = bytearray()
    for i in range(3):
        assert page.guest.write_out(bytes([65 + i]) * OUT_SIZE) == OUT_SIZE
        got += ep.read()
    # Two rings' worth fit the allowance; the third waits in the ring.
    assert bytes(got) == b"A" * OUT_SIZE + b"B" * OUT_SIZE
    assert ep.pending_output() == OUT_SIZE
    assert page.guest.out_space == 0  # the guest sees a full ring and yields
    wait = ep.wake_after()
    assert wait is not None and 0 < wait <= 30.0
    assert ep.throttled_periods == 1
    ep._period_end = time.monotonic()  # the next period begins
    assert ep.read() == b"C" * OUT_SIZE
    assert ep.pending_output() == 0
    assert ep.wake_after() == 1.0  # back to the slow fallback poll
    ep.close()


def test_input_goes_in_only_as_space_allows(page: Page) -> None:
    ep = page.endpoint()
    page.guest_evt.consume()
    data = bytes(range(256)) * 12  # 3072 bytes
    assert ep.write(data) == IN_SIZE
    assert ep.pending_input() == IN_SIZE
    assert ep.write(data[IN_SIZE:]) == 0
    assert page.guest_evt.consume()
    assert page.guest.read_in(500) == data[:500]
    assert ep.write(data[IN_SIZE:]) == 500
    assert page.guest.read_in() == data[500 : IN_SIZE + 500]
    assert ep.pending_input() == 0
    ep.close()


def test_a_corrupt_page_is_refused_at_open_and_fds_closed(page: Page) -> None:
    page.guest.out_cons = 10
    page.guest.out_prod = 10 + OUT_SIZE + 1
    fd = os.open(page.path, os.O_RDWR)
    back = page._back_fd
    page._back_fd = -1
    with pytest.raises(RingCorrupt):
        XenRingEndpoint(fd, back)
    for closed in (fd, back):
        with pytest.raises(OSError):
            os.fstat(closed)
    # Never marked connected: the backend did not service it.
    assert page.guest.connection == XENCONSOLE_DISCONNECTED


def test_hypervisor_log_becomes_marked_initial(page: Page) -> None:
    ep = page.endpoint()
    ep.set_hypervisor_log(b"early boot\n", 7)
    assert ep.initial == HYPERVISOR_BANNER + b"early boot\n" + CONNECTED_BANNER
    (start, end, source), = ep.initial_marks
    assert ep.initial[start:end] == b"early boot\n" and source == "hypervisor"
    assert ep.lost == 7
    ep.close()


def test_destroyed_domain_is_drained_then_closed(page: Page) -> None:
    ep = page.endpoint(allowance=1024, period=30.0)
    page.guest.write_out(b"x" * 2000)
    page.guest_evt.close()  # the frontend died
    got = bytearray()
    with pytest.raises(Exception) as info:
        for _ in range(10):
            got += ep.read()
    assert bytes(got) == b"x" * 2000
    assert "destroyed" in str(info.value)
    ep.close()


# --- the broker session over a corrupt page: property ---------------------

def _guest() -> GuestInfo:
    return GuestInfo("lab", "lab", "domu", "7", "prop", "running", [ConsoleSpec("pv", 0)])


index = st.integers(min_value=U32 - 4096, max_value=U32 - 1) | st.integers(0, 4096) | st.integers(0, U32 - 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.integers(min_value=U32 - 3000, max_value=U32 - 1),
    before=st.binary(max_size=OUT_SIZE),
    in_cons=index,
    in_prod=index,
    out_cons=index,
    out_prod=index,
    keys=st.binary(min_size=1, max_size=64),
)
def test_session_reports_corrupt_ring_and_never_crashes(
    tmp_path: Path,
    start: int,
    before: bytes,
    in_cons: int,
    in_prod: int,
    out_cons: int,
    out_prod: int,
    keys: bytes,
) -> None:
    """Whatever a hostile guest writes into the indices, the broker survives.

    A consistent page keeps being serviced; an inconsistent one puts the
    session in "disconnected" with a "ring corrupt: ..." reason, with no
    exception escaping the broker's callbacks.
    """
    path = tmp_path / f"p{os.getpid()}-{time.monotonic_ns()}"
    page = Page(path)
    states: list[tuple[str, str]] = []
    closed: list[ConsoleSession] = []

    async def scenario() -> None:
        g = page.guest
        g.in_cons = g.in_prod = start
        g.out_cons = g.out_prod = (start + 11) % U32
        g.write_out(before)
        session = ConsoleSession(
            _guest(), ConsoleSpec("pv", 0), 1 << 20, lambda s: states.append((s.state, s.reason)), closed.append
        )
        session.bind(page.endpoint())
        assert session.history.read(0) == before
        g.in_cons, g.in_prod, g.out_cons, g.out_prod = in_cons, in_prod, out_cons, out_prod
        corrupt = (in_prod - in_cons) % U32 > IN_SIZE or (out_prod - out_cons) % U32 > OUT_SIZE
        session.describe()
        try:
            session.send_input(keys)
        except Exception as exc:  # only "the console is gone" is allowed out
            assert corrupt and "disconnected" in str(exc), exc
        session._readable()
        session.describe()
        if corrupt:
            assert session.state == ConsoleState.DISCONNECTED
            assert session.reason.startswith("ring corrupt: "), session.reason
            assert closed == [session]
            assert g.connection == XENCONSOLE_DISCONNECTED
        else:
            assert session.state == ConsoleState.CONNECTED
            session.unbind(ConsoleState.DISCONNECTED, "test over")

    try:
        asyncio.run(scenario())
    finally:
        page.close()
        path.unlink()


def test_read_raises_ring_corrupt_closed(page: Page) -> None:
    ep = page.endpoint()
    page.guest.in_prod = page.guest.in_cons + IN_SIZE + 5
    with pytest.raises(RingCorruptClosed, match=r"^ring corrupt: "):
        ep.read()
    assert ep.pending_input() is None
    ep.close()


# --- the hypervisor console log and its records ----------------------------

def test_hypervisor_log_keeps_the_newest_and_counts_drops() -> None:
    log = HypervisorLog(size=10)
    log.append(b"0123456")
    log.append(b"789abcd")
    assert (log.start, log.end, log.dropped, len(log)) == (4, 14, 4, 10)
    assert log.read_from(0) == (b"456789abcd", 4)
    assert log.read_from(12) == (b"cd", 0)
    assert log.read_from(99) == (b"", 0)


@given(st.lists(st.tuples(st.sampled_from([b"D", b"A", b"W"]), st.binary(max_size=300)), max_size=20), st.data())
def test_records_survive_any_split(items: list[tuple[bytes, bytes]], data: st.DataObject) -> None:
    stream = b"".join(record(k, p) for k, p in items)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader = RecordReader()
    got = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        got += reader.feed(stream[prev:cut])
        prev = cut
    assert got == items


def test_oversized_record_is_refused() -> None:
    with pytest.raises(ValueError):
        RecordReader().feed(DATA + (1 << 30).to_bytes(4, "little"))


def test_event_channel_fd_kind(page: Page) -> None:
    ep = page.endpoint()
    sock = socket.socket(fileno=os.dup(ep.fileno()))
    assert sock.type == socket.SOCK_STREAM
    sock.close()
    ep.close()
