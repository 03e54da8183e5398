"""Frames, the attach escape filter, and the config file."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vconsole.cli.escape import EscapeError, EscapeFilter, parse_escape
from vconsole.config import Config, ConfigError
from vconsole.wire import MAX_FRAME, FrameDecoder, ProtocolError, encode


@given(st.lists(st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=50), max_size=4), max_size=10), st.integers(1, 50))
def test_frames_survive_any_split(messages: list[dict[str, object]], step: int) -> None:
    stream = b"".join(encode(m) for m in messages)
    decoder = FrameDecoder()
    out: list[object] = []
    for i in range(0, len(stream), step):
        out += decoder.feed(stream[i : i + step])
    assert out == messages
    assert decoder.buffered == 0


def test_frame_errors() -> None:
    decoder = FrameDecoder()
    (err,) = decoder.feed(struct.pack(">I", 1) + b"\x05")  # a msgpack int, not a map
    assert isinstance(err, ProtocolError) and err.code == "bad_message" and not err.fatal
    (err,) = decoder.feed(struct.pack(">I", MAX_FRAME + 1))
    assert isinstance(err, ProtocolError) and err.code == "too_large" and err.fatal
    with pytest.raises(ProtocolError):
        encode({"data": b"x" * (MAX_FRAME + 1)})
    with pytest.raises(ProtocolError):
        encode({"n": 2**64})


def _reference(data: bytes, esc: int) -> tuple[bytes, bool]:
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i] != esc:
            out.append(data[i])
            i += 1
            continue
        if i + 1 == len(data):
            break  # held until the next key
        nxt = data[i + 1]
        if nxt == ord("."):
            return bytes(out), True
        out.append(esc)
        if nxt != esc:
            out.append(nxt)
        i += 2
    return bytes(out), False


@given(st.lists(st.sampled_from([b"\x1d", b".", b"a", b"\x03", b"\x1b"]), max_size=40).map(b"".join), st.integers(1, 10))
def test_escape_filter_matches_its_model_however_input_is_split(data: bytes, step: int) -> None:
    filt = EscapeFilter(0x1D)
    out = b""
    detached = False
    for i in range(0, len(data), step):
        keys, detached = filt.feed(data[i : i + step])
        out += keys
        if detached:
            break
    assert (out, detached) == _reference(data, 0x1D)


def test_escape_sequences() -> None:
    filt = EscapeFilter(0x1D)
    assert filt.feed(b"ls\r") == (b"ls\r", False)
    assert filt.feed(b"\x1d") == (b"", False)  # held
    assert filt.feed(b"x") == (b"\x1dx", False)
    assert filt.feed(b"\x1d\x1d") == (b"\x1d", False)
    assert filt.feed(b"ab\x1d.cd") == (b"ab", True)
    assert EscapeFilter(None).feed(b"\x1d.") == (b"\x1d.", False)
    assert parse_escape("^]") == 0x1D and parse_escape("^a") == 1 and parse_escape("none") is None
    for bad in ("^^^", "ab", "é"):
        with pytest.raises(EscapeError):
            parse_escape(bad)


def test_config(tmp_path: Path) -> None:
    assert Config.load(tmp_path / "missing.toml").history_cap == 1 << 20
    path = tmp_path / "c.toml"
    path.write_text('[broker]\nhistory = "64KiB"\nallow_uids = [1000]\n[client]\nescape = "^A"\n')
    cfg = Config.load(path)
    assert (cfg.history_cap, cfg.allow_uids, cfg.escape) == (65536, [1000], "^A")
    for text, words in [
        ('[broker]\nhistory = "lots"', "broker.history"),
        ("[broker]\nhistory = 10", "outside"),
        ("[broker]\nallow_uids = [-1]", "allow_uids"),
        ("[lab]\nenabled = 1", "lab.enabled"),
        ("broker = 3", "[broker]"),
        ("[broker", "c.toml"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=r".*") as err:
            Config.load(path)
        assert words in str(err.value), (text, err.value)
