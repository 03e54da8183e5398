"""Field checks for snapshot files: every value of a ``.vcsnap`` is untrusted.

Each helper takes the decoded map, a key and the dotted path of the map in the
file (``records[2].history``), and either returns a value of the right type
and range or raises :class:`SnapshotError` naming the field and the problem.
"""

from __future__ import annotations

import math
from collections.abc import Set
from typing import Any

from vconsole.snapshot.model import SnapshotError

U8 = 0xFF
U32 = 0xFFFFFFFF
U64 = (1 << 64) - 1


def where(path: str, key: str) -> str:
    """``path.key`` (or ``key`` at the top level)."""
    return f"{path}.{key}" if path else key


def check_map(value: object, path: str, required: Set[str], optional: Set[str] = frozenset()) -> dict[str, Any]:
    """A map with string keys, all of ``required`` and nothing beyond ``optional``."""
    if type(value) is not dict:
        raise SnapshotError(f"{path or 'body'}: expected a map, got {type(value).__name__}")
    for key in value:
        if type(key) is not str:
            raise SnapshotError(f"{path or 'body'}: keys must be strings, got {type(key).__name__}")
    missing = required - set(value)
    if missing:
        raise SnapshotError(f"{where(path, sorted(missing)[0])}: missing")
    unknown = set(value) - required - optional
    if unknown:
        raise SnapshotError(f"{where(path, sorted(unknown)[0])}: unknown field")
    return value


def get_int(m: dict[str, Any], key: str, path: str, lo: int, hi: int) -> int:
    """An integer in [lo, hi] (booleans are not integers here)."""
    value = m.get(key)
    if type(value) is not int:
        raise SnapshotError(f"{where(path, key)}: expected an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise SnapshotError(f"{where(path, key)}: {value} is outside {lo}..{hi}")
    return value


def get_opt_int(m: dict[str, Any], key: str, path: str, lo: int, hi: int) -> int | None:
    """An integer in [lo, hi], or nil."""
    if m.get(key) is None:
        return None
    return get_int(m, key, path, lo, hi)


def get_time(m: dict[str, Any], key: str, path: str) -> float:
    """A Unix time in seconds: a finite, non-negative float (or integer)."""
    value = m.get(key)
    if type(value) is not float and type(value) is not int:
        raise SnapshotError(f"{where(path, key)}: expected a time, got {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result) or not 0 <= result < 1e11:
        raise SnapshotError(f"{where(path, key)}: {result!r} is not a plausible time")
    return result


def get_opt_time(m: dict[str, Any], key: str, path: str) -> float | None:
    """A time or nil."""
    if m.get(key) is None:
        return None
    return get_time(m, key, path)


def get_str(m: dict[str, Any], key: str, path: str, max_len: int = 256, *, empty: bool = True) -> str:
    """A string of at most ``max_len`` characters without control characters."""
    value = m.get(key)
    if type(value) is not str:
        raise SnapshotError(f"{where(path, key)}: expected a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise SnapshotError(f"{where(path, key)}: longer than {max_len}")
    if not empty and not value:
        raise SnapshotError(f"{where(path, key)}: must not be empty")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise SnapshotError(f"{where(path, key)}: contains control characters")
    return value


def get_choice(m: dict[str, Any], key: str, path: str, choices: tuple[str, ...]) -> str:
    """A string that must be one of ``choices``."""
    value = m.get(key)
    if type(value) is not str or value not in choices:
        raise SnapshotError(f"{where(path, key)}: must be one of {', '.join(choices)}, got {value!r:.40}")
    return value


def get_bytes(m: dict[str, Any], key: str, path: str, max_len: int) -> bytes:
    """Binary data of at most ``max_len`` bytes."""
    value = m.get(key)
    if type(value) is not bytes:
        raise SnapshotError(f"{where(path, key)}: expected bytes, got {type(value).__name__}")
    if len(value) > max_len:
        raise SnapshotError(f"{where(path, key)}: {len(value)} bytes exceeds {max_len}")
    return value


def get_opt_bytes(m: dict[str, Any], key: str, path: str, max_len: int) -> bytes | None:
    """Binary data or nil."""
    if m.get(key) is None:
        return None
    return get_bytes(m, key, path, max_len)


def get_list(m: dict[str, Any], key: str, path: str, max_len: int) -> list[Any]:
    """An array of at most ``max_len`` items."""
    value = m.get(key)
    if type(value) is not list:
        raise SnapshotError(f"{where(path, key)}: expected an array, got {type(value).__name__}")
    if len(value) > max_len:
        raise SnapshotError(f"{where(path, key)}: {len(value)} items exceeds {max_len}")
    return value


def get_opt_map(m: dict[str, Any], key: str, path: str) -> Any:
    """The raw value of an optional sub-map (nil -> None); checked by the caller."""
    return m.get(key)


def get_buffer(m: dict[str, Any], key: str, path: str, max_len: int) -> bytes | memoryview:
    """Like :func:`get_bytes`, but also a view into the file (a large bin decoded without a copy)."""
    value = m.get(key)
    if type(value) is memoryview:
        if value.nbytes > max_len:
            raise SnapshotError(f"{where(path, key)}: {value.nbytes} bytes exceeds {max_len}")
        return value
    return get_bytes(m, key, path, max_len)
