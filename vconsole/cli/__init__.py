"""The ``vconsole`` command (the whole command line: cli/command_line.py).

This package loads nothing itself, so ``vconsole bridge`` as ssh runs it
(cli/bridge.py) starts without the parser of every other command: each
host a client reaches costs a login and this start-up.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the vconsole command line; returns the exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["bridge"]:
        from vconsole.cli.bridge import run_as_ssh_runs_it

        code = run_as_ssh_runs_it(words[1:])
        if code is not None:
            return code
    from vconsole.cli.command_line import main as run

    return run(argv)
