"""The LXC provider against real busybox containers (root and lxc needed; CI has both).

The module creates two containers once, in a private lxcpath so no other
broker on the machine sees them: ``<prefix>a`` (running, tty.max 2, a
console log file) and ``<prefix>b`` (stopped). Each test runs its own broker
with only the LXC provider, configured with that lxcpath.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ptyprocess import PtyProcess

from tests.lab_host import LabHost
from tests.providers.attach import Attached

TTY_MAX = 2
PREFIX = f"vct{os.getpid() % 100000}"


def _run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def _why_not() -> str | None:
    """Why real LXC tests cannot run here, checked now; None if they can."""
    if os.geteuid() != 0:
        return "real LXC tests need root (lxc-create/lxc-start of privileged containers)"
    for tool in ("lxc-create", "lxc-start", "lxc-console", "lxc-ls", "lxc-info"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install lxc)"
    if shutil.which("busybox") is None:
        return "busybox is not installed (apt-get install busybox-static)"
    return None


LXCPATH: Path = Path("/nonexistent")  # set by the containers fixture


def _lxc(tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return _run(tool, "-P", str(LXCPATH), *args, timeout=timeout)


def _create(name: str, workdir: Path) -> None:
    conf = workdir / "create.conf"
    conf.write_text("lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n")
    made = _lxc("lxc-create", "-t", "busybox", "-n", name, "-f", str(conf))
    if made.returncode != 0:
        pytest.skip(f"lxc-create -t busybox failed: {made.stderr.strip()[-300:]}")
    root = LXCPATH / name
    with open(root / "config", "a") as f:  # after the template's own lxc.tty.max = 5
        f.write(f"lxc.tty.max = {TTY_MAX}\nlxc.console.logfile = {workdir / (name + '.log')}\n")
    # A password-less root, so the getty on tty1 lets us log in.
    (root / "rootfs" / "etc" / "passwd").write_text("root::0:0:root:/root:/bin/sh\n")


def _destroy(name: str) -> None:
    _lxc("lxc-stop", "-k", "-n", name, timeout=30)
    _lxc("lxc-destroy", "-n", name, timeout=30)


def _wait_state(name: str, state: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while _lxc("lxc-info", "-n", name, "-s").stdout.split()[-1:] != [state]:
        if time.monotonic() > deadline:
            pytest.fail(f"{name} did not become {state}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def containers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(running, stopped) container names."""
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    global LXCPATH
    workdir = tmp_path_factory.mktemp("lxc")
    LXCPATH = workdir / "containers"
    LXCPATH.mkdir()
    running, stopped = PREFIX + "a", PREFIX + "b"
    try:
        _create(running, workdir)
        _create(stopped, workdir)
        started = _lxc("lxc-start", "-n", running, "-l", "INFO", "-o", str(workdir / "start.log"))
        if started.returncode != 0:
            log = (workdir / "start.log").read_text()[-600:] if (workdir / "start.log").exists() else ""
            pytest.skip(f"lxc-start cannot run a container here: {started.stderr.strip()} {log}")
        _wait_state(running, "RUNNING")
        # Let busybox init print its "press Enter" prompt into the console log.
        deadline = time.monotonic() + 10
        log_file = workdir / (running + ".log")
        while b"activate this console" not in (log_file.read_bytes() if log_file.exists() else b""):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        yield running, stopped
    finally:
        _destroy(running)
        _destroy(stopped)


@pytest.fixture
def host(runtime: Path, monkeypatch: pytest.MonkeyPatch, containers: tuple[str, str]) -> Iterator[LabHost]:
    """A broker that uses only the LXC provider."""
    monkeypatch.setenv("VCONSOLE_PROVIDERS", "lxc")
    h = LabHost(runtime)
    h.write_config(f'[providers.lxc]\nlxcpath = "{LXCPATH}"\n')
    yield h
    h.cleanup()


