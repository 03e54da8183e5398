"""Checking the configuration before a client starts a daemon that would read it.

A daemon started in the background with a bad config.toml, or a fleet file
that does not parse, would only die into its log; the client checks first and
says what is wrong in one line (file, key, reason), exit 2. The fleet file is
the lab's, so this check lives in cli/, the one layer that may read it.
"""

from __future__ import annotations

from vconsole.config import Config
from vconsole.detached import socket_answers
from vconsole.lab.fleet import check_named_fleet
from vconsole.providers.detect import check_provider_config
from vconsole.runtime_paths import RuntimePaths


def check_config(config: Config) -> None:
    """Refuse (ConfigError) what a broker or its lab would refuse in ``config``."""
    check_provider_config(config)
    check_named_fleet(config)


def check_before_starting(paths: RuntimePaths) -> None:
    """When no broker answers on ``paths`` (so this client would start one), check the user's config.

    A client that only connects to a running broker does not read the file,
    so a broken config never keeps anyone from, say, shutting a broker down.
    """
    if not socket_answers(paths.socket):
        check_config(Config.load())
