"""Avro single-object encoding of events: ``C3 01`` ‖ 8-byte fingerprint ‖ Avro binary body.

The fingerprint is the CRC-64-AVRO (Rabin) fingerprint of the writer schema's Parsing
Canonical Form, little-endian, as the Avro specification's "Single-object encoding" section
defines. Any Avro library can decode our events from these bytes and the files in
``schemas/``; a reader that meets an unknown fingerprint says so instead of guessing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from riskseal.contract.events import AccessAction, AccessRequest, Alert, Decision, Event
from riskseal.contract.schemas_set import EventSchema, EventType, SchemaSet, default_schemas
from riskseal.contract.validation import compile_validator
from riskseal.errors import (
    EventTooLargeError,
    InvalidEventError,
    MalformedEventError,
    UnknownSchemaError,
)

MAGIC = b"\xc3\x01"
HEADER_SIZE = len(MAGIC) + 8


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    """An event read from the wire: its type, the schema fingerprint and the record."""

    event_type: EventType
    fingerprint: bytes
    record: dict[str, Any]


class EventCodec:
    """Validates, encodes and decodes riskseal events in single-object encoding."""

    def __init__(self, schemas: SchemaSet | None = None, max_event_bytes: int = 65_536) -> None:
        self.schemas = schemas or default_schemas()
        self.max_event_bytes = max_event_bytes
        self._validators = {
            schema.event_type: compile_validator(schema.event_type.value, schema.declared)
            for schema in self.schemas
        }

    def validate(self, event_type: EventType, record: Any) -> None:
        """Raise InvalidEventError naming the first field of ``record`` that is wrong."""
        self._validators[event_type](record)

    def encode(self, event_type: EventType, record: dict[str, Any]) -> bytes:
        """Validate ``record`` and return its single-object encoding."""
        self.validate(event_type, record)
        return self.encode_valid(event_type, record)

    def encode_valid(self, event_type: EventType, record: dict[str, Any]) -> bytes:
        """Encode a record already validated; checks only the size limit."""
        schema = self.schemas[event_type]
        buffer = io.BytesIO()
        buffer.write(MAGIC)
        buffer.write(schema.fingerprint)
        try:
            schemaless_writer(buffer, schema.plain, record)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # validate() catches what the schema describes; this is the safety net.
            raise InvalidEventError(event_type.value, "(event)", f"cannot encode: {exc}") from exc
        data = buffer.getvalue()
        if len(data) > self.max_event_bytes:
            raise EventTooLargeError(event_type.value, len(data), self.max_event_bytes)
        return data

    def encode_event(self, event: Event) -> bytes:
        """Validate and encode a typed event."""
        return self.encode(event_type_of(event), event.to_record())

    def decode(self, data: bytes) -> DecodedEvent:
        """Decode single-object bytes; MalformedEventError or UnknownSchemaError on failure."""
        schema = self.schema_of(data)
        buffer = io.BytesIO(data)
        buffer.seek(HEADER_SIZE)
        try:
            record = schemaless_reader(buffer, schema.plain, None)
        except (EOFError, ValueError, IndexError, UnicodeDecodeError, TypeError) as exc:
            raise MalformedEventError(
                f"{schema.event_type.value} body does not decode ({type(exc).__name__}: {exc})",
                data,
            ) from exc
        if buffer.tell() != len(data):
            raise MalformedEventError(
                f"{schema.event_type.value} has {len(data) - buffer.tell()} trailing bytes "
                "after the Avro body",
                data,
            )
        if not isinstance(record, dict):
            raise MalformedEventError("decoded body is not a record", data)
        return DecodedEvent(schema.event_type, schema.fingerprint, record)

    def schema_of(self, data: bytes) -> EventSchema:
        """The schema named by the single-object header of ``data``."""
        if len(data) < HEADER_SIZE and MAGIC.startswith(data[:2]):
            raise MalformedEventError(
                f"truncated single-object header: {len(data)} bytes long, the header alone is "
                f"{HEADER_SIZE}",
                data,
            )
        if data[:2] != MAGIC:
            start = data[:2].hex()
            raise MalformedEventError(
                f"not an Avro single-object encoded event: starts with {start} (expected c301)",
                data,
            )
        try:
            return self.schemas.by_fingerprint(data[2:HEADER_SIZE])
        except UnknownSchemaError as exc:
            exc.raw = data
            raise


EVENT_CLASSES: dict[EventType, type[Event]] = {
    EventType.ACCESS_REQUEST: AccessRequest,
    EventType.ACCESS_ACTION: AccessAction,
    EventType.DECISION: Decision,
    EventType.ALERT: Alert,
}
EVENT_TYPES: dict[type[Event], EventType] = {cls: kind for kind, cls in EVENT_CLASSES.items()}


def typed_event(decoded: DecodedEvent) -> Event:
    """The typed event (AccessRequest, AccessAction, Decision or Alert) of a decoded record."""
    return EVENT_CLASSES[decoded.event_type].from_record(decoded.record)


def event_type_of(event: Event) -> EventType:
    """The contract type of a typed event."""
    return EVENT_TYPES[type(event)]
