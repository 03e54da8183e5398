"""Which hosts a command talks to: ``--host``, ``[[hosts]]``, ``[client] local``; targets with ``HOST/``."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.hosts.conftest import RemoteHost, host_table, write_client_config
from tests.lab_host import LabHost
from tests.ssh_server import SshServer, needs_sshd
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import tui_command
from vconsole.cli.hosts import arguments_for_host
from vconsole.config import Config, ConfigError, HostSettings
from vconsole.domain import Target, TargetSyntaxError, parse_target
from vconsole.protocol import target_field
from vconsole.ssh_transport import remote_argv, ssh_argv
from vconsole.wire import ProtocolError


def test_targets_name_their_host() -> None:
    assert parse_target("h1/web") == Target("web", host="h1")
    assert parse_target("h1/web:1") == Target("web", console=1, host="h1")
    assert parse_target("h2/web", "1") == Target("web", console=1, host="h2")
    assert parse_target("h1/lab:101:vtty1") == Target("101", "lab", "vtty1", "h1")
    assert str(parse_target("h1/lab:101:1")) == "h1/lab:101:1"
    for bad in ("/web", "h1/", "h1/a/b", "h:1/web", "h1//web"):
        with pytest.raises(TargetSyntaxError):
            parse_target(bad)


def test_a_broker_refuses_a_host_qualified_target() -> None:
    with pytest.raises(ProtocolError, match="without HOST/"):
        target_field({"target": "h1/web"})


def _config(text: str) -> Config:
    return Config.from_dict(tomllib.loads(text), "F")


def test_hosts_tables_are_checked_key_by_key() -> None:
    cfg = _config('[client]\nlocal = false\n[[hosts]]\nname = "h1"\nssh = "admin@h1"\nssh_options = ["-p", "2222"]\n'
                  'command = "/opt/vc/bin/vconsole"\n[[hosts]]\nssh = "h2.example.org"\n')
    assert cfg.show_local is False
    assert cfg.hosts == [HostSettings("h1", "admin@h1", ("-p", "2222"), "/opt/vc/bin/vconsole"),
                         HostSettings("h2.example.org", "h2.example.org")]
    for text, error in (
        ('[[hosts]]\nssh = "-oProxyCommand=evil"', "F: hosts[0].ssh: '-oProxyCommand=evil' is not an ssh destination"),
        ('[[hosts]]\nssh = "a"\nport = 22', "F: hosts[0].port is not a setting (known: name, ssh, ssh_options, command)"),
        ('[[hosts]]\nname = "a/b"\nssh = "a"', "F: hosts[0].name: 'a/b' is not a host name"),
        ('[[hosts]]\nname = "local"\nssh = "a"', "F: hosts[0].name: 'local' is this machine's own broker"),
        ('[[hosts]]\nssh = "a"\n[[hosts]]\nssh = "u@a"', "F: hosts[1].name: 'a' is the name of another host too"),
        ('[[hosts]]\nssh = "a"\nssh_options = "-p 22"', "F: hosts[0].ssh_options must be a list"),
        ('[client]\nlocal = "no"', "F: client.local must be true or false"),
    ):
        with pytest.raises(ConfigError) as err:
            _config(text)
        assert str(err.value).startswith(error), (str(err.value), error)


def test_ssh_runs_the_remote_bridge_with_the_users_options_first() -> None:
    host = HostSettings("h1", "admin@h1", ("-p", "2222", "-o", "ConnectTimeout=3"), "env X=1 vconsole")
    argv = ssh_argv(host, "--no-start")
    assert argv[:6] == ["ssh", "-T", "-p", "2222", "-o", "ConnectTimeout=3"]  # ssh keeps the first value given
    assert argv[6:8] == ["-o", "BatchMode=yes"]
    assert argv[-3:] == ["--", "admin@h1", "env X=1 vconsole bridge --no-start"]


def test_another_host_gets_the_arguments_without_host_and_broker_options() -> None:
    argv = ["--host", "h1", "log", "h1/web", "1", "--since", "1h", "--socket=/x", "--system", "--host=h2", "--json"]
    assert arguments_for_host(argv, "h1/web", "web") == ["log", "web", "1", "--since", "1h", "--json"]
    remote = ssh_argv(HostSettings("h1", "h1"), "--no-start")[-1]
    assert remote == "vconsole bridge --no-start"
    assert remote_argv(HostSettings("h1", "h1"), ["log", "it's; rm -rf /"])[-1] == "vconsole log 'it'\"'\"'s; rm -rf /'"


def test_a_bad_host_option_or_table_is_one_line(runtime: Path) -> None:
    result = run_cli("--host=-oProxyCommand=x", "ls")
    assert (result.returncode, result.stderr) == (2, "vconsole: --host: '-oProxyCommand=x' is not an ssh destination\n")
    write_client_config(runtime, ['[[hosts]]\nssh = "a"\nbogus = 1\n'])
    result = run_cli("ls")
    assert result.returncode == 2
    assert result.stderr.endswith("config.toml: hosts[0].bogus is not a setting (known: name, ssh, ssh_options, command)\n")


@pytest.mark.parametrize("command", ["snapshot", "restore"])
def test_snapshot_and_restore_name_an_unknown_host(runtime: Path, command: str) -> None:
    """Another host's target goes to that host (tests/hosts/test_host_snapshots.py): one not given is one line."""
    snapshot = runtime / "s.vcsnap"
    if command == "restore":
        assert run_cli("snapshot", "--all", "-o", str(snapshot), timeout=60).returncode == 0
    argv = ("snapshot", "h1/web") if command == "snapshot" else ("restore", str(snapshot), "--into", "h1/web")
    result = run_cli(*argv, timeout=60)
    assert (result.returncode, result.stderr) == (
        4, "vconsole: no host 'h1' (hosts: local; --host or [[hosts]] adds one)\n"
    )
    assert not (runtime / "state" / "vconsole" / "snapshots").exists()  # no default file written either


