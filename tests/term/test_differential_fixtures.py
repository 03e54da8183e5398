"""Recorded output of real programs, through tmux and the engine: screens must match.

The recordings (tests/fixtures/term/*.bin) were made by record.py in that
directory on an 80x24 pty. Full-screen programs leave the alternate screen
when they exit, so each recording is also compared just before every
``ESC [ ? 1049 l`` (while the full-screen picture is showing), and halfway.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.term.compare import differences, screen_dump
from tests.term.tmuxref import Tmux
from vconsole.term.terminal import Terminal

FIXTURES = Path(__file__).parent.parent / "fixtures" / "term"
RECORDINGS = sorted(FIXTURES.glob("*.bin"))


def checkpoints(data: bytes) -> list[int]:
    """Offsets at which to compare: before each alternate-screen exit, halfway, the end."""
    cuts = {len(data)}
    start = 0
    while (i := data.find(b"\x1b[?1049l", start)) >= 0:
        cuts.add(i)
        start = i + 1
    half = len(data) // 2
    while half < len(data) and (data[half] & 0xC0) == 0x80:
        half += 1  # do not cut inside a UTF-8 character: tmux would see it complete later
    cuts.add(half)
    return sorted(c for c in cuts if c > 0)


def test_recordings_exist() -> None:
    names = {p.name for p in RECORDINGS}
    for want in ("ls_color.bin", "top_batch.bin", "vi_session.bin", "dialog_box.bin",
                 "whiptail_msg.bin", "boot_log.bin", "redraw_loop.bin"):
        assert want in names


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_recording_matches_tmux(tmux_ref: Tmux, path: Path) -> None:
    data = path.read_bytes()
    for cut in checkpoints(data):
        prefix = data[:cut]
        term = Terminal(80, 24)
        term.feed(prefix)
        ref = tmux_ref.show(prefix)
        diff = differences(term, ref)
        assert not diff, f"{path.name} at byte {cut}:\n" + "\n".join(diff) + "\n" + screen_dump(term)


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_recording_in_small_feeds_equals_one_feed(path: Path) -> None:
    """Feeding in 1..7 byte pieces (splitting UTF-8 and sequences) changes nothing."""
    data = path.read_bytes()
    whole = Terminal(80, 24)
    whole.feed(data)
    pieces = Terminal(80, 24)
    i = 0
    step = 1
    while i < len(data):
        pieces.feed(data[i:i + step])
        i += step
        step = step % 7 + 1
    assert pieces.to_state() == whole.to_state()
