"""Publishing: what reaches Kafka, sequence numbers, bad input, backpressure, failures."""

from __future__ import annotations

import io
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from fastavro import schemaless_reader
from fastavro.schema import load_schema

from riskseal.contract import (
    AccessAction,
    Actor,
    EventCodec,
    Location,
    Outcome,
    Resource,
    Sensitivity,
    typed_event,
)
from riskseal.contract.events import Endpoint
from riskseal.errors import BackpressureError, EventTooLargeError, InvalidEventError
from riskseal.sdk import AuditClient, DeliveryFailure
from riskseal.settings import Settings
from tests.integration.conftest import RealStack, start_local_stack, stop_and_check

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def _sequence_numbers(settings: Settings, topic: str, source_id: str, want: int) -> list[int]:
    """Read ``topic`` from the start until ``want`` events of ``source_id`` were seen."""
    codec = EventCodec()
    seqs: list[int] = []
    consumer = Consumer(settings.kafka_consumer_config(f"read-{uuid.uuid4()}"))
    partitions = settings.topic_partitions[topic]
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    deadline = time.monotonic() + 30
    try:
        while len(seqs) < want and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.2):
                value = message.value()
                if message.error() is None and value is not None:
                    event = typed_event(codec.decode(value))
                    if event.source.source_id == source_id:
                        seqs.append(event.source.seq)
    finally:
        consumer.close()
    return seqs


def _fresh_source(real_stack: RealStack) -> Settings:
    return real_stack.settings.model_copy(update={"source_id": f"test-{uuid.uuid4()}"})


def test_emitted_action_reaches_kafka_keyed_by_user_and_decodes_with_plain_fastavro(
    real_stack: RealStack,
) -> None:
    settings = _fresh_source(real_stack)
    with AuditClient(settings) as client:
        sent = client.emit_action(
            Actor("carol", roles=("admin",)),
            "auth.login",
            Resource("app", "billing", sensitivity=Sensitivity.RESTRICTED),
            Outcome.FAILURE,
            status_detail="bad_password",
            src_endpoint=Endpoint("198.51.100.4", Location(country="FR", lat=48.8, lon=2.3)),
            headers={"riskseal-truth": "brute_force"},
        )
        assert client.flush() == []
    consumer = Consumer(settings.kafka_consumer_config(f"read-{uuid.uuid4()}"))
    consumer.assign(
        [TopicPartition(settings.topic_actions, p, 0) for p in range(settings.partitions_access)]
    )
    found = None
    try:
        for _ in range(200):
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            value = message.value()
            assert value is not None
            event = typed_event(EventCodec().decode(value))
            if isinstance(event, AccessAction) and event.event_id == sent.event_id:
                found = message
                break
    finally:
        consumer.close()
    assert found is not None
    assert found.key() == b"carol"
    assert dict(found.headers() or [])["riskseal-truth"] == b"brute_force"
    body = io.BytesIO((found.value() or b"")[10:])
    plain: Any = schemaless_reader(
        body, load_schema(str(SCHEMAS / "riskseal.events.AccessAction.avsc")), None
    )
    assert plain["status_detail"] == "bad_password"
    assert plain["source"] == {"source_id": settings.source_id, "epoch": client.epoch, "seq": 0}


