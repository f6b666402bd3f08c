"""The one reply consumer per client that matches decisions to waiting ``authorize`` calls.

It assigns every partition of the decisions topic (no consumer group, so no slow join) at
the high watermark read when it starts, before the first request is sent: any decision
written after that is seen. A broker whose watermark is too low (Tansu) only makes it read a
few older decisions, which match nothing and are ignored.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaException, TopicPartition

from riskseal.contract.codec import EventCodec, typed_event
from riskseal.contract.events import Decision
from riskseal.contract.schemas_set import EventType
from riskseal.errors import (
    BrokerUnavailableError,
    ClientClosedError,
    ContractError,
    InvalidEventError,
)
from riskseal.settings import KafkaConfig

log = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class PendingReply:
    """One request waiting for its decision, from a thread or from asyncio."""

    request_id: str
    event: threading.Event = field(default_factory=threading.Event)
    decision: Decision | None = None
    future: asyncio.Future[Decision] | None = None

    closed: bool = False
    """The client was closed before the decision came: nobody will hand it over."""

    def resolve(self, decision: Decision) -> None:
        """Hand over the decision (called on the listener thread)."""
        self.decision = decision
        self.event.set()
        future = self.future
        if future is not None and not future.done():
            future.get_loop().call_soon_threadsafe(_set_result, future, decision)

    def abandon(self) -> None:
        """Wake the waiter without a decision: the client is closing."""
        self.closed = True
        self.event.set()
        future = self.future
        if future is not None and not future.done():
            future.get_loop().call_soon_threadsafe(_set_closed, future, self.request_id)

    def closed_error(self) -> ClientClosedError:
        """What a waiter woken by :meth:`abandon` raises."""
        return ClientClosedError(
            f"the client was closed while request {self.request_id} waited for its decision"
        )


def _set_result(future: asyncio.Future[Decision], decision: Decision) -> None:
    if not future.done():
        future.set_result(decision)


def _set_closed(future: asyncio.Future[Decision], request_id: str) -> None:
    if not future.done():
        future.set_exception(PendingReply(request_id).closed_error())


class ReplyListener:
    """Background consumer of the decisions topic, resolving PendingReply by request id."""

    def __init__(
        self,
        kafka_config: KafkaConfig,
        topic: str,
        codec: EventCodec,
        timeout_s: float,
    ) -> None:
        self._topic = topic
        self._codec = codec
        self._pending: dict[str, PendingReply] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                **kafka_config,
                "group.id": "riskseal-sdk-replies",  # required by librdkafka; never joined
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "fetch.wait.max.ms": 10,
                "fetch.error.backoff.ms": 50,
                "logger": logging.getLogger("riskseal.sdk.kafka"),
            }
        )
        try:
            self._consumer.assign(self._start_positions(timeout_s))
        except KafkaException as exc:
            self._consumer.close()
            raise BrokerUnavailableError(
                f"cannot read decisions from {topic}: {exc.args[0]}; check the topic exists "
                "and RISKSEAL_KAFKA_BOOTSTRAP"
            ) from exc
        self._thread = threading.Thread(target=self._run, name="riskseal-replies", daemon=True)
        self._thread.start()

    def _start_positions(self, timeout_s: float) -> list[TopicPartition]:
        metadata = self._consumer.list_topics(self._topic, timeout=timeout_s)
        topic = metadata.topics.get(self._topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise KafkaException(f"topic {self._topic} not found")
        positions = []
        for partition in sorted(topic.partitions):
            _, high = self._consumer.get_watermark_offsets(
                TopicPartition(self._topic, partition), timeout=timeout_s, cached=False
            )
            positions.append(TopicPartition(self._topic, partition, max(high, 0)))
        return positions

    def expect(self, request_id: str) -> PendingReply:
        """Register interest in the decision of ``request_id``; do this before sending it.

        InvalidEventError when ``request_id`` is not a string, or is already waiting: event
        ids are unique, and one decision cannot answer two requests.
        """
        if not isinstance(request_id, str):
            reason = f"expected a string, got {type(request_id).__name__}"
            raise InvalidEventError(EventType.ACCESS_REQUEST.value, "event_id", reason)
        pending = PendingReply(request_id)
        with self._lock:
            if request_id in self._pending:
                raise InvalidEventError(
                    EventType.ACCESS_REQUEST.value,
                    "event_id",
                    f"{request_id!r} is already waiting for a decision; every request needs "
                    "an event id of its own",
                )
            self._pending[request_id] = pending
        return pending

    def forget(self, request_id: str) -> None:
        """Stop waiting for ``request_id`` (it timed out or was cancelled)."""
        with self._lock:
            self._pending.pop(request_id, None)

    def _run(self) -> None:
        while not self._stop.is_set():
            # poll() returns at the first message; consume(timeout=0) then drains the rest
            # (consume with a timeout would wait for a full batch).
            first = self._consumer.poll(0.1)
            if first is None:
                continue
            for message in [first, *self._consumer.consume(num_messages=500, timeout=0)]:
                value = message.value()
                if message.error() is not None or value is None:
                    continue
                self._dispatch(value)

    def _dispatch(self, value: bytes) -> None:
        try:
            event = typed_event(self._codec.decode(value))
        except ContractError as exc:
            log.warning("ignoring an undecodable record on %s: %s", self._topic, exc)
            return
        if not isinstance(event, Decision):
            return
        with self._lock:
            pending = self._pending.pop(event.request_id, None)
        if pending is not None:
            pending.resolve(event)

    def close(self) -> None:
        """Stop the thread, close the consumer, and wake every caller still waiting (they
        raise ClientClosedError)."""
        self._stop_consuming()
        with self._lock:
            waiting, self._pending = list(self._pending.values()), {}
        for pending in waiting:
            pending.abandon()

    def _stop_consuming(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()
