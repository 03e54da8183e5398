"""Line-based matching of one console's output against its watches, across read boundaries.

A console's output comes in reads that cut lines anywhere. :class:`LineMatcher`
keeps the unfinished last line (at most ``max_line`` bytes) and matches each
line once, when its newline arrives (or at :meth:`LineMatcher.flush`, for a
prompt that never gets one).

Speed: almost no line of a console is a hit, so a read is not split into
lines. First, a literal (see :class:`~vconsole.watches.signatures.Signature`)
one of whose bytes is nowhere in the read is in none of its lines' texts (a
line's text holds only its own bytes, but for spaces and what C1
introducers become): a few memchr calls rule most literals out, and a read
that leaves no literal and no regex hint is done (numbers, dots, hex dumps).
The hints left, mostly literals found with ``bytes.find``, run over the read
(plus the kept tail); one ``bytes.translate`` tells whether any line is not plain ASCII
(escape sequences, CRs that overwrite, tabs, UTF-8), whose reading text may
differ from its bytes. Then the hints run on the read without its colours
(and, when every watch has literals, with tabs as spaces), and lines with
anything else odd are all candidates. Only the lines found are turned into
reading text and tried against each watch's regex and ignore list; the
tests compare this with rendering every line.

Long lines: a line is cut into pieces of ``max_line`` bytes counted from its
first byte, each matched as a line of its own (so memory stays bounded on a
console that never prints a newline); a hit spanning a cut is not seen.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from vconsole.consolelog.reading import reading_text
from vconsole.domain import Severity
from vconsole.watches.signatures import Signature

MAX_LINE = 4096  # bytes; a longer line is matched in pieces of this size

# Bytes a plain line is made of; any other byte, or a CR not just before the
# newline (a serial console's CR LF), may make its reading text differ from its bytes.
_PLAIN = bytes(range(0x20, 0x7F)) + b"\n"
# The same, with CRs and the bytes of UTF-8 sequences: what leaves ASCII literals as they are.
_PLAIN_CR_UTF8 = _PLAIN + b"\r" + bytes(range(0x80, 0x100))
# Each takes the rest of the line, so a line of colours is one match, not dozens.
_ODD_BYTE = re.compile(rb"[^\n\r\x20-\x7e][^\n]*")
_BARE_CR = re.compile(rb"\r[^\r\n]")  # (the CRs before it, and the rest of the line, are added)
_CR = ord("\r")
_ESC = 0x1B
_TAB = 0x09
_SGR_BYTES = re.compile(rb"\x1b\[[0-9;:]*+m")  # a colour: nothing on a row of text
# A C1 control in UTF-8 (0xC2 0x80-0x9F): a control in the text, not a letter.
_C1_LEAD = 0xC2
_C1 = re.compile(rb"\xc2[\x80-\x9f][^\n]*")
# With this few kinds of odd bytes, looking for each with find is faster than _ODD_BYTE.
_FEW_ODD = 4


# Bytes a line's reading text can hold without the line's bytes holding them: spaces
# (tabs, cursor moves, erased cells) and what C1 introducers become ("\x9b" is "\x1b[").
_MADE_BYTES = frozenset(b" []PX^_")


def _keys(literal: bytes) -> tuple[bytes, ...]:
    """The rarest bytes (in console text) of ``literal`` that a line holding it in its text holds.

    A few are enough: each is a memchr over the read, which stops at the first found.
    """
    usable = {b for b in literal if b not in _MADE_BYTES}
    return tuple(bytes((b,)) for b in sorted(usable, key=_RARITY.find)[:_KEYS])


_KEYS = 3
# Console text's bytes, from the rarest to the most common (roughly): looked for first.
_RARITY = b"#@~`{}|$%?*+QZXJKVYWGFBUPHCMLODINTSARE!\"&',;<=>()/\\qzjx-kvbyg:wpfmucldhrsnioate0987654321. "


@dataclass(frozen=True)
class _Plan:
    """How a LineMatcher looks for its watches' candidate lines."""

    watches: tuple[Signature, ...]
    every_line: bool  # a watch has neither literals nor hints: every line is a candidate
    literals: tuple[bytes, ...]
    keys: dict[bytes, tuple[bytes, ...]]  # per literal, see _keys
    hints: tuple[re.Pattern[bytes], ...]  # of the watches without literals


