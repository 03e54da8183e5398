"""Hypothesis strategies for byte streams of mixed text and control sequences."""

from __future__ import annotations

from hypothesis import strategies as st

_TEXT_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-_=+*/()[]{}<>'\"#$%&"
    "\u00e9\u00fc\u00df\u00f1"  # Latin-1
    "\u2500\u2502\u250c\u2510"  # box drawing (one cell)
    "\u4e2d\u6587\u5b57\uff21"  # CJK and fullwidth (two cells)
    "\U0001f600\U0001f680"  # emoji (two cells)
    "\u0301\u0308"  # combining marks
)

text = st.text(alphabet=_TEXT_ALPHABET, min_size=1, max_size=40)
ascii_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 ", min_size=1, max_size=90)
small = st.integers(min_value=0, max_value=30)
row = st.integers(min_value=0, max_value=26)
col = st.integers(min_value=0, max_value=85)


def _opt(n: int) -> str:
    return "" if n == 0 else str(n)


cursor_move = st.one_of(
    st.builds(lambda f, n: f"\x1b[{_opt(n)}{f}", st.sampled_from("ABCDEFGIZ`adeb"), small),
    st.builds(lambda y, x: f"\x1b[{_opt(y)};{_opt(x)}H", row, col),
    st.builds(lambda y, x: f"\x1b[{y};{x}f", row, col),
    st.builds(lambda y: f"\x1b[{_opt(y)}d", row),
)
edit = st.builds(lambda f, n: f"\x1b[{_opt(n)}{f}", st.sampled_from("JKLMP@XST"), small) | \
    st.builds(lambda f, n: f"\x1b[{n}{f}", st.sampled_from("JK"), st.integers(0, 2))

_sgr_param = st.one_of(
    st.sampled_from(["0", "1", "2", "3", "4", "5", "7", "8", "9", "22", "23", "24", "25",
                     "27", "28", "29", "39", "49", ""]),
    st.integers(30, 37).map(str), st.integers(40, 47).map(str),
    st.integers(90, 97).map(str), st.integers(100, 107).map(str),
    st.builds(lambda k, n: f"{k};5;{n}", st.sampled_from(["38", "48"]), st.integers(0, 255)),
    st.builds(lambda k, n: f"{k}:5:{n}", st.sampled_from(["38", "48"]), st.integers(0, 255)),
    st.builds(lambda k, r, g, b: f"{k};2;{r};{g};{b}", st.sampled_from(["38", "48"]),
              st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
    st.builds(lambda k, r, g, b: f"{k}:2::{r}:{g}:{b}", st.sampled_from(["38", "48"]),
              st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
)
sgr = st.lists(_sgr_param, min_size=0, max_size=4).map(lambda ps: f"\x1b[{';'.join(ps)}m")

margins = st.builds(lambda t, b: f"\x1b[{_opt(t)};{_opt(b)}r", row, row) | st.just("\x1b[r")

modes = st.builds(lambda m, on: f"\x1b[{m}{'h' if on else 'l'}",
                  st.sampled_from(["?6", "?7", "4", "?1049", "?47", "?1047", "?25", "?1", "?2004"]),
                  st.booleans())

misc = st.sampled_from([
    "\r", "\n", "\r\n", "\x08", "\t", "\x07", "\x0b", "\x0c",
    "\x1b7", "\x1b8", "\x1b[s", "\x1b[u", "\x1bD", "\x1bE", "\x1bM", "\x1bH", "\x1b[g",
    "\x1b[3g", "\x1b(0", "\x1b(B", "\x1b)0", "\x0e", "\x0f", "\x1b]2;title\x07",
    "\x1b]0;x\x1b\\", "\x1b[!p", "\x1bP1$r\x1b\\", "\x1b[>c", "\x1b[?1000h", "\x1b#8",
])

# Complete lines of text and colours written at the bottom of the screen:
# the engine builds such rows in bulk, so they get their own generator.
log_line = st.lists(st.one_of(ascii_text, sgr), max_size=6).map("".join)
log_burst = st.lists(log_line, min_size=2, max_size=40).map(
    lambda lines: "\x1b[24;1H" + "".join(line + "\r\n" for line in lines))

token = st.one_of(log_burst, text, text, ascii_text, cursor_move, cursor_move, edit, sgr,
                  margins, modes, misc, misc)
tokens = st.lists(token, min_size=1, max_size=60)
