"""The ``.vcsnap`` snapshot format: a console session's buffered data, validated.

A file is one msgpack map ``{"magic", "version", "sha256", "body"}``: ``body``
is the msgpack encoding of ``{"created", "host", "records"}`` kept as bytes,
and ``sha256`` its SHA-256 digest, so the checksum covers exactly the bytes
that are decoded. docs/snapshot-format.md describes every field.

Import from the module that defines a thing:

* ``model`` — the records and the format's limits;
* ``fields`` — checks of untrusted field values (and :class:`SnapshotError`);
* ``encode`` — the encoder (pieces that reference the histories);
* ``stream`` — writing a file to disk from those pieces, and reading one back;
* ``decode`` and ``views`` — validation, decoding large byte strings without copies.
"""