def _ls(host: LabHost) -> dict:  # type: ignore[type-arg]
    result = host.cli("ls", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _guest(host: LabHost, name: str, timeout: float = 15, **want: str) -> dict:  # type: ignore[type-arg]
    """The listing of ``name`` once its fields have the wanted values."""
    deadline = time.monotonic() + timeout
    while True:
        guests = {g["name"]: g for g in _ls(host)["guests"]}
        guest = guests.get(name)
        if guest is not None and all(guest.get(k) == v for k, v in want.items()):
            return guest
        if time.monotonic() > deadline:
            pytest.fail(f"{name} never had {want}: {guest}")
        time.sleep(0.2)


def _console_states(host: LabHost, name: str, want: dict[str, str], timeout: float = 15) -> dict[str, dict]:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while True:
        consoles = {c["name"]: c for c in _guest(host, name)["consoles"]}
        if all(consoles.get(k, {}).get("state") == v for k, v in want.items()):
            return consoles
        if time.monotonic() > deadline:
            pytest.fail(f"{name} consoles never reached {want}: {consoles}")
        time.sleep(0.2)


def test_ls_lists_states_and_consoles(host: LabHost, containers: tuple[str, str]) -> None:
    running, stopped = containers
    host.start_broker()
    names = [f"vtty{i}" for i in range(TTY_MAX + 1)]
    consoles = _console_states(host, running, dict.fromkeys(names, "connected"))
    assert list(consoles) == names
    up = _guest(host, running)
    assert up["provider"] == "lxc" and up["kind"] == "container" and up["state"] == "running"
    assert isinstance(up["pid"], int) and up["pid"] > 1
    down = _guest(host, stopped)
    assert down["state"] == "stopped"
    assert {c["state"] for c in down["consoles"]} == {"stopped"}
    listing = _ls(host)
    assert [p["name"] for p in listing["providers"]] == ["lxc"]
    assert listing["providers"][0]["error"] is None


def test_tty1_login_prompt_and_shell(host: LabHost, containers: tuple[str, str]) -> None:
    running, _ = containers
    host.start_broker()
    _console_states(host, running, {"vtty1": "connected"})
    att = Attached(host.paths.socket, running, "1")
    try:
        end = att.poke_until(b"\r", b"login: ")
        att.send(b"root\r")
        end = att.expect(b"# ", since=end)
        att.send(b"echo answer-$((6*7))\r")
        att.expect(b"answer-42", since=end)
        att.send(b"exit\r")  # back to the getty for the next user
        att.expect(b"login: ", since=end)
        assert att.detach() == 0
    finally:
        att.close()


def test_console0_escape_transparent_and_log_history(host: LabHost, containers: tuple[str, str]) -> None:
    running, _ = containers
    host.start_broker()
    _console_states(host, running, {"vtty0": "connected"})
    att = Attached(host.paths.socket, running, "0", "--from-start")
    try:
        # Printed at boot, before the broker existed: it comes from lxc.console.logfile.
        end = att.expect(b"Please press Enter to activate this console.")
        att.send(b"\r")
        end = att.expect(b"# ", since=end)
        # LXC's own escape (Ctrl-a q) reaches the guest: ash moves to the line
        # start on Ctrl-a and inserts "q", and lxc-console stays attached.
        att.send(b"echo X\x01q\r")
        end = att.expect(b"qecho: not found", since=end)
        att.send(b"echo still-$((2+3))\r")
        att.expect(b"still-5", since=end)
        assert att.detach() == 0
    finally:
        att.close()
    consoles = _console_states(host, running, {"vtty0": "connected"})
    assert consoles["vtty0"]["log"].endswith(running + ".log")


def test_history_survives_detach(host: LabHost, containers: tuple[str, str]) -> None:
    running, _ = containers
    host.start_broker()
    _console_states(host, running, {"vtty1": "connected"})
    first = Attached(host.paths.socket, running, "1")
    try:
        end = first.poke_until(b"\r", b"login: ")
        first.send(b"root\r")
        end = first.expect(b"# ", since=end)
        first.send(b"echo mark-$((3*3))-er\r")
        first.expect(b"mark-9-er", since=end)
        assert first.detach() == 0
    finally:
        first.close()
    again = Attached(host.paths.socket, running, "1", "--from-start")
    try:
        again.expect(b"mark-9-er")
        again.send(b"exit\r")
        assert again.detach() == 0
    finally:
        again.close()


def test_outside_lxc_console_is_busy(host: LabHost, containers: tuple[str, str]) -> None:
    running, _ = containers
    outside = PtyProcess.spawn(["lxc-console", "-P", str(LXCPATH), "-n", running, "-t", "2"])
    try:
        deadline = time.monotonic() + 10
        seen = b""
        while b"Connected to tty 2" not in seen and time.monotonic() < deadline:
            with contextlib.suppress(EOFError):
                seen += outside.read(4096)
        assert b"Connected to tty 2" in seen, seen
        host.start_broker()
        consoles = _console_states(host, running, {"vtty1": "connected", "vtty2": "busy"})
        assert "Denied access to tty" in consoles["vtty2"]["reason"]
        attach = host.cli("attach", running, "2")
        assert attach.returncode != 0
        assert "busy" in attach.stderr.lower(), attach.stderr
    finally:
        outside.close(force=True)
    # Once the outside client leaves, the broker takes the console over.
    _console_states(host, running, {"vtty2": "connected"}, timeout=20)


def test_stop_and_start(host: LabHost, containers: tuple[str, str]) -> None:
    _, stopped = containers
    host.start_broker()
    _guest(host, stopped, state="stopped")
    assert host.cli("start", stopped, timeout=60).returncode == 0
    _console_states(host, stopped, {"vtty0": "connected", "vtty1": "connected"}, timeout=30)
    result = host.cli("stop", stopped, timeout=90)
    assert result.returncode == 0, result.stderr
    _console_states(host, stopped, {"vtty0": "stopped"}, timeout=30)


def test_real_lxc_with_fake_openvz_and_xen_together(
    runtime: Path, monkeypatch: pytest.MonkeyPatch, containers: tuple[str, str]
) -> None:
    """Acceptance 2: one broker, three providers, one ls, an attach on a guest of each."""
    from tests.providers.fakehost import FakeHost

    running, _ = containers
    fake = FakeHost(runtime / "fakehost")
    fake.serve_domu_consoles()
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VCONSOLE_PROVIDERS", "lxc,openvz,xen")
    h = LabHost(runtime)
    h.write_config(fake.config() + f'[providers.lxc]\nlxcpath = "{LXCPATH}"\n')
    try:
        h.start_broker()
        deadline = time.monotonic() + 30
        while True:
            listing = _ls(h)
            names = {g["name"]: g for g in listing["guests"]}
            ready = {running, "web", "web01"} <= set(names) and all(
                c["state"] == "connected"
                for n, con in ((running, "vtty1"), ("web", "vtty1"), ("web01", "pv0"))
                for c in names.get(n, {"consoles": []})["consoles"] if c["name"] == con
            )
            if ready:
                break
            assert time.monotonic() < deadline, json.dumps(listing)[:2000]
            time.sleep(0.2)
        assert {p["name"] for p in listing["providers"]} == {"lxc", "openvz", "xen"}
        assert all(p["error"] is None for p in listing["providers"])
        assert {names[running]["provider"], names["web"]["provider"], names["web01"]["provider"]} == {
            "lxc", "openvz", "xen"}

        lxc = Attached(h.paths.socket, running, "1")
        try:
            lxc.poke_until(b"\r", b"login: ")
            assert lxc.detach() == 0
        finally:
            lxc.close()
        # The fake OpenVZ guest is a real sh; the fake domU echoes its line (no $(( ))).
        for guest, console, line, answer in (
            ("web", "1", b"echo ovz-$((40+2))\r", b"ovz-42"),
            ("web01", "pv0", b"echo xen-ok\r", b"\r\nxen-ok\r\n"),
        ):
            att = Attached(h.paths.socket, guest, console)
            try:
                # Typed-ahead input can be flushed while a shell starts: wait for a prompt.
                since = att.poke_until(b"\r", b"# ")
                att.send(line)
                att.expect(answer, since=since, timeout=40)
                assert att.detach() == 0
            finally:
                att.close()
    finally:
        h.cleanup()
        fake.close()


def test_destroyed_container_ends_attach_with_guest_removed(
    host: LabHost, containers: tuple[str, str], tmp_path: Path
) -> None:
    """Issue 14 item 4: ``lxc-destroy -f`` while attached: "guest removed", exit 8.

    The broker is frozen (SIGSTOP) across the destroy, so its next look at the
    host comes after the container is gone, as in the run that found the bug
    (the client then waited on "disconnected" forever). Unfrozen, a broker may
    also catch the container stopped first; attach then ends with "stopped"
    (exit 5), which is right too.
    """
    doomed = PREFIX + "c"
    _create(doomed, tmp_path)
    try:
        started = _lxc("lxc-start", "-n", doomed)
        assert started.returncode == 0, started.stderr
        _wait_state(doomed, "RUNNING")
        host.start_broker()
        _console_states(host, doomed, {"vtty1": "connected"})
        att = Attached(host.paths.socket, doomed, "1")
        try:
            att.poke_until(b"\r", b"login: ")
            assert host.broker is not None
            os.kill(host.broker.pid, signal.SIGSTOP)
            try:
                destroyed = _lxc("lxc-destroy", "-f", "-n", doomed)
                assert destroyed.returncode == 0, destroyed.stderr
            finally:
                os.kill(host.broker.pid, signal.SIGCONT)
            att.expect(f"guest removed: container {doomed} was removed".encode(), timeout=20)
            deadline = time.monotonic() + 10
            while att.proc.isalive() and time.monotonic() < deadline:
                att._pump(0.1)
            assert not att.proc.isalive() and att.proc.exitstatus == 8
        finally:
            att.close()
        assert doomed not in {g["name"] for g in _ls(host)["guests"]}
    finally:
        _destroy(doomed)
async def _history_until(host: LabHost, name: str, console: int, needle: bytes, timeout: float = 20) -> bytes:
    from tests.xen.conftest import read_history

    client = await host.client()
    try:
        deadline = time.monotonic() + timeout
        while True:
            data, _ = await read_history(client, name, f"vtty{console}")
            if needle in data:
                return data
            if time.monotonic() > deadline:
                pytest.fail(f"{needle!r} never appeared in vtty{console}: {data[-500:]!r}")
            await asyncio.sleep(0.2)
    finally:
        await client.close()


async def test_line_endings_are_what_the_guest_wrote(host: LabHost, containers: tuple[str, str]) -> None:
    """A line the guest's tty ends with \\r\\n is \\r\\n in the history, on console 0 as on a tty.

    lxc-console's terminal and LXC's proxy pty for console 0 each added a CR
    (\\r\\r\\r\\n); LXC's own console log file records what the guest's console wrote.
    """
    running, _ = containers
    host.start_broker()
    consoles = _console_states(host, running, {"vtty0": "connected", "vtty1": "connected"})
    typist = await host.client()
    try:
        key0 = (await typist.request("attach", target=running, console=0, mode="rw"))["session"]
        await typist.request("input", session=key0, data=b"\r")
        await _history_until(host, running, 0, b"# ")
        await typist.request("input", session=key0, data=b"printf 'LF-%s\\n' ONE TWO\r")
        data = await _history_until(host, running, 0, b"LF-TWO")
        assert b"LF-ONE\r\nLF-TWO\r\n" in data, data[-300:]
        log = Path(consoles["vtty0"]["log"]).read_bytes()
        assert data[data.index(b"LF-ONE\r") : data.index(b"LF-TWO\r") + 8] in log

        key1 = (await typist.request("attach", target=running, console=1, mode="rw"))["session"]
        for line in (b"\r", b"root\r"):
            await typist.request("input", session=key1, data=line)
            await asyncio.sleep(0.5)
        await _history_until(host, running, 1, b"# ")
        await typist.request("input", session=key1, data=b"printf 'TTY-%s\\n' ONE TWO; exit\r")
        data = await _history_until(host, running, 1, b"TTY-TWO")
        assert b"TTY-ONE\r\nTTY-TWO\r\n" in data, data[-300:]
    finally:
        await typist.close()


def test_outside_lxc_console_is_named_and_taken_over(host: LabHost, containers: tuple[str, str]) -> None:
    """Issue 16, acceptance 4 on LXC: the lxc-console holding a tty is in ``ls --json``; --force ends it."""
    running, _ = containers
    outside = PtyProcess.spawn(["lxc-console", "-P", str(LXCPATH), "-n", running, "-t", "2"])
    try:
        deadline = time.monotonic() + 10
        seen = b""
        while b"Connected to tty 2" not in seen and time.monotonic() < deadline:
            with contextlib.suppress(EOFError):
                seen += outside.read(4096)
        assert b"Connected to tty 2" in seen, seen
        host.start_broker()
        deadline = time.monotonic() + 15
        while (held := _console_states(host, running, {"vtty2": "busy"})["vtty2"]["holder"]) is None:
            assert time.monotonic() < deadline, "the holder was never named"
            time.sleep(0.2)
        assert held["pid"] == outside.pid and held["uid"] == os.getuid()
        assert held["command"] == f"{shutil.which('lxc-console')} -P {LXCPATH} -n {running} -t 2"
        att = Attached(host.paths.socket, running, "2", "--force")
        try:
            deadline = time.monotonic() + 10
            while outside.isalive():
                assert time.monotonic() < deadline, "lxc-console is still running"
                time.sleep(0.1)
            consoles = _console_states(host, running, {"vtty2": "connected"})
            assert consoles["vtty2"]["holder"] is None and consoles["vtty2"]["clients"] == 1
            assert att.detach() == 0
        finally:
            att.close()
        took = asyncio.run(_events_of(host, "takeover"))
        assert len(took) == 1 and took[0].holder_pid == outside.pid and took[0].uid == os.getuid()
        assert took[0].command == held["command"]
    finally:
        outside.close(force=True)


async def _events_of(host: LabHost, kind: str) -> list:  # type: ignore[type-arg]
    from vconsole.protocol import Events

    client = await host.client()
    try:
        return [e for e in (await client.read_events(Events())).events if e.kind == kind]
    finally:
        await client.close()
