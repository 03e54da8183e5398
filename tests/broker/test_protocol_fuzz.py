"""Acceptance 6: random bytes, wrong types, huge lengths and unknown operations never crash the broker."""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lab_host import LabHost
from vconsole.wire import PROTOCOL_VERSION, FrameDecoder, encode

OPS = ["hello", "list", "attach", "input", "resize", "detach", "watch", "start", "stop", "nope", ""]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True), st.text(max_size=40), st.binary(max_size=64),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
requests = st.fixed_dictionaries(
    {"op": st.sampled_from(OPS) | st.text(max_size=10) | scalars},
    optional={
        "id": scalars, "version": scalars, "target": values, "console": values, "mode": values,
        "from": values, "tail_lines": values, "session": values, "data": values, "cols": values, "rows": values, "ack": values,
    },
)


@pytest.fixture(scope="module")
def fuzz_host() -> Iterator[LabHost]:
    import shutil
    import tempfile
    from pathlib import Path

    base = Path(tempfile.mkdtemp(prefix="vcf", dir="/tmp"))
    names = ("XDG_RUNTIME_DIR", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "VCONSOLE_PROVIDERS")
    old = {k: os.environ.get(k) for k in names}
    os.environ.update(
        XDG_RUNTIME_DIR=str(base / "run"), XDG_STATE_HOME=str(base / "s"),
        XDG_CONFIG_HOME=str(base / "c"), VCONSOLE_PROVIDERS="lab",
    )
    host = LabHost(base)
    host.start_lab(host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    host.start_broker()
    yield host
    host.cleanup()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    shutil.rmtree(base, ignore_errors=True)


def _exchange(host: LabHost, payload: bytes, hello: bool) -> list[dict[str, Any]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2.0)
    sock.connect(str(host.paths.socket))
    try:
        try:
            if hello:
                sock.sendall(encode({"op": "hello", "id": 0, "version": PROTOCOL_VERSION}))
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the broker may close first (refused peer, fatal frame); read what it said
        decoder = FrameDecoder()
        out: list[dict[str, Any]] = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            out += [m for m in decoder.feed(chunk) if isinstance(m, dict)]
        return out
    finally:
        sock.close()


def _broker_alive(host: LabHost) -> None:
    assert host.broker is not None and host.broker.poll() is None, host.log("broker")
    replies = _exchange(host, encode({"op": "list", "id": 7}), hello=True)
    listing = next(r for r in replies if r.get("id") == 7)
    assert listing["ok"] and listing["guests"][0]["name"] == "web"


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(request=requests, hello=st.booleans())
def test_structurally_wrong_requests_get_structured_errors(fuzz_host: LabHost, request: dict[str, Any], hello: bool) -> None:
    try:
        payload = msgpack.packb(request, use_bin_type=True)
    except (TypeError, ValueError, OverflowError):
        return
    replies = _exchange(fuzz_host, struct.pack(">I", len(payload)) + payload, hello)
    for reply in replies:
        if reply.get("ok") is False:
            err = reply["error"]
            assert isinstance(err["code"], str) and isinstance(err["message"], str)
            assert err["code"] != "internal", err
    _broker_alive(fuzz_host)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(junk=st.binary(max_size=2048), hello=st.booleans())
def test_random_bytes_never_crash_the_broker(fuzz_host: LabHost, junk: bytes, hello: bool) -> None:
    _exchange(fuzz_host, junk, hello)
    _broker_alive(fuzz_host)


@pytest.mark.parametrize("length", [2**20 + 1, 2**31, 2**32 - 1])
def test_huge_lengths_are_refused_with_an_error(fuzz_host: LabHost, length: int) -> None:
    replies = _exchange(fuzz_host, struct.pack(">I", length) + b"x" * 100, hello=True)
    assert replies[-1]["error"]["code"] == "too_large"
    _broker_alive(fuzz_host)


def test_unknown_operation_and_missing_hello(fuzz_host: LabHost) -> None:
    replies = _exchange(fuzz_host, encode({"op": "list", "id": 1}), hello=False)
    assert replies[0]["error"]["code"] == "hello_required"
    replies = _exchange(fuzz_host, encode({"op": "teleport", "id": 2}), hello=True)
    assert replies[-1] == {"id": 2, "ok": False, "error": {"code": "unknown_op", "message": "unknown operation 'teleport'"}}
    replies = _exchange(fuzz_host, encode({"op": "hello", "id": 3, "version": 99}), hello=False)
    assert replies[0]["error"]["code"] == "version"
    # A garbage frame in the middle does not end the connection.
    bad = struct.pack(">I", 3) + b"\xc1\xc1\xc1"
    replies = _exchange(fuzz_host, bad + encode({"op": "list", "id": 4}), hello=True)
    assert replies[1]["error"]["code"] == "bad_message"
    assert replies[2]["id"] == 4 and replies[2]["ok"]
    _broker_alive(fuzz_host)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another uid")
def test_peers_of_another_uid_are_refused(fuzz_host: LabHost) -> None:
    # Open the directory and socket so the other uid can reach SO_PEERCRED at all.
    directory = fuzz_host.paths.directory
    opened = [directory, directory.parent, directory.parent.parent]  # mkdtemp makes them 0700
    for path in opened:
        os.chmod(path, 0o711)
    os.chmod(fuzz_host.paths.socket, 0o666)
    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: become nobody and try
            try:
                os.close(read_end)
                os.setgid(65534)
                os.setuid(65534)
                try:
                    replies = _exchange(fuzz_host, encode({"op": "list", "id": 1}), hello=True)
                except OSError as exc:
                    replies = [{"child_error": str(exc)}]
                os.write(write_end, msgpack.packb(replies))
            finally:
                os._exit(0)
        os.close(write_end)
        data = b""
        while chunk := os.read(read_end, 65536):
            data += chunk
        os.waitpid(pid, 0)
        replies = msgpack.unpackb(data)
        assert "error" in replies[0], replies
        assert replies[0]["error"]["code"] == "forbidden", replies
        assert all(r.get("ok") is not True for r in replies)
    finally:
        for path in opened:
            os.chmod(path, 0o700)
        os.chmod(fuzz_host.paths.socket, 0o600)
    _broker_alive(fuzz_host)
