"""Exit codes of the vconsole command, one per kind of failure, so scripts can tell them apart."""

from __future__ import annotations

import sys
from collections.abc import Callable

from vconsole.config import ConfigError
from vconsole.display_text import printable

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NO_BROKER = 3  # no broker, or attach lost it and was told not to wait (or waited long enough)
EXIT_UNKNOWN = 4
EXIT_STOPPED = 5
EXIT_BUSY = 6
EXIT_REFUSED = 7
EXIT_GONE = 8  # attach: the guest was removed from its host (destroyed) while attached
EXIT_BAD_SNAPSHOT = 10  # a snapshot file that does not validate (corrupt, truncated, too large)
EXIT_NOT_SAVED = 11  # shutdown could not save the sessions: the broker keeps running with them
EXIT_SOME_HOSTS = 12  # ls with hosts: a host could not be listed (unreachable, another version); the rest were

# Broker error codes to exit codes.
BY_ERROR_CODE = {
    "unknown_guest": EXIT_UNKNOWN,
    "unknown_console": EXIT_UNKNOWN,
    "ambiguous": EXIT_UNKNOWN,
    "stopped": EXIT_STOPPED,
    "busy": EXIT_BUSY,
    "read_only": EXIT_REFUSED,
    "forbidden": EXIT_REFUSED,
    "refused": EXIT_REFUSED,  # attach --force would end a broker, or another user's process
    "bad_config": EXIT_USAGE,
    "bad_snapshot": EXIT_BAD_SNAPSHOT,
    "save_failed": EXIT_NOT_SAVED,
}


class CliError(Exception):
    """A failure to report as one line and an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


# An error quotes names and a provider tool's words: shown through printable, up to this long.
MAX_ERROR = 2048


def reporting_errors(run: Callable[[], int]) -> int:
    """``run()``'s exit code; a CliError or ConfigError is one line on stderr and its code, ^C is 130."""
    try:
        return run()
    except CliError as err:
        sys.stderr.write(f"vconsole: {printable(str(err), MAX_ERROR)}\n")
        return err.code
    except ConfigError as err:
        sys.stderr.write(f"vconsole: {printable(str(err), MAX_ERROR)}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
