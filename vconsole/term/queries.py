"""Terminal queries: sequences that make a terminal type an answer into its input.

A program asks its terminal things by writing sequences (DA ``ESC [ c``,
DSR ``ESC [ 6 n``, an OSC colour ``ESC ] 11 ; ? BEL``...); the terminal's
answer arrives as if typed. Output a viewer shows again (a replay of the
history) or shows beside another viewer must not reach a terminal with its
queries still in it: the answers would be typed into the guest again, or twice.
:class:`QueryFilter` removes them from a byte stream however reads cut it, and
leaves every other byte as it was. The rule for who answers is in
docs/protocol.md ("Terminal queries").

The sequences are recognised as a terminal parses them: introduced by ESC or
by a C1 control written in UTF-8 (``\\xc2\\x9b`` is a CSI), with C0 controls
inside a CSI still carried out (they are kept when the query is removed), and
an ESC, CAN or SUB ending a sequence early. ENQ asks for the answerback
message and DECID (``ESC Z``) for the device attributes, so both are queries too.
"""

from __future__ import annotations

import re

# Longest query kept back across reads. A sequence this long is no terminal program's
# output; it is dropped whatever it is (DoS-proofing, and a query padded with zeros, which
# a terminal would still answer, cannot slip through by being long).
MAX_SEQUENCE = 4096

# CSI requests a terminal answers: (private marker, intermediates, final byte).
CSI_QUERIES: frozenset[tuple[bytes, bytes, bytes]] = frozenset({
    (b"", b"", b"c"),  # DA1, primary device attributes
    (b">", b"", b"c"),  # DA2, secondary
    (b"=", b"", b"c"),  # DA3, tertiary (unit id)
    (b"", b"", b"n"),  # DSR: status (5), cursor position (6)
    (b"?", b"", b"n"),  # DEC DSR: DECXCPR (6), printer, keyboard, colour scheme...
    (b"", b"$", b"p"),  # DECRQM, an ANSI mode
    (b"?", b"$", b"p"),  # DECRQM, a DEC private mode
    (b">", b"", b"q"),  # XTVERSION
    (b"", b"", b"x"),  # DECREQTPARM
    (b"", b"$", b"u"),  # DECRQTSR, terminal state
    (b"", b"$", b"w"),  # DECRQPSR, cursor or tab stops
    (b"", b"&", b"u"),  # DECRQUPSS, user-preferred character set
    (b"", b'"', b"v"),  # DECRQDE, displayed extent
    (b"", b"*", b"y"),  # DECRQCRA, checksum of a rectangle
    (b"", b"#", b"|"),  # XTREPORTSGR
    (b"", b"'", b"|"),  # DECRQLP, locator position
    (b"?", b"", b"m"),  # XTQMODKEYS
    (b"?", b"", b"u"),  # kitty keyboard flags
    (b"?", b"", b"S"),  # XTSMGRAPHICS
})
# CSI Ps t (window operations) whose Ps asks for a report: state, position, sizes in
# pixels and characters (14, 16, 18, 19...), icon label and title.
WINDOW_REPORTS = frozenset({11, 13, 14, 15, 16, 18, 19, 20, 21})
# OSC codes that answer when a value is "?": palette (4), special colours (5), the
# dynamic colours 10-19 (foreground, background, cursor...) and the clipboard (52).
OSC_QUERIES = frozenset({4, 5, *range(10, 20), 52})
# DCS requests: DECRQSS (``$ q``), XTGETTCAP (``+ q``), XTGETXRES (``+ Q``).
DCS_QUERIES = frozenset({b"$q", b"+q", b"+Q"})

_CSI = rb"(?:\x1b\[|\xc2\x9b)"
_OSC = rb"(?:\x1b\]|\xc2\x9d)"
_DCS = rb"(?:\x1bP|\xc2\x90)"
# What a CSI holds before its final byte: parameters, intermediates, and the C0 controls
# (not CAN, SUB, ESC) and DEL that a terminal carries out or ignores without ending it.
_BODY = rb"[\x00-\x17\x19\x1c-\x1f\x20-\x3f\x7f]"
_FINALS = re.escape(b"".join(sorted({f for _, _, f in CSI_QUERIES if f != b"m"} | {b"t"})))
_OSC_CODES = b"|".join(str(code).encode() for code in sorted(OSC_QUERIES, reverse=True))

