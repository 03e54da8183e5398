"""The Textual TUI: guests on the left, consoles in tabs on the right."""

import os

# Textual updates the screen at most TEXTUAL_FPS times a second (60 by default), in fixed
# slots: an echo typed soon after the last update waited for the next slot. Terminal views
# pace their own repaints (terminal_view.FRAME), so the screen may update as soon as anything
# changed. Textual reads this when it is first imported; a value the user set wins.
os.environ.setdefault("TEXTUAL_FPS", "1000")
