"""A stand-in for the risk processor that answers every access request at once.

Used by the tests, the SDK benchmark and the demo until the real risk processor runs: it
reads ``access.requests`` from the current end (assigned partitions, no group join) and writes
one Decision per request sent after it started to ``risk.decisions``, its verdict chosen by a
rule function.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Self

from confluent_kafka import Consumer, Producer, TopicPartition

from riskseal.contract.codec import EventCodec, typed_event
from riskseal.contract.events import (
    AccessRequest,
    Decision,
    RiskLevel,
    SourceStamp,
    Verdict,
    Versions,
)
from riskseal.settings import Settings

VerdictRule = Callable[[AccessRequest], Verdict]
KAFKA_LOG = logging.getLogger("riskseal.sdk.kafka")


def verdict_from_resource(request: AccessRequest) -> Verdict:
    """DENY for resources whose id starts with ``deny-``, STEP_UP for ``step-``, else ALLOW."""
    if request.resource.uid.startswith("deny-"):
        return Verdict.DENY
    if request.resource.uid.startswith("step-"):
        return Verdict.STEP_UP
    return Verdict.ALLOW


class StaticResponder:
    """Answers access requests with decisions from ``rule``, on a background thread."""

    SOURCE_ID = "riskseal-static-responder"

    def __init__(self, settings: Settings, rule: VerdictRule = verdict_from_resource) -> None:
        self.settings = settings
        self.rule = rule
        self.answered = 0
        self.epoch = time.time_ns() // 1_000_000  # a new sequence per responder start
        self._codec = EventCodec()
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                **settings.kafka_config(),
                "group.id": f"riskseal-responder-{uuid.uuid4()}",  # never joined: assign()
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 5,
                "logger": KAFKA_LOG,
            }
        )
        self._producer = Producer({**settings.kafka_config(), "linger.ms": 0, "logger": KAFKA_LOG})
        topic = settings.topic_requests
        positions = []
        for partition in range(settings.partitions_access):
            _, high = self._consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=10, cached=False
            )
            positions.append(TopicPartition(topic, partition, max(high, 0)))
        self._consumer.assign(positions)
        self._thread = threading.Thread(target=self._run, name="riskseal-responder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            first = self._consumer.poll(0.05)
            if first is None:
                continue
            for message in [first, *self._consumer.consume(500, 0)]:
                value = message.value()
                # Brokers whose end offsets are too low (Tansu) hand us older requests too:
                # only requests written after the responder started are its to answer.
                fresh = message.timestamp()[1] >= self.epoch
                if message.error() is None and value is not None and fresh:
                    self._answer(value)
            self._producer.poll(0)

    def _answer(self, value: bytes) -> None:
        request = typed_event(self._codec.decode(value))
        if not isinstance(request, AccessRequest):
            return
        decision = Decision(
            event_id=str(uuid.uuid4()),
            time=request.time,
            source=SourceStamp(self.SOURCE_ID, self.epoch, self.answered),
            request_id=request.event_id,
            user_id=request.user_id,
            verdict=self.rule(request),
            request_risk=0,
            user_risk=0,
            risk_level=RiskLevel.LOW,
            versions=Versions("static-responder", "none", "none", "none"),
        )
        self.answered += 1
        self._producer.produce(
            self.settings.topic_decisions,
            self._codec.encode_event(decision),
            key=request.user_id.encode(),
        )

    def close(self) -> None:
        """Stop answering, deliver what was written, close the clients."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._producer.flush(10)
        self._consumer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
