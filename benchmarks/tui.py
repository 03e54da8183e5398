"""TUI: frame time and key latency in one tab while another console floods.

The Textual app runs headless (``run_test``) against a real lab and broker.
Two tabs: ``quiet`` (a raw echo guest), active, and ``flood`` (a scripted
guest) in the background. For a few seconds the flood guest writes at full
speed while keys are pressed in the quiet tab, one at a time; then the same
without the flood (the reference). Frame time is the time Textual spends per
screen update (``Screen._compositor_refresh``: TerminalView.render_line, rendering
compositing); key latency runs from posting the key to the app until its echo
has been fed to the quiet tab's terminal.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual import events
from textual.screen import Screen

from benchmarks.harness import echo_argv, lab
from benchmarks.report import Report, Row, Stats
from tests.lab_host import LabHost
from vconsole.client import Client
from vconsole.tui.app import VConsoleApp
from vconsole.tui.guest_tree import GuestTree

FLOOD_BYTES = 400 << 20  # more than a few seconds' worth: the flood outlasts the measurement


class FrameClock:
    """Times every Textual screen update while installed."""

    def __init__(self) -> None:
        self.frames: list[float] = []
        self._orig: Callable[[Screen[Any]], None] = Screen._compositor_refresh

    def __enter__(self) -> FrameClock:
        orig, frames = self._orig, self.frames

        def timed(screen: Screen[Any]) -> None:
            began = time.perf_counter()
            orig(screen)
            frames.append(time.perf_counter() - began)

        Screen._compositor_refresh = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Screen._compositor_refresh = self._orig  # type: ignore[method-assign]


async def _until(check: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise TimeoutError("the TUI did not get there")
        await asyncio.sleep(0.05)
    return value


async def _open(app: VConsoleApp, pilot: Any, session: str) -> Any:
    tree = app.query_one(GuestTree)
    tree.focus()
    tree.move_cursor(tree._console_nodes[session])
    await pilot.pause(0.05)
    await pilot.press("enter")
    pane = await _until(lambda: app.main_screen.pane(session))
    await _until(lambda: any(pane.view.term.screen_text()))
    return pane


async def _keys(app: VConsoleApp, view: Any, seconds: float) -> list[float]:
    """Key latencies for ``seconds``: post a key, wait for its echo to reach the terminal."""
    fed = asyncio.Event()
    orig = view.feed

    def feed(data: bytes) -> None:
        orig(data)
        if want[0] in data:
            fed.set()

    view.feed = feed
    out: list[float] = []
    want = [b"?"]
    try:
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            char = "abcdefghijklmnopqrstuvwxyz"[i % 26]
            i += 1
            want[0] = char.encode()
            fed.clear()
            began = time.perf_counter()
            app.post_message(events.Key(char, char))
            await asyncio.wait_for(fed.wait(), 10)  # the echo has been fed to the tab's terminal
            out.append(time.perf_counter() - began)
            await asyncio.sleep(0.02)
    finally:
        view.feed = orig
    return out


async def _measure(host: LabHost, seconds: float, repeat: int) -> dict[str, list[list[float]]]:
    app = VConsoleApp(lambda: Client.connect(host.paths, autostart=False))
    res: dict[str, list[list[float]]] = {"frames_flood": [], "frames_quiet": [], "keys_flood": [],
                                         "keys_quiet": [], "fps_flood": [], "fps_quiet": []}
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.query_one(GuestTree)
        await _until(lambda: len(tree._console_nodes) == 2)
        await _open(app, pilot, "lab:602:vtty0")
        quiet = await _open(app, pilot, "lab:601:vtty0")
        seq = 0
        for _ in range(repeat):
            for phase in ("flood", "quiet"):
                if phase == "flood":
                    seq += 1
                    host.command("flood", seq, f"write {FLOOD_BYTES}")
                    await asyncio.sleep(0.3)
                with FrameClock() as clock:
                    began = time.perf_counter()
                    keys = await _keys(app, quiet.view, seconds)
                    took = time.perf_counter() - began
                res[f"frames_{phase}"].append(clock.frames)
                res[f"fps_{phase}"].append([len(clock.frames) / took])
                res[f"keys_{phase}"].append(keys)
                if phase == "flood":
                    # Stop the flood: restart the guest's program is not possible; wait it out.
                    await asyncio.to_thread(host.wait_done, "flood", seq, 120)
                    await asyncio.sleep(0.5)
        await app.action_quit()
    return res


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    seconds, repeat = (1.5, 1) if quick else (3.0, 3)
    with lab(build=lambda h: [
        {"id": 601, "name": "quiet", "vttys": 1, "init": echo_argv()},
        {"id": 602, "name": "flood", "vttys": 1, "init": h.scripted("flood")},
    ]) as host:
        res = asyncio.run(_measure(host, seconds, repeat))

    def per_run(key: str, pick: Callable[[list[float]], float]) -> Stats:
        return Stats([pick(xs) * 1e3 for xs in res[key]])

    def median(xs: list[float]) -> float:
        return sorted(xs)[len(xs) // 2]

    def p99(xs: list[float]) -> float:
        return sorted(xs)[min(len(xs) - 1, round(0.99 * (len(xs) - 1)))]

    report.add([
        Row("tui", "frame time p50, other tab flooding", "ms", per_run("frames_flood", median),
            "no flood", per_run("frames_quiet", median)),
        Row("tui", "frame time p99, other tab flooding", "ms", per_run("frames_flood", p99),
            "no flood", per_run("frames_quiet", p99)),
        Row("tui", "screen updates per second, flooding", "1/s", Stats([x[0] for x in res["fps_flood"]]),
            "no flood", Stats([x[0] for x in res["fps_quiet"]])),
        Row("tui", "key echo p50, other tab flooding", "ms", per_run("keys_flood", median),
            "no flood", per_run("keys_quiet", median)),
        Row("tui", "key echo p99, other tab flooding", "ms", per_run("keys_flood", p99),
            "no flood", per_run("keys_quiet", p99)),
    ])
    report.note("tui", f"headless run_test 120x40; a background tab's guest writes {FLOOD_BYTES >> 20} MiB "
                f"at full speed while keys are typed (20 ms apart) for {seconds:g} s in the active tab "
                f"(raw echo guest); {repeat} runs, each followed by the same without the flood.")
