"""LocalBroker: how a client (CLI or TUI) reaches this installation's broker.

Either the broker daemon, started in the background by the first client as
tmux starts its server, or, with ``--no-daemon``, a broker served inside the
client's own process for as long as the client runs. Closing a LocalBroker
closes its clients and then the in-process broker, which saves every session
and hands the consoles back to their guests (a Xen ring goes back to
DISCONNECTED), exactly as a daemon does on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
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


def providers_notice(client: Client, environ: dict[str, str] | None = None) -> str | None:
    """What to tell the user when the broker runs other providers than this client would start.

    A broker reads ``VCONSOLE_PROVIDERS`` and the configuration once, when it
    starts; a later client's own choice (``make run`` sets the variable) would
    otherwise be ignored without a word. None when they agree, when the broker
    does not say, or when this client cannot tell (an unreadable config is
    the broker's business, reported when one starts).
    """
    from vconsole.providers.detect import ENV, wanted  # as in build_broker

    info = client.broker_info
    if info is None or not info.providers:
        return None
    env = os.environ if environ is None else environ
    try:
        config = Config.load()
    except ConfigError:
        return None
    if not env.get(ENV, "").strip() and not config.chooses_providers():
        # Nothing here chose: this client would only have guessed from the host's
        # tools, and a broker started with `--providers lab` was chosen on purpose.
        return None
    asked = wanted(config, dict(env))
    if set(asked) == set(info.providers):
        return None
    source = f"{ENV}={env[ENV]}" if env.get(ENV, "").strip() else "this host's configuration"
    return (
        f"the running broker (pid {info.pid}) uses providers {', '.join(info.providers)},"
        f" but {source} asks for {', '.join(asked) or 'none'}:"
        " run `vconsole shutdown` first to restart it with them"
    )


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
        self._closer: asyncio.Task[None] | None = None  # closes the broker when one asks it to stop
        self._shut_down = False  # a client shut the in-process broker down: serve no other

    async def connect(self) -> Client:
        """A connected client; BrokerUnreachable or RuntimeDirError when there is no broker.

        In-process mode serves a broker here unless one already answers on the
        socket (then that one is used, as a daemon would be). Otherwise the
        daemon is started in the background when none answers.
        """
        starting = not socket_answers(self.paths.socket)
        if self.in_process and self.broker is None and starting:
            if self._shut_down:
                raise BrokerUnreachable(f"the broker on {self.paths.socket} was shut down")
            broker = build_broker(self.paths, self.config or Config.load())
            try:
                await broker.start()
                self.broker = broker
                self._closer = asyncio.create_task(self._close_when_stopped(broker))
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

    async def _close_when_stopped(self, broker: Broker) -> None:
        """A client asked the in-process broker to shut down: close it as a daemon would exit."""
        await broker.wait_stopping()
        if self.broker is broker:
            self.broker = None
            self._shut_down = True
            await broker.close()

    async def close(self) -> None:
        """Close every client made here, then stop the in-process broker (if any)."""
        clients, self._clients = self._clients, []
        try:
            for client in clients:
                await client.close()
        finally:
            broker, self.broker = self.broker, None
            closer, self._closer = self._closer, None
            if broker is not None:
                if closer is not None:
                    closer.cancel()  # still waiting: nobody asked the broker to stop
                await broker.close()
            elif closer is not None:
                await closer  # it is closing the broker now: let it finish
