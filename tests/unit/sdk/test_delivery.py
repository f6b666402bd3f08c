"""Delivery reports without a broker: librdkafka's report calls are made by hand."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, Message

from riskseal.sdk.delivery import DeliveryFailure, DeliveryTracker

EVENT_ID = "00000000-0000-4000-8000-000000000001"
VALUE = b"\xc3\x01" + bytes(8) + b"\x48" + EVENT_ID.encode()


def test_a_callback_that_raises_loses_no_report_and_stops_no_later_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[DeliveryFailure | None] = []

    def flaky(event_id: str, failure: DeliveryFailure | None) -> None:
        seen.append(failure)
        if len(seen) == 1:
            raise ValueError("the application's bug")

    tracker = DeliveryTracker(flaky)
    timed_out = KafkaError(KafkaError._MSG_TIMED_OUT)
    tracker.on_delivery(timed_out, Message(topic="access.requests", value=VALUE))
    tracker.on_delivery(None, Message(topic="access.requests", value=VALUE))
    assert len(seen) == 2 and seen[1] is None
    [failure] = tracker.collect()
    assert (failure.event_id, failure.topic) == (EVENT_ID, "access.requests")
    assert "the on_delivery callback raised" in caplog.text


def test_with_a_callback_only_the_newest_failures_are_kept_for_flush(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The callback had each failure: an application that never flushes must not keep them all.
    monkeypatch.setattr("riskseal.sdk.delivery.KEPT_WITH_CALLBACK", 3)
    seen: list[DeliveryFailure | None] = []
    tracker = DeliveryTracker(lambda event_id, failure: seen.append(failure))
    timed_out = KafkaError(KafkaError._MSG_TIMED_OUT)
    for topic in ("a", "b", "c", "d", "e"):
        tracker.on_delivery(timed_out, Message(topic=topic, value=VALUE))
    assert len(seen) == 5
    assert [failure.topic for failure in tracker.collect()] == ["c", "d", "e"]
    assert tracker.collect() == []


def test_without_a_callback_every_failure_is_kept_until_collected() -> None:
    tracker = DeliveryTracker()
    timed_out = KafkaError(KafkaError._MSG_TIMED_OUT)
    for _ in range(20_000):
        tracker.on_delivery(timed_out, Message(topic="t", value=VALUE))
    assert len(tracker.collect()) == 20_000
