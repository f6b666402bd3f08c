"""Events in Confluent Schema Registry framing: written by confluent-kafka's AvroSerializer,
read by riskseal offline (no registry) and through a registry, refused when unsure.

The registry is confluent-kafka's own in-library MockSchemaRegistryClient: a real registry
cannot run on this machine (see tests/integration/sdk/test_registry_publish.py for the test
that runs against one when RISKSEAL_SCHEMA_REGISTRY_URL is set).
"""

from __future__ import annotations

import importlib
import io
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import given, settings

from riskseal.contract import (
    AccessAction,
    AccessRequest,
    Actor,
    Event,
    EventCodec,
    EventType,
    Outcome,
    Resource,
    SchemaSet,
    SourceStamp,
    event_type_of,
    typed_event,
)
from riskseal.contract.codec import CONFLUENT_HEADER_SIZE, HEADER_SIZE, known_writer_schemas
from riskseal.contract.fastpath import FastEncoder
from riskseal.contract.partial import PartialDecoder, keys_of_decoded
from riskseal.contract.registry import RegistrySchemaLookup, RegistrySerializer
from riskseal.contract.schemas_set import default_schema_dir
from riskseal.errors import MalformedEventError, UnknownSchemaError
from riskseal.sdk.delivery import event_id_of
from riskseal.sealer.batch import RecordEncoder
from tests.unit.contract import strategies

TOPICS = {
    EventType.ACCESS_REQUEST: "access.requests",
    EventType.ACCESS_ACTION: "access.actions",
    EventType.DECISION: "risk.decisions",
    EventType.ALERT: "risk.alerts",
}
OFFLINE = EventCodec()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REQUEST = AccessRequest(
    event_id="0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70",
    time=1_790_000_000_123,
    source=SourceStamp("app-1", 1_790_000_000_000, 3),
    actor=Actor("alice", roles=("sales",)),
    action="data.read",
    resource=Resource("document", "q3"),
    attributes={"tenant": "acme"},
)


def mock_registry() -> Any:
    """confluent-kafka's in-library mock registry (its module moved between releases)."""
    for name in (
        "confluent_kafka.schema_registry.mock_schema_registry_client",
        "confluent_kafka.schema_registry._sync.mock_schema_registry_client",
    ):
        try:
            return importlib.import_module(name).MockSchemaRegistryClient({"url": "mock://test"})
        except ImportError:
            continue
    raise AssertionError("confluent-kafka has no MockSchemaRegistryClient")


REGISTRY = mock_registry()
SERIALIZER = RegistrySerializer(REGISTRY, TOPICS)
ONLINE = EventCodec(registry=RegistrySchemaLookup(REGISTRY))


def framed(event: Event) -> bytes:
    """``event`` as the SDK writes it when a registry is configured."""
    return SERIALIZER.encode(event_type_of(event), event.to_record())


def frame(schema_id: int, body: bytes) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big") + body


GOOD = framed(REQUEST)


# --- what the serializer writes ---------------------------------------------------------------
def test_framing_is_zero_then_the_big_endian_id_of_the_topic_subject() -> None:
    registered = REGISTRY.get_latest_version("access.requests-value")
    assert GOOD[:1] == b"\x00"
    assert (
        int.from_bytes(GOOD[1:5], "big")
        == registered.schema_id
        == SERIALIZER.ids[EventType.ACCESS_REQUEST]
    )
    # The registered schema is riskseal's own: the same fingerprint as single-object encoding.
    stored = REGISTRY.get_schema(registered.schema_id)
    assert stored.schema_type == "AVRO"
    assert json.loads(stored.schema_str) == OFFLINE.schemas[EventType.ACCESS_REQUEST].declared


def test_every_event_type_has_its_own_subject_and_id() -> None:
    subjects = {f"{topic}-value" for topic in TOPICS.values()}
    assert subjects <= set(REGISTRY.get_subjects())
    assert len(set(SERIALIZER.ids.values())) == 4