def test_sequence_numbers_are_gap_free_across_threads(real_stack: RealStack) -> None:
    settings = _fresh_source(real_stack)
    with AuditClient(settings) as client:

        def emit(worker: int) -> None:
            for i in range(250):
                client.request_access(f"u{worker}", "data.read", Resource("doc", f"{worker}-{i}"))

        threads = [threading.Thread(target=emit, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert client.flush() == []
        assert client.next_seq == 2000
    assert settings.source_id is not None
    seqs = _sequence_numbers(settings, settings.topic_requests, settings.source_id, 2000)
    assert sorted(seqs) == list(range(2000))


def test_invalid_event_is_refused_before_kafka_and_consumes_no_sequence_number(
    real_stack: RealStack,
) -> None:
    settings = _fresh_source(real_stack)
    with AuditClient(settings) as client:
        with pytest.raises(InvalidEventError) as refused:
            client.request_access(
                Actor("dave"), "data.read", Resource("doc", "d"),
                src_endpoint=Endpoint("not-an-ip"),
            )  # fmt: skip
        assert refused.value.field_path == "src_endpoint.ip"
        with pytest.raises(InvalidEventError) as not_utf8:
            client.request_access(Actor("dave\udcff"), "data.read", Resource("doc", "d"))
        assert not_utf8.value.field_path == "actor.uid"
        assert "UTF-8" in not_utf8.value.reason
        with pytest.raises(EventTooLargeError) as too_large:
            client.request_access(
                "dave", "data.read", Resource("doc", "d"), attributes={"blob": "x" * 70_000}
            )
        assert too_large.value.limit == settings.max_event_bytes
        assert client.next_seq == 0
        good = client.request_access("dave", "data.read", Resource("doc", "d"))
        assert client.flush() == []
    assert good.source.seq == 0


def test_full_buffer_raises_backpressure_error(real_stack: RealStack) -> None:
    settings = _fresh_source(real_stack).model_copy(update={"sdk_buffer_max_messages": 5})
    client = AuditClient(settings, producer_config={"linger.ms": 60_000})
    try:
        for i in range(5):
            client.request_access("erin", "data.read", Resource("doc", f"{i}"))
        with pytest.raises(BackpressureError, match="buffer of 5 events is full"):
            client.request_access("erin", "data.read", Resource("doc", "overflow"))
        assert client.next_seq == 5
    finally:
        assert client.close() == []


def test_blocking_mode_waits_for_space_then_sends(real_stack: RealStack) -> None:
    settings = _fresh_source(real_stack).model_copy(
        update={
            "sdk_buffer_max_messages": 3,
            "sdk_on_buffer_full": "block",
            "sdk_block_timeout_s": 10.0,
        }
    )
    with AuditClient(settings, producer_config={"linger.ms": 300}) as client:
        for i in range(10):
            client.request_access("frank", "data.read", Resource("doc", f"{i}"))
        assert client.flush() == []
        assert client.in_flight == 0


def test_blocking_mode_gives_up_after_its_timeout(real_stack: RealStack) -> None:
    settings = _fresh_source(real_stack).model_copy(
        update={
            "sdk_buffer_max_messages": 2,
            "sdk_on_buffer_full": "block",
            "sdk_block_timeout_s": 0.3,
        }
    )
    client = AuditClient(settings, producer_config={"linger.ms": 60_000})
    try:
        client.request_access("gina", "data.read", Resource("doc", "1"))
        client.request_access("gina", "data.read", Resource("doc", "2"))
        with pytest.raises(BackpressureError, match=r"stayed full for 0\.3 s"):
            client.request_access("gina", "data.read", Resource("doc", "3"))
    finally:
        client.close()


def test_delivery_failures_reach_the_callback_and_flush(tmp_path: Path) -> None:
    stack = start_local_stack(tmp_path / "data")
    try:
        settings = stack.up().settings()
        reported: list[tuple[str, DeliveryFailure | None]] = []
        client = AuditClient(
            settings,
            on_delivery=lambda event_id, failure: reported.append((event_id, failure)),
            producer_config={"message.timeout.ms": 1_500},
        )
        stack.tansu.stop()
        sent = [client.emit_action("hal", "data.read", Resource("doc", str(i)), Outcome.SUCCESS)
                for i in range(3)]  # fmt: skip
        failures = client.flush(timeout=30)
        # On a loaded machine librdkafka may not have expired them all yet: close() purges
        # and reports the rest. Either way each event is reported once, never dropped.
        failures += client.close(timeout=1)
        assert sorted(f.event_id for f in failures) == sorted(e.event_id for e in sent)
        assert all(f.topic == settings.topic_actions for f in failures)
        assert all("TIMED_OUT" in f.reason or "PURGE" in f.reason for f in failures)
        assert sorted(event_id for event_id, failure in reported if failure) == sorted(
            e.event_id for e in sent
        )
    finally:
        stop_and_check(stack)


def test_close_reports_every_event_still_queued(tmp_path: Path) -> None:
    stack = start_local_stack(tmp_path / "data")
    try:
        settings = stack.up().settings()
        reported: list[str] = []
        client = AuditClient(
            settings,
            on_delivery=lambda event_id, failure: reported.append(event_id) if failure else None,
            producer_config={"message.timeout.ms": 300_000},
        )
        stack.tansu.stop()  # nothing can be delivered any more, and nothing times out soon
        sent = [
            client.request_access("ivy", "data.read", Resource("doc", str(i))) for i in range(4)
        ]
        assert client.flush(timeout=0.5) == []
        assert client.in_flight == 4
        failures = client.close(timeout=0.5)
        assert sorted(f.event_id for f in failures) == sorted(e.event_id for e in sent)
        assert all("PURGE" in f.reason for f in failures)
        assert sorted(reported) == sorted(e.event_id for e in sent)
    finally:
        stop_and_check(stack)
