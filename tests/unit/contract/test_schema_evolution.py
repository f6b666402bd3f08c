"""Backward compatibility: the current schemas read everything ever written with a released one.

``schemas/history/<EventName>/v<N>.avsc`` holds every released version of each top-level event
schema, expanded (named types inlined) so each file stands alone. Events of every released
version sit in Kafka and, for years, in sealed blocks; the current schema must read them.
Two independent checks, for every (event type, released version):

- the Apache Avro library's ``ReaderWriterCompatibilityChecker`` (reader = current schema,
  writer = released version) says "compatible";
- data generated from the released schema and written with it by fastavro is read back with
  the current schema as reader schema.

``test_checker_rejects_*`` prove that the check can fail, with incompatible readers built here
from the current schema. See ``schemas/history/README.md`` for how to release a version.
"""

from __future__ import annotations

import copy
import io
import json
import re
from pathlib import Path
from typing import Any

import avro.schema
import pytest
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityResult,
    SchemaCompatibilityType,
)
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.schema import fingerprint, to_parsing_canonical_form
from fastavro.validation import validate
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.contract import EventCodec, EventType
from riskseal.contract.schemas_set import without_logical_types
from tests.unit.contract.reference import HISTORY_DIR, expanded_schema
from tests.unit.contract.strategies import avro_data

CODEC = EventCodec()
VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.avsc")


def _versions(event_type: EventType) -> dict[int, Path]:
    directory = HISTORY_DIR / event_type.value
    found: dict[int, Path] = {}
    for path in directory.iterdir():
        match = VERSION_FILE.fullmatch(path.name)
        assert match, f"{path}: history files are named v<N>.avsc"
        found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def _load(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


RELEASED = [
    pytest.param(event_type, version, id=f"{event_type.value}-v{version}")
    for event_type in EventType
    for version in _versions(event_type)
]


def _released(event_type: EventType, version: int) -> dict[str, Any]:
    return _load(HISTORY_DIR / event_type.value / f"v{version}.avsc")


def _without_docs(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {key: _without_docs(value) for key, value in schema.items() if key != "doc"}
    if isinstance(schema, list):
        return [_without_docs(item) for item in schema]
    return schema


def _compatibility(reader: Any, writer: Any) -> SchemaCompatibilityResult:
    # avro 1.12 leaves ReaderWriterCompatibilityChecker.__init__ unannotated.
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    return checker.get_compatibility(
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer))
    )


def _write(writer: Any, datum: Any) -> bytes:
    buffer = io.BytesIO()
    schemaless_writer(buffer, parse_schema(without_logical_types(writer)), datum)
    return buffer.getvalue()


def _read(body: bytes, writer: Any, reader: Any) -> Any:
    buffer = io.BytesIO(body)
    record = schemaless_reader(
        buffer,
        parse_schema(without_logical_types(writer)),
        parse_schema(without_logical_types(reader)),
    )
    assert buffer.tell() == len(body), "the reader must consume exactly the written body"
    return record


# --- the history itself -------------------------------------------------------------------


def test_history_holds_only_event_type_directories_and_the_readme() -> None:
    entries = {path.name for path in HISTORY_DIR.iterdir()}
    assert entries == {"README.md", *(event_type.value for event_type in EventType)}


@pytest.mark.parametrize("event_type", list(EventType))
def test_versions_are_numbered_from_1_without_gaps(event_type: EventType) -> None:
    versions = list(_versions(event_type))
    assert versions == list(range(1, len(versions) + 1))


@pytest.mark.parametrize(("event_type", "version"), RELEASED)
def test_released_version_is_a_self_contained_schema_of_its_event(
    event_type: EventType, version: int
) -> None:
    schema = _released(event_type, version)
    assert schema["type"] == "record"
    assert schema["name"] == event_type.full_name
    # Standalone: both libraries parse it with no other file and no named type known.
    parse_schema(schema, named_schemas={})
    avro.schema.parse(json.dumps(schema))


@pytest.mark.parametrize("event_type", list(EventType))
def test_current_schema_is_released_as_the_latest_version(event_type: EventType) -> None:
    """A change to schemas/*.avsc must come with a new history file (docs may change freely)."""
    versions = _versions(event_type)
    latest = _load(versions[max(versions)])
    assert _without_docs(latest) == _without_docs(expanded_schema(event_type.value)), (
        f"schemas/ changed {event_type.value} but schemas/history/{event_type.value}/ has no "
        f"v{max(versions) + 1}.avsc: release it as schemas/history/README.md says"
    )


@pytest.mark.parametrize("event_type", list(EventType))
def test_released_versions_differ_from_each_other(event_type: EventType) -> None:
    forms = [
        to_parsing_canonical_form(_load(path)) + json.dumps(_without_docs(_load(path)))
        for path in _versions(event_type).values()
    ]
    assert len(set(forms)) == len(forms)


# --- the current schema reads every released version --------------------------------------


@pytest.mark.parametrize(("event_type", "version"), RELEASED)
def test_checker_says_current_schema_reads_released_version(
    event_type: EventType, version: int
) -> None:
    result = _compatibility(expanded_schema(event_type.value), _released(event_type, version))
    assert result.compatibility is SchemaCompatibilityType.compatible, (
        result.messages,
        result.locations,
    )


