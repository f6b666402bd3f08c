"""The Avro schemas of every topic, loaded from ``schemas/`` with their fingerprints.

Each top-level event type is one file named ``<namespace>.<Name>.avsc``; the named types it
uses (Actor, Resource, ...) are files of their own, resolved by fastavro's flat directory
convention. A schema's identity on the wire is the CRC-64-AVRO fingerprint of its Parsing
Canonical Form, as the Avro single-object encoding specifies.
"""

from __future__ import annotations

import copy
import enum
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

from riskseal.errors import UnknownSchemaError

NAMESPACE = "riskseal.events"


class EventType(enum.StrEnum):
    """The four event types of the contract, by their Avro record name."""

    ACCESS_REQUEST = "AccessRequest"
    ACCESS_ACTION = "AccessAction"
    DECISION = "Decision"
    ALERT = "Alert"

    @property
    def full_name(self) -> str:
        """The Avro full name, e.g. ``riskseal.events.AccessRequest``."""
        return f"{NAMESPACE}.{self.value}"


@dataclass(frozen=True, slots=True)
class EventSchema:
    """One event type's schema in the forms the codec and validator need."""

    event_type: EventType
    declared: dict[str, Any]
    """The expanded schema as written, logical types included (for validation and docs)."""
    plain: Any
    """Parsed without logical types: timestamps stay ints, uuids stay strings."""
    canonical_form: str
    fingerprint: bytes
    """The 8 bytes of the CRC-64-AVRO fingerprint, in wire (little-endian) order."""

    @property
    def fingerprint_int(self) -> int:
        """The fingerprint as the unsigned 64-bit number Avro tools print."""
        return int.from_bytes(self.fingerprint, "little")


def default_schema_dir() -> Path:
    """The ``schemas/`` directory shipped with the package."""
    return Path(str(resources.files("riskseal.contract") / "schemas"))


class SchemaSet:
    """Every event schema of a directory, looked up by type or by fingerprint."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._by_type: dict[EventType, EventSchema] = {}
        self._by_fingerprint: dict[bytes, EventSchema] = {}
        for event_type in EventType:
            schema = _load(directory, event_type)
            self._by_type[event_type] = schema
            self._by_fingerprint[schema.fingerprint] = schema

    def __getitem__(self, event_type: EventType) -> EventSchema:
        return self._by_type[event_type]

    def by_fingerprint(self, fingerprint_bytes: bytes) -> EventSchema:
        """The schema with this fingerprint; UnknownSchemaError if none."""
        try:
            return self._by_fingerprint[fingerprint_bytes]
        except KeyError:
            known = ", ".join(
                f"{s.event_type.value}={s.fingerprint.hex()}" for s in self._by_type.values()
            )
            raise UnknownSchemaError(
                f"unknown schema fingerprint {fingerprint_bytes.hex()} (CRC-64-AVRO, wire "
                f"order); this reader knows {known}: the writer uses a schema version this "
                "reader does not have"
            ) from None

    def __iter__(self) -> Any:
        return iter(self._by_type.values())


@cache
def default_schemas() -> SchemaSet:
    """The schemas shipped with this package (loaded once)."""
    return SchemaSet(default_schema_dir())


def _load(directory: Path, event_type: EventType) -> EventSchema:
    path = directory / f"{event_type.full_name}.avsc"
    declared = load_schema(str(path), _write_hint=False)
    if not isinstance(declared, dict):
        raise TypeError(f"{path} is not a record schema")
    plain = parse_schema(without_logical_types(declared))
    canonical = to_parsing_canonical_form(declared)
    return EventSchema(
        event_type=event_type,
        declared=declared,
        plain=plain,
        canonical_form=canonical,
        fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
    )


def without_logical_types(schema: Any) -> Any:
    """A copy of ``schema`` without ``logicalType`` keys (same canonical form and bytes)."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "logicalType"}
        if isinstance(node, list):
            return [strip(item) for item in node]
        return node

    return strip(copy.deepcopy(schema))
