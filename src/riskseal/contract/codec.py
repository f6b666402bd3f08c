"""The two wire formats of events, and decoding them back to records.

**Avro single-object encoding** (the default): ``C3 01`` ‖ 8-byte fingerprint ‖ Avro binary
body. The fingerprint is the CRC-64-AVRO (Rabin) fingerprint of the writer schema's Parsing
Canonical Form, little-endian, as the Avro specification's "Single-object encoding" section
defines. Any Avro library can decode our events from these bytes and the files in
``schemas/``; a reader that meets an unknown fingerprint says so instead of guessing.

**Confluent Schema Registry framing** (when the SDK is given a registry): ``00`` ‖ 4-byte
big-endian schema id ‖ Avro binary body. The id means something only to the registry that
issued it, and auditors verify offline, so without a registry the writer schema is found by
content: the body must decode with exactly one of the schemas this reader knows (the current
ones and every released version in ``schemas/history``), consuming every byte, and writing
the record back with that schema must give the body byte for byte. Anything else — no schema,
or several that disagree — is refused with the raw bytes kept, never guessed. With a registry
(:class:`SchemaLookup`), the id is resolved through it and mapped to our fingerprint.

Bodies of different event types can be byte-identical: an AccessAction with outcome FAILURE,
no status detail, a request id, no trace id and no attributes is also the exact encoding of
an AccessRequest (trace id ``""``, one attribute). Readers that know the record's topic pass
the type that topic carries as ``expected``, which settles it; without it such a body is
refused as ambiguous (UnknownSchemaError).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.schema import fingerprint, to_parsing_canonical_form

from riskseal.contract.events import AccessAction, AccessRequest, Alert, Decision, Event
from riskseal.contract.schemas_set import (
    EventSchema,
    EventType,
    SchemaSet,
    default_schemas,
    without_logical_types,
)
from riskseal.contract.validation import compile_decoded_validator, compile_validator
from riskseal.errors import (
    EventTooLargeError,
    InvalidEventError,
    MalformedEventError,
    UnknownSchemaError,
)

MAGIC = b"\xc3\x01"
HEADER_SIZE = len(MAGIC) + 8
CONFLUENT_MAGIC = b"\x00"
CONFLUENT_HEADER_SIZE = len(CONFLUENT_MAGIC) + 4

# What fastavro raises on bytes that are not the encoding of a record of the schema (or, for
# a released version, of a record the current schema can read).
_BODY_ERRORS = (
    EOFError,
    ValueError,
    IndexError,
    UnicodeDecodeError,
    TypeError,
    OverflowError,
    SchemaResolutionError,
)
_HISTORY_FILE = re.compile(r"v([1-9][0-9]*)\.avsc")


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    """An event read from the wire: its type, the schema fingerprint and the record."""

    event_type: EventType
    fingerprint: bytes
    """The writer schema's fingerprint (for registry-framed events: of the schema found)."""
    record: dict[str, Any]
    registry_id: int | None = None
    """The Confluent Schema Registry id when the event came in registry framing."""


class SchemaLookup(Protocol):
    """Resolves Confluent Schema Registry ids to the schemas this reader knows."""

    def writer_schema(self, schema_id: int) -> EventSchema | None:
        """The schema registered as ``schema_id``, or None when the registry cannot say
        (unknown id, unreachable): the codec then resolves the body offline. Raises
        UnknownSchemaError when the id names a schema that is none of ours."""


