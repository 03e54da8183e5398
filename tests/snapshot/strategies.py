"""Hypothesis strategies for console sessions and snapshot records."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from vconsole.broker.session import MAX_MARKS, ConsoleSession
from vconsole.domain import Mark
from vconsole.providers.base import ConsoleSpec, GuestInfo
from vconsole.snapshot.model import HypervisorLog, Pending, RingState, SourceState, Termios

U32 = 0xFFFFFFFF


@st.composite
def pendings(draw: Any) -> Pending:
    how = draw(st.sampled_from(["exact", "input-log", "count-only", "unavailable"]))
    if how == "unavailable":
        return Pending(how)
    data = draw(st.binary(max_size=300))
    return Pending(how, len(data), None if how == "count-only" else data)


termioses = st.builds(
    Termios, *[st.integers(0, U32)] * 4, st.integers(0, 255), st.integers(0, U32),
    st.integers(0, U32), st.binary(min_size=0, max_size=32),
)


@st.composite
def rings(draw: Any) -> RingState:
    inp, out = draw(st.binary(max_size=1024)), draw(st.binary(max_size=2048))
    ic, oc = draw(st.integers(0, U32)), draw(st.integers(0, U32))
    return RingState(ic, (ic + len(inp)) & U32, oc, (oc + len(out)) & U32,
                     draw(st.integers(0, 1)), inp, out)


@st.composite
def sessions(draw: Any) -> ConsoleSession:
    """A session without an endpoint: history with drops, marks, times, source facts."""
    kind, ctype = draw(st.sampled_from([("container", "vtty"), ("domu", "pv"), ("domu", "serial")]))
    guest = GuestInfo(provider="lab", host="h", kind=kind, id=str(draw(st.integers(1, 999))),
                      name=draw(st.text("abcxyz-", min_size=1, max_size=8)), state="running")
    spec = ConsoleSpec(ctype, draw(st.integers(0, 11)))
    cap = draw(st.integers(64, 4096))
    session = ConsoleSession(guest, spec, cap, lambda s: None, lambda s: None)
    text = st.binary(max_size=700) | st.text("ab\r\n\x1b[1;31m ", max_size=200).map(str.encode)
    for chunk in draw(st.lists(text, max_size=8)):
        session.history.append(chunk)
    end = session.history.end
    for _ in range(draw(st.integers(0, 3))):
        lo = draw(st.integers(0, end))
        session.marks.append(Mark(lo, draw(st.integers(lo, end)), "hypervisor"))
    del session.marks[:-MAX_MARKS]
    session.created = draw(st.floats(1e9, 1.7e9))
    session.last_output = draw(st.none() | st.floats(1.7e9, 1.8e9))
    session.lost = draw(st.integers(0, 1 << 40))
    session.size = draw(st.none() | st.tuples(st.integers(1, 200), st.integers(1, 80)))
    if draw(st.booleans()):
        ring = draw(rings()) if ctype == "pv" and draw(st.booleans()) else None
        hv = HypervisorLog(draw(st.binary(max_size=100)), draw(st.integers(0, 1000))) if ring else None
        winsize = draw(st.none() | st.tuples(st.integers(0, 300), st.integers(0, 100)))
        session.restored_source = SourceState(draw(pendings()), draw(pendings()), draw(st.none() | termioses),
                                              winsize, ring, hv)
    return session
