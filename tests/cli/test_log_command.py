"""`vconsole log`: the real command over log files written by the real writer at known times.

Every test here but the last runs with no broker at all: reading is straight
from the files, and must never start one.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks.log_read import build_fleet
from tests.conftest import run_cli, vconsole_cmd, wait_for
from tests.consolelog.line_reference import reference_output
from tests.lab_host import LabHost
from vconsole.cli.exit_codes import EXIT_UNKNOWN, EXIT_USAGE, CliError
from vconsole.cli.log_command import LinePrinter, OutputMode, Request, _print_files
from vconsole.consolelog.layout import LogMeta, default_log_root
from vconsole.consolelog.lines import LogLine
from vconsole.consolelog.reader import console_logs
from vconsole.consolelog.selection import BootNotHeld, LineQuery
from vconsole.consolelog.store import LogStore
from vconsole.runtime_paths import RuntimePaths

T0 = datetime(2026, 12, 6, 7, 0, tzinfo=UTC).timestamp()
WEB0 = LogMeta("lab", "101", "web", "vtty0", 0, "host1")
WEB1 = LogMeta("lab", "101", "web", "vtty1", 1, "host1")
DB0 = LogMeta("lab", "102", "db", "vtty0", 0, "host1")
WEB_TEXT = ["boot one", "first line", "OK", "-- boot 2 --", "second boot", "login: "]
WEB_RAW = b"boot one\r\nfirst line\r\n\x1b[1;32mOK\x1b[0m\r\nsecond boot\r\nlogin: "

Writes = list[tuple[str, float, bytes | str]]  # ("boot", when, incarnation) or ("data", when, bytes)


def write_log(root: Path, meta: LogMeta, writes: Writes) -> None:
    """A console's log as the broker writes it: boots and read turns at the given times."""
    store = LogStore(root)
    store.open()
    try:
        writer = store.console(meta)
        for kind, when, what in writes:
            if kind == "boot":
                writer.new_boot(str(what), when)
            else:
                assert isinstance(what, bytes)
                writer.append(what, when)
    finally:
        store.close()


def log_root_here() -> Path:
    return default_log_root(RuntimePaths.resolve().socket)


@pytest.fixture
def fleet_logs(runtime: Path) -> Iterator[Path]:
    """web (two consoles, two boots, a line split over two reads) and db, at known times."""
    root = log_root_here()
    write_log(root, WEB0, [
        ("boot", T0, "a"),
        ("data", T0 + 1, b"boot one\r\nfirst li"),
        ("data", T0 + 2, b"ne\r\n\x1b[1;32mOK\x1b[0m\r\n"),
        ("boot", T0 + 100, "b"),
        ("data", T0 + 101, b"second boot\r\n"),
        ("data", T0 + 102, b"login: "),
    ])
    write_log(root, WEB1, [("boot", T0, "a"), ("data", T0 + 50, b"tty1 line\r\n")])
    write_log(root, DB0, [("boot", T0, "a"), ("data", T0 + 1.5, b"db up\r\n"), ("data", T0 + 101.5, b"db ready\r\n")])
    yield runtime
    assert not (runtime / "run" / "vconsole" / "broker.sock").exists(), "reading a log started a broker"


