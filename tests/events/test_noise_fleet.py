"""Acceptance 6: 200 consoles each print a megabyte of noise with one panic in it: 200 panic events, nothing else."""

from __future__ import annotations

import json
import random
import time

from tests.conftest import wait_for
from tests.events.cli_events import FOREVER, raw_log, watch_hits
from tests.events.noise import noise, panic_line
from tests.lab_host import LabHost

GUESTS = 200
NOISE = 1 << 20


def _ends(lab_host: LabHost) -> dict[str, int]:
    listing = json.loads(lab_host.cli("ls", "--json", timeout=60).stdout)
    return {g["name"]: g["consoles"][0]["end"] for g in listing["guests"]}


def test_two_hundred_noisy_consoles_give_exactly_two_hundred_panics(lab_host: LabHost) -> None:
    data = noise(NOISE, seed=16)
    source = lab_host.base / "noise.txt"
    source.write_bytes(data)
    gate = lab_host.base / "go"
    lines = data.count(b"\n")
    rng = random.Random(6)
    fleet, expected = [], {}
    for n in range(GUESTS):
        before = rng.randrange(1, lines)  # the panic goes after this many lines of noise
        name = f"noisy{n:03d}"
        fleet.append({"id": 2000 + n, "name": name, "vttys": 1, "init": (
            f"while [ ! -e {gate} ]; do sleep 0.5; done; head -n {before} {source}; "
            f"echo '{panic_line(n)}'; tail -n +{before + 1} {source}; {FOREVER}"
        )})
        expected[name] = (panic_line(n), len(data) + len(panic_line(n)) + 1)
    lab_host.start_lab(lab_host.write_fleet(fleet))
    lab_host.start_broker()
    wait_for(lambda: len(_ends(lab_host)) == GUESTS, timeout=60, what="every guest listed")
    gate.touch()
    began = time.monotonic()
    # A tty may add a CR before each LF: a console is done once it holds at least the bytes written.
    wait_for(
        lambda: all(end >= expected[name][1] for name, end in _ends(lab_host).items()),
        timeout=240, interval=1.0, what="every console's megabyte",
    )
    took = time.monotonic() - began
    time.sleep(1.0)  # a prompt-like line would be looked at after 0.3 s of quiet
    hits = watch_hits(lab_host)
    assert sorted((e.guest, e.name, e.text) for e in hits) == sorted(
        (name, "panic", line) for name, (line, _) in expected.items()
    ), f"{len(hits)} watch events: {[(e.guest, e.name, e.text[:80]) for e in hits if e.name != 'panic'][:5]}"
    for event in hits[:3]:  # the offset is the panic line's start in the console's log
        raw = raw_log(lab_host, event.guest)
        assert event.offset is not None and raw[event.offset :].startswith(event.text.encode())
    print(f"{GUESTS} consoles x {len(data)} bytes read and matched in {took:.1f} s")
