"""The Textual TUI: guests on the left, consoles in tabs on the right."""

import os

# Textual updates the screen at most TEXTUAL_FPS times a second (60 by default), in fixed
# slots: an echo typed soon after the last update waited up to 17 ms for the next slot. Above
# 2000 its screen timer never sleeps between updates, so the screen updates on the event
# loop's next turn once something changed; terminal views pace their own repaints of a flood
# (terminal_view.FRAME). Textual reads this when first imported; a value the user set wins.
os.environ.setdefault("TEXTUAL_FPS", "4000")
