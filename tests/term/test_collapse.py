"""A very loose speed bound: catches a collapse (e.g. per-cell work gone quadratic), not a slowdown."""

from __future__ import annotations

import time

from vconsole.term.terminal import Terminal


def test_megabyte_of_mixed_output_is_not_pathologically_slow() -> None:
    line = "\x1b[1;32mok\x1b[0m " + "word " * 12 + "\x1b[K\r\n"
    data = (line * (1_000_000 // len(line))).encode()
    term = Terminal(80, 24, scrollback=1000)
    start = time.process_time()
    for i in range(0, len(data), 4096):
        term.feed(data[i:i + 4096])
    # The engine takes well under a second; 60 s means something broke badly.
    assert time.process_time() - start < 60
    assert term.screen_text()[22].startswith("ok word")
