"""``vconsole events`` with a real lab and broker: a panic nobody watched, who attached, options."""

from __future__ import annotations

import asyncio
import json
import os

from tests.conftest import wait_for
from tests.events.cli_events import (
    FOREVER,
    events_json,
    gated_init,
    listed_console,
    raw_log,
    watch_hits,
)
from tests.lab_host import LabHost
from vconsole.cli.exit_codes import EXIT_NO_BROKER, EXIT_UNKNOWN, EXIT_USAGE
from vconsole.console_events import EventKind
from vconsole.domain import AttachMode, Severity, parse_target

# A domU that cannot find its root disk, as a Debian kernel on Xen tells it on its console.
PANIC_LINE = "[    2.101330] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"
VFS_PANIC = f"""\
[    2.098702] xen_netfront: Initialising Xen virtual ethernet driver
[    2.101113] VFS: Cannot open root device "xvda1" or unknown-block(0,0): error -6
[    2.101224] Please append a correct "root=" boot option; here are the available partitions:
{PANIC_LINE}
[    2.101412] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 5.10.0-28-amd64 #1 Debian 5.10.209-2
[    2.101500] Hardware name: Xen HVM domU, BIOS 4.14.6 05/09/2023
[    2.101580] Call Trace:
[    2.101640]  dump_stack+0x6b/0x83
[    2.101700]  panic+0x101/0x2d7
[    2.101760]  mount_block_root+0x2b5/0x2c4
[    2.101820]  prepare_namespace+0x136/0x165
[    2.101880]  kernel_init_freeable+0x232/0x25b
[    2.101940]  kernel_init+0xa/0x110
[    2.102000]  ret_from_fork+0x22/0x30
[    2.102100] Kernel Offset: disabled
[    2.102200] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ]---
"""


def test_a_panic_nobody_watched_is_one_panic_event_with_its_line_and_offset(lab_host: LabHost) -> None:
    """Acceptance 1 (CLI): a domU panics, its first line in two writes, with no client attached."""
    text = lab_host.ctl_dir("db") / "panic.txt"
    text.write_text(VFS_PANIC)
    split = VFS_PANIC.index(PANIC_LINE) + len("[    2.101330] Kernel pan")
    init, gate = gated_init(lab_host, "db", f"head -c {split} {text}; sleep 0.5; tail -c +{split + 1} {text}")
    lab_host.start_lab(lab_host.write_fleet([], [{"id": 7, "name": "db", "program": ["/bin/sh", "-c", init]}]))
    lab_host.start_broker()
    wait_for(lambda: listed_console(lab_host, "db")["state"] == "connected", what="the domU's console")
    gate.touch()
    wait_for(lambda: "---[ end Kernel panic" in lab_host.cli("log", "db").stdout, what="the whole panic")
    assert listed_console(lab_host, "db")["clients"] == 0
    wait_for(lambda: watch_hits(lab_host), what="the panic event")
    (panic,) = watch_hits(lab_host)
    assert (panic.name, panic.severity, panic.guest, panic.console) == ("panic", Severity.CRITICAL, "db", "pv0")
    assert panic.text == PANIC_LINE
    assert panic.offset is not None
    raw = raw_log(lab_host, "db")
    assert raw[panic.offset :].startswith(PANIC_LINE.encode())
    assert raw[: panic.offset].endswith(b"\n")  # the offset is the line's start
    # The alert shows in ls, table and JSON.
    assert listed_console(lab_host, "db")["alert"] == {"severity": "critical", "name": "panic", "count": 1, "seq": panic.seq}
    table = lab_host.cli("ls").stdout
    (row,) = [line for line in table.splitlines() if "pv0" in line]
    assert row.endswith("PANIC critical"), table
    # The text form: one line, the time, the severity, where, the watch and the line.
    shown = lab_host.cli("events", "--severity", "critical")
    assert shown.returncode == 0, shown.stderr
    (line,) = shown.stdout.splitlines()
    assert line.endswith(f"  CRITICAL  db:pv0  panic  {PANIC_LINE}"), line
    # Acknowledging clears the alert (ls's column and JSON); the event stays in the stream.
    acked = lab_host.cli("events", "--ack", "db")
    assert (acked.returncode, acked.stdout) == (0, "acknowledged 1 event of db\n"), acked.stderr
    assert listed_console(lab_host, "db")["alert"] is None
    assert not [r for r in lab_host.cli("ls").stdout.splitlines() if "PANIC" in r]
    assert [e.name for e in watch_hits(lab_host)] == ["panic"]


