"""A tab's output tail: little output is fed whole; far behind, only the newest screenful is parsed."""

from __future__ import annotations

from vconsole.tui.session_link import FEED_BYTES, FEED_LINES, TAIL_LIMIT, OutputTail


def numbered(first: int, count: int) -> bytes:
    return b"".join(b"line %06d\r\n" % i for i in range(first, first + count))


def test_output_within_the_feed_bounds_is_fed_whole_and_in_order() -> None:
    tail = OutputTail()
    tail.push(numbered(0, FEED_LINES // 2))
    tail.push(numbered(FEED_LINES // 2, FEED_LINES // 2))
    data, skipped = tail.take(keep_lines=24)
    assert (data, skipped) == (numbered(0, FEED_LINES), 0)
    assert len(tail) == 0
    assert tail.take(keep_lines=24) == (b"", 0)


def test_more_lines_than_a_feed_keeps_only_the_newest_screenful() -> None:
    tail = OutputTail()
    flood = numbered(0, FEED_LINES + 500)
    tail.push(flood)
    data, skipped = tail.take(keep_lines=24)
    assert data == numbered(FEED_LINES + 500 - 24, 24)
    assert skipped + len(data) == len(flood)
    assert len(tail) == 0


def test_a_screenful_without_a_final_newline_keeps_the_partial_line() -> None:
    tail = OutputTail()
    tail.push(numbered(0, FEED_LINES + 10) + b"prompt$ ")
    data, _ = tail.take(keep_lines=3)
    # The prompt is the screen's last line; the two lines above it complete the screenful.
    assert data == numbered(FEED_LINES + 8, 2) + b"prompt$ "


def test_more_bytes_than_a_feed_skips_to_a_line_start() -> None:
    tail = OutputTail()
    long_lines = (b"x" * 999 + b"\n") * (FEED_BYTES // 1000 + 10)
    tail.push(long_lines)
    data, skipped = tail.take(keep_lines=5)
    assert data == (b"x" * 999 + b"\n") * 5
    assert skipped == len(long_lines) - len(data)


def test_one_huge_line_is_cut_to_the_feed_bound() -> None:
    tail = OutputTail()
    tail.push(b"y" * (FEED_BYTES * 2))
    data, skipped = tail.take(keep_lines=24)
    assert data == b"y" * FEED_BYTES and skipped == FEED_BYTES


def test_past_its_limit_the_tail_drops_the_oldest_after_a_newline() -> None:
    tail = OutputTail()
    line = b"x" * 99 + b"\n"
    total = 0
    while total <= TAIL_LIMIT:
        tail.push(line * 100)
        total += len(line) * 100
    # The newest half stays, starting on a line boundary, so no escape sequence is cut.
    assert TAIL_LIMIT // 2 - len(line) < len(tail) <= TAIL_LIMIT // 2
    data, _ = tail.take(keep_lines=10)
    assert data == line * 10


def test_without_a_newline_nearby_the_limit_cut_is_exact() -> None:
    tail = OutputTail(limit=100, feed_lines=10, feed_bytes=1000)
    tail.push(b"a" * 100)
    tail.push(b"b" * 20)
    assert len(tail) == 50  # the newest limit // 2 bytes
    assert tail.take(keep_lines=24) == (b"a" * 30 + b"b" * 20, 0)
