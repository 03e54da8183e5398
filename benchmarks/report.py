"""Results of a benchmark run: medians and spreads, ratios to references, the table, RESULTS.md."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
# RESULTS.md is made from this file, so running one benchmark replaces only its own section.
RESULTS_DATA = Path(__file__).with_name("results.json")
ORDER = ["relay", "echo", "engine", "tui", "tuiterm", "scale", "snapshot", "logrelay", "logscale", "logread",
         "watchrelay", "watchscale", "sshrelay", "sshecho", "tuihosts"]


@dataclass
class Stats:
    """Repeated measurements of one quantity."""

    samples: list[float]

    @property
    def median(self) -> float:
        """The median sample."""
        return statistics.median(self.samples)

    @property
    def lo(self) -> float:
        """The smallest sample."""
        return min(self.samples)

    @property
    def hi(self) -> float:
        """The largest sample."""
        return max(self.samples)

    def show(self, digits: int = 3) -> str:
        """``median [min..max]`` with ``digits`` significant digits."""
        def f(v: float) -> str:
            return f"{v:.{digits}g}"

        if len(self.samples) == 1:
            return f(self.median)
        return f"{f(self.median)} [{f(self.lo)}..{f(self.hi)}]"


@dataclass
class Row:
    """One figure, its reference from the same run, their ratio and the target."""

    bench: str
    metric: str
    unit: str
    value: Stats | None
    reference: str = ""
    ref_value: Stats | None = None
    target: str = ""
    # The ratio must lie in [ratio_min, ratio_max] (if given) to meet the target;
    # ``absolute_max`` bounds the value itself (e.g. RSS under 150 MB).
    ratio_min: float | None = None
    ratio_max: float | None = None
    absolute_max: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """value / reference, medians."""
        if self.value is None or self.ref_value is None or self.ref_value.median == 0:
            return None
        return self.value.median / self.ref_value.median

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None: no target or no figure)."""
        if self.value is None:
            return None
        checks: list[bool] = []
        ratio = self.ratio
        if self.ratio_min is not None or self.ratio_max is not None:
            if ratio is None:
                return None
            if self.ratio_min is not None:
                checks.append(ratio >= self.ratio_min)
            if self.ratio_max is not None:
                checks.append(ratio <= self.ratio_max)
        if self.absolute_max is not None:
            checks.append(self.value.median <= self.absolute_max)
        return all(checks) if checks else None


@dataclass
class Report:
    """Everything one run measured."""

    rows: list[Row] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    # Per benchmark: when it ran and the load average (1 min) at its start; the
    # machine has 2 shared cores, so a figure means little without its load.
    began: dict[str, str] = field(default_factory=dict)
    load: dict[str, float] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)

    def add(self, rows: list[Row]) -> None:
        """Add a benchmark's rows."""
        self.rows += rows

    def note(self, bench: str, text: str) -> None:
        """A line of explanation under a benchmark's section."""
        self.notes.setdefault(bench, []).append(text)


def machine() -> dict[str, str]:
    """CPU model, cores, kernel, Python, date."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "kernel": f"{platform.system()} {platform.release()}",
        "Python": sys.version.split()[0],
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _verdict(row: Row) -> str:
    met = row.met
    if row.value is None:
        return "n/a"
    return "" if met is None else ("met" if met else "MISSED")


def _cells(row: Row) -> list[str]:
    ratio = row.ratio
    return [
        row.bench,
        row.metric,
        row.value.show() if row.value is not None else (row.note or "not available"),
        row.unit,
        row.reference,
        row.ref_value.show() if row.ref_value is not None else "",
        f"{ratio:.2f}x" if ratio is not None else "",
        row.target,
        _verdict(row),
    ]


HEADER = ["bench", "figure", "median [min..max]", "unit", "reference", "reference median [min..max]",
          "ratio", "target", ""]


def table(rows: list[Row]) -> str:
    """A plain-text table for the terminal."""
    cells = [HEADER] + [_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(HEADER))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def now() -> str:
    """The current time, UTC, to the minute."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _row_data(row: Row) -> dict[str, object]:
    data = dict(row.__dict__)
    data["value"] = row.value.samples if row.value is not None else None
    data["ref_value"] = row.ref_value.samples if row.ref_value is not None else None
    return data


def _row_from(data: dict[str, object]) -> Row:
    fields = dict(data)
    for key in ("value", "ref_value"):
        samples = fields.get(key)
        fields[key] = Stats([float(v) for v in samples]) if isinstance(samples, list) else None
    return Row(**fields)  # type: ignore[arg-type]


def merge(report: Report, command: str, path: Path = RESULTS_DATA) -> Report:
    """The sections of earlier runs in ``path`` with this run's benchmarks replaced.

    Writes the merged data back to ``path``; a missing or unreadable file starts afresh.
    """
    try:
        stored = json.loads(path.read_text())
        sections: dict[str, dict[str, object]] = dict(stored["sections"])
    except (OSError, ValueError, KeyError, TypeError):
        sections = {}
    for bench in report.seconds:
        sections[bench] = {
            "command": command,
            "began": report.began.get(bench, now()),
            "load": report.load.get(bench),
            "seconds": report.seconds[bench],
            "notes": report.notes.get(bench, []),
            "rows": [_row_data(r) for r in report.rows if r.bench == bench],
        }
    path.write_text(json.dumps({"machine": machine(), "sections": sections}, indent=1) + "\n")
    merged = Report()
    for bench in sorted(sections, key=lambda b: ORDER.index(b) if b in ORDER else len(ORDER)):
        section = sections[bench]
        merged.add([_row_from(r) for r in section["rows"]])  # type: ignore[attr-defined]
        merged.notes[bench] = list(section["notes"])  # type: ignore[call-overload]
        merged.seconds[bench] = float(section["seconds"])  # type: ignore[arg-type]
        merged.began[bench] = str(section["began"])
        if section.get("load") is not None:
            merged.load[bench] = float(section["load"])  # type: ignore[arg-type]
        merged.commands[bench] = str(section["command"])
    return merged


def markdown(report: Report) -> str:
    """RESULTS.md: the machine, the table, and per benchmark when it ran, its load and notes."""
    out = ["# Benchmark results", "", "Made by `python -m benchmarks` (one benchmark's run replaces only its",
           "section). Every figure is the median of repeated runs with its spread",
           "`[min..max]`, next to its reference measured in the same run, and their",
           "ratio (figure / reference).", "", "## Machine", ""]
    out += [f"- {k}: {v}" for k, v in machine().items() if k != "date"]
    out += ["", "## Figures", "", "| " + " | ".join([*HEADER[:-1], "target met"]) + " |",
            "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in report.rows]
    out += [""]
    for bench, lines in report.notes.items():
        took = report.seconds.get(bench)
        out += [f"## {bench}" + (f" ({took:.0f} s)" if took is not None else ""), ""]
        when = [f"ran {report.began[bench]}" if bench in report.began else "",
                f"load average {report.load[bench]:.2f} at start" if bench in report.load else "",
                f"by `{report.commands[bench]}`" if bench in report.commands else ""]
        if any(when):
            out += ["- " + ", ".join(w for w in when if w)]
        out += [f"- {line}" for line in lines]
        out += [""]
    return "\n".join(out)


def write_results(report: Report, command: str, path: Path = RESULTS,
                  data: Path = RESULTS_DATA) -> None:
    """Merge this run into ``data`` and write RESULTS.md from the merged sections."""
    path.write_text(markdown(merge(report, command, data)))
