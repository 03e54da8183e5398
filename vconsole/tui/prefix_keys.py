"""The prefix-key table: each key after the prefix, the action it runs, and its help line.

The help screen, the status-line hint and the dispatch are all made from
PREFIX_KEYS, so a command key is added or changed here and nowhere else.
Actions are Textual action strings run with the main screen as their
namespace (``app.`` ones run on the app).
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX_ITSELF = "prefix"  # in the table: the configured prefix key, pressed a second time
DEFAULT_PREFIX = "ctrl+right_square_bracket"


@dataclass(frozen=True)
class PrefixKey:
    """Keys after the prefix that share one help line, and the action each key runs."""

    shown: str  # the keys as the help writes them: "n / p", "1-9"
    help: str
    actions: tuple[tuple[str, str], ...]  # (Textual key name, action)


PREFIX_KEYS = (
    PrefixKey("n / p", "next / previous tab", (("n", "step_tab(1)"), ("p", "step_tab(-1)"))),
    PrefixKey("1-9", "tab by number", tuple((str(n), f"tab_number({n})") for n in range(1, 10))),
    PrefixKey("u", "next console with unread output", (("u", "next_unread"),)),
    PrefixKey("a", "next console with an unacknowledged alert", (("a", "next_alert"),)),
    PrefixKey("e", "events: panics, Oops, logins; Enter jumps to one", (("e", "events"),)),
    PrefixKey("w", "close the tab (the session stays in the broker)", (("w", "close_tab"),)),
    PrefixKey("l", "focus the guest list", (("l", "focus_guests"),)),
    PrefixKey("b", "hide / show the guest list", (("b", "toggle_guests"),)),
    PrefixKey("s", "snapshot the console", (("s", "snapshot"),)),
    PrefixKey("r", "restore a snapshot", (("r", "restore"),)),
    PrefixKey("v", "the console's log: times, search, boots", (("v", "log_view"),)),
    PrefixKey(":", "command palette", (("colon", "app.command_palette"), (":", "app.command_palette"))),
    PrefixKey("?", "this help", (("question_mark", "help"), ("?", "help"))),
    PrefixKey("q", "quit", (("q", "app.quit"),)),
    PrefixKey("prefix", "send the prefix key itself to the guest", ((PREFIX_ITSELF, "send_prefix"),)),
)

_ACTIONS = {key: action for row in PREFIX_KEYS for key, action in row.actions}


def prefix_action(key: str, prefix: str) -> str | None:
    """The action for ``key`` pressed after ``prefix``, or None for a key that means nothing."""
    return _ACTIONS.get(PREFIX_ITSELF if key == prefix else key)


def prefix_hint() -> str:
    """The command keys in one line, for the status bar while a command key is awaited."""
    return "  ".join(
        row.shown.split(" ")[0] for row in PREFIX_KEYS if all(k != PREFIX_ITSELF for k, _ in row.actions)
    )


def key_label(key: str) -> str:
    """``ctrl+right_square_bracket`` as a person writes it: ``^]``."""
    names = {"right_square_bracket": "]", "left_square_bracket": "[", "backslash": "\\"}
    if key.startswith("ctrl+"):
        rest = key[5:]
        return "^" + names.get(rest, rest.upper() if len(rest) == 1 else rest)
    return key