@settings(max_examples=200, deadline=None)
@given(strategies.events)
def test_body_is_the_single_object_body(event: Event) -> None:
    assert framed(event)[CONFLUENT_HEADER_SIZE:] == OFFLINE.encode_event(event)[HEADER_SIZE:]


@settings(max_examples=50, deadline=None)
@given(strategies.access_requests | strategies.access_actions)
def test_sdk_fast_encoder_body_equals_the_serializer_body(event: Event) -> None:
    """The SDK validates with the fast encoder, then AvroSerializer writes the same body."""
    encoder = FastEncoder(event.source.source_id, event.source.epoch, 1 << 20)
    if isinstance(event, AccessRequest):
        parts = encoder.encode_request(event)
    else:
        assert isinstance(event, AccessAction)
        parts = encoder.encode_action(event)
    assert parts.with_seq(event.source.seq)[HEADER_SIZE:] == framed(event)[CONFLUENT_HEADER_SIZE:]


# --- reading it back --------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(strategies.events)
def test_offline_decode_round_trips_every_event_type(event: Event) -> None:
    kind = event_type_of(event)
    data = framed(event)
    decoded = OFFLINE.decode(data, expected=kind)  # no registry: found by content and topic
    assert decoded.event_type is kind
    assert decoded.fingerprint == OFFLINE.schemas[kind].fingerprint
    assert decoded.registry_id == int.from_bytes(data[1:5], "big")
    assert typed_event(decoded) == event
    assert OFFLINE.schema_of(data, expected=kind).event_type is kind


@settings(max_examples=300, deadline=None)
@given(strategies.events)
def test_offline_decode_without_the_topic_never_misreads(event: Event) -> None:
    """Without the expected type, a body two types read differently is refused, never guessed."""
    data = framed(event)
    try:
        decoded = OFFLINE.decode(data)
    except UnknownSchemaError as refused:
        assert "refusing to guess" in str(refused)
        assert refused.raw == data
    else:
        assert typed_event(decoded) == event


def test_a_failed_action_with_a_request_id_is_also_an_access_request_body() -> None:
    """Found by hypothesis: outcome FAILURE (02), no status detail (00), a request id
    (02 48 <36 bytes>), no trace id, no attributes read as an AccessRequest with trace id ""
    (02 00) and the request id as the key of one attribute (02 48 ... 00 00)."""
    action = AccessAction(
        event_id="e3e70682-c209-4cac-629f-6fbed82c07cd",
        time=1_790_000_000_000,
        source=SourceStamp("app-1", 1, 0),
        actor=Actor("alice"),
        action="auth.login",
        resource=Resource("app", "crm"),
        outcome=Outcome.FAILURE,
        request_id="f728b4fa-4248-4e3a-8a5d-2f346baa9455",
    )
    data = framed(action)
    with pytest.raises(UnknownSchemaError) as refused:
        OFFLINE.decode(data)
    assert "AccessRequest=" in str(refused.value) and "AccessAction=" in str(refused.value)
    assert typed_event(OFFLINE.decode(data, expected=EventType.ACCESS_ACTION)) == action
    misread = OFFLINE.decode(data, expected=EventType.ACCESS_REQUEST)  # what the bytes also are
    assert misread.event_type is EventType.ACCESS_REQUEST
    assert misread.record["attributes"] == {action.request_id: ""}
    assert ONLINE.decode(data) == OFFLINE.decode(data, expected=EventType.ACCESS_ACTION)
    keys = PartialDecoder().keys(data, expected=EventType.ACCESS_ACTION)
    assert keys.event_type is EventType.ACCESS_ACTION and keys.event_id == action.event_id


def test_expected_type_does_not_hide_an_event_of_another_type() -> None:
    """A Decision on the requests topic is still read as the Decision it is."""
    decision = OFFLINE.decode(framed(REQUEST), expected=EventType.DECISION)
    assert decision.event_type is EventType.ACCESS_REQUEST


