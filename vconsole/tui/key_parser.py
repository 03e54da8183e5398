"""Textual's xterm input parser, keeping the Alt that it drops for keys other than letters.

An xterm sends Alt+key as ESC then the key. Textual's parser keeps the Alt
only when the key is a letter: ESC Ctrl-A arrives as ``ctrl+a``,
ESC ``.`` as ``full_stop``, ESC Enter as ``enter``, the same events as the keys
without Alt; and a few ESC pairs it maps to other keys altogether (ESC DEL to
``ctrl+w``, ESC Tab to ``shift+tab``, ESC b/f to ``ctrl+left``/``ctrl+right``,
ESC 0-9 to the characters macOS Option types). A console must send the guest
what was typed, so this parser reports all of these as ``alt+<key>``.

It also gives back F3 with modifiers: xterm sends it as CSI 1;m R, which is
also a cursor position report, and Textual reports it as one. The full-screen
driver never asks for the cursor position, so there it is always the key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from textual import events
from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
from textual._xterm_parser import XTermParser
from textual.drivers import linux_driver
from textual.keys import Keys
from textual.message import Message

ESC = "\x1b"


class AltKeyParser(XTermParser):
    """XTermParser whose ESC + key events are ``alt+`` that key."""

    def _sequence_to_key_events(self, sequence: str, alt: bool = False) -> Iterable[events.Key]:
        # ESC + key pairs in Textual's table come here whole; ESC [ and ESC O start
        # longer sequences and are left to Textual, which reissues them with alt.
        if len(sequence) == 2 and sequence[0] == ESC and sequence[1] not in "\x1b[O" and sequence in ANSI_SEQUENCES_KEYS:
            sequence, alt = sequence[1], True
        for event in super()._sequence_to_key_events(sequence, alt=alt):
            if alt and event.key != Keys.Ignore and not event.key.startswith("alt+"):
                event = events.Key(f"alt+{event.key}", event.character)
            yield event

    def feed(self, data: str) -> Iterable[Message]:
        return _modified_f3(super().feed(data))

    def tick(self) -> Iterable[Message]:
        return _modified_f3(super().tick())


def _modified_f3(messages: Iterable[Message]) -> Iterator[Message]:
    """Cursor position reports at row 1, column m (CSI 1;m R) as F3 with modifier parameter m."""
    for message in messages:
        if isinstance(message, events.CursorPosition) and message.y == 0 and 1 <= message.x <= 7:
            bits = message.x  # m - 1: shift 1, alt 2, ctrl 4
            mods = [name for bit, name in ((1, "shift"), (2, "alt"), (4, "ctrl")) if bits & bit]
            yield events.Key("+".join([*sorted(mods), "f3"]), None)
        else:
            yield message


def install() -> None:
    """Have Textual's Linux driver parse input with AltKeyParser (it builds its parser by this name)."""
    linux_driver.XTermParser = AltKeyParser  # type: ignore[attr-defined]
