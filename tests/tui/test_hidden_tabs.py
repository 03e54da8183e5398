"""A hidden tab is sent no output, parses nothing and counts what its guest wrote; shown, it shows the newest screen.

An idle TUI asks nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import TabbedContent

from tests.broker.test_history_cap import _console
from tests.lab_host import LabHost
from tests.tui.test_pilot_keys import open_console, screen_of, until
from vconsole.client import Client
from vconsole.tui.app import VConsoleApp
from vconsole.tui.guest_tree import GuestTree
from vconsole.units import human

LAST = 1_000_000  # `seq 1 LAST` prints about 6.9 MB


@pytest.fixture
async def app_pilot(lab_host: LabHost) -> AsyncIterator[tuple[VConsoleApp, Pilot[Any]]]:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 101, "name": "web", "vttys": 1},  # the lab's demo shell
        {"id": 102, "name": "talk", "vttys": 1, "init": lab_host.scripted("talk")},
    ]))
    lab_host.start_broker()
    app = VConsoleApp(lambda: Client.connect(lab_host.paths, autostart=False))
    async with app.run_test(size=(110, 32)) as pilot:
        tree = app.query_one(GuestTree)
        await until(pilot, lambda: len(tree._console_nodes) == 2, "the guest tree")
        yield app, pilot


async def history_end(lab_host: LabHost, guest: str) -> int:
    client = await lab_host.client()
    try:
        return int(_console(await client.request("list"), guest, "vtty0")["end"])
    finally:
        await client.close()


async def until_quiet(lab_host: LabHost, guest: str, at_least: int, timeout: float = 60) -> None:
    """Wait until ``guest`` has written ``at_least`` more bytes and then nothing for half a second."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    start = last = await history_end(lab_host, guest)
    while True:
        await asyncio.sleep(0.5)
        now = await history_end(lab_host, guest)
        if now == last and now - start >= at_least:
            return
        if loop.time() > deadline:
            pytest.fail(f"{guest} wrote {now - start} bytes, not {at_least} and then quiet")
        last = now


def counting(feed: Callable[[bytes], None], calls: list[int]) -> Callable[[bytes], None]:
    def counted(data: bytes) -> None:
        calls.append(len(data))
        feed(data)
    return counted


async def test_a_hidden_tab_parses_nothing_counts_the_guest_bytes_and_shows_the_newest_screen(
    app_pilot: tuple[VConsoleApp, Pilot[Any]], lab_host: LabHost,
) -> None:
    app, pilot = app_pilot
    tabs = app.query_one(TabbedContent)
    web = await open_console(app, pilot, "lab:101:vtty0")
    await until(pilot, lambda: "root@web:~#" in screen_of(app), "the shell prompt")
    # The flood starts a second from now, once the web tab is hidden.
    web.link.send_input(f"sleep 1; seq 1 {LAST}; echo flood-over\r".encode())
    await open_console(app, pilot, "lab:102:vtty0")
    assert tabs.active != web.id
    parsed: list[int] = []
    web.view.term.feed = counting(web.view.term.feed, parsed)  # type: ignore[method-assign]
    received: list[int] = []
    receive = web.link.receive

    def counted(offset: int, data: bytes, answer: bool = False) -> None:
        received.append(len(data))
        receive(offset, data, answer)

    web.link.receive = counted  # type: ignore[method-assign]

    await until_quiet(lab_host, "web", at_least=len("\r\n".join(str(i) for i in range(1, LAST + 1))))
    await pilot.pause(0.3)  # the last of it reaches the TUI
    assert parsed == [], f"the hidden tab parsed {sum(parsed)} bytes"
    # The broker sent the hidden tab (almost) none of the flood: it was paused.
    assert web.link.paused and sum(received) < 64 * 1024, f"the hidden tab was sent {sum(received)} bytes"
    # The badge counts what the guest wrote while the tab was hidden, from the broker's
    # once-a-second report of the console's end.
    end = await history_end(lab_host, "web")
    await until(pilot, lambda: web.unread == end - web.link.seen, "the badge to count to the history's end")
    assert web.unread > len("\r\n".join(str(i) for i in range(1, LAST + 1)))
    assert len(web.link.tail) < web.unread // 10
    await until(pilot, lambda: str(tabs.get_tab(web.id or "").label) == f"web:vtty0 +{human(web.unread)}",
                "the badge in guest bytes")

    await pilot.press("ctrl+right_square_bracket", "1")
    await until(pilot, lambda: tabs.active == web.id, "the web tab to show")
    await until(pilot, lambda: "flood-over" in screen_of(app), "the newest output on screen")
    assert 0 < sum(parsed) <= 64 * 1024, "shown, the tab parses a screenful, not megabytes"
    rows = [row.rstrip() for row in web.view.term.screen_text()]
    at = rows.index("flood-over")
    numbers = rows[:at][-10:]
    assert numbers == [str(i) for i in range(LAST - 9, LAST + 1)], rows
    assert web.unread == 0 and str(tabs.get_tab(web.id or "").label) == "web:vtty0"
    assert not web.link.paused


