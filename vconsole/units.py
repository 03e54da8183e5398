"""Byte counts as people read them (a leaf: imports nothing of vconsole)."""

from __future__ import annotations


def human(n: int) -> str:
    """Bytes in short human units: 0, 512, 1.2K, 3.4M."""
    if n < 1024:
        return str(n)
    for unit in ("K", "M", "G", "T"):
        n_f = n / 1024
        if n_f < 1024 or unit == "T":
            return f"{n_f:.1f}{unit}" if n_f < 10 else f"{n_f:.0f}{unit}"
        n = int(n_f)
    return str(n)
