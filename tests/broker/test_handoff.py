"""``handoff`` on the broker's socket, spoken by hand: the fds frame is checked, a refusal changes nothing.

A real lab and broker; the "bridge" is this test on a raw Unix socket,
handing over a socketpair or pipes of its own with SCM_RIGHTS.
"""

from __future__ import annotations

import array
import os
import socket

from tests.lab_host import LabHost
from vconsole.wire import HEADER, PROTOCOL_VERSION, FrameDecoder, Message, encode


def _broker(lab_host: LabHost) -> socket.socket:
    lab_host.start_lab(lab_host.write_fleet([{"id": 401, "name": "solo", "vttys": 1}]))
    lab_host.start_broker()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(20)
    sock.connect(str(lab_host.paths.socket))
    return sock


class _Frames:
    """Frames read one at a time off a blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = FrameDecoder()
        self.ready: list[Message] = []

    def ask(self, message: Message, fds: list[int] | None = None) -> Message:
        frame = encode(message)
        if fds:
            self.sock.sendmsg([frame], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())])
        else:
            self.sock.sendall(frame)
        return self.next()

    def next(self) -> Message:
        while not self.ready:
            chunk = self.sock.recv(65536)
            assert chunk, "the broker closed the connection"
            for item in self.decoder.feed(chunk):
                assert isinstance(item, dict), item
                self.ready.append(item)
        return self.ready.pop(0)


def test_a_wrong_fds_frame_is_refused_and_the_connection_goes_on(lab_host: LabHost) -> None:
    with _broker(lab_host) as sock:
        frames = _Frames(sock)
        assert frames.ask({"op": "hello", "id": 1, "version": PROTOCOL_VERSION})["ok"]
        read, write = os.pipe()
        try:
            reply = frames.ask({"op": "handoff", "id": 2, "stdio": "socket"})
            assert reply == {"id": 2, "pending": True, "stage": "send_fds"}
            refused = frames.ask({"nfds": 1}, [read])  # a pipe where a socket was announced
            assert refused["id"] == 2 and refused["error"]["code"] == "bad_request", refused
            assert "not a socket" in refused["error"]["message"]
            assert frames.ask({"op": "list", "id": 3})["ok"]  # reading the connection again
            refused = frames.ask({"op": "handoff", "id": 4, "stdio": "pipes"})
            assert refused["stage"] == "send_fds"
            refused = frames.ask({"nfds": 1}, [read])  # pipes take two
            assert refused["error"]["code"] == "bad_request" and "takes 2 fd(s), not 1" in refused["error"]["message"]
            assert frames.ask({"op": "list", "id": 5})["ok"]
        finally:
            os.close(read)
            os.close(write)


def test_a_socket_is_served_and_a_handed_off_connection_cannot_hand_off_again(lab_host: LabHost) -> None:
    with _broker(lab_host) as sock:
        frames = _Frames(sock)
        assert frames.ask({"op": "hello", "id": 1, "version": PROTOCOL_VERSION})["ok"]
        ours, theirs = socket.socketpair()
        with ours:
            assert frames.ask({"op": "handoff", "id": 2, "stdio": "socket"})["stage"] == "send_fds"
            assert frames.ask({"nfds": 1}, [theirs.fileno()]) == {"id": 2, "pending": True, "stage": "serving"}
            theirs.close()
            ours.settimeout(20)
            handed = _Frames(ours)
            assert handed.ask({"op": "list", "id": 1})["error"]["code"] == "hello_required"
            assert handed.ask({"op": "hello", "id": 2, "version": PROTOCOL_VERSION})["ok"]
            refused = handed.ask({"op": "handoff", "id": 3, "stdio": "socket"})
            assert refused["error"]["code"] == "not_supported", refused
            assert [g["name"] for g in handed.ask({"op": "list", "id": 4})["guests"]] == ["solo"]
            ours.shutdown(socket.SHUT_WR)
            assert frames.next() == {"id": 2, "ok": True}  # the handed-off connection ended
            assert ours.recv(1) == b""


def test_a_bridge_that_goes_away_takes_its_handed_off_connection_with_it(lab_host: LabHost) -> None:
    sock = _broker(lab_host)
    frames = _Frames(sock)
    assert frames.ask({"op": "hello", "id": 1, "version": PROTOCOL_VERSION})["ok"]
    ours, theirs = socket.socketpair()
    with ours:
        frames.ask({"op": "handoff", "id": 2, "stdio": "socket"})
        assert frames.ask({"nfds": 1}, [theirs.fileno()])["stage"] == "serving"
        theirs.close()
        sock.close()  # the bridge is killed
        ours.settimeout(20)
        assert ours.recv(1) == b""  # so the broker ends the session it served for it


def test_too_long_an_fds_frame_is_refused(lab_host: LabHost) -> None:
    with _broker(lab_host) as sock:
        frames = _Frames(sock)
        assert frames.ask({"op": "hello", "id": 1, "version": PROTOCOL_VERSION})["ok"]
        assert frames.ask({"op": "handoff", "id": 2})["stage"] == "send_fds"
        sock.sendall(HEADER.pack(100_000))
        refused = frames.next()
        assert refused["error"]["code"] == "bad_request" and "not an fds frame" in refused["error"]["message"]
