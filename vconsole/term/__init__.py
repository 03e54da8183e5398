"""The terminal engine: a fast pure-Python VT/xterm emulator (no Textual, no asyncio).

``Terminal`` renders what programs write; ``keys`` turns key presses, pastes
and mouse events into the bytes a program expects; ``sgr`` decodes the packed
styles of cells.
"""

from vconsole.term import keys, sgr
from vconsole.term.keys import encode_key, encode_mouse, encode_paste
from vconsole.term.modes import Modes
from vconsole.term.screen import Line
from vconsole.term.sgr import Color, Style, decode_style
from vconsole.term.terminal import Terminal

__all__ = ["Color", "Line", "Modes", "Style", "Terminal", "decode_style", "encode_key",
           "encode_mouse", "encode_paste", "keys", "sgr"]
