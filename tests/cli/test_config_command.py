"""``vconsole config check``: the real CLI on good, bad and missing files."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli
from vconsole.cli.exit_codes import EXIT_OK, EXIT_USAGE


def test_a_good_file_prints_the_settings_in_effect(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[broker]\nhistory = "2MiB"\nspy_groups = ["ops"]\n[log]\nlimit = "32MiB"\n'
                    '[[watches]]\nname = "db down"\nregex = "database system is shut down"\n'
                    '[[watches]]\nname = "quiet"\nsilence = 600\n')
    done = run_cli("config", "check", str(path))
    assert done.returncode == EXIT_OK and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"# {path}: valid"
    assert "history = 2097152" in lines and 'spy_groups = ["ops"]' in lines and "limit = 33554432" in lines
    assert "escape = \"^]\"" in lines  # a default, filled in
    assert lines[-1].startswith("# watches in effect: panic, oops") and lines[-1].endswith("db down, quiet")


def test_errors_are_one_line_and_exit_2_a_bad_watch_included(tmp_path: Path) -> None:
    cases = {
        "[brokr]\n": "brokr is not a setting; did you mean 'broker'?",
        '[broker]\nhistory = "lots"\n': "broker.history",
        '[[watches]]\nname = "x"\nregex = "[bad"\n': "watches[0].regex: unterminated character set",
    }
    for text, expected in cases.items():
        path = tmp_path / "config.toml"
        path.write_text(text)
        done = run_cli("config", "check", str(path))
        assert done.returncode == EXIT_USAGE and done.stdout == "", text
        assert done.stderr.count("\n") == 1 and expected in done.stderr, done.stderr
    missing = run_cli("config", "check", str(tmp_path / "nope.toml"))
    assert missing.returncode == EXIT_USAGE and "no such file" in missing.stderr
