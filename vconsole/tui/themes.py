"""Theme files: Textual theme colours plus the terminal's 16 ANSI colours, validated.

Themes ship inside the package (``vconsole/themes/``, so a wheel carries
them) and users add their own in ``$XDG_CONFIG_HOME/vconsole/themes/``. A
broken file is reported and skipped, never fatal.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.theme import Theme

from vconsole.runtime_paths import config_dir

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
THEME_COLORS = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel", "success", "warning", "error")
DEFAULT_THEME = "vconsole-dark"


class ThemeError(Exception):
    """A theme file is unreadable or malformed; the message says where."""


@dataclass
class ThemeFile:
    """A validated theme: the Textual theme and the terminal palette."""

    theme: Theme
    terminal_foreground: str
    terminal_background: str
    ansi: list[str]
    path: Path


def builtin_theme_dirs() -> list[Path]:
    """Where shipped themes live: inside the package, so a wheel carries them."""
    return [Path(__file__).resolve().parent.parent / "themes"]


def _color(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _HEX.match(value):
        raise ThemeError(f"{where} must be a colour like \"#1a2b3c\", got {value!r}")
    return value


def load_theme(path: Path) -> ThemeFile:
    """Read and validate one theme file."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{path.name}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{path.name}: {exc}") from None
    name = raw.get("name")
    if not isinstance(name, str) or not re.match(r"^[a-z0-9][a-z0-9-]{0,40}$", name):
        raise ThemeError(f"{path.name}: name must be lowercase letters, digits and dashes")
    dark = raw.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{path.name}: dark must be true or false")
    colors = raw.get("colors")
    terminal = raw.get("terminal")
    if not isinstance(colors, dict) or not isinstance(terminal, dict):
        raise ThemeError(f"{path.name}: needs [colors] and [terminal] tables")
    missing = [k for k in ("primary", "foreground", "background") if k not in colors]
    if missing:
        raise ThemeError(f"{path.name}: [colors] lacks {', '.join(missing)}")
    unknown = set(colors) - set(THEME_COLORS)
    if unknown:
        raise ThemeError(f"{path.name}: unknown colour {sorted(unknown)[0]!r} in [colors]")
    # Any: Theme's keyword fields are not all strings, but only THEME_COLORS names get here.
    checked: dict[str, Any] = {k: _color(v, f"{path.name}: colors.{k}") for k, v in colors.items()}
    ansi = terminal.get("ansi")
    if not isinstance(ansi, list) or len(ansi) != 16:
        raise ThemeError(f"{path.name}: terminal.ansi must list exactly 16 colours")
    palette = [_color(c, f"{path.name}: terminal.ansi[{i}]") for i, c in enumerate(ansi)]
    fg = _color(terminal.get("foreground"), f"{path.name}: terminal.foreground")
    bg = _color(terminal.get("background"), f"{path.name}: terminal.background")
    return ThemeFile(Theme(name=name, dark=dark, **checked), fg, bg, palette, path)


def discover_themes() -> tuple[dict[str, ThemeFile], list[str]]:
    """Every theme found (user files override shipped ones), and one-line errors."""
    themes: dict[str, ThemeFile] = {}
    errors: list[str] = []
    seen: set[Path] = set()
    for directory in [*builtin_theme_dirs(), config_dir() / "themes"]:
        if not directory.is_dir() or directory.resolve() in seen:
            continue
        seen.add(directory.resolve())
        for path in sorted(directory.glob("*.toml")):
            try:
                found = load_theme(path)
            except ThemeError as exc:
                errors.append(str(exc))
                continue
            themes[found.theme.name] = found
    return themes, errors
