"""The Textual TUI: guests on the left, consoles in tabs on the right."""
