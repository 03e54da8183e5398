"""LocalBroker: how a client (CLI or TUI) reaches this installation's broker.

Either the broker daemon, started in the background by the first client as
tmux starts its server, or, with ``--no-daemon``, a broker served inside the
client's own process for as long as the client runs. Closing a LocalBroker
closes its clients and then the in-process broker, which saves every session
and hands the consoles back to their guests (a Xen ring goes back to
DISCONNECTED), exactly as a daemon does on SIGTERM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from vconsole.client import BrokerUnreachable, Client
from vconsole.config import Config, ConfigError
from vconsole.detached import DaemonAlreadyRunning, socket_answers
from vconsole.runtime_paths import RuntimePaths

if TYPE_CHECKING:
    from vconsole.broker.server import Broker


def build_broker(paths: RuntimePaths, config: Config) -> Broker:
    """A broker with the providers this host has (ConfigError on bad provider settings)."""
    # Loaded here, not at the top: a client that only connects (`vconsole ls`, attach)
    # starts about 0.1 s sooner without the broker's and the providers' modules.
    from vconsole.broker.server import Broker
    from vconsole.providers.detect import providers_for

    return Broker(paths, config, providers_for(config, paths.lab_socket))


class LocalBroker:
    """Connects clients to the broker on ``paths``, serving one in-process when asked.

    In-process, the configuration (``config``, else the user's file) is read
    and checked at once, so a bad setting is a ConfigError before anything
    starts. A daemon reads its own configuration, so a client that only
    connects never refuses to run (say, to shut a broker down) over it.

    When a broker is started here, ``announce`` (if given) gets one line
    saying which providers it serves and how to choose others.
    """

    def __init__(
        self,
        paths: RuntimePaths,
        *,
        in_process: bool,
        config: Config | None = None,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.paths = paths
        self.in_process = in_process
        self.config = config
        self.announce = announce
        if in_process:
            from vconsole.providers.detect import check_provider_config  # as in build_broker

            self.config = config or Config.load()
            check_provider_config(self.config)
        self.broker: Broker | None = None  # the in-process broker, once started
        self._clients: list[Client] = []

    async def connect(self) -> Client:
        """A connected client; BrokerUnreachable or RuntimeDirError when there is no broker.

        In-process mode serves a broker here unless one already answers on the
        socket (then that one is used, as a daemon would be). Otherwise the
        daemon is started in the background when none answers.
        """
        starting = not socket_answers(self.paths.socket)
        if self.in_process and self.broker is None and starting:
            broker = build_broker(self.paths, self.config or Config.load())
            try:
                await broker.start()
                self.broker = broker
            except DaemonAlreadyRunning:
                pass  # another client served one meanwhile: use it like a daemon
        try:
            client = await Client.connect(self.paths, autostart=not self.in_process)
        except BrokerUnreachable:
            await self.close()
            raise
        self._clients.append(client)
        if starting and self.announce is not None:
            self._announce_start(self.announce)
        return client

    def _announce_start(self, announce: Callable[[str], None]) -> None:
        # A daemon chose its providers from this same environment and config file.
        from vconsole.providers.detect import describe_choice, wanted

        if self.broker is not None:
            names = [p.name for p in self.broker.registry.providers]
        else:
            try:
                names = wanted(self.config or Config.load())
            except ConfigError:
                return  # the daemon started, so it read the file; a race with an edit: say nothing
        announce(f"started the broker: {describe_choice(names)}")

    async def close(self) -> None:
        """Close every client made here, then stop the in-process broker (if any)."""
        clients, self._clients = self._clients, []
        try:
            for client in clients:
                await client.close()
        finally:
            broker, self.broker = self.broker, None
            if broker is not None:
                await broker.close()
