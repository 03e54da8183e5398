"""The least work a pure-Python engine could do on the cursor-addressing stream.

Run with ``python -m benchmarks.engine_floor``. Times, on the stream of
``benchmarks.engine``, a loop that does each step of the dense path
(``vconsole/term/dense.py``) and nothing more, adding one step per line,
then the engine itself: the gap between the last two lines is the cost of
the real handlers. CPU time, best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from benchmarks import engine
from vconsole.term.actions import Action, lookup
from vconsole.term.terminal import Terminal

PARAMS = "0123456789:;<=>?"


def steps(text: str) -> list[tuple[str, Callable[[], None]]]:
    """(name, function) per step, each doing the work of the one before and more."""
    actions: dict[str, Action] = {}
    for piece in text.split("\x1b[")[1:]:
        seq = piece[:len(piece) - len(piece.lstrip(PARAMS)) + 1]
        actions[seq] = lookup(seq)
    get = actions.get
    chars = [" "] * engine.COLS
    styles = [0] * engine.COLS

    def split() -> None:
        text.split("\x1b[")

    def find() -> None:
        for piece in text.split("\x1b["):
            get(piece)

    def cut() -> None:
        for piece in text.split("\x1b["):
            if get(piece) is None:
                rest = piece.lstrip(PARAMS)
                get(piece[:len(piece) - len(rest) + 1])
                rest[1:]

    def splice() -> None:
        for piece in text.split("\x1b["):
            if get(piece) is None:
                rest = piece.lstrip(PARAMS)
                get(piece[:len(piece) - len(rest) + 1])
                run = rest[1:]
                if run:
                    chars[3:3 + len(run)] = run
                    styles[3:3 + len(run)] = [0] * len(run)

    def noop(t: object, p: list[int]) -> None:
        pass

    def call() -> None:
        for piece in text.split("\x1b["):
            action = get(piece)
            if action is None:
                rest = piece.lstrip(PARAMS)
                action = get(piece[:len(piece) - len(rest) + 1])
                run = rest[1:]
                if run:
                    chars[3:3 + len(run)] = run
                    styles[3:3 + len(run)] = [0] * len(run)
            if action is not None:
                noop(None, action[3])

    data = text.encode()

    def feed() -> None:
        term = Terminal(engine.COLS, engine.ROWS, scrollback=1000)
        for i in range(0, len(data), engine.CHUNK):
            term.feed(data[i:i + engine.CHUNK])

    return [("str.split on ESC [", split), ("+ one dict lookup per piece", find),
            ("+ cutting the sequence from its text", cut),
            ("+ splicing the text into two row lists", splice),
            ("+ one (empty) handler call per CSI", call),
            ("the engine (Terminal.feed, 16 KiB feeds)", feed)]


def main() -> None:
    """Print ms and MB/s per step."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    rng = random.Random(1234)
    engine.plain_text(int(1e6), rng)  # the same stream as benchmarks.engine
    engine.sgr_heavy(int(1e6), rng)
    text = engine.cursor_addressing(int(1e6), rng).decode()
    mb = len(text) / 1e6
    pieces = text.split("\x1b[")[1:]
    runs = sum(1 for p in pieces if p.lstrip(PARAMS)[1:])
    print(f"{len(pieces) / mb:.0f} CSIs and {runs / mb:.0f} text runs per MB")
    for name, fn in steps(text):
        best = min(_time(fn) for _ in range(args.repeat))
        print(f"{name:<45} {best * 1e3 / mb:6.1f} ms/MB {mb / best:6.1f} MB/s")


def _time(fn: Callable[[], None]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


if __name__ == "__main__":
    main()
