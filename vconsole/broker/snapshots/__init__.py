"""The broker's side of snapshots: ``capture``, ``restore``, ``saved_sessions``
(saved on shutdown, restored at start) and ``requests`` (the protocol's
``snapshot`` and ``restore``). The file format itself is vconsole/snapshot/.
"""
