"""A broker that replays a recorded listing and recorded console bytes, for snapshot tests.

It speaks the real protocol on a real Unix socket, so the TUI under test runs
its real client; only the guests are recordings, so every screen is the same
on every run. Run as ``python -m tests.tui.replay_broker SOCKET``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from vconsole.wire import MAX_FRAME, PROTOCOL_VERSION, FrameDecoder, encode, ok_reply

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# What each recorded console prints when attached (recorded real program output).
OUTPUT = {
    "lab:101:vtty0": FIXTURES / "term" / "boot_log.bin",
    "lab:101:vtty1": FIXTURES / "term" / "ls_color.bin",
    "lab:102:vtty0": FIXTURES / "term" / "top_batch.bin",
    "lab:1:pv0": FIXTURES / "term" / "dialog_box.bin",
}
# Printed by the first open session when a second one is attached: an unread badge. Only then,
# so tabs opened later change no label (a relabel re-places the tab underline, hiding its bugs).
LATER = b"\r\n[db] heartbeat 7: service healthy\r\n"


class ReplayBroker:
    """Answers hello/watch/list/attach/input/resize/detach from recordings."""

    def __init__(self) -> None:
        self.listing: dict[str, Any] = json.loads((FIXTURES / "tui" / "listing.json").read_text())
        self.attached: list[str] = []
        self.ends: dict[str, int] = {}  # offset after each session's last output sent (output is contiguous)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder()
        while data := await reader.read(65536):
            for msg in decoder.feed(data):
                if isinstance(msg, dict):
                    for reply in self.answer(msg):
                        writer.write(encode(reply))
            await writer.drain()
        writer.close()

    def answer(self, msg: dict[str, Any]) -> list[dict[str, Any]]:
        rid, op = msg.get("id"), msg.get("op")
        if op == "hello":
            return [ok_reply(rid, version=PROTOCOL_VERSION, pid=0, max_frame=MAX_FRAME)]
        if op == "list":
            return [ok_reply(rid, **self.listing)]
        if op != "attach":
            return [ok_reply(rid)]
        guest = next(g for g in self.listing["guests"]
                     if msg["target"] in (g["id"], g["name"], f"{g['provider']}:{g['id']}"))
        console = next(c for c in guest["consoles"] if msg["console"] in (c["name"], c["index"]))
        session = console["session"]
        path = OUTPUT.get(session)
        data = path.read_bytes() if path else b""
        out = [
            ok_reply(rid, session=session, guest=guest["name"], console=console["name"],
                     state=console["state"], mode=msg.get("mode", "rw"), offset=0, start=0,
                     end=len(data), missed=0, lost=0),
            {"event": "output", "session": session, "offset": 0, "data": data},
        ]
        for earlier in self.attached:
            out.append({"event": "output", "session": earlier, "offset": self.ends[earlier], "data": LATER})
            self.ends[earlier] += len(LATER)
        self.attached.append(session)
        self.ends[session] = len(data)
        return out


async def main(path: str) -> None:
    broker = ReplayBroker()
    server = await asyncio.start_unix_server(broker.handle, path)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
