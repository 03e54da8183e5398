"""Names from a fleet file (as from any provider) never act on the admin's terminal.

A fleet whose guest and host names carry a retitling OSC, a screen clear, a
carriage return, a bidi override and Textual markup goes through ``ls``,
``ls --json`` (exact values), attach's banner and error messages, and the
TUI in a tmux pane: the text shows escaped, the terminal's title stays.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab_host import LabHost
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import PREFIX, quit_tui, tui_command

HOST = "lab\x1b]2;HOSTILE-HOST\x07"
# id: (name, how printable() shows it)
NAMES = {
    "201": ("evil\x1b]0;PWNED\x07x", "evil^[]0;PWNED^Gx"),
    "202": ("clr\x1b[2Jx", "clr^[[2Jx"),
    "203": ("cr\rback", "cr^Mback"),
    "204": ("bidi\u202etxt.exe", "bidi\\u202etxt.exe"),
    "205": ("[/x]markup", "[/x]markup"),
}
STOPPED = ("205",)  # attaching to it is refused with its name in the message


def _toml(value: str) -> str:
    return json.dumps(value)  # a TOML basic string: \u escapes are the same


def write_hostile_fleet(host: LabHost) -> Path:
    lines = [f"host = {_toml(HOST)}"]
    for gid, (name, _) in NAMES.items():
        lines += ["", "[[container]]", f"id = {gid}", f"name = {_toml(name)}", "vttys = 1",
                  'init = ["/bin/sh", "-c", "echo booted; exec sleep 600"]']
        if gid in STOPPED:
            lines.append("autostart = false")
    path = host.base / "hostile.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def hostile(lab_host: LabHost) -> LabHost:
    lab_host.start_lab(write_hostile_fleet(lab_host))
    lab_host.start_broker()
    deadline = time.monotonic() + 20
    while len(json.loads(lab_host.cli("ls", "--json").stdout)["guests"]) < len(NAMES):
        assert time.monotonic() < deadline, "the broker never listed the fleet"
        time.sleep(0.1)
    return lab_host


def assert_inert(text: str) -> None:
    """Nothing in ``text`` but printable characters and newlines."""
    bad = {c for c in text if not c.isprintable() and c != "\n"}
    assert not bad, f"control or format characters reached the terminal: {bad!r} in {text!r}"


def test_ls_shows_names_escaped_and_json_keeps_them_exact(hostile: LabHost) -> None:
    table = hostile.cli("ls")
    assert table.returncode == 0, table.stderr
    assert_inert(table.stdout + table.stderr)
    for _, shown in NAMES.values():
        assert shown in table.stdout
    raw = hostile.cli("ls", "--json")
    assert "\x1b" not in raw.stdout and "\r" not in raw.stdout and "\u202e" not in raw.stdout
    guests = {g["id"]: g for g in json.loads(raw.stdout)["guests"]}
    assert {gid: guests[gid]["name"] for gid in NAMES} == {gid: name for gid, (name, _) in NAMES.items()}
    assert {g["host"] for g in guests.values()} == {HOST}


def test_attach_banner_and_errors_show_names_escaped(hostile: LabHost) -> None:
    # The escape as input: attach, print the banner, detach at once.
    attached = hostile.cli("attach", "201", input="\x1d.")
    assert attached.returncode == 0, attached.stderr
    assert "attached to evil^[]0;PWNED^Gx vtty0" in attached.stderr
    assert_inert(attached.stderr)

    no_console = hostile.cli("attach", "202", "7")
    assert no_console.returncode == 4
    assert no_console.stderr.startswith("vconsole: clr^[[2Jx has no console"), no_console.stderr
    stopped = hostile.cli("attach", "205")
    assert stopped.returncode == 5 and "[/x]markup" in stopped.stderr, stopped.stderr
    unknown = hostile.cli("attach", "who\x1b[2Jis\u202ethis")
    assert unknown.returncode == 4
    for result in (no_console, stopped, unknown):
        assert_inert(result.stderr)
        assert len(result.stderr.splitlines()) == 1, result.stderr


@pytest.fixture
def pane(hostile: LabHost) -> Iterator[TmuxPane]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    p = TmuxPane(env, cols=120, rows=30)
    yield p
    p.close()


def _pane_title(pane: TmuxPane) -> str:
    return pane._tmux("display-message", "-p", "-t", "0", "#{pane_title}").strip()


@needs_tmux
def test_tui_shows_names_escaped_and_keeps_the_terminal_title(hostile: LabHost, pane: TmuxPane) -> None:
    title = _pane_title(pane)
    pane.type(tui_command(hostile), "Enter")
    screen = pane.wait_until(lambda s: "evil^[]0;PWNED^Gx" in s and "connected" in s, "the escaped guest list", timeout=30)
    for _, shown in NAMES.values():
        assert shown in screen
    assert "lab^[]2;HOSTILE-HOST^G" in screen  # the host line of the tree
    # Open the retitling guest's console: its tab title is escaped as well.
    pane.type(PREFIX)
    pane.type("l")
    pane.type("Escape", "evil")
    time.sleep(0.5)
    pane.type("Enter")
    pane.wait_until(lambda s: "evil^[]0;PWNED^Gx:vtty0" in s.splitlines()[0], "the escaped tab title")
    pane.wait_for("booted")
    # The markup guest in the command palette (prefix :) and as a tab: shown as typed, no crash.
    pane.type(PREFIX)
    pane.type(":")
    pane.type("markup")
    pane.wait_for("[/x]markup")
    pane.type("Escape")
    time.sleep(0.3)
    assert _pane_title(pane) == title, "a name retitled the terminal"
    assert "PWNED" not in _pane_title(pane) and "HOSTILE" not in _pane_title(pane)
    assert_inert(pane.screen())
    quit_tui(pane)
