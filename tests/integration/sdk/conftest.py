"""A stand-in for the risk processor: answers every access request with a decision."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from riskseal.contract import (
    AccessRequest,
    Decision,
    EventCodec,
    RiskLevel,
    SourceStamp,
    Verdict,
    Versions,
    typed_event,
)
from riskseal.settings import Settings
from tests.integration.conftest import RealStack

VerdictRule = Callable[[AccessRequest], Verdict]


def verdict_from_resource(request: AccessRequest) -> Verdict:
    """DENY for resources named deny-*, STEP_UP for step-*, else ALLOW."""
    if request.resource.uid.startswith("deny-"):
        return Verdict.DENY
    if request.resource.uid.startswith("step-"):
        return Verdict.STEP_UP
    return Verdict.ALLOW


@dataclass
class Responder:
    """Reads access.requests from the current end and writes one decision per request."""

    settings: Settings
    rule: VerdictRule = verdict_from_resource
    answered: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        codec = EventCodec()
        consumer = Consumer(
            self.settings.kafka_consumer_config(f"responder-{uuid.uuid4()}")
            | {"enable.auto.commit": False, "fetch.wait.max.ms": 5}
        )
        producer = Producer(self.settings.kafka_config() | {"linger.ms": 0})
        topic = self.settings.topic_requests
        positions = []
        for partition in range(self.settings.partitions_access):
            _, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=10, cached=False
            )
            positions.append(TopicPartition(topic, partition, max(high, 0)))
        consumer.assign(positions)
        self._ready.set()
        while not self._stop.is_set():
            first = consumer.poll(0.05)
            if first is None:
                continue
            for message in [first, *consumer.consume(500, 0)]:
                value = message.value()
                if message.error() is not None or value is None:
                    continue
                request = typed_event(codec.decode(value))
                assert isinstance(request, AccessRequest)
                decision = Decision(
                    event_id=str(uuid.uuid4()),
                    time=request.time,
                    source=SourceStamp("test-responder", 1, self.answered),
                    request_id=request.event_id,
                    user_id=request.user_id,
                    verdict=self.rule(request),
                    request_risk=7,
                    user_risk=3,
                    risk_level=RiskLevel.LOW,
                    versions=Versions("test", "test", "test", "test"),
                )
                self.answered += 1
                producer.produce(
                    self.settings.topic_decisions,
                    codec.encode_event(decision),
                    key=request.user_id.encode(),
                )
            producer.poll(0)
        producer.flush(10)
        consumer.close()

    def stop(self) -> None:
        self._stop.set()


@pytest.fixture
def responder(real_stack: RealStack) -> Iterator[Responder]:
    """A running responder on the session stack."""
    answering = Responder(real_stack.settings)
    thread = threading.Thread(target=answering.run, daemon=True)
    thread.start()
    assert answering._ready.wait(20), "responder did not start"
    yield answering
    answering.stop()
    thread.join(20)