@settings(max_examples=100, deadline=None)
@given(strategies.events)
def test_decode_through_the_registry_gives_the_same_event(event: Event) -> None:
    data = framed(event)
    assert ONLINE.decode(data) == OFFLINE.decode(data, expected=event_type_of(event))


@settings(max_examples=100, deadline=None)
@given(strategies.events)
def test_confluent_avro_deserializer_reads_what_we_write(event: Event) -> None:
    avro = importlib.import_module("confluent_kafka.schema_registry.avro")
    serialization = importlib.import_module("confluent_kafka.serialization")
    kind = event_type_of(event)
    context = serialization.SerializationContext(TOPICS[kind], serialization.MessageField.VALUE)
    data = framed(event)
    theirs = avro.AvroDeserializer(REGISTRY)(data, context)
    # Their reader applies the logical types (uuid, timestamp-millis) of the registered
    # schema; read the body with that schema and plain fastavro to compare like with like.
    declared = parse_schema(OFFLINE.schemas[kind].declared)
    assert theirs == schemaless_reader(io.BytesIO(data[5:]), declared, None)
    assert str(theirs["event_id"]) == event.event_id
    assert (theirs["time"] - EPOCH) // timedelta(milliseconds=1) == event.time


@settings(max_examples=100, deadline=None)
@given(strategies.events)
def test_partial_keys_of_registry_framed_events(event: Event) -> None:
    single = OFFLINE.encode_event(event)
    keys = PartialDecoder().keys(framed(event), expected=event_type_of(event))
    assert keys == keys_of_decoded(OFFLINE, single)


def test_sealer_flag_check_accepts_registry_framed_events() -> None:
    encoder = RecordEncoder(EventCodec())  # the sealer's flag check, as the sealer makes it
    assert encoder.flag(GOOD) is None
    foreign = frame(7, b"\x06abc")
    flag = encoder.flag(foreign)
    assert flag is not None and "schema id 7" in flag


def test_sealer_flag_check_uses_the_topic_to_settle_an_ambiguous_body() -> None:
    action = AccessAction(
        event_id="e3e70682-c209-4cac-629f-6fbed82c07cd",
        time=1_790_000_000_000,
        source=SourceStamp("app-1", 1, 0),
        actor=Actor("alice"),
        action="auth.login",
        resource=Resource("app", "crm"),
        outcome=Outcome.FAILURE,
        request_id="f728b4fa-4248-4e3a-8a5d-2f346baa9455",
    )
    data = framed(action)
    without_topics = RecordEncoder(EventCodec())
    flag = without_topics.flag(data, "access.actions")
    assert flag is not None and "AccessAction=" in flag  # refused as ambiguous, not misread
    sealer = RecordEncoder(EventCodec(), {"access.actions": EventType.ACCESS_ACTION})
    assert sealer.flag(data, "access.actions") is None


# --- framing errors, offline ------------------------------------------------------------------
@pytest.mark.parametrize("length", [1, 2, 4])
def test_short_header_is_malformed_and_kept(length: int) -> None:
    data = GOOD[:length]
    with pytest.raises(MalformedEventError) as info:
        OFFLINE.decode(data)
    assert info.value.raw == data
    assert f"truncated Confluent Schema Registry header: {length} bytes long" in str(info.value)


def test_unknown_id_with_a_body_of_no_known_schema_is_unknown_and_kept() -> None:
    data = frame(424242, b"\x02\x04hello-from-another-app")
    with pytest.raises(UnknownSchemaError) as info:
        OFFLINE.decode(data)
    assert info.value.raw == data
    message = str(info.value)
    assert "schema id 424242" in message
    assert "AccessRequest=" in message  # names what it knows, for the version skew
    with pytest.raises(UnknownSchemaError) as again:
        OFFLINE.schema_of(data)
    assert again.value.raw == data


