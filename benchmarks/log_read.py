"""Reading console logs: ``vconsole log --all --since 1h`` over 1008 consoles, and a time lookup in 1 GiB.

The logs are written by the real writer (LogStore, ConsoleLogWriter) into a
private directory, with explicit arrival times, before anything is timed:

- the fleet: 1008 consoles (the scale fleet's names) x 1 MiB of console-like
  lines (some coloured with SGR sequences), cut into read turns of 64 to
  2048 bytes at arbitrary points (not at line ends), their times spread
  evenly over the last 24 hours, each console's a little apart from the next.
  ``--since 1h`` so selects about 1/24 of every console, ``--since 12h``
  (timed too, no target: the cost of printing many lines) about half.
- one console of 1 GiB (1 MiB segments), read turns of 1 to 8 KiB over 7 days.

Figures: the CLI end to end (a new Python process, the output read through
a pipe and its lines counted, as ``| wc -l`` would), against ``cat`` of every
segment file through the same pipe (what reading the bytes costs at all);
opening every log and finding the offset of ``1h`` ago in it (the CLI's
part that does not grow with the output); a time lookup in the 1 GiB log
(opening it and ConsoleLog.offset_at, a new ConsoleLog each time), against
listing its directory and stat-ing every file. Every file was just written,
so the page cache holds it: these are warm reads.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.report import Report, Row, Stats
from benchmarks.scale import CONTAINERS, VTTYS
from vconsole.consolelog.layout import LogMeta
from vconsole.consolelog.reader import ConsoleLog, console_logs
from vconsole.consolelog.store import LogStore
from vconsole.consolelog.writer import LogLimits

MIB = 1 << 20
HOUR = 3600.0
# A day of logs: `--since 1h` selects about 1/24 of every console, `--since 12h` half.
FLEET_SPAN = 24 * HOUR
BIG_SPAN = 7 * 24 * HOUR
CLI = [sys.executable, "-m", "vconsole", "log", "--all", "--since", "1h"]
CLI_HALF = [sys.executable, "-m", "vconsole", "log", "--all", "--since", "12h"]


def text_pool(size: int, seed: int = 15) -> bytes:
    """``size`` bytes (or a little more) of console-like lines; every 8th one coloured."""
    rng = random.Random(seed)
    units = ["systemd[1]", "kernel", "sshd[812]", "cron[433]", "nginx[1201]", "dhclient[377]"]
    words = ["started", "stopped", "reached", "target", "service", "socket", "mounted", "listening",
             "accepted", "connection", "from"]
    out: list[bytes] = []
    total, n = 0, 0
    while total < size:
        n += 1
        msg = " ".join(rng.choice(words) for _ in range(rng.randint(4, 10)))
        if n % 8 == 0:
            line = f"[\x1b[0;32m  OK  \x1b[0m] {msg} {n}\r\n"
        else:
            line = f"[{n * 0.0137:12.6f}] {rng.choice(units)}: {msg} {n}\r\n"
        out.append(line.encode())
        total += len(out[-1])
    return b"".join(out)


def turns(data: bytes, lo: int, hi: int, rng: random.Random) -> Iterator[bytes]:
    """``data`` cut into read turns of ``lo`` to ``hi`` bytes."""
    pos = 0
    while pos < len(data):
        step = rng.randint(lo, hi)
        yield data[pos : pos + step]
        pos += step


@dataclass
class Built:
    """What was written: appends (read turns), bytes, seconds it took."""

    appends: int = 0
    nbytes: int = 0
    seconds: float = 0.0


def write_log(store: LogStore, meta: LogMeta, chunks: list[bytes], first: float, span: float) -> int:
    """One console's ``chunks`` through its writer, at times spread evenly over ``[first, first + span]``."""
    writer = store.console(meta)
    writer.new_boot(f"boot of {meta.guest_id}", first)
    step = span / max(1, len(chunks) - 1)
    for n, chunk in enumerate(chunks):
        writer.append(chunk, first + n * step)
    writer.close()
    return len(chunks)


