"""Which providers a broker uses: detected from the host's tools, steered by config.

Rules, per real provider (lxc, openvz, xen):

- ``[providers.NAME] enabled = true`` uses it even if its tools are missing
  (``vconsole ls`` then says why it fails); ``enabled = false`` never uses it;
- without ``enabled``, it is used when its tools are found: ``lxc-ls`` for
  LXC, ``vzlist`` or ``prlctl`` for OpenVZ / Virtuozzo, ``xl`` for Xen,
  in ``path`` when the table gives one, else on $PATH.

The lab: ``[lab] enabled = true`` always adds it beside the real providers,
``false`` never; unset, the lab is used only when no real provider is, so a
fresh install on a machine without containers still shows something.

``VCONSOLE_PROVIDERS`` (e.g. ``lab`` or ``lxc,xen``) overrides all of this
with an exact list; tests use it to keep a real host's guests out of a lab run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vconsole.config import Config, ConfigError, check_keys
from vconsole.providers.base import Provider
from vconsole.providers.tools import DEFAULT_TIMEOUT, find_tool

REAL = ("lxc", "openvz", "xen")
ENV = "VCONSOLE_PROVIDERS"
# key -> (type, description) per provider, beyond the common keys.
COMMON_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "enabled": (bool, "true or false"),
    "path": (str, "a directory holding the provider's tools"),
    "timeout": ((int, float), "seconds, 0.1..60"),
}
KEYS: dict[str, dict[str, tuple[type | tuple[type, ...], str]]] = {
    "lxc": {"lxcpath": (str, "a directory (lxc-ls -P)")},
    "openvz": {
        "vzctl_device": (str, "a path like /dev/vzctl"),
        "vttys": (int, "a number of consoles per container, 1..12"),
    },
    "xen": {"lock_dir": (str, "a directory, like /var/lock")},
}
PROBES = {"lxc": ("lxc-ls",), "openvz": ("vzlist", "prlctl"), "xen": ("xl",)}


def check_provider_config(config: Config) -> None:
    """Reject unknown providers, unknown keys and wrongly typed values (ConfigError).

    The config file keeps ``[providers.NAME]`` tables as data; only the
    providers know their settings, so every user of those tables (a broker
    building its providers, a client about to start one) checks them here.
    """
    where = config.source
    for name, table in config.providers.items():
        check_keys({name: table}, KEYS, where, "providers.")
        allowed = {**COMMON_KEYS, **KEYS[name]}
        check_keys(table, allowed, where, f"providers.{name}.")
        for key, value in table.items():
            kind, what = allowed[key]
            if isinstance(value, bool) and kind is not bool:
                raise ConfigError(f"{where}: providers.{name}.{key} must be {what}")
            if not isinstance(value, kind):
                raise ConfigError(f"{where}: providers.{name}.{key} must be {what}")
        timeout = table.get("timeout", DEFAULT_TIMEOUT)
        if not 0.1 <= timeout <= 60:
            raise ConfigError(f"{where}: providers.{name}.timeout must be 0.1..60 seconds")
        if name == "openvz" and not 1 <= table.get("vttys", 2) <= 12:
            raise ConfigError(f"{where}: providers.openvz.vttys must be 1..12")


def _tools_present(name: str, table: dict[str, Any]) -> bool:
    bindir = table.get("path")
    return any(
        find_tool(tool, os.path.join(bindir, tool) if bindir else None) for tool in PROBES[name]
    )


def wanted(config: Config, environ: dict[str, str] | None = None) -> list[str]:
    """The names of the providers to use, in order (real ones first, then the lab)."""
    env = os.environ if environ is None else environ
    if env.get(ENV, "").strip():
        names = [n.strip() for n in env[ENV].split(",") if n.strip()]
        return [n for n in (*REAL, "lab") if n in names]
    chosen = []
    for name in REAL:
        table = config.providers.get(name, {})
        enabled = table.get("enabled")
        if enabled is True or (enabled is None and _tools_present(name, table)):
            chosen.append(name)
    if config.lab_enabled or (config.lab_enabled is None and not chosen):
        chosen.append("lab")
    return chosen


def build(name: str, config: Config, lab_socket: Path) -> Provider:
    """The provider ``name``, configured."""
    table = config.providers.get(name, {})
    bindir = table.get("path")
    timeout = float(table.get("timeout", DEFAULT_TIMEOUT))
    # Each backend is loaded only when this host uses it (start-up time of the broker).
    if name == "lxc":
        from vconsole.providers.lxc import LxcProvider

        return LxcProvider(bindir=bindir, lxcpath=table.get("lxcpath"), timeout=timeout)
    if name == "openvz":
        from vconsole.providers.openvz import OpenVzProvider

        return OpenVzProvider(
            bindir=bindir,
            timeout=timeout,
            vzctl_device=table.get("vzctl_device", "/dev/vzctl"),
            vttys=int(table.get("vttys", 2)),
        )
    if name == "xen":
        from vconsole.providers.xen import XenProvider

        return XenProvider(bindir=bindir, timeout=timeout, lock_dir=table.get("lock_dir"))
    if name == "lab":
        from vconsole.providers.lab import LabProvider

        return LabProvider(lab_socket, fleet=config.lab_fleet)
    raise ValueError(f"unknown provider {name!r}")


def providers_for(config: Config, lab_socket: Path) -> list[Provider]:
    """Every provider this host should use, ready for the broker; ConfigError on bad settings."""
    check_provider_config(config)
    return [build(name, config, lab_socket) for name in wanted(config)]
