"""Delivery reports: which events the broker refused or never acknowledged.

librdkafka reports every message's fate from its own threads. Successes are reported only
when the application asked for a per-event callback (they cost a Python call per event on
the hot path); failures always are, with the event id read from the encoded bytes. Events
still queued when the client closes are purged, which reports each of them as a failure, so
nothing leaves the client without the application hearing about it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message

LOG = logging.getLogger(__name__)

KEPT_WITH_CALLBACK = 10_000
"""Failures kept for ``flush``/``close`` when a callback also gets each one."""


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """An event the broker did not acknowledge: its id, topic and why."""

    event_id: str
    topic: str
    reason: str


DeliveryCallback = Callable[[str, DeliveryFailure | None], None]
"""Called from the client's delivery thread with (event_id, failure or None on success); an
exception it raises is logged, and the failure is still returned by ``flush``/``close``."""


def event_id_of(value: bytes | None) -> str:
    """The event id of an encoded request or action without decoding it.

    It is the first field of both schemas, right after the 10-byte single-object header (or
    the 5-byte Schema Registry header, which starts with 00): one length byte (a UUID string
    is 36 characters) and the 36 characters.
    """
    start = 6 if value is not None and value[:1] == b"\x00" else 11
    if value is None or len(value) < start + 36:
        return "?"
    return value[start : start + 36].decode("ascii", errors="replace")


class DeliveryTracker:
    """Collects delivery failures until someone takes them; forwards reports to a callback."""

    def __init__(self, callback: DeliveryCallback | None = None) -> None:
        self._lock = threading.Lock()
        # With a callback every failure reaches the application there: the list keeps only
        # the newest, or an application that never flushes would keep every one in memory.
        self._failures: deque[DeliveryFailure] = deque(
            maxlen=KEPT_WITH_CALLBACK if callback is not None else None
        )
        self._callback = callback

    @property
    def reports_successes(self) -> bool:
        """Whether librdkafka must report successful deliveries too (a callback wants them)."""
        return self._callback is not None

    def on_delivery(self, error: KafkaError | None, message: Message) -> None:
        """librdkafka's delivery report for one event (runs on the poll thread)."""
        failure = None
        if error is not None:
            failure = DeliveryFailure(
                event_id_of(message.value()),
                message.topic() or "?",
                f"{error.name()}: {error.str()}",
            )
            with self._lock:
                self._failures.append(failure)
        if self._callback is not None:
            try:
                self._callback(event_id_of(message.value()), failure)
            except Exception:  # the application's bug must not stop every later report
                LOG.exception("the on_delivery callback raised (the report is kept)")

    def collect(self) -> list[DeliveryFailure]:
        """The failures reported since the last collect (with a callback, the newest
        :data:`KEPT_WITH_CALLBACK` of them: the callback had each one)."""
        with self._lock:
            failures = list(self._failures)
            self._failures.clear()
        return failures
