"""QueryFilter: terminal queries out, every other byte as it was, however reads cut the stream."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vconsole.term.queries import MAX_SEQUENCE, QueryFilter

ESC = b"\x1b"
ST = ESC + b"\\"

# Every query kind the filter knows, in the forms programs write them.
QUERIES: dict[str, bytes] = {
    "DA1": ESC + b"[c",
    "DA1 0": ESC + b"[0c",
    "DA2": ESC + b"[>c",
    "DA2 0": ESC + b"[>0c",
    "DA3": ESC + b"[=c",
    "DA3 0": ESC + b"[=0c",
    "DECID": ESC + b"Z",
    "DSR 5": ESC + b"[5n",
    "DSR 6": ESC + b"[6n",
    "DECXCPR": ESC + b"[?6n",
    "DSR colour scheme": ESC + b"[?996n",
    "DECRQM ansi": ESC + b"[4$p",
    "DECRQM dec": ESC + b"[?2004$p",
    "DECRQSS": ESC + b"P$qm" + ST,
    "DECRQSS DECSTBM": ESC + b'P$qr' + ST,
    "DECRQSS 8-bit ST": ESC + b"P$q q\xc2\x9c",
    "XTGETTCAP": ESC + b"P+q544e" + ST,
    "XTVERSION": ESC + b"[>q",
    "XTVERSION 0": ESC + b"[>0q",
    "OSC 4": ESC + b"]4;1;?\x07",
    "OSC 4 two": ESC + b"]4;1;?;2;?" + ST,
    "OSC 10": ESC + b"]10;?\x07",
    "OSC 11": ESC + b"]11;?" + ST,
    "OSC 12": ESC + b"]12;?\x07",
    "OSC 10 and 11": ESC + b"]10;?;?\x07",
    "OSC 52 read": ESC + b"]52;c;?\x07",
    "window state": ESC + b"[11t",
    "window position": ESC + b"[13t",
    "text area pixels": ESC + b"[14t",
    "window pixels": ESC + b"[14;2t",
    "cell pixels": ESC + b"[16t",
    "text area chars": ESC + b"[18t",
    "screen chars": ESC + b"[19t",
    "title": ESC + b"[21t",
    "DECREQTPARM": ESC + b"[x",
    "XTQMODKEYS": ESC + b"[?4m",
    "kitty keyboard": ESC + b"[?u",
    "ENQ": b"\x05",
    "8-bit CSI DA": b"\xc2\x9bc",
    "8-bit CSI DSR": b"\xc2\x9b6n",
    "8-bit OSC": b"\xc2\x9d11;?\x07",
    "8-bit DCS": b"\xc2\x90$qm\xc2\x9c",
    "8-bit DECID": b"\xc2\x9a",
}

# Sequences that look near a query but are not one: kept byte for byte.
NOT_QUERIES: dict[str, bytes] = {
    "SGR": ESC + b"[1;31m",
    "SGR reset": ESC + b"[m",
    "SGR truecolour": ESC + b"[38:2::10:20:30m",
    "DECSET": ESC + b"[?25h",
    "DECRST": ESC + b"[?1049l",
    "cursor": ESC + b"[12;40H",
    "erase": ESC + b"[2J",
    "resize window": ESC + b"[8;24;80t",
    "title stack": ESC + b"[22;0t",
    "linux cursor shape": ESC + b"[?1c",
    "DECSCUSR": ESC + b"[2 q",
    "DECSTR": ESC + b"[!p",
    "DECSCL": ESC + b'[65;1"p',
    "modifyOtherKeys": ESC + b"[>4;1m",
    "XTMODKEYS reset": ESC + b"[>4n",
    "scroll region": ESC + b"[1;24r",
    "title": ESC + b"]0;hello\x07",
    "title ST": ESC + b"]2;a ? b" + ST,
    "set background": ESC + b"]11;rgb:0000/0000/0000\x07",
    "set palette": ESC + b"]4;1;red" + ST,
    "reset palette": ESC + b"]104\x07",
    "reset foreground": ESC + b"]110\x07",
    "hyperlink": ESC + b"]8;;http://x/?q=1\x07",
    "sixel": ESC + b"Pq#0;2;0;0;0~~" + ST,
    "DECUDK": ESC + b"P1;1|17/6162" + ST,
    "charset": ESC + b"(B",
    "save cursor": ESC + b"7",
    "keypad": ESC + b"=",
    "RIS": ESC + b"c",
    "UTF-8 text": "°±·é — ✓ Ω 中文".encode(),
    "8-bit SGR": b"\xc2\x9b1m",
}

TEXT = st.binary(max_size=40).map(lambda b: bytes(c for c in b if c not in (0x05, 0x1B, 0xC2, 0x18, 0x1A)))


def _whole(data: bytes) -> bytes:
    f = QueryFilter()
    return f.feed(data) + f.held


def _cut(data: bytes, cuts: list[int]) -> tuple[bytes, bytes]:
    f = QueryFilter()
    out = []
    at = 0
    for cut in sorted(set(cuts)):
        out.append(f.feed(data[at:cut]))
        at = cut
    out.append(f.feed(data[at:]))
    return b"".join(out), f.held


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_each_query_is_removed(name: str) -> None:
    assert _whole(b"before" + QUERIES[name] + b"after") == b"beforeafter"


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_each_query_is_kept_for_the_answering_terminal(name: str) -> None:
    data = b"before" + QUERIES[name] + b"after"
    f = QueryFilter()
    assert f.feed(data, answer=True) + f.held == data


@pytest.mark.parametrize("name", sorted(NOT_QUERIES))
def test_other_sequences_are_untouched(name: str) -> None:
    data = b"x" + NOT_QUERIES[name] + b"y"
    assert _whole(data) == data


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_a_query_split_anywhere_is_still_removed(name: str) -> None:
    data = b"a" + QUERIES[name] + b"b"
    for cut in range(len(data) + 1):
        assert _cut(data, [cut]) == (b"ab", b""), cut


def test_controls_inside_a_query_still_act() -> None:
    # A terminal carries out C0 controls met inside a CSI; the query around them goes.
    assert _whole(ESC + b"[6\r\nn") == b"\r\n"
    assert _whole(ESC + b"[\x08c") == b"\x08"


def test_an_aborted_query_is_not_a_query_but_what_follows_is() -> None:
    # ESC ends a CSI early (the terminal ignores the half), and may start a query itself.
    assert _whole(ESC + b"[1;2" + ESC + b"[6n!") == ESC + b"[1;2!"
    # A title cut short by a query: the title's half stays, the query goes.
    assert _whole(ESC + b"]0;t" + ESC + b"[c\x07") == ESC + b"]0;t\x07"
    # CAN cancels a sequence: nothing to answer, bytes kept.
    assert _whole(ESC + b"[6\x18n") == ESC + b"[6\x18n"


def test_enq_inside_another_sequence_is_removed_too() -> None:
    assert _whole(ESC + b"[1\x05m") == ESC + b"[1m"
    assert _whole(ESC + b"[8;1\x05;1t") == ESC + b"[8;1;1t"


def test_a_cut_off_sequence_waits_for_the_rest() -> None:
    f = QueryFilter()
    assert f.feed(b"text" + ESC + b"[") == b"text"
    assert f.held == ESC + b"["
    assert f.feed(b"31mred") == ESC + b"[31mred"
    assert f.feed(b"\xc2") == b""
    assert f.feed(b"\xb0") == "°".encode()
    # A title that is no query is not held back.
    assert f.feed(ESC + b"]0;long tit") == ESC + b"]0;long tit"


def test_overlong_sequences_are_dropped_whole() -> None:
    padded_dsr = ESC + b"[" + b"0" * (2 * MAX_SEQUENCE) + b"6n"  # a terminal still reads 6
    assert _whole(b"a" + padded_dsr + b"b") == b"ab"
    long_osc = ESC + b"]4;" + b"1;red;" * 1000 + b"2;?\x07"
    assert _whole(b"a" + long_osc + b"b") == b"ab"
    assert _cut(b"a" + long_osc + b"b", [100, 4500]) == (b"ab", b"")


def test_plain_output_is_returned_as_is() -> None:
    data = b"a line of output\r\n" * 100
    assert QueryFilter().feed(data) is data


_TOKENS = st.one_of(
    TEXT.map(lambda b: (b, b)),
    st.sampled_from(sorted(NOT_QUERIES.values())).map(lambda b: (b, b)),
    st.sampled_from(sorted(QUERIES.values())).map(lambda b: (b, b"")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, max_size=30), st.lists(st.integers(min_value=0, max_value=2000), max_size=8))
def test_cut_anywhere_same_output_and_only_queries_go(tokens: list[tuple[bytes, bytes]], cuts: list[int]) -> None:
    data = b"".join(raw for raw, _ in tokens)
    expected = b"".join(kept for _, kept in tokens)
    assert _whole(data) == expected
    assert _cut(data, [c for c in cuts if c <= len(data)]) == (expected, b"")


_NOISE = st.lists(
    st.one_of(
        st.binary(max_size=12),
        st.sampled_from([ESC, b"[", b"]", b"P", b"$", b"?", b";", b"6", b"n", b"c", b"q", b"\x07", b"\\",
                         b"\xc2", b"\x9b", b"\x9c", b"\x9d", b"1", b"0", b"t", b"\x05", b"\x18", b">"]),
        st.sampled_from(sorted(QUERIES.values())),
    ),
    max_size=60,
).map(b"".join)


@settings(max_examples=500, deadline=None)
@given(_NOISE, st.lists(st.integers(min_value=0, max_value=1000), max_size=10))
def test_any_bytes_cut_anywhere_give_the_same_result(data: bytes, cuts: list[int]) -> None:
    f = QueryFilter()
    whole = f.feed(data)
    assert _cut(data, [c for c in cuts if c <= len(data)]) == (whole, f.held)
