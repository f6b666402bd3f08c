"""Delivery tracking: which events the broker acknowledged, which failed, which are in flight."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """An event the broker did not acknowledge: its id, topic and why.

    ``final`` is False for events still queued when a flush timed out: they may yet be
    delivered (or fail) later.
    """

    event_id: str
    topic: str
    reason: str
    final: bool = True


DeliveryCallback = Callable[[str, DeliveryFailure | None], None]
"""Called from the client's delivery thread with (event_id, failure or None on success)."""


class DeliveryTracker:
    """Keeps events in flight until acknowledged, and failures until someone collects them."""

    def __init__(self, callback: DeliveryCallback | None = None) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[str, str] = {}
        self._failures: list[DeliveryFailure] = []
        self._callback = callback
        self.delivered = 0

    def sent(self, event_id: str, topic: str) -> None:
        """Record an event handed to the producer."""
        with self._lock:
            self._in_flight[event_id] = topic

    def on_delivery(self, event_id: str, error: KafkaError | None, message: Message) -> None:
        """librdkafka's delivery report for one event (runs on the poll thread)."""
        failure = None
        with self._lock:
            topic = self._in_flight.pop(event_id, message.topic() or "?")
            if error is None:
                self.delivered += 1
            else:
                failure = DeliveryFailure(event_id, topic, f"{error.name()}: {error.str()}")
                self._failures.append(failure)
        if self._callback is not None:
            self._callback(event_id, failure)

    @property
    def in_flight(self) -> int:
        """Events handed to the producer and not yet acknowledged or failed."""
        with self._lock:
            return len(self._in_flight)

    def collect(self) -> list[DeliveryFailure]:
        """Failures since the last collect, plus every event still in flight (not final)."""
        with self._lock:
            failures, self._failures = self._failures, []
            pending = [
                DeliveryFailure(event_id, topic, "still queued: not acknowledged yet", final=False)
                for event_id, topic in self._in_flight.items()
            ]
        return failures + pending
