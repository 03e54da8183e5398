"""Parsing recorded tool output, escape guards, and the tool runner's failure modes."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.providers.fakehost import FAKES, FIXTURES
from vconsole.providers.base import ConsoleSpec
from vconsole.providers.lxc import LxcEscapeGuard, parse_info, parse_ls_fancy
from vconsole.providers.openvz import VzctlEscapeGuard, parse_prlctl, parse_vzlist, veid_of
from vconsole.providers.tools import ToolError, run_tool
from vconsole.providers.xen import (
    consoles_from_store,
    parse_xenstore_ls,
    parse_xl_list,
    parse_xl_list_long,
    state_of,
)


def test_lxc_recorded_outputs() -> None:
    assert parse_ls_fancy((FIXTURES / "lxc" / "lxc-ls-fancy-stopped.txt").read_text()) == [
        ("probe", "STOPPED"), ("probe2", "RUNNING")]
    running = parse_info((FIXTURES / "lxc" / "lxc-info-running.txt").read_text())
    assert (running.state, running.pid, running.tty_max, running.logfile) == ("running", 11486, 5, "")
    stopped = parse_info((FIXTURES / "lxc" / "lxc-info-stopped.txt").read_text())
    assert (stopped.state, stopped.pid) == ("stopped", None)
    logged = parse_info((FIXTURES / "lxc" / "lxc-info-logfile.txt").read_text())
    assert logged.logfile == "/var/lib/lxc/probe2/console.log" and logged.buffer_size == 4096
    assert parse_ls_fancy("") == []
    with pytest.raises(ToolError, match="lxc-ls: unexpected output"):
        parse_ls_fancy("garbage here\n")
    with pytest.raises(ToolError, match="lxc-info"):
        parse_info("State: EXPLODED\n")


def test_vzlist_legacy_numeric_and_vz7_string_ctids() -> None:
    legacy = parse_vzlist((FIXTURES / "openvz" / "vzlist-legacy.json").read_text())
    assert [(c["ctid"], c["name"], c["state"]) for c in legacy] == [
        ("101", "web", "running"), ("102", "db.example.com", "stopped")]
    vz7 = parse_vzlist((FIXTURES / "openvz" / "vzlist-vz7.json").read_text())
    assert [(c["ctid"], c["name"], c["state"]) for c in vz7] == [
        ("a9f4c3e2-5b1d-4c8e-9f71-2d4e6b8a0c13", "mail", "running"), ("203", "legacy203", "stopped")]
    assert veid_of("101") == 101
    assert veid_of("a9f4c3e2-5b1d-4c8e-9f71-2d4e6b8a0c13") == 0xA9F4C3E2 & 0x7FFFFFFF
    prl = parse_prlctl((FIXTURES / "openvz" / "prlctl-list.json").read_text())
    assert [(c["ctid"], c["name"], c["state"]) for c in prl] == [
        ("a9f4c3e2-5b1d-4c8e-9f71-2d4e6b8a0c13", "mail", "running"),
        ("00000203-0000-0000-0000-000000000000", "legacy203", "stopped")]
    for bad in ("{", "{}", '[{"status": "running"}]', '[{"ctid": 1, "status": "melting"}]'):
        with pytest.raises(ToolError, match="vzlist"):
            parse_vzlist(bad)


def test_xen_recorded_outputs() -> None:
    domains = parse_xl_list_long((FIXTURES / "xen" / "xl-list-l.json").read_text())
    assert domains == [(0, "Domain-0"), (3, "web01"), (7, "win-hvm")]
    flags = parse_xl_list((FIXTURES / "xen" / "xl-list.txt").read_text())
    assert flags == {0: "r-----", 3: "-b----", 7: "--p---"}
    assert [state_of(flags[d]) for d in (3, 7)] == ["running", "paused"]
    assert state_of("---s--") == "stopped"
    store = parse_xenstore_ls((FIXTURES / "xen" / "xenstore-ls-3.txt").read_text(), "/local/domain/3")
    assert store["console/limit"] == "1048576"
    assert store["description"] == 'web server "front"'
    consoles = consoles_from_store(store)
    assert consoles == {
        ConsoleSpec("pv", 0): "console/tty",
        ConsoleSpec("pv", 1): "device/console/1/tty",
        ConsoleSpec("serial", 0): "serial/0/tty",
    }
    with pytest.raises(ToolError, match="xenstore-ls"):
        parse_xenstore_ls("no equals sign\n", "/local/domain/3")
    with pytest.raises(ToolError, match="xl"):
        parse_xl_list_long('[{"domid": 1}]')


def _vzctl_relay(stream: bytes) -> tuple[bytes, bool]:
    """vzctl console's input loop (vzcon_attach): what the guest gets, and whether it detached."""
    out = bytearray()
    after_enter = False
    i = 0
    while i < len(stream):
        b = stream[i]
        i += 1
        if b == 0x1B and after_enter:
            if i == len(stream):
                return bytes(out), False  # vzctl waits for the next byte
            nxt = stream[i]
            i += 1
            if nxt in b".,":
                return bytes(out), True
            out.append(0x1B)
            b = nxt
        out.append(b)
        after_enter = b == 0x0D
    return bytes(out), False


