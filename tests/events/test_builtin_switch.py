"""``[events] builtin_watches = false``: the built-in signatures off, user watches still on."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import wait_for
from tests.lab_host import LabHost
from vconsole.client import Client
from vconsole.config import Config, ConfigError
from vconsole.console_events import ConsoleEvent, EventKind
from vconsole.protocol import Events


def _watch_events(lab_host: LabHost) -> list[ConsoleEvent]:
    async def read() -> list[ConsoleEvent]:
        client = await Client.connect(lab_host.paths, autostart=False)
        try:
            return [e for e in (await client.read_events(Events())).events if e.kind == EventKind.WATCH]
        finally:
            await client.close()

    return asyncio.run(read())


def test_the_switch_is_read_from_events_and_checked() -> None:
    assert Config.from_dict({}).builtin_watches is True
    assert Config.from_dict({"events": {"builtin_watches": False}}).builtin_watches is False
    with pytest.raises(ConfigError, match=r"^cfg: events.builtin_watches must be true or false$"):
        Config.from_dict({"events": {"builtin_watches": "no"}}, "cfg")
    with pytest.raises(ConfigError, match=r"^cfg: events.builtin is not a setting"):
        Config.from_dict({"events": {"builtin": False}}, "cfg")


def test_with_builtins_off_a_panic_is_no_event_and_a_user_watch_still_fires(lab_host: LabHost) -> None:
    lab_host.write_config(
        '[events]\nbuiltin_watches = false\n\n'
        '[[watches]]\nname = "segv"\nregex = "segfault at"\nseverity = "error"\n'
    )
    # The user watch's line comes after the panic's: once it is seen, the panic was matched (or not).
    init = (
        "sleep 1; printf 'Kernel panic - not syncing: Fatal exception\\n'; "
        "printf 'app[7]: segfault at 0 ip 0 sp 0 error 4\\n'; sleep 1000"
    )
    lab_host.start_lab(lab_host.write_fleet([{"id": 511, "name": "db", "vttys": 1, "init": init}]))
    lab_host.start_broker()
    wait_for(lambda: _watch_events(lab_host), what="the user watch's event")
    assert [(e.name, e.text) for e in _watch_events(lab_host)] == [
        ("segv", "app[7]: segfault at 0 ip 0 sp 0 error 4"),
    ]
