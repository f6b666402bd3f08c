"""Publishing in Confluent Schema Registry framing to the real local Kafka.

No registry server can run on this machine, so the client is given confluent-kafka's own
in-library MockSchemaRegistryClient through its ``schema_registry`` parameter; everything else
(AvroSerializer, producer, broker, consumer) is real. ``test_real_registry_round_trip`` runs
against a real registry only when RISKSEAL_SCHEMA_REGISTRY_URL is set (and
RISKSEAL_SCHEMA_REGISTRY_USERNAME / _PASSWORD when it needs them); it is skipped otherwise.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from riskseal.contract import (
    AccessAction,
    AccessRequest,
    Actor,
    EventCodec,
    EventType,
    Outcome,
    Resource,
    Sensitivity,
    typed_event,
)
from riskseal.contract.partial import PartialDecoder
from riskseal.contract.registry import RegistrySchemaLookup, registry_client
from riskseal.errors import ContractError, InvalidEventError
from riskseal.sdk import AsyncAuditClient, AuditClient
from riskseal.settings import Settings
from riskseal.stack.provision import ensure_settings_topics
from tests.integration.conftest import RealStack, on_fresh_topics
from tests.unit.contract.test_registry_codec import mock_registry

REAL_REGISTRY_ENV = "RISKSEAL_SCHEMA_REGISTRY_URL"


def _fresh_source(real_stack: RealStack, **changes: Any) -> Settings:
    """A new source id and topics of this test's own: other tests read the shared topics
    from the start and expect single-object values there."""
    tag = uuid.uuid4().hex[:10]
    settings = on_fresh_topics(real_stack.settings, f"reg{tag}", source_id=f"test-{tag}", **changes)
    ensure_settings_topics(
        settings,
        {
            settings.topic_requests: settings.partitions_access,
            settings.topic_actions: settings.partitions_access,
            settings.topic_decisions: settings.partitions_decisions,
        },
    )
    return settings


def _read_back(settings: Settings, topic: str, want: int) -> list[Message]:
    """The first ``want`` messages of ``settings.source_id`` on ``topic``, read from offset 0."""
    codec = EventCodec()
    expected = (
        EventType.ACCESS_REQUEST if topic == settings.topic_requests else EventType.ACCESS_ACTION
    )
    found: list[Message] = []
    consumer = Consumer(settings.kafka_consumer_config(f"read-{uuid.uuid4()}"))
    consumer.assign([TopicPartition(topic, p, 0) for p in range(settings.topic_partitions[topic])])
    deadline = time.monotonic() + 30
    try:
        while len(found) < want and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.2):
                value = message.value()
                if message.error() is not None or value is None:
                    continue
                try:
                    event = typed_event(codec.decode(value, expected))
                except ContractError:  # other tests' records on the shared topic
                    continue
                if event.source.source_id == settings.source_id:
                    found.append(message)
    finally:
        consumer.close()
    return found


def _avro_deserialize(registry: Any, topic: str, value: bytes) -> Any:
    avro = importlib.import_module("confluent_kafka.schema_registry.avro")
    serialization = importlib.import_module("confluent_kafka.serialization")
    context = serialization.SerializationContext(topic, serialization.MessageField.VALUE)
    return avro.AvroDeserializer(registry)(value, context)


def test_registry_framed_events_reach_kafka_and_decode_offline(real_stack: RealStack) -> None:
    registry = mock_registry()
    settings = _fresh_source(real_stack)
    with AuditClient(settings, schema_registry=registry) as client:
        request = client.request_access(
            Actor("alice", roles=("sales",)),
            "data.export",
            Resource("report", "q3", sensitivity=Sensitivity.CONFIDENTIAL),
            attributes={"rows": "1200"},
        )
        # A failed action that carries its request id: offline, its body is also an exact
        # AccessRequest body, so only the topic (or the registry) says which it is.
        action = client.emit_action(
            "alice", "data.export", Resource("report", "q3"), Outcome.FAILURE,
            request_id=request.event_id,
        )  # fmt: skip
        with pytest.raises(InvalidEventError) as refused:
            client.request_access("alice", "data.read", Resource("doc", ""))
        assert refused.value.field_path == "resource.uid"
        assert client.next_seq == 2  # the refused event took no sequence number
        assert client.flush() == []

    sent: list[tuple[str, EventType, AccessRequest | AccessAction]] = [
        (settings.topic_requests, EventType.ACCESS_REQUEST, request),
        (settings.topic_actions, EventType.ACCESS_ACTION, action),
    ]
    offline, partial = EventCodec(), PartialDecoder()
    online = EventCodec(registry=RegistrySchemaLookup(registry))
    for topic, kind, event in sent:
        [message] = _read_back(settings, topic, 1)
        value = message.value()
        assert value is not None
        assert message.key() == b"alice"
        registered = registry.get_latest_version(f"{topic}-value")
        assert value[:1] == b"\x00"
        assert int.from_bytes(value[1:5], "big") == registered.schema_id
        decoded = offline.decode(value, kind)
        assert decoded.registry_id == registered.schema_id
        assert decoded.fingerprint == offline.schemas[kind].fingerprint
        assert typed_event(decoded) == event
        assert online.decode(value) == decoded  # through the registry: no topic needed
        assert partial.keys(value, kind).seq == event.source.seq
        theirs = _avro_deserialize(registry, topic, value)
        assert str(theirs["event_id"]) == event.event_id
        assert theirs["source"] == event.source.to_record()


def test_async_client_publishes_in_registry_framing(real_stack: RealStack) -> None:
    registry = mock_registry()
    settings = _fresh_source(real_stack)

    async def publish() -> AccessRequest:
        async with AsyncAuditClient(settings, schema_registry=registry) as client:
            sent = await client.request_access("bob", "data.read", Resource("doc", "d1"))
            assert await client.flush() == []
        return sent

    request = asyncio.run(publish())
    [message] = _read_back(settings, settings.topic_requests, 1)
    value = message.value() or b""
    assert value[:1] == b"\x00"
    assert typed_event(EventCodec().decode(value, EventType.ACCESS_REQUEST)) == request


@pytest.mark.skipif(
    not os.environ.get(REAL_REGISTRY_ENV),
    reason=f"no real Schema Registry: set {REAL_REGISTRY_ENV} (and "
    "RISKSEAL_SCHEMA_REGISTRY_USERNAME / _PASSWORD if it needs them) to run against one",
)
def test_real_registry_round_trip(real_stack: RealStack) -> None:
    from_env = Settings.from_env()
    settings = _fresh_source(
        real_stack,
        schema_registry_url=from_env.schema_registry_url,
        schema_registry_username=from_env.schema_registry_username,
        schema_registry_password=from_env.schema_registry_password,
        schema_registry_auto_register=from_env.schema_registry_auto_register,
    )
    with AuditClient(settings) as client:  # the client is made from the settings
        request = client.request_access("carol", "data.read", Resource("doc", "r1"))
        assert client.flush() == []
    [message] = _read_back(settings, settings.topic_requests, 1)
    value = message.value() or b""
    assert value[:1] == b"\x00"
    registry = registry_client(settings)
    online = EventCodec(registry=RegistrySchemaLookup(registry)).decode(value)
    assert online.registry_id == int.from_bytes(value[1:5], "big")
    assert online.fingerprint == EventCodec().schemas[EventType.ACCESS_REQUEST].fingerprint
    assert typed_event(online) == request
    assert EventCodec().decode(value, EventType.ACCESS_REQUEST) == online
    theirs = _avro_deserialize(registry, settings.topic_requests, value)
    assert str(theirs["event_id"]) == request.event_id
