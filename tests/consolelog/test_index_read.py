"""Reading a segment a whole index and a whole block at a time gives what reading it record by record gave."""

from __future__ import annotations

import bisect
import itertools

from hypothesis import example, given
from hypothesis import strategies as st

from vconsole.consolelog.index_read import read_index
from vconsole.consolelog.reader import LogChunk, _blocks, _Index
from vconsole.consolelog.records import RECORD_SIZE, IndexRecord, RecordKind
from vconsole.consolelog.segments import BootInfo, decode_records

records = st.builds(
    IndexRecord,
    kind=st.sampled_from([RecordKind.HEADER, RecordKind.DATA, RecordKind.DATA, RecordKind.BOOT, RecordKind.MARK, 7]),
    offset=st.one_of(st.integers(0, 300), st.just(2**64 - 1)),
    time_ns=st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(0, 10)),
    value=st.integers(0, 2**64 - 1),
    sub=st.integers(0, 255),
    aux=st.integers(0, 2**16 - 1),
)


def _one_by_one(raw: bytes, seg_end: int) -> tuple[list[IndexRecord], list[int], list[int], BootInfo | None]:
    """How the reader decoded an index before: each record, then the torn tail cut."""
    recs, _ = decode_records(raw)
    ends: list[int] = []
    times: list[int] = []
    boot: BootInfo | None = None
    for n, rec in enumerate(recs):
        if rec.kind in (RecordKind.DATA, RecordKind.MARK) and rec.offset > seg_end:
            del recs[n:]
            break
        if rec.kind == RecordKind.DATA:
            ends.append(rec.offset)
            times.append(rec.time_ns)
        elif rec.kind == RecordKind.BOOT and not ends:
            boot = BootInfo.of(rec)
    return recs, ends, times, boot


@given(
    recs=st.lists(records, max_size=12), seg_end=st.integers(0, 300), flip=st.integers(-1, 400),
    cut=st.integers(0, 40), garbage=st.binary(max_size=40),
)
@example(recs=[IndexRecord(RecordKind.BOOT, 5, 1, 1), IndexRecord(RecordKind.DATA, 9, 2),
               IndexRecord(RecordKind.BOOT, 9, 3, 2), IndexRecord(RecordKind.DATA, 12, 4)],
         seg_end=12, flip=-1, cut=0, garbage=b"")
def test_a_whole_index_reads_as_record_by_record(
    recs: list[IndexRecord], seg_end: int, flip: int, cut: int, garbage: bytes,
) -> None:
    raw = bytearray(b"".join(rec.encode() for rec in recs))
    if 0 <= flip < len(raw):
        raw[flip] ^= 0x20  # a bad checksum from there
    raw = raw[: max(0, len(raw) - cut)] + garbage  # a torn tail, garbage after it
    held, ends, times, boot = read_index(bytes(raw), seg_end)
    expected = _one_by_one(bytes(raw), seg_end)
    assert (decode_records(held)[0], ends, times, boot) == expected
    assert len(held) == len(expected[0]) * RECORD_SIZE


def _chunks_one_by_one(data: bytes, lo: int, ends: list[int], times: list[int]) -> list[LogChunk]:
    """How the reader cut a segment's bytes into chunks before: a LogChunk per read turn."""
    hi = lo + len(data)
    k = bisect.bisect_right(ends, lo)
    pos, out = lo, []
    while pos < hi and k < len(ends):
        cut = min(hi, ends[k])
        if cut > pos:
            out.append(LogChunk(pos, data[pos - lo : cut - lo], times[k] / 1e9))
        pos = cut
        k += 1
    return out


@given(
    size=st.integers(0, 60),
    ends=st.one_of(
        st.sets(st.integers(90, 200), max_size=20).map(sorted),  # as written: in order
        st.lists(st.integers(90, 200), max_size=20).map(sorted),  # in order, some repeated
        st.lists(st.integers(100, 200), max_size=20),  # an index whose ends go back (never below the read)
    ),
)
def test_blocks_cut_into_chunks_as_the_reader_did(size: int, ends: list[int]) -> None:
    lo = 100
    data = bytes(range(size))
    times = [10**9 * n + 7 for n in range(len(ends))]
    blocks = list(_blocks(data, lo, _Index(b"", ends, times, None)))
    assert [chunk for block in blocks for chunk in block.chunks()] == _chunks_one_by_one(data, lo, ends, times)
    for block in blocks if ends == sorted(ends) else []:  # each read turn starts where the one before ended
        assert block.data and len(block.data) == block.ends[-1] - block.offset
        assert all(a < b for a, b in itertools.pairwise([block.offset, *block.ends]))
