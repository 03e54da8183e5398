"""Reading the host's processes from /proc (providers/host_processes.py), against real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vconsole.cli.listing import render_table
from vconsole.providers.host_processes import (
    HostProcess,
    flock_owners,
    is_vconsole_daemon,
    option_value,
    processes_running,
    read_process,
    tool_arguments,
)


def test_tool_arguments_direct_or_under_an_interpreter() -> None:
    assert tool_arguments(("/usr/bin/lxc-console", "-n", "web"), "lxc-console") == ["-n", "web"]
    assert tool_arguments(("python3.11", "/x/bin/vzctl", "console", "101"), "vzctl") == ["console", "101"]
    assert tool_arguments(("grep", "lxc-console"), "lxc-console") is None
    assert tool_arguments(("sh", "-c", "lxc-console -n web"), "lxc-console") is None
    assert tool_arguments((), "vzctl") is None


def test_option_value_forms() -> None:
    args = ["-P", "/var/lib/lxc", "-nweb", "--tty=2"]
    assert option_value(args, "-n", "--name") == "web"
    assert option_value(args, "-t", "--tty") == "2"
    assert option_value(args, "-P", "--lxcpath") == "/var/lib/lxc"
    assert option_value(["--name", "db", "-t"], "-n", "--name") == "db"
    assert option_value(["--name", "db", "-t"], "-t", "--tty") is None


def test_read_process_names_a_real_child_and_not_a_zombie() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "marker arg"])
    try:
        time.sleep(0.2)
        found = read_process(child.pid)
        assert found is not None
        assert found.uid == os.getuid() and found.argv[-1] == "marker arg"
        assert found.started is not None and abs(found.started - time.time()) < 5
        holder = found.holder()
        assert holder.pid == child.pid and holder.command.endswith("time.sleep(30) marker arg")
        assert holder.since == found.started
        child.kill()
        time.sleep(0.2)  # not reaped yet: a zombie, which holds nothing
        assert read_process(child.pid) is None
    finally:
        child.kill()
        child.wait()


def test_processes_running_finds_a_script_by_its_tool_name(tmp_path: Path) -> None:
    tool = tmp_path / "vzctl"
    tool.write_text("import time\ntime.sleep(30)\n")
    child = subprocess.Popen([sys.executable, str(tool), "console", "101", "2"])
    try:
        time.sleep(0.2)
        found = processes_running("vzctl", lambda args: args == ["console", "101", "2"])
        assert [p.pid for p in found] == [child.pid]
        assert processes_running("vzctl", lambda args: args == ["console", "102"]) == []
    finally:
        child.kill()
        child.wait()


def test_flock_owners_from_proc_locks(tmp_path: Path) -> None:
    lock = tmp_path / "xenconsole.3"
    assert flock_owners(str(lock)) == []  # no such file
    lock.touch()
    assert flock_owners(str(lock)) == []  # nobody holds it
    child = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         f"fd = os.open({str(lock)!r}, os.O_RDWR)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('locked', flush=True)\ntime.sleep(30)\n"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        assert flock_owners(str(lock)) == [child.pid]
        other = tmp_path / "xenconsole.4"
        other.touch()
        assert flock_owners(str(other)) == []
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize(("argv", "daemon"), [
    (("/usr/bin/python3", "-m", "vconsole", "serve", "--socket", "/run/x"), True),
    (("/usr/local/bin/vconsole", "lab", "--fleet", "f.toml"), True),
    (("python3", "/src/vconsole/__main__.py", "--no-daemon"), True),
    (("/usr/local/bin/vconsole", "attach", "web"), False),
    (("lxc-console", "-n", "serve"), False),
])
def test_vconsole_daemons_are_recognised(argv: tuple[str, ...], daemon: bool) -> None:
    assert is_vconsole_daemon(HostProcess(1234, 0, argv, None)) is daemon


def test_ls_table_shows_the_holder_without_letting_it_act_on_the_terminal() -> None:
    holder = {"pid": 42, "uid": 0, "user": "root", "command": "evil \x1b]0;pwned\x07 -t 1", "since": 1.0}
    console = {"name": "vtty1", "state": "busy", "clients": 0, "unread": 0, "pending": 0, "history": 0,
               "dropped": 0, "holder": holder}
    listing = {"providers": [], "guests": [{"name": "web", "id": "101", "kind": "container",
                                            "state": "running", "consoles": [console]}]}
    table = render_table(listing)
    since = time.strftime("%H:%M:%S", time.localtime(1.0))
    assert f"busy by pid 42 root since {since}: evil ^[]0;pwned^G -t 1" in table
    assert "\x1b" not in table and "\x07" not in table
