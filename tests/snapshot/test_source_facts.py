"""Endpoints report their own source's facts for a snapshot, without consuming anything."""

from __future__ import annotations

import os
import termios
import time
import tty
from pathlib import Path

from vconsole.console.endpoint import RingIndices
from vconsole.console.eventchannel import EventChannel
from vconsole.console.pty_endpoint import PtyEndpoint
from vconsole.console.xen_endpoint import XenRingEndpoint
from vconsole.console.xenring import XENCONSOLE_CONNECTED, XenConsoleRing
from vconsole.snapshot.model import SourceFact


def test_a_pty_master_reports_both_queues_termios_and_size() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)  # no echo: what is typed stays input
    endpoint = PtyEndpoint(master)
    try:
        endpoint.resize(100, 30)
        os.write(master, b"typed")  # the guest has not read it
        os.write(slave, b"out")  # the broker has not read it
        deadline = time.monotonic() + 5
        while ((facts := endpoint.source_facts()).pending_input, facts.pending_output) != (5, 3) \
                and time.monotonic() < deadline:
            time.sleep(0.01)  # the kernel moves bytes across a pty in a worker, shortly after the write
        assert (facts.pending_input, facts.pending_output) == (5, 3)
        assert facts.winsize == (100, 30)
        assert facts.termios is not None and facts.termios.lflag == termios.tcgetattr(slave)[3]
        assert facts.ring is None and facts.unknown == ()
        assert os.read(slave, 100) == b"typed" and os.read(master, 100) == b"out"  # nothing consumed
    finally:
        endpoint.close()
        os.close(slave)


def test_a_pty_slave_says_why_the_unread_input_is_unknown() -> None:
    master, slave = os.openpty()
    endpoint = PtyEndpoint(os.open(os.ttyname(slave), os.O_RDWR | os.O_NOCTTY))
    try:
        facts = endpoint.source_facts()
        assert facts.pending_input is None
        assert [n.what for n in facts.unknown] == [SourceFact.PENDING_INPUT]
        assert facts.unknown[0].why.startswith("the other end of the pty cannot be reached")
    finally:
        endpoint.close()
        os.close(slave)
        os.close(master)


def test_a_ring_reports_its_indices_and_queues(tmp_path: Path) -> None:
    page = tmp_path / "ring.page"
    guest = XenConsoleRing.create(page)
    guest_evt, back = EventChannel.pair()
    back_fd = os.dup(back.fileno())
    back.close()
    endpoint = XenRingEndpoint(os.open(page, os.O_RDWR), back_fd)
    try:
        assert guest.write_out(b"boot log") == 8
        endpoint.write(b"ls\r")
        facts = endpoint.source_facts()
        assert (facts.pending_output, facts.pending_input) == (8, 3)
        assert facts.ring == RingIndices(in_cons=0, in_prod=3, out_cons=0, out_prod=8, connection=XENCONSOLE_CONNECTED)
        assert facts.termios is None and facts.unknown == ()
        assert guest.out_pending == 8  # nothing consumed
    finally:
        endpoint.close()
        guest_evt.close()
        guest.close()
