"""How the daemons (``serve``, ``lab``) log: to stderr, for a terminal or for the journal.

In a terminal each line carries its time. Under systemd, whose journal
stamps every line itself, ``$JOURNAL_STREAM`` names the stream stderr is
connected to: then a line carries no time of its own and starts with its
syslog priority as ``<N>`` (sd-daemon(3)), so ``journalctl -p warning``
finds the broker's warnings. Every message is shown through printable, since
log lines quote guest names and tools' words.
"""

from __future__ import annotations

import logging
import os
import sys

from vconsole.display_text import printable

MAX_LINE = 8192
# logging levels as syslog priorities (sd-daemon(3)'s SD_ERR ... SD_DEBUG).
_PRIORITY = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
DEBUG_PRIORITY = 7


def syslog_priority(level: int) -> int:
    """The syslog priority of a logging level (debug for anything below INFO)."""
    return next((priority for at_least, priority in _PRIORITY if level >= at_least), DEBUG_PRIORITY)


class PrintableFormatter(logging.Formatter):
    """Messages shown through printable (tracebacks as they are)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record), MAX_LINE)


class JournalFormatter(PrintableFormatter):
    """``<N>name: message``, every line of a multi-line record (a traceback) with its ``<N>``."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def stderr_is_journal() -> bool:
    """Whether stderr is the journal stream ``$JOURNAL_STREAM`` names (``DEVICE:INODE``).

    Compared with stderr itself: a program run from a service's shell inherits
    the variable but may write to a terminal or a file.
    """
    try:
        device, inode = (int(part) for part in os.environ.get("JOURNAL_STREAM", "").split(":"))
        status = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (status.st_dev, status.st_ino) == (device, inode)


def setup_logging(verbose: bool) -> None:
    """Log to stderr at INFO (DEBUG when ``verbose``), in the journal's format when it is the journal."""
    handler = logging.StreamHandler()
    if stderr_is_journal():
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(PrintableFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
