"""BrokerLogs: the broker's console logs — the store, one writer per session, the fsync beat."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from vconsole.config import LogSettings
from vconsole.consolelog.layout import LogMeta, log_root
from vconsole.consolelog.records import LogMarkKind
from vconsole.consolelog.store import LogStore, LogStoreLocked, sync_fds
from vconsole.consolelog.writer import ConsoleLogWriter, LogLimits, LogState
from vconsole.providers.base import ConsoleSpec, GuestInfo
from vconsole.runtime_paths import RuntimePaths

log = logging.getLogger("vconsole.broker")
# Written bytes reach the disk at most this long after the kernel has them
# (a power cut loses at most this much; a killed broker loses nothing).
SYNC_INTERVAL = 1.0


class BrokerLogs:
    """Every console's durable log for one broker (docs/log-format.md)."""

    def __init__(self, paths: RuntimePaths, settings: LogSettings) -> None:
        self.settings = settings
        self.root = log_root(paths.socket, settings.dir)
        self.store: LogStore | None = None
        self.state = LogState.OFF
        self.reason = "disabled in config ([log] enabled = false)" if not settings.enabled else ""

    def open(self) -> None:
        """Lock and scan the log root; on failure the broker runs without logs and says why."""
        if not self.settings.enabled:
            return
        store = LogStore(self.root, self.settings.total_limit, self._limits)
        try:
            store.open()
        except (LogStoreLocked, OSError) as exc:
            self.reason = f"cannot use {self.root}: {exc}"
            log.warning("console logs off: %s", self.reason)
            return
        for line in store.repairs:
            log.warning("%s", line)
        self.store, self.state, self.reason = store, LogState.OK, ""

    def _limits(self, meta: LogMeta) -> LogLimits:
        limit = self.settings.limit_for(meta.provider, meta.guest_id, meta.guest_name)
        return LogLimits(limit, min(self.settings.segment_size, max(4096, limit // 4)))

    def set_limits(self, settings: LogSettings) -> None:
        """New limits from a reload (enabled and dir stay what they were: they need a restart)."""
        self.settings = settings
        if self.store is not None:
            self.store.total_limit = settings.total_limit

    def refresh_limits(self, guest: GuestInfo, spec: ConsoleSpec) -> None:
        """Give an open console's writer the limits the settings now give it."""
        if self.store is not None:
            self.store.console(self._meta(guest, spec))

    @staticmethod
    def _meta(guest: GuestInfo, spec: ConsoleSpec) -> LogMeta:
        return LogMeta(guest.provider, guest.id, guest.name, spec.name, spec.index, guest.host)

    def writer_for(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleLogWriter | None:
        """The log writer of a new session (None when logs are off)."""
        if self.store is None:
            return None
        writer = self.store.console(self._meta(guest, spec))
        writer.mark(LogMarkKind.BROKER_STARTED)
        return writer

    async def sync_forever(self) -> None:
        """fsync what was written, once a second, off the event loop."""
        if self.store is not None:
            self.store.synced_by_timer = True
        while True:
            await asyncio.sleep(SYNC_INTERVAL)
            if self.store is not None:
                fds = self.store.take_dirty()
                if fds:
                    await asyncio.to_thread(sync_fds, fds)

    def describe(self) -> dict[str, Any]:
        """``log`` in ``list``: where the logs are, how much they hold, what the global limit took."""
        if self.store is None:
            return {"dir": str(self.root), "state": self.state, "reason": self.reason}
        return {"state": self.state, "reason": self.reason, **self.store.describe(), "dir": str(self.root)}

    def close(self) -> None:
        """Sync and close every log file, release the root."""
        if self.store is not None:
            self.store.close()
            self.store = None
