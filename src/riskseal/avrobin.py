"""The few pieces of the Avro binary encoding that hot paths write by hand.

Avro 1.11 specification, "Binary Encoding": ``int`` and ``long`` are zig-zag encoded and
written as base-128 varints; ``bytes`` and ``string`` are a ``long`` length then the data; a
``[null, X]`` union is the branch index (a ``long``) then the value. Every user of these is
pinned to fastavro's output by property tests.
"""

from __future__ import annotations

_SMALL = [bytes([n << 1]) for n in range(64)]  # 0..63 take a single byte


def zigzag(value: int) -> bytes:
    """Avro ``int``/``long``."""
    if 0 <= value < 64:
        return _SMALL[value]
    return uvarint((value << 1) ^ (value >> 63))


def uvarint(number: int) -> bytes:
    """The minimal unsigned varint of ``number`` (``zigzag`` without the sign folding)."""
    out = bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def avro_bytes(data: bytes) -> bytes:
    """Avro ``bytes``, or a ``string`` already encoded as UTF-8."""
    return zigzag(len(data)) + data


NULL = b"\x00"
"""A ``[null, X]`` union holding null."""


def optional_bytes(data: bytes | None) -> bytes:
    """A ``[null, bytes]`` (or ``[null, string]``) union."""
    return NULL if data is None else b"\x02" + zigzag(len(data)) + data
