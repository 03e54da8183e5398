"""A tab's output backlog: fed in steps, bounded, oldest dropped at a line boundary."""

from __future__ import annotations

from vconsole.tui.session_link import FEED_STEP, MAX_UNFED, OutputBacklog


def test_a_flood_is_handed_out_a_step_at_a_time_in_order() -> None:
    backlog = OutputBacklog()
    data = bytes(range(256)) * (3 * FEED_STEP // 256) + b"tail"
    assert backlog.push(data) == 0
    steps = []
    while backlog:
        steps.append(backlog.take())
    assert [len(s) for s in steps] == [FEED_STEP, FEED_STEP, FEED_STEP, 4]
    assert b"".join(steps) == data
    assert backlog.take() == b""


def test_more_than_the_limit_behind_drops_the_oldest_after_a_newline() -> None:
    backlog = OutputBacklog()
    line = b"x" * 99 + b"\n"  # 100-byte lines
    total = 0
    dropped = 0
    while total <= MAX_UNFED:
        dropped += backlog.push(line * 100)
        total += len(line) * 100
    assert dropped > 0
    assert dropped + len(backlog) == total
    # The newest half stays, starting on a line boundary, so no escape sequence is cut.
    assert MAX_UNFED // 2 - len(line) < len(backlog) <= MAX_UNFED // 2
    assert backlog.take().startswith(line)


def test_without_a_newline_nearby_the_cut_is_exact() -> None:
    backlog = OutputBacklog(step=10, limit=100)
    assert backlog.push(b"a" * 100) == 0
    assert backlog.push(b"b" * 20) == 70  # keeps the newest limit // 2 bytes
    assert len(backlog) == 50
    assert backlog.take() == b"a" * 10
