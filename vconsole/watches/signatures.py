"""What a watch looks for: the built-in kernel signatures, and user watches from config.toml.

A :class:`Signature` matches the reading text of one line (escape sequences
stripped, see :func:`vconsole.consolelog.reading.reading_text`): its regex
must be found and none of its ignore regexes. ``hints`` are bytes regexes the
matcher runs over whole chunks of raw output to find the few lines worth
turning into text: together they must match every plain-ASCII line the
regex matches (a superset). A hint with a literal start (``Oops:``) is
found at memory speed, an alternation is many times slower, so the
built-ins give one literal hint per alternative. For a user watch the
regex itself is the hint when that is safe (no anchors, word boundaries or
lookbehinds, which mean other things on a buffer of many lines); a
signature without hints makes every line a candidate (slower).

``literals`` are the fastest kind of hint: ASCII strings, one of which every
hit line's text holds, found with ``bytes.find`` and skipped for a whole
read when one of their bytes is not in it. The built-ins have them; a user
watch has one when its regex starts with a literal run (after ``^``, ``\\A``
or ``\\b``), as ``segfault at``, ``^ERROR:`` or ``panic\\s+-`` do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vconsole.domain import SEVERITY_ORDER as _SEVERITY_ORDER
from vconsole.domain import Severity
from vconsole.watches.quiet import QuietKind, QuietWatch

# Syntax that means something else on a buffer of many lines than on one line's text.
_CONTEXTUAL = re.compile(r"\\[AZbB]|[$^]|\(\?<[=!]")


# What may start a user regex without changing which lines hold its first literal run.
_LEADING_ANCHOR = re.compile(r"\^|\\[Ab]")
# One character of a literal run: printable ASCII that is not special, or a punctuation escape.
_RUN_CHAR = re.compile(r"[ !\x22#%&',\-/0-9:;<=>@A-Z\]_`a-z~]|\\([ -/:-@\[-`{-~])")
# After a run's last character, these may make it optional.
_OPTIONAL_NEXT = "?*{"


def derive_literal(regex: re.Pattern[str]) -> bytes | None:
    """An ASCII literal every line ``regex`` matches holds (its leading literal run), or None."""
    pattern = regex.pattern
    if regex.flags & (re.IGNORECASE | re.VERBOSE) or re.search(r"(?<!\\)(?:\\\\)*\|", pattern):
        return None  # case folded, spaced out, or alternatives: no one run every match holds
    pos = 0
    while m := _LEADING_ANCHOR.match(pattern, pos):
        pos = m.end()
    run: list[str] = []
    while m := _RUN_CHAR.match(pattern, pos):
        run.append(m.group(1) or m.group(0))
        pos = m.end()
    if run and pattern[pos : pos + 1] in tuple(_OPTIONAL_NEXT):
        run.pop()  # "abc?": the c may be missing
    literal = "".join(run)
    return literal.encode() if literal_usable(literal.encode()) else None


def literal_usable(literal: bytes) -> bool:
    """Whether the matcher can look for ``literal`` in raw bytes (see LineMatcher)."""
    # A tab reads as one space at least: a literal must not need two in a row.
    return len(literal) >= 2 and literal.strip() != b"" and b"  " not in literal and all(
        0x20 <= b < 0x7F for b in literal
    )


def derive_hints(regex: re.Pattern[str]) -> tuple[re.Pattern[bytes], ...] | None:
    """Bytes regexes finding, in raw output, every plain-ASCII line ``regex`` matches; None if unsafe."""
    if regex.flags & (re.MULTILINE | re.DOTALL | re.VERBOSE) or _CONTEXTUAL.search(regex.pattern):
        return None
    scoped = "(?i:{})" if regex.flags & re.IGNORECASE else "(?:{})"
    try:
        return (re.compile(scoped.format(regex.pattern).encode()),)
    except (re.error, UnicodeEncodeError):
        return None


@dataclass(frozen=True)
class Signature:
    """A named regex over line text, with ignore regexes, a severity and the consoles it covers.

    ``guests`` holds guest names or ``provider:id``; ``consoles`` console
    names or indexes as strings; None means all.
    """

    name: str
    severity: Severity
    regex: re.Pattern[str]
    ignore: tuple[re.Pattern[str], ...] = ()
    hints: tuple[re.Pattern[bytes], ...] | None = None
    guests: frozenset[str] | None = None
    consoles: frozenset[str] | None = None
    # ASCII literals without two spaces in a row, one in every hit line's text: found in a
    # line's UTF-8 bytes, colours removed and tabs as spaces, if its text has them. The
    # matcher looks for these instead of ``hints`` when there are any.
    literals: tuple[bytes, ...] = ()

    @property
    def literal_hints(self) -> bool:
        """Whether the matcher finds this watch's candidate lines by its literals."""
        return bool(self.literals)

    def matches(self, text: str) -> bool:
        """Whether ``text`` (one line's reading text) is a hit."""
        return self.regex.search(text) is not None and not any(i.search(text) for i in self.ignore)

    def applies_to(self, provider: str, guest_id: str, guest_name: str, console: str, index: int) -> bool:
        """Whether this watch covers the console ``index`` (named ``console``) of that guest."""
        if self.guests is not None and not (
            guest_name in self.guests or f"{provider}:{guest_id}" in self.guests
        ):
            return False
        return self.consoles is None or console in self.consoles or str(index) in self.consoles


