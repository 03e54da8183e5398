"""Rereading config.toml in a running broker (SIGHUP, ``vconsole reload``) without dropping a console.

The new file is read and checked whole first: any error (a bad key, a bad
provider setting, a bad watch) refuses the reload and the old configuration
stays. Then what changed is applied in place: history caps, providers
enabled or disabled (a disabled one's consoles go away as GONE, with an
event; the others keep their clients and histories), a provider whose
options changed is reopened, watches, log limits, and who may connect.
What only a restart can change (turning logs on or off, their directory)
is said, not applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vconsole.broker.client_access import AccessPolicy
from vconsole.broker.session_events import WatchSet
from vconsole.config import Config, ConfigError
from vconsole.providers.detect import check_provider_config, providers_for
from vconsole.watches.signatures import BUILTIN, parse_watches

if TYPE_CHECKING:
    from vconsole.broker.server import Broker

log = logging.getLogger("vconsole.broker")


class ReloadRefused(Exception):
    """The new configuration has an error; nothing was changed."""


@dataclass
class ReloadReport:
    """What a reload changed, and what it left for a restart (one line each)."""

    changed: list[str] = field(default_factory=list)
    needs_restart: list[str] = field(default_factory=list)


def read_new_config(broker: Broker) -> tuple[Config, WatchSet]:
    """The broker's config file, read and checked whole; ReloadRefused with one line on any error."""
    try:
        config = Config.for_broker(broker.paths)
        check_provider_config(config)
    except ConfigError as exc:
        raise ReloadRefused(str(exc)) from None
    parsed = parse_watches(config.watches, config.source)
    if parsed.errors:
        raise ReloadRefused(parsed.errors[0])
    return config, WatchSet(BUILTIN + parsed.watches, parsed.quiet)


async def reload_config(broker: Broker) -> ReloadReport:
    """Apply the config file's changes to the running broker; ReloadRefused leaves everything as it was."""
    new, watches = read_new_config(broker)
    old = broker.config
    report = ReloadReport()
    if new.history_cap != old.history_cap:
        broker.registry.history_cap = new.history_cap
        for session in broker.registry.sessions.values():
            session.history.set_cap(new.history_cap)
        report.changed.append(f"history cap {old.history_cap} -> {new.history_cap} bytes")
    await _providers(broker, old, new, report)
    if watches != broker.watches:
        broker.watches = watches
        for session in broker.registry.sessions.values():
            if session.events is not None:
                session.events.rewatch(watches)
        report.changed.append(f"watches: {len(watches.signatures) - len(BUILTIN)} of yours, {len(watches.quiet)} quiet")
    broker.watch_errors = []
    _logs(broker, old, new, report)
    access = AccessPolicy.of(new, broker.paths)
    if access != broker.access:
        broker.access = access
        broker.share_socket()
        report.changed.append("who may connect (allow_uids, allow_groups, spy_groups)")
    broker.config = new
    for line in report.changed:
        log.info("reload: %s", line)
    for line in report.needs_restart:
        log.warning("reload: %s", line)
    return report


async def _providers(broker: Broker, old: Config, new: Config, report: ReloadReport) -> None:
    registry = broker.registry
    wanted = {p.name: p for p in providers_for(new, broker.paths.lab_socket)}
    for provider in list(registry.providers):
        name = provider.name
        if name not in wanted:
            await registry.remove_provider(name, f"provider {name} disabled in the configuration")
            report.changed.append(f"provider {name} disabled")
        elif old.providers.get(name) != new.providers.get(name) or (name == "lab" and old.lab_fleet != new.lab_fleet):
            await registry.remove_provider(name, f"provider {name} reconfigured")
            await registry.add_provider(wanted[name])
            report.changed.append(f"provider {name} reopened with its new settings")
    present = {p.name for p in registry.providers}
    for name, provider in wanted.items():
        if name not in present:
            await registry.add_provider(provider)
            report.changed.append(f"provider {name} enabled")
    # Providers made for the comparison and not used hold nothing yet (no connect): dropped.


def _logs(broker: Broker, old: Config, new: Config, report: ReloadReport) -> None:
    before, after = old.log, new.log
    if (before.enabled, before.dir) != (after.enabled, after.dir):
        report.needs_restart.append("[log] enabled / dir: applied at the next broker start")
    elif after != before:
        broker.logs.set_limits(after)
        for session in broker.registry.sessions.values():
            broker.logs.refresh_limits(session.guest, session.spec)
        report.changed.append("console log limits")