# Everything worth a look, found in one pass: plain text and the common sequences (SGR,
# cursor movement) never match, so they cost no Python code. (One literal first byte per
# branch keeps the search fast; the branches are told apart by their bytes.)
_CSI_REST = (
    _BODY + rb"*+[" + _FINALS + rb"]"  # a CSI whose final byte may make it a query
    rb"|[\x00-\x17\x19\x1c-\x1f\x7f]*+\?" + _BODY + rb"*+m"  # XTQMODKEYS, not an SGR
    rb"|" + _BODY + rb"{" + str(MAX_SEQUENCE).encode() + rb"}"  # overlong: dropped, whatever it is
)
_FIND = re.compile(
    rb"\x1b(?:\[(?:" + _CSI_REST + rb")|\](?:" + _OSC_CODES + rb");|P[$+][qQ]|Z)"
    rb"|\xc2(?:\x9b(?:" + _CSI_REST + rb")|\x9d(?:" + _OSC_CODES + rb");|\x90[$+][qQ]|\x9a)"
    rb"|\x05"
)
# A sequence cut off by the end of a read that may still become a query (from the last
# ESC or C1 lead byte: nothing in such a sequence is either).
_TAIL = re.compile(
    _CSI + _BODY + rb"{0," + str(MAX_SEQUENCE - 1).encode() + rb"}"
    rb"|" + _OSC + rb"[0-9]{0,2}|" + _DCS + rb"[$+]?|\x1b|\xc2"
)
# The end of an OSC or DCS string: its terminator (BEL ends an OSC only), or what cuts it
# short (ESC, CAN, SUB, another C1 control); ESC or a C1's first byte at the end of the read
# may be the start of a terminator.
_OSC_END = re.compile(rb"\x07|\x1b\\|\xc2\x9c|\x1b|[\x18\x1a]|\xc2[\x80-\x9f]|\xc2\Z")
_DCS_END = re.compile(rb"\x1b\\|\xc2\x9c|\x1b|[\x18\x1a]|\xc2[\x80-\x9f]|\xc2\Z")
_TERMINATORS = (b"\x07", b"\x1b\\", b"\xc2\x9c")
_CSI_BODY = re.compile(_BODY + rb"*+")
# The C0 controls a terminal carries out inside a CSI (ENQ aside: it is a query itself).
_EXECUTED = bytes(b for b in range(0x20) if b not in (0x05, 0x18, 0x1A, 0x1B))
_NOT_EXECUTED = bytes(b for b in range(256) if b not in _EXECUTED)
_INTERMEDIATE = re.compile(rb"[\x20-\x2f]*\Z")


def is_csi_query(sequence: bytes) -> bool:
    """Whether a whole CSI (introducer to final byte) asks the terminal for an answer."""
    if len(sequence) > MAX_SEQUENCE:
        return True
    body = sequence[2:-1].translate(None, _EXECUTED + b"\x05\x7f")
    final = sequence[-1:]
    private = body[:1] if body[:1] in (b"<", b"=", b">", b"?") else b""
    body = body[len(private):]
    inter_at = _INTERMEDIATE.search(body)
    at = inter_at.start() if inter_at else len(body)
    params, inter = body[:at], body[at:]
    if final == b"t" and not private and not inter:
        first = params.split(b";", 1)[0].split(b":", 1)[0]
        return first.isdigit() and int(first) in WINDOW_REPORTS
    return (private, inter, final) in CSI_QUERIES


def is_osc_query(body: bytes) -> bool:
    """Whether an OSC's text (``11;?``, without introducer and terminator) asks for a value."""
    return b"?" in body.split(b";")[1:]


