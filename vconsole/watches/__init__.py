"""Watches: signatures (built-in and from config.toml) matched line by line on console output.

Pure: no asyncio, no broker. The broker keeps a
:class:`~vconsole.watches.matcher.LineMatcher` per console.
"""
