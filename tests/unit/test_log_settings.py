"""The [log] table: limits per console, per provider and per guest; bad values are one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from vconsole.config import DEFAULT_LOG_LIMIT, Config, ConfigError, LogSettings


def test_limits_go_guest_then_provider_then_default() -> None:
    cfg = Config.from_dict({"log": {"limit": "8MiB", "providers": {"lxc": "32MiB"},
                                    "guests": {"web": "64MiB", "xen:7": "1MiB"}}})
    log = cfg.log
    assert log.limit_for("lab", "101", "web") == 64 << 20
    assert log.limit_for("lxc", "c1", "c1") == 32 << 20
    assert log.limit_for("lxc", "web", "web") == 64 << 20  # a guest's own setting wins
    assert log.limit_for("xen", "7", "alpine") == 1 << 20
    assert log.limit_for("lab", "102", "db") == 8 << 20
    assert LogSettings().limit_for("lab", "1", "x") == DEFAULT_LOG_LIMIT


def test_defaults_and_a_relative_dir(tmp_path: Path) -> None:
    assert (Config().log.enabled, Config().log.total_limit) == (True, 2 << 30)
    path = tmp_path / "config.toml"
    path.write_text('[log]\ndir = "logs"\nenabled = false\ntotal_limit = "100GiB"\n')
    cfg = Config.load(path)
    assert (cfg.log.dir, cfg.log.enabled, cfg.log.total_limit) == (tmp_path / "logs", False, 100 << 30)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"limt": "1MiB"}, "log.limt is not a setting; did you mean 'limit'?"),
        ({"limit": "12 parsecs"}, "log.limit: expected a size"),
        ({"limit": 10}, "log.limit: size 10 is outside"),
        ({"enabled": "yes"}, "log.enabled must be true or false"),
        ({"dir": 3}, "log.dir must be a path"),
        ({"guests": {"web": "lots"}}, "log.guests.web: expected a size"),
        ({"providers": []}, "[log.providers] must be a table"),
    ],
)
def test_bad_log_settings_are_one_line_errors(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        Config.from_dict({"log": table}, "cfg.toml")
    assert message in str(err.value) and "\n" not in str(err.value)
