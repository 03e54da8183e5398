"""One terminal palette fallback: the 16 standard ANSI colours when no theme file is found."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.color import Color

from vconsole.snapshot.decode import decode
from vconsole.snapshot.encode import encode
from vconsole.snapshot.model import ConsoleRecord, History, Pending, SnapshotFile
from vconsole.tui import themes
from vconsole.tui.palette import STANDARD_ANSI, TerminalPalette
from vconsole.tui.snapshot_view import SnapshotViewerApp

COLOURED = b"plain \x1b[31mRED\x1b[0m \x1b[1;94mBRIGHT-BLUE\x1b[0m\r\n"


def test_without_a_theme_the_palette_is_the_standard_sixteen() -> None:
    palette = TerminalPalette.of_theme(None)
    assert len(palette.ansi) == 16
    assert palette.ansi[1] == Color.parse("#cd0000")
    assert [c.triplet.hex if c.triplet else "" for c in palette.ansi] == list(STANDARD_ANSI)


def test_a_palette_with_the_wrong_number_of_colours_is_refused() -> None:
    with pytest.raises(ValueError, match="16 ANSI colours"):
        TerminalPalette("#d0d0d0", "#000000", [])


async def test_show_paints_a_coloured_snapshot_when_no_theme_is_found(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No shipped and no user theme files: what an install without its themes sees.
    monkeypatch.setattr(themes, "builtin_theme_dirs", lambda: [])
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert themes.discover_themes() == ({}, [])
    rec = ConsoleRecord("lab", "1", "g", "container", "vtty", 0, History(COLOURED, 0, len(COLOURED), 0),
                        1.6e9, None, [], Pending("exact", 0, b""), Pending("unavailable"))
    app = SnapshotViewerApp(decode(encode(SnapshotFile(1.7e9, "h", [rec]))), title="c.vcsnap")
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        (view,) = app.views
        colours = {seg.text.strip(): seg.style.color for seg in view.render_line(0) if seg.style and seg.text.strip()}
    assert colours["RED"] == Color.parse("#cd0000")
    assert colours["BRIGHT-BLUE"] == Color.parse("#5c5cff")
