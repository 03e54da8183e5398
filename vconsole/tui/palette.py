"""TerminalPalette: the colours a terminal view paints with, from a theme or the standard ANSI set."""

from __future__ import annotations

from rich.color import Color
from rich.style import Style

from vconsole.term import decode_style
from vconsole.term.sgr import Color as TermColor
from vconsole.tui.themes import ThemeFile

# xterm's 16 colours: what a terminal shows when no theme file could be read.
STANDARD_ANSI = (
    "#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
    "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff",
)
STANDARD_FOREGROUND = "#d0d0d0"
STANDARD_BACKGROUND = "#101318"


class TerminalPalette:
    """The 16 ANSI colours and default colours of the active theme, as rich colours."""

    def __init__(self, foreground: str, background: str, ansi: tuple[str, ...] | list[str]) -> None:
        if len(ansi) != 16:
            raise ValueError(f"a terminal palette needs 16 ANSI colours, got {len(ansi)}")
        self.foreground = Color.parse(foreground)
        self.background = Color.parse(background)
        self.ansi = [Color.parse(c) for c in ansi]
        self._styles: dict[int, Style] = {}

    @classmethod
    def of_theme(cls, theme: ThemeFile | None) -> TerminalPalette:
        """The theme's terminal colours, or the standard ones when there is no theme."""
        if theme is None:
            return cls(STANDARD_FOREGROUND, STANDARD_BACKGROUND, STANDARD_ANSI)
        return cls(theme.terminal_foreground, theme.terminal_background, theme.ansi)

    def color(self, color: TermColor, default: Color) -> Color:
        """A rich colour for an engine colour."""
        if color.kind == "default":
            return default
        if color.kind == "rgb":
            return Color.from_rgb(*color.rgb)
        if color.value < 16:
            return self.ansi[color.value]
        return Color.from_ansi(color.value)

    def style(self, packed: int) -> Style:
        """The rich style of a packed engine style (cached)."""
        found = self._styles.get(packed)
        if found is None:
            s = decode_style(packed)
            fg = self.color(s.fg, self.foreground)
            bg = self.color(s.bg, self.background)
            if s.reverse:
                fg, bg = bg, fg
            if s.hidden:
                fg = bg
            found = Style(
                color=fg, bgcolor=bg, bold=s.bold, dim=s.dim, italic=s.italic,
                underline=s.underline, blink=s.blink, strike=s.strike, overline=s.overline,
            )
            self._styles[packed] = found
        return found