def build_fleet(root: Path, consoles: int, per_console: int, now: float) -> Built:
    """``consoles`` logs of ``per_console`` bytes each, their times spread over the last FLEET_SPAN."""
    pool = text_pool(4 * per_console + MIB)
    rng = random.Random(1008)
    store = LogStore(root, total_limit=1 << 40, limits_for=lambda meta: LogLimits(4 * per_console + MIB))
    store.open()
    built = Built()
    began = time.perf_counter()
    try:
        for i in range(consoles):
            guest, vtty = divmod(i, VTTYS)
            meta = LogMeta("lab", str(1000 + guest), f"g{guest}", f"vtty{vtty}", vtty, "testlab")
            at = rng.randrange(0, len(pool) - per_console)
            chunks = list(turns(pool[at : at + per_console], 64, 2048, rng))
            # Each console a little apart, so the merge interleaves them.
            first = now - FLEET_SPAN + (i % 97) * 0.37
            built.appends += write_log(store, meta, chunks, first, FLEET_SPAN - 40)
            built.nbytes += per_console
    finally:
        store.close()
    built.seconds = time.perf_counter() - began
    return built


def build_big(root: Path, size: int, now: float) -> Built:
    """One console log of ``size`` bytes in 1 MiB segments, over the last BIG_SPAN."""
    pool = text_pool(8 * MIB)
    rng = random.Random(1 << 30)
    store = LogStore(root, total_limit=1 << 40, limits_for=lambda meta: LogLimits(2 * size + MIB, MIB))
    store.open()
    chunks: list[bytes] = []
    while sum(map(len, chunks)) < size:
        chunks += turns(pool, 1024, 8192, rng)
    began = time.perf_counter()
    try:
        appends = write_log(store, LogMeta("lab", "1", "big", "vtty0", 0, "testlab"), chunks, now - BIG_SPAN, BIG_SPAN)
    finally:
        store.close()
    return Built(appends, sum(map(len, chunks)), time.perf_counter() - began)