@functools.lru_cache(maxsize=256)
def _plan(watches: tuple[Signature, ...]) -> _Plan:
    literals = tuple(sorted({lit for w in watches for lit in w.literals}))
    return _Plan(
        watches, any(w.hints is None and not w.literals for w in watches), literals,
        {lit: _keys(lit) for lit in literals},
        tuple({h: None for w in watches if not w.literals for h in w.hints or ()}),
    )


@dataclass(frozen=True)
class WatchHit:
    """A watch matched a line: its reading text, and the offset of the line's first byte."""

    name: str
    severity: Severity
    text: str
    offset: int


class LineMatcher:
    """Matches one console's output, fed in reads, line by line against ``watches``.

    ``offset`` is the console offset of the first byte fed (hits carry
    offsets from there).
    """

    def __init__(self, watches: Sequence[Signature], offset: int = 0, max_line: int = MAX_LINE) -> None:
        # One plan per set of watches, shared by the consoles that have that set (1000s of them).
        plan = _plan(tuple(watches))
        self.watches = plan.watches
        self.max_line = max_line
        self._tail = b""  # the unfinished line (or its last piece), from _tail_offset
        self._tail_offset = offset
        self._every_line = plan.every_line
        self._literals = plan.literals
        self._keys = plan.keys
        self._hints = plan.hints
        self._literal_hints = not plan.hints
        # Watches that hit the unfinished line when it was peeked at: not reported again when it ends.
        self._peeked: set[str] = set()

    @property
    def offset(self) -> int:
        """The console offset the next byte fed has."""
        return self._tail_offset + len(self._tail)

    @property
    def pending(self) -> int:
        """How many bytes of an unfinished line are kept."""
        return len(self._tail)

    def feed(self, data: bytes) -> list[WatchHit]:
        """The hits of every line (or piece) ``data`` completes."""
        if not self.watches:
            self._tail_offset += len(data)
            return []
        buf = self._tail + data if self._tail else data
        base = self._tail_offset
        # buf[:done] holds complete lines; buf[done:] an unfinished one, from a line or piece start.
        done = buf.rfind(b"\n") + 1
        most = self.max_line
        if len(buf) - done >= most:  # whole pieces of a long line are done too
            done += (len(buf) - done) // most * most
        hits: list[WatchHit] = []
        if done:
            if self._every_line:
                starts: set[int] | list[int] = self._line_starts(buf, done)
            else:
                # A literal one of whose bytes is not in the lines is in none of their texts.
                live = [lit for lit in self._literals
                        if all(buf.find(key, 0, done) >= 0 for key in self._keys[lit])]
                starts = self._candidates(buf, done, live) if live or self._hints else set()
            for start in sorted(starts):
                self._match(buf, start, done, base, hits)
        if done and self._peeked:
            self._peeked = set()  # the peeked line is done
        self._tail = buf[done:]
        self._tail_offset = base + done
        return hits

    def peek(self) -> list[WatchHit]:
        """The hits of the unfinished line as it is now (a prompt waiting for input); the line stays.

        Each watch is reported once per line: one that hit now is not
        reported again when the line is finished (a panic line written in two
        pieces a while apart is one hit, seen at the first peek that shows it).
        """
        if not self._tail:
            return []
        hits: list[WatchHit] = []
        self._match(self._tail, 0, len(self._tail), self._tail_offset, hits)
        self._peeked.update(h.name for h in hits)
        return hits

    def flush(self) -> list[WatchHit]:
        """The hits of the unfinished line, matched as it is now (a prompt); it is then done."""
        if not self._tail:
            return []
        hits: list[WatchHit] = []
        self._match(self._tail, 0, len(self._tail), self._tail_offset, hits)
        self._tail_offset += len(self._tail)
        self._tail = b""
        self._peeked = set()
        return hits

    def _piece_start(self, buf: bytes, pos: int) -> int:
        """Where the line or piece holding ``buf[pos]`` starts."""
        line = buf.rfind(b"\n", 0, pos) + 1
        return line + (pos - line) // self.max_line * self.max_line

    def _candidates(self, buf: bytes, done: int, literals: list[bytes]) -> set[int]:
        """Starts of the lines (or pieces) of ``buf[:done]`` that may hold a hit (of ``literals`` or a hint)."""
        starts: set[int] = set()
        odd = set(buf[:done].translate(None, _PLAIN))
        if _CR in odd:
            odd.discard(_CR)
            for m in _BARE_CR.finditer(buf, 0, done):  # found by its literal first byte: fast
                first, end = m.start(), buf.find(b"\n", m.start(), done)
                while first and buf[first - 1] == _CR:
                    first -= 1
                self._add_span(buf, first, done if end < 0 else end, done, starts)
        if odd:
            # Colours leave a line's text as its other bytes: look in the bytes without
            # them, so those lines need not be rendered one by one.
            stripped = _SGR_BYTES.sub(b"", buf[:done]) if _ESC in odd else buf[:done]
            if self._literal_hints:
                # Tabs and UTF-8 leave an ASCII literal as it is too. A tab becomes one
                # space or more; a literal without two spaces in a row seen with the tab
                # as a space is seen with it as one space: the same lines, or more.
                if _TAB in odd:
                    stripped = stripped.replace(b"\t", b" ")
                odd = set(stripped.translate(None, _PLAIN_CR_UTF8))
                if _C1_LEAD in stripped:
                    for m in _C1.finditer(buf, 0, done):
                        self._add_span(buf, m.start(), m.end(), done, starts)
            else:
                odd = set(stripped.translate(None, _PLAIN)) - {_CR}
            self._stripped_lines(buf, stripped, done, literals, starts)
        else:
            for start, end in self._found(buf, done, literals):
                self._add_span(buf, start, end, done, starts)
        if len(odd) > _FEW_ODD:
            for m in _ODD_BYTE.finditer(buf, 0, done):
                self._add_span(buf, m.start(), m.end(), done, starts)
            return starts
        for byte in odd:
            mark = bytes((byte,))
            pos = buf.find(mark, 0, done)
            while pos >= 0:
                first = self._piece_start(buf, pos)
                starts.add(first)
                pos = buf.find(mark, self._next_start(buf, first, done), done)
        return starts

    def _found(self, data: bytes, end: int, literals: list[bytes]) -> list[tuple[int, int]]:
        """Where ``literals`` and the regex hints are in ``data[:end]``: (start, end) each."""
        spans = []
        for literal in literals:
            pos = data.find(literal, 0, end)
            while pos >= 0:
                spans.append((pos, pos + len(literal)))
                pos = data.find(literal, pos + 1, end)
        for hint in self._hints:
            spans += [m.span() for m in hint.finditer(data, 0, end)]
        return spans

    def _stripped_lines(self, buf: bytes, stripped: bytes, done: int, literals: list[bytes],
                        starts: set[int]) -> None:
        """Add the lines of ``buf`` whose lines in ``stripped`` (as many) a literal or hint touches."""
        found: set[int] = set()
        for start, end in self._found(stripped, len(stripped), literals):
            line = stripped.rfind(b"\n", 0, start) + 1
            found.add(line)
            while (line := stripped.find(b"\n", line, end - 1) + 1) > 0:
                found.add(line)  # a hint over several lines (like "a\\s+b") touches each
        s_line = b_line = 0  # the start of one line, in stripped and in buf
        for line in sorted(found):
            for _ in range(stripped.count(b"\n", s_line, line)):
                b_line = buf.find(b"\n", b_line, done) + 1
            s_line = line
            end = buf.find(b"\n", b_line, done)
            self._add_span(buf, b_line, done if end < 0 else end + 1, done, starts)

    def _add_span(self, buf: bytes, start: int, end: int, done: int, starts: set[int]) -> None:
        """Add the lines (or pieces) ``buf[start:end]`` touches."""
        first = self._piece_start(buf, start)
        starts.add(first)
        if end - first > self.max_line or buf.find(b"\n", start, end - 1) >= 0:
            # It runs over more than one line (a hint like "a\\s+b"): every one it touches.
            pos = first
            while pos < end - 1 and pos < done:
                starts.add(pos)
                pos = self._next_start(buf, pos, done)

    def _line_starts(self, buf: bytes, done: int) -> list[int]:
        starts: list[int] = []
        pos = 0
        while pos < done:
            starts.append(pos)
            pos = self._next_start(buf, pos, done)
        return starts

    def _next_start(self, buf: bytes, pos: int, done: int) -> int:
        nl = buf.find(b"\n", pos, min(done, pos + self.max_line))
        return nl + 1 if nl >= 0 else min(done, pos + self.max_line)

    def _match(self, buf: bytes, start: int, done: int, base: int, hits: list[WatchHit]) -> None:
        text = reading_text(buf[start : self._next_start(buf, start, done)])
        peeked = self._peeked if base + start == self._tail_offset else ()
        for watch in self.watches:
            if watch.matches(text) and watch.name not in peeked:
                hits.append(WatchHit(watch.name, watch.severity, text, base + start))
