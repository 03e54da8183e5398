"""Issue 17, acceptance 2 and 3: the TUI over three hosts through a real sshd, driven in tmux like a person.

Each host is its own installation behind the test's sshd (tests/hosts/conftest.py);
the TUI reaches each over ssh in batch mode, one node per host in the tree.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import vconsole_cmd, wait_for
from tests.hosts.conftest import RemoteHost, host_table, other_version_vconsole, write_client_config
from tests.ssh_server import SshServer, needs_sshd, running_sshd
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import active_status, open_console, prefix, quit_tui, tab_bar, vconsole_argv
from vconsole.cli.snapshot_commands import load_file

pytestmark = [*needs_sshd, needs_tmux]

TUI = shlex.join(vconsole_argv()) + "; echo TUI-EXIT=$?"


@pytest.fixture
def pane(runtime: Path) -> Iterator[TmuxPane]:
    p = TmuxPane.shell(cols=160, rows=40)
    yield p
    p.close()


def flat(screen: str) -> str:
    """The screen as one line of words: a notice may wrap inside its box."""
    return " ".join(re.sub(r"[│▎▊▌▐┃]", " ", screen).split())


def host_line(screen: str, host: str) -> str:
    """The tree line of vconsole host ``host`` (the sidebar's first column)."""
    for line in screen.splitlines():
        if re.match(rf"\s*[▼▶]?\s*{re.escape(host)} ", line[:40]):
            return line[:40]
    return ""


def unread_of(text: str) -> float:
    """The first ``+N`` unread badge in ``text`` (0 without one)."""
    found = re.search(r" \+(\d+(?:\.\d)?)([KMGT]?)", text)
    if found is None:
        return 0.0
    return float(found.group(1)) * 1024 ** " KMGT".index(found.group(2) or " ")


def node_unread(screen: str, host: str) -> float:
    """The ``+N`` unread bytes on host ``host``'s node (0 without one)."""
    return unread_of(host_line(screen, host))


def console_lines(screen: str, host: str) -> list[str]:
    """The tree lines under host ``host``'s node (the sidebar's columns)."""
    lines = [line[:30] for line in screen.splitlines()]
    start = next((i for i, line in enumerate(lines) if line == host_line(screen, host)[:30]), None)
    if start is None:
        return []
    out = []
    for line in lines[start + 1:]:
        if re.match(r"[▼▶]", line):  # the next host's node
            break
        out.append(line)
    return out


def wait_hosts(pane: TmuxPane, *hosts: str) -> str:
    """Every host's node says connected, and the status line how many are."""
    return pane.wait_until(
        lambda s: all("connected" in host_line(s, h) for h in hosts) and f"{len(hosts)} of {len(hosts)} hosts connected" in s,
        f"the host nodes {hosts} connected", timeout=60)


def open_on(pane: TmuxPane, title: str, filter_text: str) -> None:
    """Filter the tree to one console and press Enter on it, until its tab ``title`` is the visible one."""
    open_console(pane, filter_text, title, tries_for=8)


def test_the_tui_shows_three_hosts_opens_consoles_on_two_and_badges_a_hidden_tab(
    runtime: Path, configured: dict[str, RemoteHost], pane: TmuxPane
) -> None:
    pane.type(TUI, "Enter")
    wait_hosts(pane, "h1", "h2", "h3")
    pane.wait_until(lambda s: all(f"{g} {i}" in s for g, i in (("db", 102), ("cache", 202), ("mail", 301))),
                    "every host's guests under it")

    open_on(pane, "h1/db:vtty0", "db")
    pane.wait_for("root@db:~#", timeout=30)
    pane.type("echo on h1 $((6*7))", "Enter")
    pane.wait_for("on h1 42")

    open_on(pane, "h2/cache:vtty0", "cache")
    pane.wait_for("root@cache:~#", timeout=30)
    go = configured["h2"].base / "cache-go"
    pane.type(f"until [ -e {go} ]; do sleep 0.1; done; echo from-h2-$((2*21))", "Enter")
    pane.wait_for("echo from-h2-$((2*21))")  # its echo came while the tab was visible
    time.sleep(0.3)  # and the newline after it
    bar = tab_bar(pane.screen())
    assert "h1/db:vtty0" in bar and "h2/cache:vtty0" in bar, bar

    prefix(pane, "l")
    pane.type("Escape")  # the tree unfiltered: every host's consoles
    pane.wait_until(lambda s: all(host_line(s, h) for h in ("h1", "h2", "h3")), "every host's node")
    prefix(pane, "1")  # back to h1's tab: h2's is hidden
    screen = pane.wait_until(lambda s: "h1/db:vtty0 · read-write" in active_status(s), "h1's tab visible")
    assert "h2/cache:vtty0 +" not in tab_bar(screen)
    pane.type("echo still $((1+1)) on h1", "Enter")
    pane.wait_for("still 2 on h1")
    go.touch()
    screen = pane.wait_until(lambda s: re.search(r"h2/cache:vtty0 \+\d+", tab_bar(s)), "the badge on h2's tab")
    badge = unread_of(tab_bar(screen).split("h2/cache:vtty0", 1)[1])

    def rolled_up(screen: str) -> bool:
        # h2's node: the sum of its consoles' badges, cache's counting what its hidden tab got.
        consoles = console_lines(screen, "h2")
        cache = next((line for line in consoles if "cache" in line), "")
        return (node_unread(screen, "h2") == sum(unread_of(line) for line in consoles if "vtty" in line)
                and unread_of(consoles[consoles.index(cache) + 1] if cache else "") >= badge)

    pane.wait_until(rolled_up, "h2's node rolling up the hidden tab's bytes")

    prefix(pane, "2")
    pane.wait_until(lambda s: "h2/cache:vtty0 · read-write" in active_status(s), "h2's tab visible")
    pane.wait_for("from-h2-42")
    pane.wait_until(lambda s: "h2/cache:vtty0 +" not in tab_bar(s), "h2's tab without its badge once shown")

    # The events panel lists every host's events, each naming its host (S: the info ones too).
    prefix(pane, "e")
    pane.wait_for("events · Enter open")
    pane.type("S")

    def rows(screen: str) -> list[str]:
        return [line for line in screen.splitlines() if re.search(r" info +attach\b", line)]

    pane.wait_until(lambda s: any("h1/db " in r for r in rows(s)) and any("h2/cache " in r for r in rows(s)),
                    "both hosts' attach events in the panel")
    pane.type("Escape")
    pane.wait_until(lambda s: "events · Enter open" not in s and "h2/cache:vtty0 · read-write" in active_status(s),
                    "the panel closed")

    # A snapshot of h2's tab is written on this machine (h2's broker sends it inline), and restores from here.
    prefix(pane, "s")
    screen = pane.wait_until(lambda s: "snapshot of h2/cache:vtty0:" in flat(s), "the snapshot notice")
    files = list((runtime / "state" / "vconsole" / "snapshots").glob("h2-cache-vtty0-*.vcsnap"))
    assert len(files) == 1 and files[0].stat().st_size > 0, (list(runtime.rglob("*.vcsnap")), flat(screen)[-400:])
    assert f"({files[0].stat().st_size} bytes)" in flat(screen), screen
    assert not list((configured["h2"].base / "state").rglob("*.vcsnap")), "h2's broker wrote a file there"
    assert load_file(str(files[0])).origin_host == "h2"  # the file says where it was taken
    prefix(pane, "r")
    pane.wait_for(files[0].name)
    pane.type("Enter")
    pane.wait_until(lambda s: f"restored {files[0].name} into h2/cache:vtty0" in flat(s), "the restore notice")
    quit_tui(pane)


@pytest.fixture
def h1_own_sshd(runtime: Path, sshd: SshServer, three_hosts: dict[str, RemoteHost]) -> Iterator[SshServer]:
    """h1 behind an sshd of its own (h2 and h3 behind the shared one): h1 can go down alone."""
    with running_sshd(runtime / "ssh-h1") as own:
        tables = [host_table("h1", own, three_hosts["h1"].command)]
        tables += [host_table(h.name, sshd, h.command) for h in three_hosts.values() if h.name != "h1"]
        write_client_config(runtime, tables)
        yield own


LOST_BYTES = 10000  # what h1's guest prints while no broker holds its console: 4 KiB fit its port buffer


def test_a_lost_host_says_why_the_others_go_on_and_its_tab_resumes_saying_what_was_lost(
    three_hosts: dict[str, RemoteHost], h1_own_sshd: SshServer, pane: TmuxPane
) -> None:
    h1 = three_hosts["h1"]
    pane.type(TUI, "Enter")
    wait_hosts(pane, "h1", "h2", "h3")
    open_on(pane, "h2/cache:vtty0", "cache")
    pane.wait_for("root@cache:~#", timeout=30)
    open_on(pane, "h1/db:vtty0", "db")
    pane.wait_for("root@db:~#", timeout=30)
    # h1's guest prints LOST_BYTES once told (while h1 is down), says it is done, and waits to be told again.
    go, printed, back = (h1.base / name for name in ("go", "printed", "back"))
    pane.type(f"until [ -e {go} ]; do sleep 0.1; done; head -c {LOST_BYTES} /dev/zero | tr '\\0' x;"
              f" touch {printed}; until [ -e {back} ]; do sleep 0.1; done; echo back-$((40+2))", "Enter")
    pane.wait_for("echo back-$((40+2))")  # the guest has the whole line
    prefix(pane, "l")
    pane.type("Escape")  # the tree unfiltered: every host's node
    pane.wait_until(lambda s: all(host_line(s, h) for h in ("h1", "h2", "h3")), "every host's node")
    prefix(pane, "2")

    # h1 goes down: its sshd and the connection's sshd; its node and its tab say why within 5 s.
    down = time.monotonic()
    h1_own_sshd.stop()
    screen = pane.wait_until(lambda s: "h1 unreachable: " in host_line(s, "h1"), "h1 unreachable", timeout=5)
    assert time.monotonic() - down < 5
    assert "connected" in host_line(screen, "h2") and "connected" in host_line(screen, "h3"), screen
    assert "2 of 3 hosts connected" in screen, screen
    pane.wait_until(lambda s: "h1 lost: " in active_status(s) and "reconnecting" in active_status(s),
                    "h1's tab saying its link is lost")
    # The reason is ssh's own line, in the node and in the tab's status line.
    reason = active_status(pane.screen()).split("h1 lost: ", 1)[1].split(";", 1)[0].strip()
    assert reason and "went away" not in reason, reason

    # Its broker dies too, and the guest prints while nobody holds its console.
    pidfile = h1.base / "run" / "vconsole" / "broker.sock.pid"
    os.kill(int(pidfile.read_text().split()[0]), 9)
    go.touch()
    wait_for(printed.exists, timeout=30, what="h1's guest printing")

    # h2's tab goes on meanwhile.
    prefix(pane, "1")
    pane.wait_until(lambda s: "h2/cache:vtty0 · read-write" in active_status(s), "h2's tab visible")
    pane.type("echo h2 goes on $((3*3))", "Enter")
    pane.wait_for("h2 goes on 9")
    prefix(pane, "2")
    pane.wait_until(lambda s: "h1/db:vtty0" in active_status(s), "h1's tab visible")

    # h1 comes back (ls starts its broker; the TUI's reconnect never does): the tab resumes, saying what was lost.
    h1_own_sshd.start()
    ls = subprocess.Popen(vconsole_cmd("ls"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        lost = LOST_BYTES - 4096
        # The notice is drawn over the guest's x's: the words between them are read.
        pane.wait_until(lambda s: f"{lost} bytes the guest wrote while no broker held the console were lost"
                        in " ".join(w for w in flat(s).split() if w.strip("x")),
                        f"the notice of {lost} lost bytes", timeout=60)
    finally:
        assert ls.wait(120) == 0, ls.stderr
    pane.wait_until(lambda s: "connected" in host_line(s, "h1") and "3 of 3 hosts connected" in s, "h1 back")
    back.touch()
    pane.wait_for("back-42")
    pane.type("echo typed after $((5+5))", "Enter")
    pane.wait_for("typed after 10")
    quit_tui(pane)


def test_hosts_without_vconsole_or_of_another_version_say_why_and_the_others_work(
    runtime: Path, sshd: SshServer, three_hosts: dict[str, RemoteHost], pane: TmuxPane
) -> None:
    refused = replace(sshd, key=sshd.key.with_name("host_key"))  # a key sshd does not take
    tables = [host_table("h2", sshd, three_hosts["h2"].command),
              host_table("none", sshd, "/nonexistent/vconsole"),
              host_table("old", sshd, str(other_version_vconsole(runtime))),
              host_table("locked", refused, three_hosts["h1"].command)]
    write_client_config(runtime, tables)
    pane.type(TUI, "Enter")
    # The nodes say it (as far as the sidebar's width goes), a notice each says it whole.
    screen = pane.wait_until(
        lambda s: "none unreachable: no vconso" in s and "old version mismatch: " in s and "cache 202" in s
        and "none: unreachable: no vconsole there: '/nonexistent/vconsole' was not found" in flat(s)
        and "/nonexistent/vconsole: No such file or directory)" in flat(s)  # the shell's words, past the node's 80
        and "old: version mismatch: vconsole 9.9.9 there speaks protocol 99" in flat(s)
        and "locked unreachable: root@" in s
        and "Permission denied (publickey). (the TUI runs ssh in batch mode: the key must be in ssh-agent or"
        " unencrypted)" in flat(s),
        "the three hosts' reasons and h2's guests", timeout=60)
    assert "1 of 4 hosts connected" in screen, screen
    open_on(pane, "h2/cache:vtty0", "cache")
    pane.wait_for("root@cache:~#", timeout=30)
    pane.type("echo works $((4*4))", "Enter")
    pane.wait_for("works 16")
    quit_tui(pane)