def piped(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """Seconds ``argv`` takes with its output read through a pipe, and its output's bytes and lines."""
    began = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    nbytes = lines = 0
    while block := proc.stdout.read(1 << 20):
        nbytes += len(block)
        lines += block.count(b"\n")
    err = proc.stderr.read() if proc.stderr is not None else b""
    if proc.wait() != 0:
        raise RuntimeError(f"{' '.join(argv[:6])}... exited {proc.returncode}: {err.decode(errors='replace')[-300:]}")
    return time.perf_counter() - began, nbytes, lines


def cli_env(base: Path, root: Path) -> dict[str, str]:
    """An environment whose config points ``vconsole log`` at ``root`` (and no broker anywhere)."""
    config = base / "config" / "vconsole"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(f'[log]\ndir = "{root}"\n')
    (base / "run").mkdir(mode=0o700, exist_ok=True)
    env = dict(os.environ, XDG_CONFIG_HOME=str(base / "config"), XDG_RUNTIME_DIR=str(base / "run"),
               XDG_STATE_HOME=str(base / "state"), VCONSOLE_PROVIDERS="lab")
    # As a user runs it: PYTHONUNBUFFERED (set in some shells and CI) makes every printed line a write(2).
    for key in ("VCONSOLE_SOCKET", "PYTHONUNBUFFERED"):
        env.pop(key, None)
    return env


def segment_files(root: Path) -> list[str]:
    """Every segment file under ``root``, in console then offset order."""
    return sorted(str(p) for p in root.glob("*/*/*/*.seg"))


def open_and_find(root: Path, when: float) -> float:
    """Seconds to open every console log under ``root`` and find the offset of ``when`` in each."""
    began = time.perf_counter()
    for log in console_logs(root):
        log.offset_at(when)
    return time.perf_counter() - began


def lookups(directory: Path, first: float, span: float, count: int) -> tuple[list[float], list[float], list[float]]:
    """Per lookup at a random time: open + offset_at, offset_at on an open log, scandir + stat."""
    rng = random.Random(50)
    cold, warm, listing = [], [], []
    opened = ConsoleLog(directory)
    for _ in range(count):
        when = first + rng.random() * span
        began = time.perf_counter()
        ConsoleLog(directory).offset_at(when)
        cold.append(time.perf_counter() - began)
        began = time.perf_counter()
        opened.offset_at(when)
        warm.append(time.perf_counter() - began)
        began = time.perf_counter()
        with os.scandir(directory) as entries:
            for entry in entries:
                entry.stat()
        listing.append(time.perf_counter() - began)
    return cold, warm, listing


def sizes(quick: bool, free: int) -> tuple[int, int, int, str]:
    """Consoles, bytes per console, bytes of the big log, and a note if scaled down for the disk."""
    consoles = CONTAINERS * VTTYS
    per, big = (64 << 10, 64 * MIB) if quick else (MIB, 1 << 30)
    def need(p: int, b: int) -> int:  # segments, indexes and some slack
        return int((consoles * p + b) * 1.2) + 256 * MIB

    note = ""
    while need(per, big) > free and per > 16 << 10:
        per, big = per // 2, big // 2
        note = (f"scaled down to {per >> 10} KiB per console and a {big >> 20} MiB log: "
                f"{free >> 20} MiB free on the temporary directory's disk")
    return consoles, per, big, note


def run(report: Report, quick: bool = False) -> None:
    """Build the logs, measure, add the rows."""
    repeat = 2  # the full-size CLI run takes about a minute
    with tempfile.TemporaryDirectory(prefix="vcblr") as tmp:
        base = Path(tmp)
        consoles, per, big, scaled = sizes(quick, shutil.disk_usage(base).free)
        now = time.time()
        fleet_root, big_root = base / "fleet", base / "big"
        fleet = build_fleet(fleet_root, consoles, per, now)
        big_log = build_big(big_root, big, now)
        env = cli_env(base, fleet_root)
        segs = segment_files(fleet_root)
        cli: list[float] = []
        half: list[float] = []
        half_lines = 0
        cat: list[float] = []
        finds: list[float] = []
        out = (0, 0)
        for _ in range(repeat):  # alternating, so a busy machine hurts both alike
            took, nbytes, lines = piped(CLI, env)
            cli.append(took)
            out = (nbytes, lines)
            took, _, half_lines = piped(CLI_HALF, env)
            half.append(took)
            cat.append(piped(["cat", *segs])[0])
            finds.append(open_and_find(fleet_root, time.time() - HOUR))
        big_dir = next(big_root.glob("*/*/*"))
        segments = len(list(big_dir.glob("*.seg")))
        cold, warm, listing = lookups(big_dir, now - BIG_SPAN, BIG_SPAN, 10 if quick else 30)
    def ms(xs: list[float]) -> Stats:
        return Stats([x * 1e3 for x in xs])

    fleet_mib = consoles * per / MIB
    report.add([
        Row("logread", f"`vconsole log --all --since 1h`, {consoles} x {per >> 10} KiB", "s", Stats(cli),
            f"cat of every segment file ({fleet_mib:.0f} MiB)", Stats(cat), "< 3 s", absolute_max=3.0),
        Row("logread", f"`vconsole log --all --since 12h` (half of it), {consoles} x {per >> 10} KiB", "s",
            Stats(half), f"cat of every segment file ({fleet_mib:.0f} MiB)", Stats(cat)),
        Row("logread", f"open {consoles} logs + offset_at(1h ago) in each (in-process)", "s", Stats(finds),
            f"cat of every segment file ({fleet_mib:.0f} MiB)", Stats(cat)),
        Row("logread", f"time lookup in a {big >> 20} MiB log: open + offset_at", "ms", ms(cold),
            f"scandir + stat of its {2 * segments + 1} files", ms(listing), "< 50 ms", absolute_max=50.0),
        Row("logread", "time lookup, log already open (offset_at only)", "ms", ms(warm),
            f"scandir + stat of its {2 * segments + 1} files", ms(listing)),
    ])
    if scaled:
        report.note("logread", scaled)
    report.note("logread", f"Fleet: {consoles} console logs written by the real writer, {fleet.nbytes >> 20} MiB in "
                f"{fleet.appends} appends (read turns of 64..2048 bytes) over {FLEET_SPAN / HOUR:.0f} h, in "
                f"{fleet.seconds:.1f} s. The CLI printed {out[0] >> 20} MiB, {out[1]} lines per run (text, escape "
                f"sequences stripped, `guest:console` labels), read through a pipe; cat read {len(segs)} segment "
                "files through the same pipe. Each run is a new process (Python start-up included): about "
                f"{Stats(cli).median / max(1, out[1]) * 1e6:.1f} µs per printed line; `--since 12h` printed "
                f"{half_lines} lines, {Stats(half).median / max(1, half_lines) * 1e6:.1f} µs per line.")
    report.note("logread", f"Big log: {big_log.nbytes >> 20} MiB in {segments} segments of 1 MiB, "
                f"{big_log.appends} appends (1..8 KiB) over {BIG_SPAN / HOUR / 24:.0f} days, written in "
                f"{big_log.seconds:.1f} s; lookups at {len(cold)} random times, each opening a new ConsoleLog "
                "(list the directory, stat each segment, binary search on the segments' headers, then one index).")
    report.note("logread", "All files were just written: the page cache holds them (warm reads).")