@pytest.mark.parametrize("cut", [1, 7, len(GOOD) - CONFLUENT_HEADER_SIZE])
def test_truncated_body_is_refused(cut: int) -> None:
    with pytest.raises(UnknownSchemaError) as info:
        OFFLINE.decode(GOOD[:-cut])
    assert info.value.raw == GOOD[:-cut]


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(UnknownSchemaError):
        OFFLINE.decode(GOOD + b"\x00")


def test_non_canonical_body_is_refused_offline() -> None:
    """A body that decodes but is not how any Avro writer we know writes it is not trusted:
    here the event id's length 36 as a two-byte varint (c8 00) instead of one byte (48)."""
    assert GOOD[5] == 0x48
    padded = GOOD[:5] + b"\xc8\x00" + GOOD[6:]
    record = schemaless_reader(
        io.BytesIO(padded[5:]), OFFLINE.schemas[EventType.ACCESS_REQUEST].plain, None
    )
    assert record == REQUEST.to_record()  # fastavro alone would accept it
    with pytest.raises(UnknownSchemaError) as info:
        OFFLINE.decode(padded)
    assert info.value.raw == padded


def test_single_object_bytes_are_unchanged() -> None:
    data = OFFLINE.encode_event(REQUEST)
    decoded = OFFLINE.decode(data)
    assert decoded.registry_id is None
    assert typed_event(decoded) == REQUEST


# --- ambiguity and released versions (schema sets built for the test) ------------------------
def _schema_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "schemas"
    directory.mkdir()
    for path in default_schema_dir().glob("*.avsc"):
        shutil.copy(path, directory / path.name)
    return directory


def test_a_body_two_schemas_read_differently_is_refused(tmp_path: Path) -> None:
    """AccessAction made a field-for-field twin of AccessRequest: every AccessRequest body is
    then also an exact AccessAction body, and only the registry could tell which was meant."""
    directory = _schema_dir(tmp_path)
    twin = json.loads((directory / "riskseal.events.AccessRequest.avsc").read_text())
    twin["name"] = "AccessAction"
    (directory / "riskseal.events.AccessAction.avsc").write_text(json.dumps(twin))
    codec = EventCodec(SchemaSet(directory))
    data = frame(1, GOOD[5:])
    with pytest.raises(UnknownSchemaError) as info:
        codec.decode(data)
    assert info.value.raw == data
    assert "refusing to guess" in str(info.value)
    assert "AccessRequest=" in str(info.value) and "AccessAction=" in str(info.value)


def test_body_of_a_released_version_is_read_as_the_current_schema(tmp_path: Path) -> None:
    """The current AccessRequest gains a field with a default; bodies written with the
    released v1 (the repository's) are found through history/ and resolved to the current."""
    directory = _schema_dir(tmp_path)
    history = directory / "history" / "AccessRequest"
    history.mkdir(parents=True)
    repo_history = default_schema_dir() / "history" / "AccessRequest" / "v1.avsc"
    shutil.copy(repo_history, history / "v1.avsc")
    current_path = directory / "riskseal.events.AccessRequest.avsc"
    current = json.loads(current_path.read_text())
    current["fields"].append({"name": "risk_hint", "type": "string", "default": "none"})
    current_path.write_text(json.dumps(current))
    codec = EventCodec(SchemaSet(directory))
    v1 = json.loads(repo_history.read_text())
    assert [s.fingerprint for s in known_writer_schemas(codec.schemas)][-1] != (
        codec.schemas[EventType.ACCESS_REQUEST].fingerprint
    )
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(v1), REQUEST.to_record())
    decoded = codec.decode(frame(9, body.getvalue()))
    assert decoded.event_type is EventType.ACCESS_REQUEST
    assert decoded.record == {**REQUEST.to_record(), "risk_hint": "none"}


def test_delivery_failures_name_the_event_of_a_registry_framed_value() -> None:
    assert event_id_of(GOOD) == REQUEST.event_id
    assert event_id_of(OFFLINE.encode_event(REQUEST)) == REQUEST.event_id
