"""The table ``vconsole ls`` prints.

Names, ids and states come from providers (fleet files, ``lxc-ls``, ``xl
list``, ``vzlist``): every cell is shown through :func:`printable`, so none
can act on the terminal; ``ls --json`` keeps the exact values.
"""

from __future__ import annotations

import time
from typing import Any

from vconsole.console_events import ConsoleAlert
from vconsole.display_text import printable
from vconsole.units import human

COLUMNS = (
    "GUEST", "ID", "KIND", "STATE", "CONSOLE", "STATUS", "CLIENTS", "UNREAD", "PENDING", "HISTORY", "DROPPED", "ALERT",
)
NUMERIC = frozenset(range(6, 11))  # right-aligned columns


def render_providers(listing: dict[str, Any]) -> str:
    """The header line: the providers the broker runs, with their hosts, failures marked."""
    names = []
    for provider in listing.get("providers", []):
        failed = ", failed" if provider.get("error") else ""
        names.append(f"{printable(str(provider['name']))} ({printable(str(provider.get('host', '?')))}{failed})")
    broker = listing.get("broker")
    # The system broker says so; a user's own broker is the everyday case and says nothing.
    which = "   (the system broker)" if isinstance(broker, dict) and broker.get("mode") == "system" else ""
    return f"providers: {', '.join(names) or 'none'}{which}\n"


def render_hosts_table(hosts: list[dict[str, Any]], guests: list[dict[str, Any]]) -> str:
    """Several hosts: a line of their states, then the console table with a HOST column in front.

    ``hosts`` are ``ls --json``'s ``hosts`` entries, ``guests`` carry ``host``.
    The table is the one-host table of all guests (so its columns line up),
    each guest's rows led by its host.
    """
    states = []
    for host in hosts:
        name = printable(str(host["name"]))
        if host["state"] == "connected":
            states.append(f"{name} ({host['latency_ms']:.0f} ms)")
        else:
            states.append(f"{name} ({printable(str(host['state']))}: {printable(str(host['reason']), 300)})")
    head = f"hosts: {', '.join(states) or 'none'}\n"
    if not guests:
        return head + "no guests\n"
    header, *rows = _console_rows({"guests": guests}).splitlines()
    names = [printable(str(g["host"])) for g in guests]
    width = max(len("HOST"), *(len(n) for n in names))
    lines = [f"{'HOST'.ljust(width)}  {header}"]
    for guest, name in zip(guests, names, strict=True):
        for i in range(max(1, len(guest["consoles"]))):
            lines.append(f"{(name if i == 0 else '').ljust(width)}  {rows.pop(0)}")
    return head + "\n".join(lines) + "\n"


def render_table(listing: dict[str, Any]) -> str:
    """The providers line, then one line per console, the guest columns only on its first console."""
    return render_providers(listing) + _console_rows(listing)


def alert_cell(alert: dict[str, Any] | None) -> str:
    """A console's unacknowledged alert as the ALERT column shows it: ``PANIC critical``, ``OOM error x3``."""
    try:
        parsed = ConsoleAlert.from_wire(alert)
    except (KeyError, TypeError, ValueError):
        return "?"
    if parsed is None:
        return ""
    more = f" x{parsed.count}" if parsed.count > 1 else ""
    return f"{printable(parsed.name.upper(), 64)} {parsed.severity.value}{more}"


def _console_rows(listing: dict[str, Any]) -> str:
    rows: list[tuple[str, ...]] = []
    for guest in listing["guests"]:
        head = (printable(guest["name"]), printable(guest["id"]), printable(guest["kind"]), printable(guest["state"]))
        consoles = guest["consoles"] or [None]
        for i, con in enumerate(consoles):
            left = head if i == 0 else ("", "", "", "")
            if con is None:
                rows.append((*left, "-", "", "", "", "", "", "", ""))
                continue
            dropped = con["dropped"] + con.get("lost", 0)
            rows.append(
                (
                    *left,
                    printable(con["name"]),
                    _status(con),
                    str(con["clients"]),
                    human(con["unread"]),
                    human(con["pending"]),
                    human(con["history"]),
                    human(dropped),
                    alert_cell(con.get("alert")),
                )
            )
    if not rows:
        return "no guests\n"
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]

    def fmt(cells: tuple[str, ...]) -> str:
        parts = [c.rjust(w) if i in NUMERIC else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    return "\n".join([fmt(COLUMNS), *(fmt(r) for r in rows)]) + "\n"


def _status(con: dict[str, Any]) -> str:
    """The console's state; a busy one's with who holds it (pid, user, since, command), when known."""
    holder = con.get("holder")
    if not isinstance(holder, dict):
        return printable(con["state"])
    since = holder.get("since")
    when = f" since {time.strftime('%H:%M:%S', time.localtime(since))}" if isinstance(since, (int, float)) else ""
    return printable(f"{con['state']} by pid {holder['pid']} {holder['user']}{when}: {holder['command']}", 80)