@pytest.mark.parametrize("command", [("log", "h1/web"), ("wait", "h1/web", "--pattern", "x"), ("events", "h1/web")])
def test_log_and_wait_name_an_unknown_host(runtime: Path, command: tuple[str, ...]) -> None:
    result = run_cli(*command)
    assert (result.returncode, result.stderr) == (
        4, "vconsole: no host 'h1' (hosts: local; --host or [[hosts]] adds one)\n"
    )


class TestOverSsh:
    """Through the test sshd."""

    pytestmark = needs_sshd

    def test_host_option_picks_configured_hosts_and_local(
        self, runtime: Path, sshd: SshServer, three_hosts: dict[str, RemoteHost]
    ) -> None:
        write_client_config(runtime, [host_table(h.name, sshd, h.command) for h in three_hosts.values()])
        result = run_cli("ls", "--json", "--host", "h3", "--host", "local", timeout=120)
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        assert [(h["name"], h["state"]) for h in out["hosts"]] == [("local", "connected"), ("h3", "connected")]
        hosts = {g["host"] for g in out["guests"]}
        assert hosts == {"local", "h3"}
        assert {g["name"] for g in out["guests"] if g["host"] == "h3"} == {"mail"}

    def test_local_is_listed_beside_the_hosts_unless_told_not_to(
        self, runtime: Path, sshd: SshServer, three_hosts: dict[str, RemoteHost]
    ) -> None:
        write_client_config(runtime, [host_table("h1", sshd, three_hosts["h1"].command)], local=True)
        result = run_cli("ls", timeout=120)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0].startswith("hosts: local (") and ", h1 (" in lines[0]
        rows = [line.split()[:2] for line in lines[2:] if line and not line.startswith(" ")]
        assert ["h1", "web"] in rows and ["h1", "db"] in rows
        assert any(row[0] == "local" for row in rows)  # the demo fleet of this machine's lab

    def test_log_and_wait_run_on_the_host_the_target_names(
        self, runtime: Path, sshd: SshServer, three_hosts: dict[str, RemoteHost]
    ) -> None:
        write_client_config(runtime, [host_table(h.name, sshd, h.command) for h in three_hosts.values()])
        assert run_cli("ls", timeout=120).returncode == 0  # each host's broker started, consoles logged
        waited = run_cli("wait", "h2/web", "--pattern", "web", "--from", "start", "--timeout", "30", timeout=120)
        assert waited.returncode == 0, waited.stderr
        assert "web" in waited.stdout
        log = run_cli("log", "h2/web", "--json", "--host", "h2", "--socket", "/nonexistent/x", timeout=120)
        assert log.returncode == 0, log.stderr
        lines = [json.loads(line) for line in log.stdout.splitlines()]
        assert lines and {(line["guest"], line["console"]) for line in lines} == {("web", "vtty0")}
        assert any("web" in line["text"] for line in lines)
        # h2's broker keeps the events: the wait above attached (mode log) and left.
        events = run_cli("events", "h2/web", "--json", timeout=120)
        assert events.returncode == 0, events.stderr
        seen = [json.loads(line) for line in events.stdout.splitlines()]
        assert {(e["kind"], e["mode"]) for e in seen if e["kind"] in ("attach", "detach")} == {
            ("attach", "log"), ("detach", "log")}
        assert {e["guest"] for e in seen} == {"web"}
        bare = run_cli("log", "cache", "--json", timeout=120)  # only h2 has it
        assert bare.returncode == 0, bare.stderr
        assert {json.loads(line)["guest"] for line in bare.stdout.splitlines()} == {"cache"}
        ambiguous = run_cli("log", "web", timeout=120)
        assert (ambiguous.returncode, ambiguous.stderr) == (
            4, "vconsole: 'web' is on several hosts: h1/web, h2/web (name one of them)\n"
        )
        missing = run_cli("log", "h3/web", timeout=120)
        assert missing.returncode == 4, missing.stderr
        # h3's own vconsole answered, from h3's log directory.
        assert missing.stderr == f"vconsole: no log of a guest 'web' in {three_hosts['h3'].base}/state/vconsole/log (logs of: mail)\n"


@needs_tmux
def test_the_tui_shows_this_machine_and_a_host_that_does_not_answer(lab_host: LabHost) -> None:
    """``local = true`` and a host ssh cannot reach: this machine's guests under ``local``, the other says why."""
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 1}]))
    lab_host.start_broker()
    table = '[[hosts]]\nname = "h1"\nssh = "root@127.0.0.1"\nssh_options = ["-p", "1"]\n'
    write_client_config(lab_host.base, [table], local=True)
    pane = TmuxPane.shell(cols=120, rows=30)
    try:
        pane.type(tui_command(lab_host), "Enter")
        pane.wait_until(lambda s: "local connected" in s and "web 101" in s and "h1 unreachable: " in s,
                        "this machine's guests and h1 unreachable", timeout=30)
        assert "1 of 2 hosts connected" in pane.screen()
    finally:
        pane.close()


def test_hosts_before_and_after_the_subcommand_all_count() -> None:
    from vconsole.cli.command_line import parse_args

    assert parse_args(["--host", "h1", "ls", "--host", "h2", "--host=h3"]).host == ["h1", "h2", "h3"]
    assert parse_args(["ls", "--host", "h2"]).host == ["h2"]
    assert parse_args(["--host", "h1", "ls"]).host == ["h1"]
    assert parse_args(["ls"]).host is None
