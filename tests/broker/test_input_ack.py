"""``input`` with ``ack: false``: no reply on success, but errors still come back.

A raw socket speaks to a real broker here so that every frame it sends back
is seen: the test can tell "no reply" from "a reply not looked at".
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from tests.lab_host import LabHost
from vconsole.wire import PROTOCOL_VERSION, FrameDecoder, ProtocolError, encode


class RawClient:
    """A client speaking frames on a plain socket, keeping every frame it gets."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.settimeout(10)
        self.decoder = FrameDecoder()
        self.frames: list[dict[str, Any]] = []

    def send(self, **msg: Any) -> None:
        self.sock.sendall(encode(msg))

    def _more(self) -> None:
        data = self.sock.recv(1 << 16)
        assert data, "the broker closed the connection"
        for item in self.decoder.feed(data):
            assert not isinstance(item, ProtocolError), item
            self.frames.append(item)

    def reply(self, rid: int) -> dict[str, Any]:
        """Wait for the reply to request ``rid``."""
        while True:
            for frame in self.frames:
                if frame.get("id") == rid and "event" not in frame:
                    return frame
            self._more()

    def output(self) -> bytes:
        return b"".join(f["data"] for f in self.frames if f.get("event") == "output")

    def wait_output(self, marker: bytes) -> bytes:
        while marker not in self.output():
            self._more()
        return self.output()

    def wait_echo(self, count: int) -> bytes:
        """Wait until the --hexecho guest reported ``count`` bytes of input; return them."""
        while len(_echoed(self.output())) < count:
            self._more()
        return _echoed(self.output())

    def replies(self) -> dict[int, dict[str, Any]]:
        return {f["id"]: f for f in self.frames if "event" not in f and isinstance(f.get("id"), int)}

    def close(self) -> None:
        self.sock.close()


def _echoed(output: bytes) -> bytes:
    """What the --hexecho guest says it read (complete ``in:HEX`` lines), as bytes."""
    lines = output.split(b"\n")[:-1]  # the last one may be incomplete
    return b"".join(bytes.fromhex(line.strip()[3:].decode()) for line in lines if line.startswith(b"in:"))


@pytest.fixture
def keys_guest(lab_host: LabHost) -> LabHost:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 351, "name": "keys", "vttys": 1, "init": [*lab_host.scripted("keys"), "--hexecho"]},
    ]))
    lab_host.start_broker()
    return lab_host


def _attached(host: LabHost, mode: str) -> tuple[RawClient, str]:
    raw = RawClient(str(host.paths.socket))
    raw.send(op="hello", id=1, version=PROTOCOL_VERSION)
    assert raw.reply(1)["ok"]
    raw.send(op="attach", id=2, target="keys", console=0, mode=mode, **{"from": 0})
    reply = raw.reply(2)
    assert reply["ok"], reply
    raw.wait_output(b"READY")
    return raw, reply["session"]


def test_unacknowledged_input_arrives_without_a_reply(keys_guest: LabHost) -> None:
    raw, session = _attached(keys_guest, "rw")
    try:
        for rid, key in enumerate(b"abcdefgh", start=10):
            raw.send(op="input", id=rid, session=session, data=bytes([key]), ack=False)
        # An acknowledged one after them: its reply means the broker has handled all before it.
        raw.send(op="input", id=30, session=session, data=b"!", ack=True)
        assert raw.reply(30) == {"id": 30, "ok": True, "accepted": 1}
        assert raw.wait_echo(9) == b"abcdefgh!"
        assert sorted(raw.replies()) == [1, 2, 30]
    finally:
        raw.close()


def test_bad_unacknowledged_input_is_still_answered(keys_guest: LabHost) -> None:
    raw, session = _attached(keys_guest, "rw")
    try:
        raw.send(op="input", id=10, session=session, data="not bytes", ack=False)
        raw.send(op="input", id=11, session=session, data=b"x", ack="no")
        raw.send(op="input", id=12, session=session, data=b"x", ack=1)
        raw.send(op="input", id=13, session="lab:351:vtty9", data=b"x", ack=False)
        raw.send(op="input", id=14, session=session, data=b"x" * (64 * 1024 + 1), ack=False)
        codes = {rid: raw.reply(rid)["error"]["code"] for rid in range(10, 15)}
        assert codes == {10: "bad_request", 11: "bad_request", 12: "bad_request",
                         13: "not_attached", 14: "bad_request"}
        # None of them reached the guest; a good one after them still does.
        raw.send(op="input", id=15, session=session, data=b"z", ack=False)
        raw.send(op="list", id=16)
        assert raw.reply(16)["ok"]
        assert raw.wait_echo(1) == b"z"
        assert 15 not in raw.replies()
    finally:
        raw.close()


def test_read_only_refusal_is_returned_without_ack(keys_guest: LabHost) -> None:
    writer, session = _attached(keys_guest, "rw")
    spy, spy_session = _attached(keys_guest, "ro")
    try:
        assert spy_session == session
        spy.send(op="input", id=10, session=session, data=b"spy", ack=False)
        reply = spy.reply(10)
        assert reply["ok"] is False and reply["error"]["code"] == "read_only"
        writer.send(op="input", id=10, session=session, data=b"w", ack=False)
        writer.send(op="list", id=11)
        assert writer.reply(11)["ok"]
        assert writer.wait_echo(1) == b"w"  # the spy's bytes never arrived
    finally:
        writer.close()
        spy.close()


async def test_client_keystrokes_are_unacknowledged_and_errors_become_events(keys_guest: LabHost) -> None:
    rw, ro = await keys_guest.client(), await keys_guest.client()
    try:
        got = bytearray()
        errors: list[dict[str, Any]] = []
        arrived = asyncio.Event()

        def on_event(event: dict[str, Any]) -> None:
            if event["event"] == "output":
                got.extend(event["data"])
                if len(_echoed(bytes(got))) >= 6:
                    arrived.set()
            elif event["event"] == "error":
                errors.append(event)

        rw.on_event = on_event
        session = (await rw.request("attach", target="keys", mode="rw", **{"from": 0}))["session"]
        await ro.request("attach", target="keys", mode="ro")
        for key in b"vconsq":
            rw.send_nowait("input", session=session, data=bytes([key]))
        await asyncio.wait_for(arrived.wait(), 10)
        assert _echoed(bytes(got)) == b"vconsq"
        await rw.request("list")  # every reply to the keys would have come before this one
        assert errors == []

        ro.send_nowait("input", session=session, data=b"nope")
        event = await asyncio.wait_for(ro.events.get(), 10)
        while event["event"] != "error":
            event = await asyncio.wait_for(ro.events.get(), 10)
        assert event["code"] == "read_only"
    finally:
        await rw.close()
        await ro.close()
