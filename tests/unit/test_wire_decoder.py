"""The in-place frame decoder: any split of a stream decodes to the same frames, bounds hold."""

from __future__ import annotations

import itertools
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vconsole.wire import HEADER, FrameDecoder, ProtocolError, encode

VALUES = st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=300) | st.text(max_size=20) | st.booleans()
MESSAGES = st.lists(st.dictionaries(st.text(max_size=6), VALUES, max_size=4), max_size=12)
# A bad body (not a map) in the middle of good frames: a per-frame error, not a fatal one.
NOT_A_MAP = HEADER.pack(1) + b"\x05"


def _split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    return [stream[a:b] for a, b in itertools.pairwise(points)]


def _decode(chunks: list[bytes], decoder: FrameDecoder | None = None) -> list[Any]:
    decoder = decoder or FrameDecoder()
    out: list[Any] = []
    for chunk in chunks:
        out += [
            (item.code, item.fatal) if isinstance(item, ProtocolError) else item
            for item in decoder.feed(chunk)
        ]
    return out


@settings(max_examples=300)
@given(MESSAGES, st.lists(st.integers(0, 1 << 16), max_size=30), st.integers(0, 12))
def test_any_split_decodes_the_same(messages: list[dict[str, Any]], cuts: list[int], bad_at: int) -> None:
    frames = [encode(m) for m in messages]
    expected: list[Any] = list(messages)
    at = min(bad_at, len(frames))
    frames.insert(at, NOT_A_MAP)
    expected.insert(at, ("bad_message", False))
    stream = b"".join(frames)
    decoder = FrameDecoder()
    assert _decode(_split(stream, cuts), decoder) == expected
    assert decoder.buffered == 0
    # Byte by byte too: every frame boundary falls inside a feed.
    assert _decode([stream[i : i + 1] for i in range(len(stream))]) == expected


@given(MESSAGES, st.integers(1, 64))
def test_bytearray_and_memoryview_input(messages: list[dict[str, Any]], step: int) -> None:
    stream = b"".join(encode(m) for m in messages)
    decoder = FrameDecoder()
    out: list[Any] = []
    for i in range(0, len(stream), step):
        out += decoder.feed(bytearray(stream[i : i + step]))
    assert out == messages
    assert decoder.buffered == 0


@given(MESSAGES, st.integers(0, 200), st.integers(1, 1 << 20))
def test_oversized_length_is_fatal_wherever_it_falls(messages: list[dict[str, Any]], cut: int, over: int) -> None:
    decoder = FrameDecoder(max_frame=1024)
    good = b"".join(encode(m) for m in messages if len(encode(m)) - HEADER.size <= 1024)
    expected = [m for m in messages if len(encode(m)) - HEADER.size <= 1024]
    stream = good + struct.pack(">I", 1024 + over) + b"garbage that is never read"
    cut = min(cut, len(stream))
    out = _decode([stream[:cut], stream[cut:]], decoder)
    assert out == [*expected, ("too_large", True)]
    assert decoder.buffered == 0  # nothing after the bad length is kept


def test_frame_at_the_limit_is_accepted() -> None:
    decoder = FrameDecoder(max_frame=100)
    body = encode({"d": b"x" * 80})[HEADER.size :]
    stream = HEADER.pack(len(body)) + body
    assert decoder.feed(stream[:50]) == []
    assert decoder.buffered == 50
    assert decoder.feed(stream[50:]) == [{"d": b"x" * 80}]
    limit = FrameDecoder(max_frame=len(body))
    assert limit.feed(stream) == [{"d": b"x" * 80}]
    (err,) = FrameDecoder(max_frame=len(body) - 1).feed(stream)
    assert isinstance(err, ProtocolError) and err.fatal


def test_decoded_bytes_do_not_alias_the_buffer() -> None:
    decoder = FrameDecoder()
    stream = encode({"data": b"abc"}) + encode({"data": b"def"})[:5]
    (first,) = decoder.feed(stream)
    rest = encode({"data": b"def"})[5:]
    (second,) = decoder.feed(rest)
    assert first == {"data": b"abc"} and isinstance(first["data"], bytes)
    assert second == {"data": b"def"}
