"""Issue 14 item 5: a console's size is the latest active read-write client's (tmux's window-size latest).

Real clients on one lab console running a shell loop that prints the
terminal's size whenever it changes; a separate read-only client collects
what it prints.
"""

from __future__ import annotations

import asyncio

from tests.lab_host import LabHost
from vconsole.client import Client
from vconsole.domain import AttachMode, SessionKey, parse_target

# Prints "size=ROWS COLS" each time the size changes (stty size reads the tty).
WATCH_SIZE = b'old=; while sleep 0.1; do s=$(stty size); [ "$s" != "$old" ] && echo "size=$s" && old=$s; done\r'
TARGET = parse_target("web:1")


class SizeWatch:
    """A read-only client collecting the console's output."""

    def __init__(self, client: Client, session: SessionKey) -> None:
        self.client = client
        self.session = session
        self.output = b""

    async def expect(self, text: bytes, timeout: float = 10.0) -> None:
        """Wait until ``text`` is printed; later expects look only after it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while text not in self.output:
            left = deadline - loop.time()
            assert left > 0, f"{text!r} never came; output {self.output[-600:]!r}"
            try:
                event = await asyncio.wait_for(self.client.events.get(), left)
            except TimeoutError:
                continue
            if event.get("event") == "output" and event.get("session") == self.session.text:
                self.output += event["data"]
        self.output = self.output[self.output.index(text) + len(text):]

    async def quiet(self, seconds: float = 0.6) -> bytes:
        """What is printed in the next ``seconds``."""
        await asyncio.sleep(seconds)
        while not self.client.events.empty():
            event = self.client.events.get_nowait()
            if event.get("event") == "output":
                self.output += event["data"]
        return self.output


async def _rw(lab_host: LabHost, size: tuple[int, int]) -> tuple[Client, SessionKey]:
    client = await lab_host.client()
    reply = await client.attach(TARGET, AttachMode.RW, size=size)
    return client, reply.session


async def test_size_follows_the_latest_active_read_write_client(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    lab_host.start_broker()
    spy = await lab_host.client()
    reply = await spy.attach(TARGET, AttachMode.RO, size=(10, 5))  # a spy's size never counts
    watch = SizeWatch(spy, reply.session)
    first, key = await _rw(lab_host, (100, 30))
    first.input_nowait(key, WATCH_SIZE)
    await watch.expect(b"size=30 100")
    second, _ = await _rw(lab_host, (90, 25))
    await watch.expect(b"size=25 90")
    third, _ = await _rw(lab_host, (80, 24))
    await watch.expect(b"size=24 80")
    # Typing makes a client the latest active one: the console takes its size.
    first.input_nowait(key, b"\x00")
    await watch.expect(b"size=30 100")
    second.resize_nowait(key, 70, 20)
    await watch.expect(b"size=20 70")
    # The size owner leaves: the most recently active of the others (first typed after third attached).
    await second.close()
    await watch.expect(b"size=30 100")
    await first.detach(key)
    await watch.expect(b"size=24 80")
    # The last read-write client leaves: the size stays; a spy attaching changes nothing.
    await third.close()
    extra = await lab_host.client()
    await extra.attach(TARGET, AttachMode.RO, size=(50, 10))
    assert b"size=" not in await watch.quiet()
    await extra.close()
    await spy.close()
