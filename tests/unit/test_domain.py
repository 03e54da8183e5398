"""The typed domain: the one target parser, session keys, marks, and requests on the wire."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vconsole.domain import (
    AttachMode,
    ConsoleState,
    Mark,
    SessionKey,
    Target,
    TargetSyntaxError,
    parse_target,
)
from vconsole.protocol import Attach, GuestCommand, Input, target_field
from vconsole.wire import ProtocolError, decode_body, encode


@pytest.mark.parametrize(
    ("text", "console", "want"),
    [
        ("web", None, Target("web")),
        ("web", "2", Target("web", None, 2)),
        ("web", "vtty1", Target("web", None, "vtty1")),
        ("web:1", None, Target("web", None, 1)),
        ("web:pv0", None, Target("web", None, "pv0")),
        ("101", None, Target("101")),
        ("lab:101", None, Target("101", "lab")),
        ("lxc:qa-a", None, Target("qa-a", "lxc")),
        ("lxc:qa-a", "1", Target("qa-a", "lxc", 1)),
        ("xen:3:serial0", None, Target("3", "xen", "serial0")),
        ("openvz:101:0", None, Target("101", "openvz", 0)),
    ],
)
def test_every_target_form(text: str, console: str | None, want: Target) -> None:
    assert parse_target(text, console) == want


@pytest.mark.parametrize(
    ("text", "console", "message"),
    [
        ("", None, "bad target"),
        ("web:", None, "bad target"),
        (":1", None, "bad target"),
        ("a:b:c:d", None, "bad target"),
        ("web:1:2", None, "'web' is not a provider"),
        ("web:1", "2", "names its console already"),
        ("lab:101:1", "vtty0", "names its console already"),
    ],
)
def test_bad_targets_say_why(text: str, console: str | None, message: str) -> None:
    with pytest.raises(TargetSyntaxError, match=message):
        parse_target(text, console)


names = st.text("abcxyz-._0123456789", min_size=1, max_size=12)


@given(provider=st.sampled_from(["lab", "lxc", "openvz", "xen"]), guest=names,
       console=st.none() | st.integers(0, 12) | st.sampled_from(["vtty1", "pv0", "serial0"]))
def test_a_target_parses_back_from_its_text(provider: str, guest: str, console: int | str | None) -> None:
    target = Target(guest, provider, console)
    assert parse_target(str(target)) == target


@given(provider=names, guest=st.text("ab:1-", min_size=1, max_size=10), console=names)
def test_session_keys_format_and_parse_back(provider: str, guest: str, console: str) -> None:
    key = SessionKey(provider, guest, console)
    assert SessionKey.parse(str(key)) == key
    assert key.target == Target(guest, provider, console)


@pytest.mark.parametrize("text", ["", "lab", "lab:101", ":101:vtty0", "lab::vtty0", "lab:101:"])
def test_a_string_that_is_no_session_key(text: str) -> None:
    with pytest.raises(ValueError, match="not a session key"):
        SessionKey.parse(text)


def test_domain_values_travel_as_the_strings_and_maps_they_always_were() -> None:
    key = SessionKey("lab", "101", "vtty0")
    restored = Mark(5, 9, "restored", 1.0, None, 2.0)
    message = {"session": key, "state": ConsoleState.BUSY, "marks": [Mark(0, 3, "hypervisor"), restored]}
    assert decode_body(encode(message)[4:]) == {
        "session": "lab:101:vtty0",
        "state": "busy",
        "marks": [{"start": 0, "end": 3, "source": "hypervisor"},
                  {"start": 5, "end": 9, "source": "restored", "first": 1.0, "last": None, "snapshot": 2.0}],
    }
    assert Mark.from_wire(restored.to_wire()) == restored
    assert restored.shifted(10) == Mark(15, 19, "restored", 1.0, None, 2.0)


def test_requests_parse_back_from_their_fields() -> None:
    def wire(fields: dict[str, object]) -> dict[str, object]:
        return decode_body(encode(fields)[4:])

    attach = Attach(Target("101", "lab", 1), AttachMode.RO, start=0)
    assert Attach.parse(wire(attach.fields())) == attach
    keys = Input(SessionKey("lab", "101", "vtty1"), b"ls\r", ack=False)
    assert Input.parse(wire(keys.fields())) == keys
    assert GuestCommand.parse(wire(GuestCommand(Target("web")).fields())) == GuestCommand(Target("web"))
    with pytest.raises(ProtocolError, match="names a console"):
        GuestCommand.parse({"target": "web:1"})
    with pytest.raises(ProtocolError, match="bad target") as refused:
        target_field({"target": "a:b:c:d"})
    assert refused.value.code == "bad_request"
    with pytest.raises(ProtocolError) as unknown:
        Input.parse({"session": "nonsense", "data": b""})
    assert unknown.value.code == "not_attached"