def _lxc_relay(stream: bytes, escape: int = 1) -> tuple[bytes, bool]:
    """lxc-console's stdin handler: what the guest gets, and whether it detached."""
    out = bytearray()
    saw = False
    for b in stream:
        if b == escape and not saw:
            saw = True
            continue
        if b == ord("q") and saw:
            return bytes(out), True
        saw = False
        out.append(b)
    return bytes(out), False


keys = st.lists(st.sampled_from([b"\r", b"\x1b", b".", b",", b"a", b"\x01", b"q", b"\n"]),
                max_size=40).map(b"".join)


@given(st.lists(keys, max_size=5))
def test_vzctl_guard_never_detaches(chunks: list[bytes]) -> None:
    guard = VzctlEscapeGuard()
    typed = b"".join(chunks)
    sent = b"".join(guard.encode(c) for c in chunks)
    got, detached = _vzctl_relay(sent)
    assert not detached
    # The guest gets what was typed (but a final ESC vzctl still holds), with
    # extra ESC bytes only: at most one per "." or "," typed.
    if typed.endswith(b"\x1b") and not _only_escs_inserted(typed, got):
        typed = typed[:-1]
    want = typed
    assert _only_escs_inserted(want, got)
    assert len(got) - len(want) <= want.count(b".") + want.count(b",")


def _only_escs_inserted(want: bytes, got: bytes) -> bool:
    i = 0
    for b in got:
        if i < len(want) and b == want[i]:
            i += 1
        elif b != 0x1B:
            return False
    return i == len(want)


def test_vzctl_guard_exact_cases() -> None:
    guard = VzctlEscapeGuard()
    assert _vzctl_relay(b"ls\r\x1b.")[1] is True  # unguarded, vzctl would detach
    sent = guard.encode(b"ls\r\x1b.x\r\x1b,\x1bA\r")
    got, detached = _vzctl_relay(sent)
    assert not detached
    assert got == b"ls\r\x1b\x1b.x\r\x1b\x1b,\x1bA\r"


@given(st.lists(keys, max_size=5))
def test_lxc_guard_is_transparent(chunks: list[bytes]) -> None:
    guard = LxcEscapeGuard(1)
    sent = b"".join(guard.encode(c) for c in chunks)
    got, detached = _lxc_relay(sent)
    assert not detached
    assert got == b"".join(chunks)


async def test_tool_failures_are_one_line_reasons(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tool = str(FAKES / "bin" / "vzlist")
    env = {"FAKE_HOST": str(tmp_path), "PATH": "/usr/bin:/bin"}
    (tmp_path / "mode-vzlist").write_text("fail")
    with pytest.raises(ToolError, match=r"^vzlist: exit status 3: vzlist: Unable to open /dev/fake"):
        await run_tool([tool], env=env)
    (tmp_path / "mode-vzlist").write_text("hang")
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"^vzlist: timed out after 0.5s$"):
        await run_tool([tool], env=env, timeout=0.5)
    assert time.monotonic() - started < 3
    (tmp_path / "mode-vzlist").write_text("garbage")
    with pytest.raises(ToolError, match="vzlist: unparseable output"):
        parse_vzlist(await run_tool([tool], env=env))
    with pytest.raises(ToolError, match="no-such-tool: not found"):
        await run_tool(["no-such-tool"])