def out_lines(*args: str, env: dict[str, str] | None = None) -> list[str]:
    done = subprocess.run(vconsole_cmd("log", *args), capture_output=True, text=True, timeout=30,
                          env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, (args, done.returncode, done.stderr)
    assert done.stderr == ""
    return done.stdout.splitlines()


def fails(code: int, *args: str) -> str:
    done = run_cli("log", *args)
    assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
    assert done.stdout == "" and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    return done.stderr


def test_the_whole_log_reads_with_no_broker(fleet_logs: Path) -> None:
    assert out_lines("web") == WEB_TEXT
    assert out_lines("web", "--from-start") == WEB_TEXT


def test_raw_is_the_bytes_as_written(fleet_logs: Path) -> None:
    done = subprocess.run(vconsole_cmd("log", "web", "--raw"), capture_output=True, timeout=30)
    assert done.returncode == 0 and done.stdout == WEB_RAW


def test_boot_picks_one_boot_like_journalctl(fleet_logs: Path) -> None:
    first, latest = WEB_TEXT[:3], WEB_TEXT[4:]
    assert out_lines("web", "--boot", "-1") == first
    assert out_lines("web", "--boot", "1") == first
    assert out_lines("web", "--boot") == latest
    assert out_lines("web", "--boot", "0") == latest
    assert out_lines("--boot", "web") == latest  # the optional K did not take the target
    assert out_lines("web", "-b", "2") == latest
    assert "no boot -2: the log holds 2 boots (0 to -1)" in fails(EXIT_UNKNOWN, "web", "--boot", "-2")
    assert "no boot 7: the log holds boots 1 to 2" in fails(EXIT_UNKNOWN, "web", "--boot", "7")


def test_since_and_until_at_known_times(fleet_logs: Path) -> None:
    # 07:00:01.5 falls inside "first line" (it began at 07:00:01): a line belongs to its first byte's time.
    assert out_lines("web", "--utc", "--since", "2026-12-06T07:00:01.5") == ["OK", *WEB_TEXT[3:]]
    assert out_lines("web", "--utc", "--until", "2026-12-06 07:00:02") == ["boot one", "first line"]
    assert out_lines("web", "--utc", "--since", "07:01:40", "--until", "@" + str(T0 + 102)) == ["second boot"]
    assert out_lines("web", "--since", "@" + str(T0 + 1000)) == []
    assert out_lines("web", "--since", "2026-12-06T08:00:01.5", env={**os.environ, "TZ": "Europe/Paris"}) == ["OK", *WEB_TEXT[3:]]


def test_durations_mean_ago(runtime: Path) -> None:
    now = time.time()
    write_log(log_root_here(), WEB0, [("boot", now - 7200, "a"), ("data", now - 7200, b"old\n"),
                                      ("data", now - 600, b"recent\n"), ("data", now - 5, b"new\n")])
    assert out_lines("web", "--since", "1h") == ["recent", "new"]
    assert out_lines("web", "--since", "1h30m", "--until", "1m") == ["recent"]
    assert out_lines("web", "--since", "today") == out_lines("web", "--since", "yesterday")[-len(out_lines("web", "--since", "today")):]


def test_timestamps_local_and_utc_with_milliseconds(fleet_logs: Path) -> None:
    assert out_lines("web", "--timestamps", "--utc", "-b", "-1") == [
        "2026-12-06T07:00:01.000+00:00 boot one",
        "2026-12-06T07:00:01.000+00:00 first line",
        "2026-12-06T07:00:02.000+00:00 OK",
    ]
    paris = {**os.environ, "TZ": "Europe/Paris"}
    assert out_lines("db", "-t", env=paris) == ["2026-12-06T08:00:01.500+01:00 db up", "2026-12-06T08:01:41.500+01:00 db ready"]


def test_json_lines(fleet_logs: Path) -> None:
    records = [json.loads(line) for line in out_lines("web", "--json")]
    assert [r["text"] for r in records] == [t for t in WEB_TEXT if not t.startswith("--")]
    assert [r["boot"] for r in records] == [1, 1, 1, 2, 2]
    assert records[0]["offset"] + len(b"boot one\r\n") == records[1]["offset"]
    assert records[2]["time"] == "2026-12-06T07:00:02.000+00:00" and records[2]["ts"] == T0 + 2
    assert {(r["host"], r["guest"], r["console"], r["provider"], r["guest_id"]) for r in records} == {
        ("host1", "web", "vtty0", "lab", "101")}


def test_all_merges_every_console_by_time(fleet_logs: Path) -> None:
    assert out_lines("--all") == [
        "web:vtty0 boot one", "web:vtty0 first line", "db:vtty0 db up", "web:vtty0 OK",
        "web:vtty1 tty1 line", "web:vtty0 second boot", "db:vtty0 db ready", "web:vtty0 login: ",
    ]
    assert out_lines("--all", "--utc", "--since", "2026-12-06T07:00:10", "-n", "2") == [
        "db:vtty0 db ready", "web:vtty0 login: "]
    guests = [json.loads(line)["guest"] for line in out_lines("--all", "--json", "--boot", "-1")]
    assert guests == ["web", "web", "web"]  # only web holds a boot before its latest


def test_lines_keeps_the_last_n(fleet_logs: Path) -> None:
    assert out_lines("web", "-n", "2") == ["second boot", "login: "]
    assert out_lines("web", "--lines", "3", "--boot", "-1") == WEB_TEXT[:3]
    assert out_lines("web", "-n", "0") == []
    assert out_lines("web", "-n", "100") == WEB_TEXT


def test_lines_reads_back_far_enough_in_a_long_log(runtime: Path) -> None:
    lines = [f"{i:05d}:" + "x" * 994 + "\n" for i in range(300)]  # 1000-byte lines
    data = "".join(lines).encode()
    writes: Writes = [("boot", T0, "a")] + [("data", T0 + i, data[i * 777 : (i + 1) * 777]) for i in range(len(data) // 777 + 1)]
    write_log(log_root_here(), WEB0, writes)
    assert out_lines("web", "-n", "150") == [x.rstrip("\n") for x in lines[-150:]]


def test_targets_and_consoles_resolve_from_the_logs(fleet_logs: Path) -> None:
    for args in (["web", "1"], ["web:1"], ["web", "vtty1"], ["lab:101:1"], ["101", "1"], ["lab:101", "vtty1"]):
        assert out_lines(*args) == ["tty1 line"], args
    assert out_lines("db") == ["db up", "db ready"]
    root = log_root_here()
    assert fails(EXIT_UNKNOWN, "nosuch") == f"vconsole: no log of a guest 'nosuch' in {root} (logs of: db, web)\n"
    assert "no log of web:5 (consoles with a log: 0 vtty0, 1 vtty1)" in fails(EXIT_UNKNOWN, "web", "5")


def test_an_ambiguous_name_lists_the_candidates(fleet_logs: Path) -> None:
    write_log(log_root_here(), LogMeta("lxc", "web", "web", "console", 0, "host1"), [("data", T0, b"lxc one\n")])
    assert "'web' matches several guests: lab:101, lxc:web (name one of them)" in fails(EXIT_UNKNOWN, "web")
    assert out_lines("lxc:web") == ["lxc one"]
    assert out_lines("lab:101", "-n", "1") == ["login: "]


def test_no_log_at_all_says_where_it_looked(runtime: Path) -> None:
    assert fails(EXIT_UNKNOWN, "web") == f"vconsole: no console logs in {log_root_here()}\n"
    (runtime / "config" / "vconsole").mkdir(parents=True)
    (runtime / "config" / "vconsole" / "config.toml").write_text('[log]\ndir = "/tmp/vc-no-such-log-dir"\n')
    assert fails(EXIT_UNKNOWN, "--all") == "vconsole: no console logs in /tmp/vc-no-such-log-dir\n"


def test_the_log_dir_comes_from_config_and_socket(runtime: Path) -> None:
    elsewhere = runtime / "elsewhere"
    (runtime / "config" / "vconsole").mkdir(parents=True)
    (runtime / "config" / "vconsole" / "config.toml").write_text(f'[log]\ndir = "{elsewhere}"\n')
    write_log(elsewhere, DB0, [("data", T0, b"configured\n")])
    assert out_lines("db") == ["configured"]
    (runtime / "config" / "vconsole" / "config.toml").write_text("[log]\nenabled = true\n")
    write_log(default_log_root(Path("/tmp/other.sock")), DB0, [("data", T0, b"other socket\n")])
    assert out_lines("db", "--socket", "/tmp/other.sock") == ["other socket"]
    (runtime / "config" / "vconsole" / "config.toml").write_text("[log]\nbogus = 1\n")
    assert "bogus" in fails(EXIT_USAGE, "db")


def test_what_a_guest_wrote_cannot_act_on_the_terminal(runtime: Path) -> None:
    hostile = b"\x1b]0;pwned\x07evil \xe2\x80\xae txt\x9b2J \xc2\x9b2J\x07\r\n"
    write_log(log_root_here(), LogMeta("lab", "9", "x\x1b[2J", "vtty0", 0, "h"), [("data", T0, hostile)])
    assert out_lines("lab:9") == ["evil \\u202e txt\ufffd2J "]
    assert out_lines("--all") == ["x^[[2J:vtty0 evil \\u202e txt\ufffd2J "]
    done = subprocess.run(vconsole_cmd("log", "lab:9", "--raw"), capture_output=True, timeout=30)
    assert done.stdout == hostile  # the explicit opt-in


def test_every_option_prints_what_printing_line_by_line_did_over_the_benchmarks_fleet(tmp_path: Path) -> None:
    now = time.time()
    root = tmp_path / "log"
    build_fleet(root, 12, 24 * 1024, now)
    # And a console of what a hostile or broken guest writes, in odd reads, over two boots.
    junk = b"ok\r\nbar 10%\rbar 99%\r\n\x1b]0;t\x07\x1b[2J\xe2\x80\xae\x9b\xc2\x9b\xff\x00\x7f\t|\x08\x1b[K\r\n\xc3\xa9t\xc3\r\n"
    write_log(root, LogMeta("lab", "9", "x\x1b[2J", "vtty0", 0, "h"), [
        ("boot", now - 5000, "a"), *[("data", now - 4000 + n * 60, junk[n % 17 :] + junk[: n % 17]) for n in range(40)],
        ("boot", now - 1000, "b"), *[("data", now - 900 + n * 7, junk[n % 5 :]) for n in range(40)],
    ])
    logs = console_logs(root)
    printed: set[bool] = set()
    one = [log for log in logs if log.meta is not None and log.meta.guest_id == "9"]
    queries = [LineQuery(), LineQuery(since=now - 3600), LineQuery(since=now - 3000, until=now - 2000),
               LineQuery(last=50), LineQuery(last=0), LineQuery(boot=-1), LineQuery(since=now - 950, boot=0, last=9)]
    for chosen in (logs, one, logs[3:4]):
        for query in queries:
            for mode, timestamps, utc in ((OutputMode.TEXT, False, False), (OutputMode.TEXT, True, False),
                                          (OutputMode.TEXT, True, True), (OutputMode.JSON, False, False),
                                          (OutputMode.RAW, False, False)):
                if mode == OutputMode.RAW and len(chosen) > 1:
                    continue
                out = io.BytesIO()
                printer = LinePrinter(out, mode, timestamps, utc, labelled=len(chosen) > 1)
                try:
                    expected = reference_output(chosen, query, mode, timestamps, utc)
                except BootNotHeld:  # --boot -1 of one log with one boot
                    with pytest.raises(CliError, match="no boot -1"):
                        _print_files(chosen, Request(None, query, printer), follow=False)
                    continue
                _print_files(chosen, Request(None, query, printer), follow=False)
                printer.flush()
                assert out.getvalue() == expected, (query, mode, len(chosen))
                printed.add(bool(expected))
    assert printed == {True, False}


def test_following_keeps_each_logs_unfinished_last_line_for_later(fleet_logs: Path) -> None:
    logs = [log for log in console_logs(log_root_here()) if log.meta is not None and log.meta.console == "vtty0"]
    out = io.BytesIO()
    printer = LinePrinter(out, OutputMode.TEXT, labelled=True)
    pending = _print_files(logs, Request(None, LineQuery(), printer), follow=True)
    printer.flush()
    lines = out.getvalue().decode().splitlines()
    assert lines == ["web:vtty0 boot one", "web:vtty0 first line", "db:vtty0 db up", "web:vtty0 OK",
                     "web:vtty0 second boot", "db:vtty0 db ready"]  # "login: " waits for its end
    assert [(meta.guest_name, line) for meta, line in pending.items()] == [
        ("web", LogLine(T0 + 102, len(WEB_RAW) - len(b"login: "), 2, b"login: "))]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a TARGET"),
        (["web", "--all"], "not both"),
        (["web", "--raw", "--json"], "not allowed with"),
        (["--all", "--raw"], "--raw"),
        (["web", "--raw", "-t"], "--raw"),
        (["web", "--since", "soon"], "--since: bad time 'soon': use a duration ago"),
        (["web", "--until", "25:00"], "--until: bad time"),
        (["web", "-n", "-3"], "not a number of lines"),
        (["web", "1", "--boot", "x"], "K must be a number"),
        (["web", "-f", "--until", "1h"], "--follow"),
        (["web", "-f", "--boot", "-1"], "--follow"),
        (["web", "--from-start", "-n", "3"], "--from-start"),
        (["web:1:2:3"], "bad target"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(runtime: Path, args: list[str], message: str) -> None:
    assert message in fails(EXIT_USAGE, *args)


def test_a_closed_pipe_ends_quietly(runtime: Path) -> None:
    write_log(log_root_here(), WEB0, [("data", T0, b"".join(b"line %d\n" % i for i in range(100_000)))])
    done = subprocess.run(f"{' '.join(vconsole_cmd('log', 'web'))} | head -n 2", shell=True, capture_output=True, text=True, timeout=30)
    assert done.stdout == "line 0\nline 1\n" and done.stderr == ""


def test_follow_prints_what_the_guest_writes_after_it_starts(lab_host: LabHost) -> None:
    """Needs the broker's side of issue 15 (session writes, LOG attachments)."""
    fleet = lab_host.write_fleet([{"id": 301, "name": "talker", "vttys": 1, "init": lab_host.scripted("talker")}])
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    wait_for(lambda: lab_host.cli("log", "talker").stdout.startswith("READY"), what="READY in the log")
    follower = subprocess.Popen(
        [*vconsole_cmd("log", "talker", "-f", "--socket", str(lab_host.paths.socket))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == b"READY\n"  # from the files
        lab_host.command("talker", 1, "write 128")
        assert follower.stdout.readline() == b"1:00000000:" + b"." * 52 + b"\n"  # from the broker, live
        assert follower.stdout.readline() == b"1:00000001:" + b"." * 52 + b"\n"
        follower.send_signal(signal.SIGINT)
        assert follower.wait(10) == 128 + signal.SIGINT
    finally:
        follower.kill()
        follower.wait()
    listing = json.loads(lab_host.cli("ls", "--json").stdout)
    (console,) = listing["guests"][0]["consoles"]
    assert console["unread"] > 0  # a LOG attachment read nothing


async def test_follow_continues_the_files_unfinished_line_and_prints_nothing_twice(runtime: Path) -> None:
    from vconsole.cli.log_command import LinePrinter, OutputMode
    from vconsole.cli.log_follow import FLUSH_IDLE, FollowedLog, Follower
    from vconsole.consolelog.layout import console_dir
    from vconsole.consolelog.lines import LogLine

    root = log_root_here()
    write_log(root, WEB0, [("boot", T0, "a"), ("data", T0 + 1, b"hello\nlog")])
    out = io.BytesIO()
    followed = FollowedLog(WEB0, console_dir(root, WEB0.key), 9, LogLine(T0 + 1, 6, 1, b"log"))
    follower = Follower([followed], LinePrinter(out, OutputMode.JSON))
    followed.prepare()
    key = WEB0.key.text
    follower.on_event({"event": "output", "session": key, "offset": 6, "data": b"login: root\nne"})
    follower.on_event({"event": "output", "session": "lab:102:vtty0", "offset": 0, "data": b"not followed\n"})
    follower.on_event({"event": "output", "session": key, "offset": 20, "data": b"xt"})
    follower.flush_idle()  # too early: the line may go on
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["text"], r["offset"], r["boot"], r["ts"]) for r in records] == [("login: root", 6, 1, T0 + 1)]
    await asyncio.sleep(FLUSH_IDLE + 0.1)
    follower.flush_idle()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["text"], r["offset"]) for r in records] == [("login: root", 6), ("next", 18)]
    assert records[1]["ts"] > T0 + 1000  # a live line's time is its arrival
