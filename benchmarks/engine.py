"""Parsing speed of the terminal engine, side by side with pyte and tmux.

Run with ``python -m benchmarks.engine``. Three streams are generated
(plain text, SGR-heavy, cursor addressing); the same bytes are fed to the
engine and to pyte in 16 KiB reads, and to a detached tmux pane running
``cat`` of the stream. Prints MB/s and ratios (best of ``--repeat`` runs;
pyte runs once, it is slow). CPU time is used for the engine and pyte, so a
busy machine disturbs the figures less; tmux is timed by the wall clock.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vconsole.term.terminal import Terminal

COLS, ROWS = 80, 24
CHUNK = 16384
WORDS = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "enim", "ad", "minim", "veniam", "quis", "nostrud", "exercitation", "ullamco", "laboris", "nisi", "aliquip", "ex", "ea", "commodo", "consequat"]


def plain_text(size: int, rng: random.Random) -> bytes:
    """Lines of words, like a build log or ``cat`` of a text file."""
    out: list[str] = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
        out.append(line)
        total += len(line) + 2
    return "\r\n".join(out).encode()


def sgr_heavy(size: int, rng: random.Random) -> bytes:
    """Every word in its own colour/attributes (16, 256 and truecolor)."""
    out: list[str] = []
    total = 0
    while total < size:
        parts = []
        for _ in range(rng.randint(3, 10)):
            kind = rng.randrange(4)
            if kind == 0:
                sgr = f"\x1b[{rng.choice((1, 3, 4, 7))};{rng.randint(30, 37)}m"
            elif kind == 1:
                sgr = f"\x1b[38;5;{rng.randrange(256)}m"
            elif kind == 2:
                sgr = f"\x1b[38;2;{rng.randrange(256)};{rng.randrange(256)};{rng.randrange(256)}m"
            else:
                sgr = f"\x1b[48:5:{rng.randrange(256)}m"
            parts.append(f"{sgr}{rng.choice(WORDS)}\x1b[0m")
        line = " ".join(parts)
        out.append(line)
        total += len(line) + 2
    return "\r\n".join(out).encode()


def cursor_addressing(size: int, rng: random.Random) -> bytes:
    """Full-screen-program style: position, short text, erase, scroll region moves."""
    out: list[str] = []
    total = 0
    while total < size:
        kind = rng.randrange(6)
        y, x = rng.randint(1, ROWS), rng.randint(1, COLS - 12)
        if kind == 0:
            s = f"\x1b[{y};{x}H{rng.choice(WORDS)}"
        elif kind == 1:
            s = f"\x1b[{y};{x}H\x1b[K{rng.choice(WORDS)}"
        elif kind == 2:
            s = f"\x1b[{rng.randint(1, 5)}A\x1b[{rng.randint(1, 9)}C{rng.choice(WORDS)}"
        elif kind == 3:
            s = f"\x1b[{y}d\x1b[{x}G\x1b[7m{rng.choice(WORDS)}\x1b[m"
        elif kind == 4:
            s = f"\x1b[{y};{x}H\x1b[2X\x1b[1P\x1b[2@"
        else:
            s = f"\x1b[2;{ROWS - 1}r\x1b[{ROWS - 1};1H\n{rng.choice(WORDS)}\x1b[r"
        out.append(s)
        total += len(s)
    return "".join(out).encode()


def time_engine(data: bytes) -> float:
    """Seconds for the engine to parse ``data`` in CHUNK-sized feeds."""
    term = Terminal(COLS, ROWS, scrollback=1000)
    feed = term.feed
    start = time.process_time()
    for i in range(0, len(data), CHUNK):
        feed(data[i:i + CHUNK])
    return time.process_time() - start


def time_pyte(data: bytes) -> float | None:
    """Seconds for pyte to parse ``data``, or None if pyte is missing."""
    try:
        import pyte
    except ImportError:
        return None
    screen = pyte.Screen(COLS, ROWS)
    stream = pyte.ByteStream(screen)
    start = time.process_time()
    for i in range(0, len(data), CHUNK):
        stream.feed(data[i:i + CHUNK])
    return time.process_time() - start


def time_tmux(data: bytes, workdir: Path) -> float | None:
    """Seconds for a detached tmux pane to take ``data`` from ``cat`` (None without tmux).

    A pty holds only a few KiB, so ``cat`` ends only once tmux has parsed
    nearly everything; the time of an empty stream is subtracted.
    """
    tmux = shutil.which("tmux")
    if tmux is None:
        return None
    sock = str(workdir / f"bench{time.monotonic_ns()}.sock")  # a fresh server each time
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    run = lambda *a: subprocess.run([tmux, "-S", sock, *a], env=env, check=True,  # noqa: E731
                                    capture_output=True, timeout=120)
    run("-f", "/dev/null", "new-session", "-d", "-x", str(COLS), "-y", str(ROWS), "sleep 1000")
    try:
        def once(payload: bytes, tag: str) -> float:
            stream = workdir / f"{tag}.bin"
            done = workdir / f"{tag}.done"
            stream.write_bytes(payload)
            start = time.perf_counter()
            run("new-window", "-d", f"stty raw -echo; cat {stream}; touch {done}; sleep 1000")
            while not done.exists():
                time.sleep(0.001)
            return time.perf_counter() - start

        base = min(once(b"", f"empty{i}") for i in range(3))
        return max(once(data, f"data{time.monotonic_ns()}") - base, 1e-6)
    finally:
        subprocess.run([tmux, "-S", sock, "kill-server"], env=env, capture_output=True, check=False)


def mbps(size: int, seconds: float | None) -> float | None:
    """MB/s, or None."""
    return None if seconds is None else size / seconds / 1e6


def best(fn: Callable[[], float | None], repeat: int) -> float | None:
    """The fastest of ``repeat`` runs."""
    times = [fn() for _ in range(repeat)]
    real = [t for t in times if t is not None]
    return min(real) if real else None


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=float, default=1.0, help="MB per stream")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(1234)
    size = int(args.size * 1e6)
    streams = {"plain text": plain_text(size, rng), "SGR-heavy": sgr_heavy(size, rng),
               "cursor addressing": cursor_addressing(size, rng)}
    fmt = "{:<18} {:>10} {:>10} {:>10} {:>10} {:>10}"
    print(fmt.format("stream (MB/s)", "engine", "pyte", "tmux", "eng/pyte", "eng/tmux"))
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in streams.items():
            eng = mbps(len(data), best(lambda d=data: time_engine(d), args.repeat))
            py = mbps(len(data), best(lambda d=data: time_pyte(d), 1))
            tm = mbps(len(data), best(lambda d=data: time_tmux(d, Path(tmp)), args.repeat))

            def show(v: float | None) -> str:
                return "n/a" if v is None else f"{v:.2f}"

            def ratio(a: float | None, b: float | None) -> str:
                return "n/a" if a is None or b is None else f"{a / b:.1f}x"

            print(fmt.format(name, show(eng), show(py), show(tm), ratio(eng, py), ratio(eng, tm)))


if __name__ == "__main__":
    main()