def test_without_a_broker_events_says_so_and_starts_none(lab_host: LabHost) -> None:
    done = lab_host.cli("events")
    assert (done.returncode, done.stdout) == (EXIT_NO_BROKER, "")
    assert done.stderr.count("\n") == 1 and "memory" in done.stderr, done.stderr
    assert not lab_host.paths.socket.exists()


def test_bad_options_and_an_unknown_target_are_one_line_errors(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 601, "name": "web", "vttys": 2, "init": FOREVER}]))
    lab_host.start_broker()
    for args, code in (
        (["--severity", "loud"], EXIT_USAGE),
        (["--since", "last tuesday"], EXIT_USAGE),
        (["--bogus"], EXIT_USAGE),
        (["web:1:2"], EXIT_USAGE),
        (["nosuch"], EXIT_UNKNOWN),
        (["web", "7"], EXIT_UNKNOWN),
    ):
        done = lab_host.cli("events", *args)
        assert (done.returncode, done.stdout) == (code, ""), (args, done)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, (args, done.stderr)
    assert lab_host.cli("events", "web", "1").returncode == 0


def test_hostile_guest_text_is_shown_safe_and_kept_exact_in_json(lab_host: LabHost) -> None:
    """A watch hit's line carries a title-setting escape and a bidi override: shown spelt out."""
    init, gate = gated_init(
        lab_host, "evil", "printf 'Oops: \\033]0;pwned\\007 \\342\\200\\256gnp.exe\\n'",
    )
    lab_host.start_lab(lab_host.write_fleet([{"id": 602, "name": "evil", "vttys": 1, "init": init}]))
    lab_host.start_broker()
    wait_for(lambda: listed_console(lab_host, "evil")["state"] == "connected", what="the console")
    gate.touch()
    wait_for(lambda: watch_hits(lab_host), what="the oops event")
    (oops,) = watch_hits(lab_host)
    assert oops.name == "oops" and "\u202e" in oops.text
    shown = lab_host.cli("events").stdout
    assert "\u202e" not in shown and "\x1b" not in shown and "\x07" not in shown
    assert "Oops:" in shown


def test_attach_and_detach_events_name_the_uid_pid_and_mode(lab_host: LabHost) -> None:
    """Acceptance 5 (events): a read-write and a read-only client come and go."""
    lab_host.start_lab(lab_host.write_fleet([{"id": 603, "name": "web", "vttys": 1, "init": FOREVER}]))
    lab_host.start_broker()

    async def come_and_go() -> None:
        for mode in (AttachMode.RW, AttachMode.RO):
            client = await lab_host.client()
            try:
                reply = await client.attach(parse_target("web"), mode)
                await client.detach(reply.session)
            finally:
                await client.close()

    asyncio.run(come_and_go())
    people = [e for e in events_json(lab_host, "web") if e.kind in (EventKind.ATTACH, EventKind.DETACH)]
    assert [(e.kind, e.mode, e.uid, e.pid) for e in people] == [
        (EventKind.ATTACH, AttachMode.RW, os.getuid(), os.getpid()),
        (EventKind.DETACH, AttachMode.RW, os.getuid(), os.getpid()),
        (EventKind.ATTACH, AttachMode.RO, os.getuid(), os.getpid()),
        (EventKind.DETACH, AttachMode.RO, os.getuid(), os.getpid()),
    ]
    raw = [json.loads(line) for line in lab_host.cli("events", "--json", "web").stdout.splitlines()]
    assert {"uid", "pid", "mode"} <= set(next(r for r in raw if r["kind"] == "attach"))
    shown = lab_host.cli("events", "web").stdout
    assert f"uid {os.getuid()} pid {os.getpid()} ro" in shown, shown
