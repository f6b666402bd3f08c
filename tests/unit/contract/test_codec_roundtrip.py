"""Property tests: every typed event survives our codec, and any Avro reader agrees with it.

For each of the four schemas, a valid typed event is encoded with ``EventCodec.encode_event``;
then (a) our own decoder gives the equal event back, (b) a plain fastavro reader given only
the schema file reads the same field values, and (c) the 10-byte header is ``C3 01`` followed
by the CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form, little-endian.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastavro import schemaless_reader
from fastavro.schema import load_schema, to_parsing_canonical_form
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.contract import EventCodec, EventType, event_type_of, typed_event
from tests.unit.contract import strategies
from tests.unit.contract.reference import (
    crc64_avro,
    expanded_schema,
    schema_file,
    wire_order,
)

CODEC = EventCodec()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EVENT_TYPES = list(EventType)
EXAMPLES = settings(max_examples=100, deadline=None)


def _expected_fingerprint(event_type: EventType) -> bytes:
    """Computed from the schema FILE, independently of SchemaSet."""
    canonical = to_parsing_canonical_form(load_schema(str(schema_file(event_type.value))))
    return wire_order(crc64_avro(canonical.encode("utf-8")))


FINGERPRINTS = {event_type: _expected_fingerprint(event_type) for event_type in EventType}
# What any Avro user has: fastavro's own parse of the schema file, logical types included.
PLAIN_SCHEMAS = {t: load_schema(str(schema_file(t.value))) for t in EventType}
EXPANDED = {t: expanded_schema(t.value) for t in EventType}


def _with_logical_types(schema: Any, value: Any, named: dict[str, Any]) -> Any:
    """``value`` as a reader honouring the schema's logical types returns it.

    uuid strings become ``uuid.UUID``, timestamp-millis longs become aware UTC datetimes;
    everything else is unchanged. ``named`` collects the named types met so far.
    """
    if isinstance(schema, list):
        if value is None:
            return None
        (branch,) = [branch for branch in schema if branch != "null"]
        return _with_logical_types(branch, value, named)
    if isinstance(schema, str):
        return _with_logical_types(named[schema], value, named) if schema in named else value
    kind, logical = schema["type"], schema.get("logicalType")
    if kind == "string" and logical == "uuid":
        return uuid.UUID(value)
    if kind == "long" and logical == "timestamp-millis":
        return EPOCH + timedelta(milliseconds=value)
    if kind == "record":
        named[schema["name"]] = schema
        return {
            field["name"]: _with_logical_types(field["type"], value[field["name"]], named)
            for field in schema["fields"]
        }
    if kind == "enum":
        named[schema["name"]] = schema
        return value
    if kind == "array":
        return [_with_logical_types(schema["items"], item, named) for item in value]
    if kind == "map":
        return {key: _with_logical_types(schema["values"], v, named) for key, v in value.items()}
    return value


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@EXAMPLES
@given(data=st.data())
def test_encoded_event_decodes_to_the_equal_typed_event(
    event_type: EventType, data: st.DataObject
) -> None:
    event = data.draw(strategies.EVENTS[event_type])
    encoded = CODEC.encode_event(event)

    decoded = CODEC.decode(encoded)

    assert decoded.event_type is event_type
    assert decoded.record == event.to_record()
    assert typed_event(decoded) == event
    assert event_type_of(typed_event(decoded)) is event_type


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@EXAMPLES
@given(data=st.data())
def test_plain_fastavro_reader_with_the_schema_file_reads_the_same_values(
    event_type: EventType, data: st.DataObject
) -> None:
    event = data.draw(strategies.EVENTS[event_type])
    encoded = CODEC.encode_event(event)
    body = io.BytesIO(encoded[10:])

    read = schemaless_reader(body, PLAIN_SCHEMAS[event_type], None)

    assert body.tell() == len(encoded) - 10, "the reader must consume the whole body"
    expected = _with_logical_types(EXPANDED[event_type], event.to_record(), {})
    assert read == expected


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@EXAMPLES
@given(data=st.data())
def test_header_is_magic_and_crc64_avro_fingerprint_of_the_canonical_form(
    event_type: EventType, data: st.DataObject
) -> None:
    encoded = CODEC.encode_event(data.draw(strategies.EVENTS[event_type]))

    assert encoded[:2] == b"\xc3\x01"
    assert encoded[2:10] == FINGERPRINTS[event_type]


def test_every_event_type_has_its_own_fingerprint() -> None:
    assert len(set(FINGERPRINTS.values())) == len(EventType)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_codec_schema_fingerprint_equals_the_one_computed_from_the_schema_file(
    event_type: EventType,
) -> None:
    assert CODEC.schemas[event_type].fingerprint == FINGERPRINTS[event_type]
    assert CODEC.schemas.by_fingerprint(FINGERPRINTS[event_type]).event_type is event_type


def test_logical_type_conversion_of_the_oracle_is_not_vacuous() -> None:
    """The (b) comparison really sees UUID and datetime objects where the schema says so."""
    record = {
        "event_id": "0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70",
        "time": 1_000,
        "request_ids": ["0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c71"],
    }
    schema = expanded_schema("Alert")
    schema["fields"] = [f for f in schema["fields"] if f["name"] in record]

    converted = _with_logical_types(schema, record, {})

    assert converted["event_id"] == uuid.UUID("0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70")
    assert converted["time"] == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert converted["request_ids"] == [uuid.UUID("0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c71")]
