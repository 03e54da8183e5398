"""Engine parse rate (plain, SGR-heavy, cursor addressing) against pyte and tmux, via benchmarks/engine.py."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from benchmarks import engine
from benchmarks.report import Report, Row, Stats


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows; runs of the three parsers are interleaved."""
    size, pyte_size, repeat = (int(0.5e6), int(0.05e6), 3) if quick else (int(2e6), int(0.2e6), 5)
    rng = random.Random(1234)
    streams = {"plain text": engine.plain_text(size, rng), "SGR-heavy": engine.sgr_heavy(size, rng),
               "cursor addressing": engine.cursor_addressing(size, rng)}
    with tempfile.TemporaryDirectory(prefix="vcbg") as tmp:
        for name, data in streams.items():
            small = data[:pyte_size]
            eng, py, tm = [], [], []
            for i in range(repeat):
                eng.append(len(data) / engine.time_engine(data) / 1e6)
                if i < 3:  # pyte is slow: three runs are enough for its median
                    t = engine.time_pyte(small)
                    if t is not None:
                        py.append(len(small) / t / 1e6)
                t = engine.time_tmux(data, Path(tmp))
                if t is not None:
                    tm.append(len(data) / t / 1e6)
            e = Stats(eng)
            report.add([
                Row("engine", name, "MB/s", e, "pyte", Stats(py) if py else None, "≥ 30x pyte", ratio_min=30),
                Row("engine", name, "MB/s", e, "tmux (detached pane)", Stats(tm) if tm else None),
            ])
    report.note("engine", f"{size / 1e6:g} MB per stream for the engine and tmux, {pyte_size / 1e6:g} MB for "
                f"pyte; 80x24, 16 KiB feeds; {repeat} runs (pyte 3). tmux: `cat` in a detached pane minus an "
                "empty `cat` (benchmarks/engine.py).")
