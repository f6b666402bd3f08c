"""Independent reference code for the contract tests, written from the Avro specification.

``crc64_avro`` is the 64-bit Rabin fingerprint ("CRC-64-AVRO") exactly as the Avro
specification's "Schema Fingerprints" section gives it in Java, so the tests do not check
fastavro's fingerprint with fastavro itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastavro.schema import load_schema

REPO = Path(__file__).resolve().parents[3]
SCHEMA_DIR = REPO / "schemas"
HISTORY_DIR = SCHEMA_DIR / "history"

EMPTY = 0xC15D213AA4D7A795
"""The fingerprint of the empty byte string; also the polynomial of the Rabin table."""


def _table() -> tuple[int, ...]:
    table = []
    for index in range(256):
        fp = index
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_TABLE = _table()


def crc64_avro(data: bytes) -> int:
    """The CRC-64-AVRO fingerprint of ``data`` as an unsigned 64-bit number."""
    fp = EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def wire_order(fingerprint: int) -> bytes:
    """The 8 bytes single-object encoding writes: little-endian of the unsigned value.

    Accepts the signed numbers Java prints (the spec's vectors) as well as unsigned ones.
    """
    return (fingerprint % 2**64).to_bytes(8, "little")


def schema_file(name: str) -> Path:
    """``schemas/riskseal.events.<name>.avsc``."""
    return SCHEMA_DIR / f"riskseal.events.{name}.avsc"


def expanded_schema(name: str) -> dict[str, Any]:
    """The current schema of ``name`` with every named type it uses inlined (plain JSON)."""
    schema = load_schema(str(schema_file(name)), _write_hint=False)
    assert isinstance(schema, dict)
    # A JSON round trip gives plain dicts and lists, as a history file holds.
    loaded: dict[str, Any] = json.loads(json.dumps(schema))
    return loaded
