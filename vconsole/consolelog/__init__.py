"""Durable console logs: every byte a console printed, on disk, with its arrival time.

docs/log-format.md is the reference for the files. The broker writes
(:mod:`writer`, :mod:`store`); ``vconsole log`` and the TUI read
(:mod:`reader`, :mod:`lines`), with or without a running broker.
"""
