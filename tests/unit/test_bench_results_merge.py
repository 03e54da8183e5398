"""RESULTS.md is merged per benchmark: running one benchmark keeps the others' figures."""

from __future__ import annotations

from pathlib import Path

from benchmarks.report import Report, Row, Stats, write_results


def _report(bench: str, value: float, note: str) -> Report:
    report = Report()
    report.add([Row(bench, "speed", "MB/s", Stats([value, value + 1]), "ref", Stats([2.0]),
                    target=">= 1x", ratio_min=1.0)])
    report.note(bench, note)
    report.seconds[bench] = 1.0
    report.load[bench] = 0.5
    return report


def test_a_later_run_replaces_only_its_own_section(tmp_path: Path) -> None:
    md, data = tmp_path / "RESULTS.md", tmp_path / "results.json"
    write_results(_report("relay", 10.0, "first relay"), "python -m benchmarks relay", md, data)
    write_results(_report("engine", 3.0, "engine run"), "python -m benchmarks engine", md, data)
    write_results(_report("relay", 20.0, "second relay"), "python -m benchmarks relay", md, data)
    text = md.read_text()
    assert "second relay" in text and "first relay" not in text
    assert "engine run" in text
    assert "| relay | speed | 20.5 [20..21] |" in text
    assert "| engine | speed | 3.5 [3..4] |" in text
    # Sections keep the benchmarks' own order, whatever order they ran in.
    assert text.index("## relay") < text.index("## engine")
    assert "load average 0.50 at start" in text


def test_an_unreadable_data_file_starts_afresh(tmp_path: Path) -> None:
    md, data = tmp_path / "RESULTS.md", tmp_path / "results.json"
    data.write_text("{not json")
    write_results(_report("echo", 1.0, "echo run"), "python -m benchmarks echo", md, data)
    assert "echo run" in md.read_text()