class EventCodec:
    """Validates and encodes events (single-object encoding) and decodes both wire formats."""

    def __init__(
        self,
        schemas: SchemaSet | None = None,
        max_event_bytes: int = 65_536,
        registry: SchemaLookup | None = None,
    ) -> None:
        self.schemas = schemas or default_schemas()
        self.max_event_bytes = max_event_bytes
        self.registry = registry
        self.writers = known_writer_schemas(self.schemas)
        """Every schema a body may have been written with: the current ones, then history."""
        self._validators = {
            schema.event_type: compile_validator(schema.event_type.value, schema.declared)
            for schema in self.schemas
        }
        self._decoded_validators = {
            schema.event_type: compile_decoded_validator(schema.event_type.value, schema.declared)
            for schema in self.schemas
        }

    def validate(self, event_type: EventType, record: Any) -> None:
        """Raise InvalidEventError naming the first field of ``record`` that is wrong."""
        self._validators[event_type](record)

    def validate_decoded(self, decoded: DecodedEvent) -> None:
        """:meth:`validate` for an event :meth:`decode` returned, skipping what decoding has
        already proved (types, presence of fields); the same error for the same record."""
        self._decoded_validators[decoded.event_type](decoded.record)

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

    def decode(self, data: bytes, expected: EventType | None = None) -> DecodedEvent:
        """Decode single-object or registry-framed bytes.

        ``expected`` is the event type the record's topic carries: a registry-framed body
        that is the exact encoding of that type and of another one is read as that type (see
        the module docstring). It never changes how a single-object event is read.
        Raises MalformedEventError or UnknownSchemaError, with the raw bytes kept, on failure.
        """
        if data[:1] == CONFLUENT_MAGIC:
            schema_id, schema, record = self._resolve_confluent(data, expected)
            return DecodedEvent(schema.event_type, schema.fingerprint, record, schema_id)
        schema = self.schema_of(data)
        return DecodedEvent(schema.event_type, schema.fingerprint, self._body(schema, data))

    def schema_of(self, data: bytes, expected: EventType | None = None) -> EventSchema:
        """The writer schema of ``data``: named by its single-object header, or found for a
        registry-framed event (which takes decoding the body; ``expected`` as in decode)."""
        if data[:1] == CONFLUENT_MAGIC:
            return self._resolve_confluent(data, expected)[1]
        if len(data) < HEADER_SIZE and MAGIC.startswith(data[:2]):
            raise MalformedEventError(
                f"truncated single-object header: {len(data)} bytes long, the header alone is "
                f"{HEADER_SIZE}",
                data,
            )
        if data[:2] != MAGIC:
            start = data[:2].hex()
            raise MalformedEventError(
                f"not an Avro single-object encoded event: starts with {start} (expected c301)"
                "; nor in Confluent Schema Registry framing (which starts with 00)",
                data,
            )
        try:
            return self.schemas.by_fingerprint(data[2:HEADER_SIZE])
        except UnknownSchemaError as exc:
            exc.raw = data
            raise

    # --- reading bodies --------------------------------------------------------------------
    def _body(self, schema: EventSchema, data: bytes) -> dict[str, Any]:
        """The record in ``data`` after the header of its framing, written with ``schema``
        and read as the current schema of its type; MalformedEventError if it does not fit."""
        start = CONFLUENT_HEADER_SIZE if data[:1] == CONFLUENT_MAGIC else HEADER_SIZE
        buffer = io.BytesIO(data)
        buffer.seek(start)
        try:
            record = schemaless_reader(buffer, schema.plain, self._reader_for(schema))
        except _BODY_ERRORS as exc:
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
        return record

    def _reader_for(self, writer: EventSchema) -> Any:
        """The reader schema for bodies written with ``writer``: None when it is current."""
        current = self.schemas[writer.event_type]
        return None if current.fingerprint == writer.fingerprint else current.plain

    def _resolve_confluent(
        self, data: bytes, expected: EventType | None
    ) -> tuple[int, EventSchema, dict[str, Any]]:
        if len(data) < CONFLUENT_HEADER_SIZE:
            raise MalformedEventError(
                f"truncated Confluent Schema Registry header: {len(data)} bytes long, the "
                f"header alone is {CONFLUENT_HEADER_SIZE} (00 and a 4-byte schema id)",
                data,
            )
        schema_id = int.from_bytes(data[1:CONFLUENT_HEADER_SIZE], "big")
        if self.registry is not None:
            try:
                schema = self.registry.writer_schema(schema_id)
            except UnknownSchemaError as exc:
                exc.raw = data
                raise
            if schema is not None:
                return schema_id, schema, self._body(schema, data)
        schema, record = self._match_offline(schema_id, data, expected)
        return schema_id, schema, record

    def _match_offline(
        self, schema_id: int, data: bytes, expected: EventType | None
    ) -> tuple[EventSchema, dict[str, Any]]:
        """The one known schema whose exact encoding the body is (see the module docstring)."""
        body = data[CONFLUENT_HEADER_SIZE:]
        # The expected type's schemas first: when one of them fits, the others do not matter.
        first = [writer for writer in self.writers if writer.event_type is expected]
        rest = [writer for writer in self.writers if writer.event_type is not expected]
        matches: list[tuple[EventSchema, dict[str, Any]]] = []
        for candidates in (first, rest):
            matches = [
                (writer, record)
                for writer in candidates
                if (record := self._exact_read(writer, body)) is not None
            ]
            if matches:
                break
        if not matches:
            raise _unknown(
                f"registry-framed event with schema id {schema_id}: no Schema Registry resolves "
                f"the id here, and the body ({len(body)} bytes) is the exact Avro encoding of "
                f"none of the {len(self.writers)} schemas this reader knows "
                f"({_names(self.writers)}); the writer used a schema this reader does not "
                "have, or the body is damaged",
                data,
            )
        current = [m for m in matches if self._reader_for(m[0]) is None]
        chosen = current[0] if current else matches[-1]
        if len(matches) > 1:
            chosen_bytes = self._canonical(chosen[0].event_type, chosen[1])
            if any(
                writer.event_type is not chosen[0].event_type
                or self._canonical(writer.event_type, record) != chosen_bytes
                for writer, record in matches
            ):
                raise _unknown(
                    f"registry-framed event with schema id {schema_id}: the body is the exact "
                    f"encoding under {_names([m[0] for m in matches])}, which read it "
                    "differently; refusing to guess without a Schema Registry or the event "
                    "type its topic carries",
                    data,
                )
        return chosen

    def _exact_read(self, writer: EventSchema, body: bytes) -> dict[str, Any] | None:
        """The record if ``body`` is exactly ``writer``'s encoding of it, read as current."""
        buffer = io.BytesIO(body)
        try:
            record = schemaless_reader(buffer, writer.plain, None)
        except _BODY_ERRORS:
            return None
        if buffer.tell() != len(body) or not isinstance(record, dict):
            return None
        out = io.BytesIO()
        try:
            schemaless_writer(out, writer.plain, record)
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError):
            return None
        if out.getvalue() != body:
            return None  # e.g. a non-minimal varint, a split block: not a body we wrote
        reader = self._reader_for(writer)
        if reader is None:
            return record
        try:
            resolved = schemaless_reader(io.BytesIO(body), writer.plain, reader)
        except _BODY_ERRORS:
            return None
        return resolved if isinstance(resolved, dict) else None

    def _canonical(self, event_type: EventType, record: dict[str, Any]) -> bytes:
        out = io.BytesIO()
        schemaless_writer(out, self.schemas[event_type].plain, record)
        return out.getvalue()