async def test_a_quiet_tab_hidden_and_shown_again_replays_nothing(
    app_pilot: tuple[VConsoleApp, Pilot[Any]],
) -> None:
    app, pilot = app_pilot
    tabs = app.query_one(TabbedContent)
    web = await open_console(app, pilot, "lab:101:vtty0")
    web.link.send_input(b"echo one-line\r")
    await until(pilot, lambda: screen_of(app).count("one-line") == 2, "the echo and its output")
    before = web.view.term.screen_text()
    await open_console(app, pilot, "lab:102:vtty0")
    await until(pilot, lambda: web.link.paused, "the hidden tab to pause")
    await pilot.press("ctrl+right_square_bracket", "1")
    await until(pilot, lambda: tabs.active == web.id and not web.link.paused, "the web tab to show")
    await pilot.pause(0.5)  # a replay, if there were one, would be here by now
    assert web.view.term.screen_text() == before, "shown again, the tab replayed lines it had shown"


async def test_an_idle_tui_asks_the_broker_nothing(app_pilot: tuple[VConsoleApp, Pilot[Any]]) -> None:
    app, pilot = app_pilot
    await open_console(app, pilot, "lab:101:vtty0")
    link = app.link
    assert link is not None
    sent: list[str] = []
    client = link.live()
    request = client.request

    async def counted(op: str, **fields: Any) -> dict[str, Any]:
        sent.append(op)
        return await request(op, **fields)

    client.request = counted  # type: ignore[method-assign]
    await asyncio.sleep(3.5)
    assert sent == [], f"an idle TUI sent {sent}"


async def test_a_visible_tab_far_behind_a_flood_parses_only_the_newest_screenful(
    app_pilot: tuple[VConsoleApp, Pilot[Any]], lab_host: LabHost,
) -> None:
    app, pilot = app_pilot
    web = await open_console(app, pilot, "lab:101:vtty0")
    await until(pilot, lambda: "root@web:~#" in screen_of(app), "the shell prompt")
    parsed: list[int] = []
    web.view.term.feed = counting(web.view.term.feed, parsed)  # type: ignore[method-assign]
    start = await history_end(lab_host, "web")
    web.link.send_input(f"seq 1 {LAST}; echo flood-over\r".encode())
    await until(pilot, lambda: "flood-over" in screen_of(app), "the end of the flood on screen", timeout=60)
    written = await history_end(lab_host, "web") - start
    # Each feed is bounded (a key never waits behind megabytes); how much of the flood is
    # skipped depends on how fast it comes (see the next test for a flood that is all behind).
    assert max(parsed) <= 64 * 1024
    assert sum(parsed) < written
    rows = [row.rstrip() for row in web.view.term.screen_text()]
    at = rows.index("flood-over")
    assert rows[:at][-10:] == [str(i) for i in range(LAST - 9, LAST + 1)], rows


async def test_a_burst_far_ahead_of_a_visible_tab_is_parsed_as_one_screenful(
    app_pilot: tuple[VConsoleApp, Pilot[Any]],
) -> None:
    app, pilot = app_pilot
    web = await open_console(app, pilot, "lab:101:vtty0")
    await until(pilot, lambda: "root@web:~#" in screen_of(app), "the shell prompt")
    parsed: list[int] = []
    web.view.term.feed = counting(web.view.term.feed, parsed)  # type: ignore[method-assign]
    lines = [b"line %07d" % i for i in range(200_000)]
    # As the broker link hands it over: 2 MB at the console's next offset, in 256 KiB events.
    burst = b"\r\n".join(lines) + b"\r\n"
    for at in range(0, len(burst), 256 * 1024):
        web.link.receive(web.link.end, burst[at : at + 256 * 1024])
    await until(pilot, lambda: "line 0199999" in screen_of(app), "the newest line on screen")
    rows = web.view.term.rows
    assert len(parsed) == 1 and parsed[0] == rows * len(b"line 0000000\r\n"), parsed
    screen = [row.rstrip() for row in web.view.term.screen_text()]
    assert screen[-rows:-1] == [line.decode() for line in lines[-(rows - 1):]], screen
