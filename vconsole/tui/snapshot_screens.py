"""Prefix ``s`` and ``r`` in the TUI: snapshot the active console, restore into it.

``s`` asks the broker to write a snapshot of the active console into the
snapshots directory (``$XDG_STATE_HOME/vconsole/snapshots``) and shows the
path. ``r`` opens :class:`RestoreScreen`, a small file dialog: the ``.vcsnap``
files of that directory, newest first, and an input for any other path; the
chosen file is restored into the active console (``--into`` semantics, so a
snapshot of another guest of the same kind works too).
"""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from vconsole.client import RequestFailed
from vconsole.runtime_paths import default_snapshot_path, snapshots_dir
from vconsole.tui.console_pane import ConsolePane


def snapshot_files(directory: Path | None = None) -> list[Path]:
    """The ``.vcsnap`` files of the snapshots directory, newest first."""
    directory = directory or snapshots_dir()
    try:
        files = [p for p in directory.glob("*.vcsnap") if p.is_file()]
    except OSError:
        return []
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)[:200]


class RestoreScreen(ModalScreen[str | None]):
    """Pick a snapshot file: from the list, or type a path; Esc cancels. Dismissed with the path."""

    # A panel over the main screen, which stays in view undimmed.
    DEFAULT_CSS = """
    RestoreScreen { background: $background 0%; align: left top; }
    RestoreScreen > Vertical { offset: 6 3; width: 80; height: auto; max-height: 22;
                               border: round $primary; background: $surface; padding: 0 1; }
    RestoreScreen OptionList { height: auto; max-height: 14; }
    """

    def __init__(self, console: str) -> None:
        super().__init__()
        self.console = console
        self.files = snapshot_files()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(f"Restore a snapshot into {self.console}  (Enter picks, Esc cancels)"))
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

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A listed file."""
        event.stop()
        self.dismiss(event.option.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """A typed path."""
        event.stop()
        path = event.value.strip()
        self.dismiss(str(Path(path).expanduser().absolute()) if path else None)

    def on_key(self, event: events.Key) -> None:
        """Esc cancels."""
        if event.key == "escape":
            event.stop()
            self.dismiss(None)


async def snapshot_pane(pane: ConsolePane) -> None:
    """Prefix ``s``: snapshot a tab's console into the snapshots directory."""
    out = default_snapshot_path(pane.title.replace(":", "-").replace("/", "-"))
    try:
        out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        size = await pane.link.snapshot(str(out))
    except (RequestFailed, OSError, ConnectionError) as exc:
        pane.notify(f"snapshot failed: {exc}", severity="error", markup=False)
        return
    pane.notify(f"snapshot of {pane.title}: {out} ({size} bytes)", timeout=8, markup=False)


async def restore_into(pane: ConsolePane, path: str | None) -> None:
    """The end of prefix ``r``: restore the chosen file (None: cancelled) into a tab's console."""
    if path is None:
        return
    try:
        ring_bytes = await pane.link.restore(path)
    except (RequestFailed, ConnectionError, OSError) as exc:
        pane.notify(f"restore refused: {exc}", severity="error", timeout=10, markup=False)
        return
    pane.notify(f"restored {Path(path).name} into {pane.title} (ring {ring_bytes} bytes)", markup=False)