class QueryFilter:
    """Takes terminal queries out of a stream of output, wherever the reads cut it.

    ``feed`` returns the bytes that may go to a terminal now; a sequence cut
    off at the end of a read is held back until the rest arrives (at most
    :data:`MAX_SEQUENCE` bytes), so the result is the same however the stream
    is cut. With ``answer=True`` the queries are kept (the viewer whose
    terminal should answer them); the decision is taken for each sequence in
    the feed that completes it.
    """

    def __init__(self) -> None:
        self._held = b""
        self._discard: bytes | None = None  # b"csi", b"osc" or b"dcs": dropping an overlong sequence

    @property
    def held(self) -> bytes:
        """The unfinished sequence held back for the next feed."""
        return self._held

    def feed(self, data: bytes, *, answer: bool = False) -> bytes:
        """``data`` without its queries (kept with ``answer``), less any unfinished sequence at its end."""
        if not self._held and self._discard is None and b"\x1b" not in data and b"\xc2" not in data \
                and b"\x05" not in data:
            return data
        buf = self._held + data if self._held else data
        self._held = b""
        out: list[bytes] = []
        pos = 0
        if self._discard is not None:
            pos = self._discarding(buf, out)
            if self._discard is not None:
                return b"".join(out)
        cut = _tail_start(buf, pos)
        if answer:
            # Everything goes to the terminal that answers; only a cut-off end waits, so
            # the next read is judged whole whoever answers it.
            out.append(buf[pos:cut])
            self._held = buf[cut:]
            return b"".join(out)
        while True:
            m = _FIND.search(buf, pos, cut)
            if m is None:
                out.append(buf[pos:cut])
                self._held = buf[cut:]
                break
            start = m.start()
            out.append(buf[pos:start])
            found = m.group()
            pos = m.end()
            if found[:2] in (b"\x1b[", b"\xc2\x9b"):
                if 0x40 <= found[-1] <= 0x7E:
                    out.append(self._csi(found))
                    continue
                out.append(found.translate(None, _NOT_EXECUTED))  # overlong: dropped
                self._discard = b"csi"
                pos = self._discarding(buf, out, pos)
                if self._discard is not None:
                    break
            elif found[:2] in (b"\x1b]", b"\xc2\x9d", b"\x1bP", b"\xc2\x90"):
                pos = self._string(buf, start, pos, found[1] in b"]\x9d", out)
                if pos < 0:
                    break
            # else ENQ or DECID: dropped
        return b"".join(out)

    @staticmethod
    def _csi(sequence: bytes) -> bytes:
        if is_csi_query(sequence):
            return sequence.translate(None, _NOT_EXECUTED)  # the controls inside still act
        return sequence.replace(b"\x05", b"")

    def _string(self, buf: bytes, start: int, body: int, osc: bool, out: list[bytes]) -> int:
        """Handle the OSC or DCS starting at ``start``; where to go on, or -1 if the read ended in it."""
        end = (_OSC_END if osc else _DCS_END).search(buf, body)
        if end is None or (end.end() == len(buf) and end.group() in (b"\x1b", b"\xc2")):
            upto = len(buf) if end is None else end.start()  # a trailing ESC may begin its ST
            if upto - start > MAX_SEQUENCE:
                self._discard = b"osc" if osc else b"dcs"
                self._discarding(buf, out, upto)
            else:
                self._held = buf[start:]
            return -1
        stop = end.end() if end.group() in _TERMINATORS else end.start()
        query = end.start() - start > MAX_SEQUENCE or (
            is_osc_query(buf[start + 2 : end.start()]) if osc else buf[body - 2 : body] in DCS_QUERIES
        )
        if not query:
            out.append(buf[start:stop].replace(b"\x05", b""))
        return stop

    def _discarding(self, buf: bytes, out: list[bytes], pos: int = 0) -> int:
        """Drop the rest of an overlong sequence; where it ended (len(buf) if it goes on)."""
        if self._discard == b"csi":
            body = _CSI_BODY.match(buf, pos)
            assert body is not None  # matches the empty string
            out.append(body.group().translate(None, _NOT_EXECUTED))
            at = body.end()
            if at == len(buf):
                return at
            self._discard = None
            return at + 1 if 0x40 <= buf[at] <= 0x7E else at
        end = (_OSC_END if self._discard == b"osc" else _DCS_END).search(buf, pos)
        if end is None:
            return len(buf)
        if end.end() == len(buf) and end.group() in (b"\x1b", b"\xc2"):
            self._held = end.group()  # perhaps the start of the terminator
            return len(buf)
        self._discard = None
        return end.end() if end.group() in _TERMINATORS else end.start()


def _tail_start(buf: bytes, pos: int) -> int:
    """Where a sequence that the end of ``buf`` cut off starts (``len(buf)`` if none)."""
    lo = max(pos, len(buf) - MAX_SEQUENCE - 2)
    last = max(buf.rfind(b"\x1b", lo), buf.rfind(b"\xc2", lo))
    return last if last >= 0 and _TAIL.fullmatch(buf, last) else len(buf)
