"""A broker that replays a recorded listing and recorded console bytes, for snapshot tests.

Events are what a test injects (op ``inject_event``, this broker's own):
they are pushed to followers, raise the console's alert, and acknowledging
clears it with a state push, as the real broker does.

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
# A recording read as a console log (log_read): its lines came LOG_STEP seconds apart from LOG_START.
LOG_START = 1796540400.0  # 2026-12-06 07:00:00 UTC
LOG_STEP = 0.25


class ReplayBroker:
    """Answers hello/watch/list/attach/input/resize/detach from recordings."""

    def __init__(self) -> None:
        self.listing: dict[str, Any] = json.loads((FIXTURES / "tui" / "listing.json").read_text())
        self.attached: list[str] = []
        self.ends: dict[str, int] = {}  # offset after each session's last output sent (output is contiguous)
        self.events: list[dict[str, Any]] = []  # the event stream, as the wire carries it
        self.acknowledged: dict[str, int] = {}  # session: the last seq acknowledged
        self.watchers: set[asyncio.StreamWriter] = set()
        self.followers: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder()
        while data := await reader.read(65536):
            for msg in decoder.feed(data):
                if isinstance(msg, dict):
                    if msg.get("op") in ("watch", "events"):
                        (self.watchers if msg["op"] == "watch" else self.followers).add(writer)
                    for reply in self.answer(msg):
                        writer.write(encode(reply))
            await writer.drain()
        self.watchers.discard(writer)
        self.followers.discard(writer)
        writer.close()

    def push(self, to: set[asyncio.StreamWriter], msg: dict[str, Any]) -> None:
        for writer in to:
            writer.write(encode(msg))

    def console(self, session: str) -> dict[str, Any]:
        return next(c for g in self.listing["guests"] for c in g["consoles"] if c["session"] == session)

    def set_alert(self, session: str) -> None:
        """The console's alert from its unacknowledged events (warning and above), pushed to watchers."""
        order = ["info", "warning", "error", "critical"]
        open_events = [e for e in self.events if e["session"] == session and e["severity"] != "info"
                       and e["seq"] > self.acknowledged.get(session, 0)]
        console = self.console(session)
        if open_events:
            top = max(open_events, key=lambda e: (order.index(e["severity"]), -e["seq"]))
            console["alert"] = {"severity": top["severity"], "name": top["name"], "count": len(open_events),
                                "seq": open_events[0]["seq"]}
        else:
            console["alert"] = None
        self.push(self.watchers, {"event": "state", "console": console})

    def inject(self, msg: dict[str, Any]) -> None:
        """A test says an event happened (op ``inject_event``, not in the real protocol)."""
        session = msg["session"]
        guest = next(g for g in self.listing["guests"] if any(c["session"] == session for c in g["consoles"]))
        event = {"seq": len(self.events) + 1, "time": float(msg.get("time", LOG_START)), "kind": msg.get("kind", "watch"),
                 "severity": msg["severity"], "name": msg["name"], "session": session, "guest": guest["name"],
                 "console": self.console(session)["name"], "text": msg.get("text", "")}
        if "offset" in msg:
            event["offset"] = msg["offset"]
        self.events.append(event)
        self.push(self.followers, {"event": "console_event", **event})
        self.set_alert(session)

    def acknowledge(self, msg: dict[str, Any]) -> int:
        upto = int(msg.get("upto", len(self.events)))
        sessions = [c["session"] for g in self.listing["guests"] for c in g["consoles"]
                    if "target" not in msg or (msg["target"] in (g["id"], g["name"], f"{g['provider']}:{g['id']}")
                                               and msg.get("console") in
                                               (None, c["name"], c["index"]))]
        count = 0
        for session in sessions:
            before = self.acknowledged.get(session, 0)
            count += sum(1 for e in self.events if e["session"] == session and before < e["seq"] <= upto)
            if upto > before:
                self.acknowledged[session] = upto
                if self.console(session).get("alert"):
                    self.set_alert(session)
        return count

    def answer(self, msg: dict[str, Any]) -> list[dict[str, Any]]:
        rid, op = msg.get("id"), msg.get("op")
        if op == "hello":
            return [ok_reply(rid, version=PROTOCOL_VERSION, pid=0, max_frame=MAX_FRAME)]
        if op == "list":
            return [ok_reply(rid, **self.listing)]
        if op == "log_read":
            return [self.log_read(rid, msg)]
        if op == "events":
            since = int(msg.get("since", 0))
            return [ok_reply(rid, events=[e for e in self.events if e["seq"] > since], last=len(self.events))]
        if op == "acknowledge":
            return [ok_reply(rid, acknowledged=self.acknowledge(msg))]
        if op == "demote":  # a test says another client took the console over with --force
            self.push(self.watchers, {"event": "demoted", "session": msg["session"], "by": msg["by"]})
            return [ok_reply(rid)]
        if op == "inject_event":
            self.inject(msg)
            return [ok_reply(rid)]
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


    def log_read(self, rid: Any, msg: dict[str, Any]) -> dict[str, Any]:
        """A recording as a console log: a line every LOG_STEP seconds from LOG_START, one boot."""
        guest = next(g for g in self.listing["guests"]
                     if msg["target"] in (g["id"], g["name"], f"{g['provider']}:{g['id']}"))
        session = next(c for c in guest["consoles"] if msg["console"] in (c["name"], c["index"]))["session"]
        path = OUTPUT.get(session)
        data = path.read_bytes() if path else b""
        starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == 10 and i + 1 < len(data)]
        times = [LOG_START + n * LOG_STEP for n in range(len(starts))]
        limit = int(msg.get("limit", 256 * 1024))
        end = min(int(msg.get("to", len(data))), len(data))
        if "since" in msg:
            start = next((at for at, t in zip(starts, times, strict=True) if t >= msg["since"]), len(data))
        else:
            start = int(msg["from"]) if "from" in msg else max(0, end - limit)
        stop = min(end, start + limit)
        chunks = []
        for n, at in enumerate(starts):
            line_end = starts[n + 1] if n + 1 < len(starts) else len(data)
            lo, hi = max(at, start), min(line_end, stop)
            if lo < hi:
                chunks.append([lo, times[n], data[lo:hi]])
        return ok_reply(rid, chunks=chunks, log_start=0, log_end=len(data), boots=[[1, 0, LOG_START]])


async def main(path: str) -> None:
    broker = ReplayBroker()
    server = await asyncio.start_unix_server(broker.handle, path)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