def _unknown(message: str, data: bytes) -> UnknownSchemaError:
    error = UnknownSchemaError(message)
    error.raw = data
    return error


def _names(schemas: list[EventSchema] | tuple[EventSchema, ...]) -> str:
    return ", ".join(f"{s.event_type.value}={s.fingerprint.hex()}" for s in schemas)


# --- the schemas a body may have been written with -------------------------------------------
def event_schema_from(event_type: EventType, declared: dict[str, Any]) -> EventSchema:
    """An :class:`EventSchema` for a self-contained (expanded) schema of ``event_type``."""
    canonical = to_parsing_canonical_form(declared)
    return EventSchema(
        event_type=event_type,
        declared=declared,
        plain=parse_schema(without_logical_types(declared)),
        canonical_form=canonical,
        fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
    )


def schema_fingerprint(schema: Any) -> bytes:
    """The CRC-64-AVRO fingerprint (wire order) of any Avro schema, JSON text or parsed."""
    declared = json.loads(schema) if isinstance(schema, str) else schema
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(declared), "CRC-64-AVRO"))


def known_writer_schemas(schemas: SchemaSet) -> tuple[EventSchema, ...]:
    """The current schemas, then each released version in ``history/`` with another
    fingerprint (oldest first); an installation without ``history/`` has the current ones."""
    return tuple(schemas) + _history(schemas.directory, frozenset(s.fingerprint for s in schemas))


@cache
def _history(directory: Path, current: frozenset[bytes]) -> tuple[EventSchema, ...]:
    found: dict[bytes, EventSchema] = {}
    for event_type in EventType:
        folder = directory / "history" / event_type.value
        if not folder.is_dir():
            continue
        versions = sorted(
            (int(match[1]), path)
            for path in folder.iterdir()
            if (match := _HISTORY_FILE.fullmatch(path.name))
        )
        for _, path in versions:
            declared = json.loads(path.read_text(encoding="utf-8"))
            schema = event_schema_from(event_type, declared)
            if schema.fingerprint not in current:
                found.setdefault(schema.fingerprint, schema)
    return tuple(found.values())


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