def _builtin(name: str, severity: Severity, pattern: str, ignore: Sequence[str] = (),
             hints: Sequence[bytes] | None = None) -> Signature:
    """A built-in; without ``hints``, one per ``|`` alternative of ``pattern`` (literals only)."""
    regex = re.compile(pattern)
    if hints is None:
        hints = [alternative.encode() for alternative in pattern.split("|")]
    assert all(literal_usable(h) for h in hints), name
    return Signature(
        name, severity, regex, tuple(re.compile(i) for i in ignore),
        tuple(re.compile(re.escape(h)) for h in hints), literals=tuple(hints),
    )


# Lines that echo the kernel command line carry words like panic=10 or oops=panic
# and whatever a tester put there: an echo of options, never an event.
_CMDLINE_ECHO = r"Kernel command line:|Command line:"

# A panic ends with "---[ end Kernel panic - not syncing: <reason> ]---", repeating
# its first line: one panic is one event.
_PANIC_TRAILER = r"---\[ end Kernel panic"

BUILTIN: tuple[Signature, ...] = (
    _builtin("panic", Severity.CRITICAL, r"Kernel panic - not syncing", [_CMDLINE_ECHO, _PANIC_TRAILER]),
    _builtin("oops", Severity.CRITICAL, r"Oops:|BUG: unable to handle|kernel BUG at", [_CMDLINE_ECHO]),
    _builtin("oom", Severity.ERROR, r"Out of memory: Killed process|invoked oom-killer"),
    _builtin("hung-task", Severity.ERROR, r"task .* blocked for more than \d+ seconds",
             hints=[b" blocked for more than "]),
    # "Watchdog detected hard LOCKUP", "Kernel panic - not syncing: Hard LOCKUP"; the
    # lower-case form is in other reports too, and in the watchdog's notices (ignored).
    _builtin(
        "lockup", Severity.CRITICAL, r"soft lockup - CPU#|[Hh]ard LOCKUP|hard lockup",
        # At boot without a perf counter the NMI watchdog says it turns the hard
        # lockup detector off ("Shutting down hard lockup detector on all cpus",
        # after "Perf event create on CPU 0 failed"): a notice, not a lockup.
        [r"NMI watchdog: (Shutting down hard lockup detector|Perf event create|Enabled|disabled)"],
        [b"soft lockup - CPU#", b"ard LOCKUP", b"hard lockup"],
    ),
    _builtin("rcu-stall", Severity.ERROR, r"rcu_sched detected stalls|rcu: INFO: rcu_.* detected stalls",
             hints=[b"detected stalls"]),
    _builtin("init-died", Severity.CRITICAL, r"init\[1\]: segfault|Attempted to kill init", [_CMDLINE_ECHO],
             [b"init[1]: segfault", b"Attempted to kill init"]),
    _builtin(
        "read-only-remount", Severity.ERROR, r"Remounting filesystem read-only|remounted read-only",
        # An orderly shutdown remounts / read-only on purpose (systemd-shutdown[1]: ...).
        [r"systemd-shutdown\[\d+\]"],
    ),
    # A prompt waits for input, so it has no newline: the matcher's flush() sees it.
    # The regex is anchored (a "login: " inside a sentence is no prompt), so its hint is given.
    _builtin("login", Severity.INFO, r"login: $", hints=[b"login: "]),
)


