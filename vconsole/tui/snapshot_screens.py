"""Prefix ``s`` and ``r`` in the TUI: snapshot the active console, restore into it.

``s`` asks the broker to write a snapshot of the active console into the
snapshots directory (``$XDG_STATE_HOME/vconsole/snapshots``) and shows the
path. ``r`` opens :class:`RestoreScreen`, a small file dialog: the ``.vcsnap``
files of that directory, newest first, and an input for any other path; the
chosen file is restored into the active console (``--into`` semantics, so a
snapshot of another guest of the same kind works too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from vconsole.cli.snapshot_commands import default_name, snapshots_dir
from vconsole.client import RequestFailed
from vconsole.domain import SessionKey
from vconsole.protocol import RestoreRequest

if TYPE_CHECKING:
    from vconsole.tui.app import VConsoleApp


def snapshot_files(directory: Path | None = None) -> list[Path]:
    """The ``.vcsnap`` files of the snapshots directory, newest first."""
    directory = directory or snapshots_dir()
    try:
        files = [p for p in directory.glob("*.vcsnap") if p.is_file()]
    except OSError:
        return []
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)[:200]


class RestoreScreen(Vertical):
    """Pick a snapshot file: from the list, or type a path; Esc cancels.

    A panel floating over the main screen rather than a pushed screen, so the
    app's own handlers keep finding their widgets while it is open.
    """

    DEFAULT_CSS = """
    RestoreScreen { position: absolute; overlay: screen; offset: 6 3; width: 80; height: auto;
                    max-height: 22; border: round $primary; background: $surface; padding: 0 1; }
    RestoreScreen OptionList { height: auto; max-height: 14; }
    """

    def __init__(self, console: str, on_done: Callable[[str | None], Awaitable[None]]) -> None:
        super().__init__()
        self.console = console
        self.on_done = on_done
        self.files = snapshot_files()

    async def dismiss(self, result: str | None) -> None:
        """Close the panel and hand the choice on."""
        await self.remove()
        await self.on_done(result)

    def compose(self) -> ComposeResult:
        yield Static(f"Restore a snapshot into {self.console}  (Enter picks, Esc cancels)")
        if self.files:
            yield OptionList(*[Option(p.name, id=str(p)) for p in self.files])
        else:
            yield Static(f"no snapshots in {snapshots_dir()}", classes="empty")
        yield Input(placeholder="or a path to a .vcsnap file", id="path")

    def on_mount(self) -> None:
        """Start in the list when there is one."""
        if self.files:
            self.query_one(OptionList).focus()
        else:
            self.query_one(Input).focus()

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A listed file."""
        event.stop()
        await self.dismiss(event.option.id)

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        """A typed path."""
        event.stop()
        path = event.value.strip()
        await self.dismiss(str(Path(path).expanduser().absolute()) if path else None)

    async def on_key(self, event: events.Key) -> None:
        """Esc cancels."""
        if event.key == "escape":
            event.stop()
            await self.dismiss(None)


async def snapshot_active(app: VConsoleApp) -> None:
    """Prefix ``s``: snapshot the active console into the snapshots directory."""
    pane = app.active_pane()
    if pane is None or app.link is None:
        app.notify("open a console first", severity="warning")
        return
    target = SessionKey.parse(pane.session).target
    out = default_name(pane.title.replace(":", "-"))
    try:
        out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        reply = await app.link.client.snapshot([target], str(out))
    except (RequestFailed, OSError, ConnectionError) as exc:
        app.notify(f"snapshot failed: {exc}", severity="error")
        return
    app.notify(f"snapshot of {pane.title}: {out} ({reply.size} bytes)", timeout=8)


async def restore_dialog(app: VConsoleApp) -> None:
    """Prefix ``r``: pick a file, restore it into the active console."""
    pane = app.active_pane()
    if pane is None or app.link is None:
        app.notify("open a console first", severity="warning")
        return
    session, title = pane.session, pane.title

    async def chosen(path: str | None) -> None:
        if path is None or app.link is None:
            return
        into = SessionKey.parse(session).target
        try:
            reply = await app.link.client.restore(RestoreRequest(path, into=into))
        except (RequestFailed, ConnectionError) as exc:
            app.notify(f"restore refused: {exc}", severity="error", timeout=10)
            return
        app.notify(f"restored {Path(path).name} into {title} (ring {reply.ring_bytes} bytes)")

    await app.screen.mount(RestoreScreen(title, chosen))
