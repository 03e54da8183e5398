"""Make the SVG screenshots in screenshots/ from a real run of the TUI.

Starts a private lab (the shipped demo fleet) and broker in a temporary
runtime directory, drives VConsoleApp through Textual's pilot and saves one
SVG per view. Run with ``make screenshots`` or
``.venv/bin/python scripts/screenshots.py [OUTDIR]``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SIZE = (110, 32)


def private_runtime() -> Path:
    """A short private directory as XDG runtime, state and config home (before vconsole is imported)."""
    base = Path(tempfile.mkdtemp(prefix="vcshot", dir="/tmp"))
    os.environ["XDG_RUNTIME_DIR"] = str(base / "run")
    os.environ["XDG_STATE_HOME"] = str(base / "state")
    os.environ["XDG_CONFIG_HOME"] = str(base / "config")
    os.environ["VCONSOLE_PROVIDERS"] = "lab"
    os.environ.pop("VCONSOLE_SOCKET", None)
    (base / "run").mkdir(mode=0o700)
    return base


async def until(pilot: Any, check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Let the app run until ``check()`` is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := check()):
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    return value


async def shoot(base: Path, out: Path) -> list[Path]:
    sys.path.insert(0, str(REPO))
    from tests.lab_host import LabHost
    from vconsole.client import Client
    from vconsole.lab.fleet import DEFAULT_FLEET
    from vconsole.tui.app import VConsoleApp
    from vconsole.tui.guest_tree import console_refs

    host = LabHost(base)
    saved: list[Path] = []
    try:
        host.start_lab(DEFAULT_FLEET)
        host.start_broker()
        app = VConsoleApp(lambda: Client.connect(host.paths, autostart=False))
        async with app.run_test(size=SIZE) as pilot:

            async def save(name: str) -> None:
                await pilot.pause(0.6)  # let the terminals repaint
                saved.append(Path(app.save_screenshot(filename=f"{name}.svg", path=str(out))))

            def screen_has(session: str, text: str) -> bool:
                pane = app.main_screen.pane(session)
                return pane is not None and text in "\n".join(pane.view.term.screen_text())

            await until(pilot, lambda: len(console_refs(app.main_screen.listing)) >= 9, "the guest list")
            await until(pilot, lambda: app.link is not None, "the broker link")
            await pilot.pause(1.5)  # boot logs arrive: unread badges in the list
            await save("guest-list")

            refs = {f"{r.guest}:{r.console}": r for r in console_refs(app.main_screen.listing)}
            web, db = refs["web:vtty1"], refs["db:vtty1"]
            await app.main_screen.open_console(web)
            await until(pilot, lambda: screen_has(web.session, "root@web:~#"), "the web prompt")
            await pilot.press(*"echo nginx is up with $((6*7)) workers", "enter")
            await until(pilot, lambda: screen_has(web.session, "up with 42 workers"), "the echo")
            await save("console-tab")

            await app.main_screen.open_console(db)
            await until(pilot, lambda: screen_has(db.session, "root@db:~#"), "the db prompt")
            await pilot.press(*"sleep 1; echo backup of /var/lib/db finished", "enter")
            await pilot.press("ctrl+right_square_bracket", "1")
            await until(pilot, lambda: (p := app.main_screen.pane(db.session)) is not None and p.unread > 40, "db output while hidden")
            await pilot.pause(1.2)  # the listing poll shows the badge in the guest list too
            await save("unread-badge")

            # A panic on web while db is on screen: the badge in the tree and a notification.
            web_pane = app.main_screen.pane(web.session)
            assert web_pane is not None
            web_pane.link.send_input(b"printf 'Kernel pan''ic - not syncing: Fatal exception in interrupt\\n'\r")

            def web_alert() -> bool:
                return any(c.get("session") == web.session and c.get("alert")
                           for g in app.main_screen.listing.get("guests", []) for c in g.get("consoles", []))

            await until(pilot, web_alert, "the panic badge")
            await save("alert-badge")
            await pilot.press("ctrl+right_square_bracket", "e")
            await pilot.pause(0.5)
            await save("events-panel")
            await pilot.press("escape")

            await pilot.press("ctrl+right_square_bracket", "question_mark")
            await save("help")
            await pilot.press("x")

            await pilot.press("ctrl+right_square_bracket", "v")  # the log view of web:vtty1
            await until(pilot, lambda: getattr(app.screen, "status_text", "").startswith("20"), "the log's lines")
            await pilot.press("slash", *"workers", "enter")
            await save("log-view")
            await pilot.press("escape")

            await pilot.press("ctrl+right_square_bracket", "colon")
            await pilot.pause(0.5)
            await pilot.press(*"theme")
            await save("command-palette")
            await pilot.press("escape")

            app.switch_theme("vconsole-light")
            await pilot.press("ctrl+right_square_bracket", "u")
            await until(pilot, lambda: app.main_screen.active_pane() is app.main_screen.pane(db.session), "the db tab")
            await save("light-theme")
            await pilot.press("ctrl+right_square_bracket", "q")
    finally:
        host.cleanup()
    return saved


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    base = private_runtime()
    try:
        saved = asyncio.run(shoot(base, out.resolve()))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for path in saved:
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