@pytest.mark.parametrize(("event_type", "version"), RELEASED)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_current_schema_reads_data_written_with_released_version(
    event_type: EventType, version: int, data: st.DataObject
) -> None:
    writer = _released(event_type, version)
    reader = expanded_schema(event_type.value)
    written = data.draw(avro_data(writer))

    read = _read(_write(writer, written), writer, reader)

    validate(read, parse_schema(without_logical_types(reader)), raise_errors=True)
    if _without_docs(writer) == _without_docs(reader):
        assert read == written
    else:
        same = [
            field["name"]
            for field in reader["fields"]
            if any(_without_docs(field) == _without_docs(old) for old in writer["fields"])
        ]
        assert {name: read[name] for name in same} == {name: written[name] for name in same}


@pytest.mark.parametrize(("event_type", "version"), RELEASED)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_codec_decodes_single_object_bytes_of_released_version(
    event_type: EventType, version: int, data: st.DataObject
) -> None:
    """Events of every released version are still in Kafka and in sealed blocks.

    EventCodec must know each released writer fingerprint; today it knows only the current
    schemas, so releasing v2 of a type needs the codec to resolve v1 writers too.
    """
    writer = _released(event_type, version)
    written = data.draw(avro_data(writer))
    header = b"\xc3\x01" + bytes.fromhex(
        fingerprint(to_parsing_canonical_form(writer), "CRC-64-AVRO")
    )

    decoded = CODEC.decode(header + _write(writer, written))

    assert decoded.event_type is event_type
    assert decoded.record == _read(
        _write(writer, written), writer, expanded_schema(event_type.value)
    )


# --- the checks can fail ------------------------------------------------------------------


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    matches: list[dict[str, Any]] = [f for f in schema["fields"] if f["name"] == name]
    (found,) = matches
    return found


def _with_new_required_field(event_type: EventType) -> dict[str, Any]:
    reader = copy.deepcopy(expanded_schema(event_type.value))
    reader["fields"].append({"name": "tenant", "type": "string"})
    return reader


@pytest.mark.parametrize("event_type", list(EventType))
def test_checker_rejects_new_required_field_without_default(event_type: EventType) -> None:
    writer = _released(event_type, 1)
    result = _compatibility(_with_new_required_field(event_type), writer)
    assert result.compatibility is SchemaCompatibilityType.incompatible
    assert "tenant" in result.messages


@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_data_check_rejects_new_required_field_without_default(data: st.DataObject) -> None:
    writer = _released(EventType.ACCESS_REQUEST, 1)
    body = _write(writer, data.draw(avro_data(writer)))
    with pytest.raises(SchemaResolutionError, match="tenant"):
        _read(body, writer, _with_new_required_field(EventType.ACCESS_REQUEST))


def test_checker_rejects_changed_field_type() -> None:
    reader = copy.deepcopy(expanded_schema(EventType.ACCESS_ACTION.value))
    _field(reader, "action")["type"] = "int"
    result = _compatibility(reader, _released(EventType.ACCESS_ACTION, 1))
    assert result.compatibility is SchemaCompatibilityType.incompatible
    index = [field["name"] for field in reader["fields"]].index("action")
    assert f"/fields/{index}/type" in result.locations


def test_checker_rejects_removed_symbol_of_enum_without_default() -> None:
    reader = copy.deepcopy(expanded_schema(EventType.DECISION.value))
    _field(reader, "verdict")["type"]["symbols"] = ["ALLOW", "DENY"]
    writer = _released(EventType.DECISION, 1)
    result = _compatibility(reader, writer)
    assert result.compatibility is SchemaCompatibilityType.incompatible
    # The data check agrees on a record that uses the removed symbol.
    record = _decision_record()
    assert record["verdict"] == "STEP_UP"
    with pytest.raises(SchemaResolutionError):
        _read(_write(writer, record), writer, reader)


def test_checker_accepts_new_optional_field_with_default() -> None:
    reader = copy.deepcopy(expanded_schema(EventType.DECISION.value))
    reader["fields"].append({"name": "tenant", "type": ["null", "string"], "default": None})
    writer = _released(EventType.DECISION, 1)
    assert _compatibility(reader, writer).compatibility is SchemaCompatibilityType.compatible
    record = _decision_record()
    assert _read(_write(writer, record), writer, reader) == {**record, "tenant": None}


def _decision_record() -> dict[str, Any]:
    return {
        "event_id": "0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70",
        "time": 1_790_000_000_123,
        "source": {"source_id": "risk-worker-0", "epoch": 1, "seq": 2},
        "request_id": "5f2c9e61-8d1b-4a37-b0c4-2e9a7f3d1c85",
        "user_id": "alice",
        "verdict": "STEP_UP",
        "disposition": "Challenge",
        "request_risk": 55,
        "user_risk": 30,
        "risk_level": "MEDIUM",
        "reasons": [],
        "policy_ids": [],
        "versions": {"engine": "0.1.0", "rules": "r", "policies": "p", "entities": "e"},
    }
