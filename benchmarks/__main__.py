"""``python -m benchmarks [--quick] [NAME ...]``: run the benchmarks, print the table, write RESULTS.md.

Names: relay, echo, engine, tui, tuiterm, scale, snapshot, logrelay, logscale, logread,
watchrelay, watchscale, sshrelay, sshecho, tuihosts
(default: all, in that order).
``--quick`` makes every benchmark smaller and does not overwrite RESULTS.md
unless ``--write`` is given. A run replaces only the sections of the benchmarks
it ran (benchmarks/results.json keeps every section's figures).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback

from benchmarks.report import RESULTS, Report, Row, now, table, write_results

MODULES = {
    "relay": "benchmarks.relay",
    "echo": "benchmarks.echo",
    "engine": "benchmarks.engine_bench",
    "tui": "benchmarks.tui",
    "tuiterm": "benchmarks.tui_terminal",
    "scale": "benchmarks.scale",
    "snapshot": "benchmarks.snapshot",
    "logrelay": "benchmarks.log_relay",
    "logscale": "benchmarks.log_scale",
    "logread": "benchmarks.log_read",
    "watchrelay": "benchmarks.watch_relay",
    "watchscale": "benchmarks.watch_scale",
    "sshrelay": "benchmarks.ssh_relay",
    "sshecho": "benchmarks.ssh_echo",
    "tuihosts": "benchmarks.tui_hosts",
}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks; exit 1 if one failed to run."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run ({', '.join(MODULES)}); default all")
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md even with --quick")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args(argv)
    names = args.names or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (choose from {', '.join(MODULES)})")
    report = Report()
    failed = False
    for name in names:
        print(f"== {name} ...", flush=True)
        began = time.monotonic()
        report.began[name] = now()
        report.load[name] = os.getloadavg()[0]
        try:
            importlib.import_module(MODULES[name]).run(report, quick=args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed = True
            traceback.print_exc()
            report.add([Row(name, "(failed)", "", None, note=f"failed: {type(exc).__name__}: {exc}")])
            report.note(name, f"the benchmark failed: {type(exc).__name__}: {exc}")
        report.seconds[name] = time.monotonic() - began
        if args.quick:
            report.note(name, "A --quick trial run (smaller sizes, fewer runs) on a machine shared with other "
                        "work (see the load average): not figures to quote.")
        print(f"   {name}: {report.seconds[name]:.0f} s", flush=True)
    print()
    print(table(report.rows))
    if not args.no_write and (args.write or not args.quick):
        command = "python -m benchmarks" + (" --quick" if args.quick else "") + "".join(f" {n}" for n in args.names)
        write_results(report, command)
        print(f"\nwrote {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