@dataclass(frozen=True)
class WatchesConfig:
    """The user watches parsed from ``[[watches]]``, and one line per watch that was skipped."""

    watches: tuple[Signature, ...]
    errors: tuple[str, ...]
    quiet: tuple[QuietWatch, ...] = ()


_WATCH_KEYS = ("name", "regex", "severity", "guests", "consoles", "ignore", "silence", "activity")


class _BadField(Exception):
    """One field of one watch is wrong: the key, and why."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"{key}: {why}")


def _compile(value: object, key: str) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise _BadField(key, "must be a non-empty string")
    try:
        return re.compile(value)
    except re.error as exc:
        raise _BadField(key, str(exc)) from None


def _names(value: object, key: str) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        (isinstance(v, str) and v) or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)
        for v in value
    ):
        raise _BadField(key, "must be a list of names (or console indexes)")
    return frozenset(str(v) for v in value)


def _quiet_watch(table: dict[str, Any], where: str, name: str, severity: Severity) -> QuietWatch:
    kinds = [k for k in QuietKind if k.value in table]
    if len(kinds) > 1 or "regex" in table or "ignore" in table:
        raise _BadField(where, "give one of regex, silence or activity")
    kind = kinds[0]
    seconds = table[kind.value]
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 1 <= seconds <= 7 * 86400:
        raise _BadField(f"{where}.{kind.value}", "must be a number of seconds from 1 to 604800")
    return QuietWatch(
        name, kind, float(seconds), severity, _names(table.get("guests"), f"{where}.guests"),
        _names(table.get("consoles"), f"{where}.consoles"),
    )


def _one_watch(table: object, where: str) -> Signature | QuietWatch:
    if not isinstance(table, dict):
        raise _BadField(where, "must be a table")
    for key in table:
        if key not in _WATCH_KEYS:
            raise _BadField(f"{where}.{key}", f"is not a setting (known: {', '.join(_WATCH_KEYS)})")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _BadField(f"{where}.name", "must be a non-empty string")
    severity = table.get("severity", Severity.WARNING.value)
    if severity not in _SEVERITY_ORDER:
        raise _BadField(f"{where}.severity", f"must be one of {', '.join(_SEVERITY_ORDER)}")
    if any(k.value in table for k in QuietKind):
        return _quiet_watch(table, where, name.strip(), Severity(severity))
    regex = _compile(table.get("regex"), f"{where}.regex")
    ignore = table.get("ignore", [])
    if not isinstance(ignore, list):
        raise _BadField(f"{where}.ignore", "must be a list of regexes")
    return Signature(
        name.strip(), Severity(severity), regex,
        tuple(_compile(v, f"{where}.ignore[{i}]") for i, v in enumerate(ignore)),
        derive_hints(regex), _names(table.get("guests"), f"{where}.guests"),
        _names(table.get("consoles"), f"{where}.consoles"),
        literals=(literal,) if (literal := derive_literal(regex)) is not None else (),
    )


def parse_watches(value: Any, source: str = "config.toml") -> WatchesConfig:
    """The ``[[watches]]`` array of tables: good watches kept, each bad one skipped with one line.

    An error names the file and the key (``config.toml: watches[2].regex:
    unterminated character set at position 4``); indexes count from 0 as in
    the array. A ``watches`` that is not an array of tables is one error.
    """
    if value is None:
        return WatchesConfig((), ())
    if not isinstance(value, list):
        return WatchesConfig((), (f"{source}: watches: must be an array of tables ([[watches]])",))
    watches: list[Signature] = []
    quiet: list[QuietWatch] = []
    errors: list[str] = []
    for n, table in enumerate(value):
        try:
            watch = _one_watch(table, f"watches[{n}]")
        except _BadField as exc:
            errors.append(f"{source}: {exc}")
            continue
        if isinstance(watch, QuietWatch):
            quiet.append(watch)
        else:
            watches.append(watch)
    return WatchesConfig(tuple(watches), tuple(errors), tuple(quiet))
