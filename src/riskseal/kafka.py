"""Small helpers at the Kafka edge shared by the demo, the tools and the tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import Consumer


def consume_values(
    consumer: Consumer,
    done: Callable[[list[bytes]], bool],
    timeout_s: float,
    poll_s: float = 0.5,
) -> list[bytes]:
    """Poll ``consumer`` until ``done(values)`` or ``timeout_s``; return the values read.

    Completeness is decided by what was read, never by the broker's end offsets (the local
    broker reports them too low). Records with an error or no value are skipped.
    """
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while not done(values) and time.monotonic() < deadline:
        message = consumer.poll(poll_s)
        if message is None or message.error() is not None:
            continue
        value = message.value()
        if value is not None:
            values.append(value)
    return values
