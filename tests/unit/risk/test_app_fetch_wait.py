"""The worker's stream consumer: a short fetch wait, and only the partitions active now."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from riskseal.risk.app import FETCH_MAX_WAIT_MS, RiskConsumerThread, build_app
from riskseal.settings import Settings


def test_the_stream_consumer_is_created_with_the_short_fetch_wait() -> None:
    async def body() -> Any:
        settings = Settings.local(risk_store="memory", risk_app_id=f"t-{uuid.uuid4().hex[:8]}")
        app: Any = build_app(settings)
        thread = app.consumer._thread
        consumer = thread._create_worker_consumer(app.transport)
        try:
            return consumer._fetch_max_wait_ms
        finally:
            await consumer.stop()
            thread.thread_loop.close()

    assert asyncio.run(body()) == FETCH_MAX_WAIT_MS == 10


def _thread() -> Any:
    # The method under test uses nothing of the thread's state: no app, broker or loop needed.
    return object.__new__(RiskConsumerThread)


def test_no_active_partition_fetches_nothing_instead_of_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[object] = []

    async def faust_fetch(self: Any, consumer: Any, partitions: Any, **kwargs: Any) -> Any:
        asked.append(partitions)
        return {"records": "of every partition"}  # what aiokafka does for an empty set

    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "_fetch_records", faust_fetch)
    thread = _thread()
    assert asyncio.run(thread._fetch_records(object(), set(), timeout=1.0)) == {}
    assert asked == []


def test_the_fetch_asks_for_the_partitions_active_when_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live = {TP("access.requests", 0), TP("access.requests", 1)}
    asked: list[set[TP]] = []

    async def faust_fetch(self: Any, consumer: Any, partitions: set[TP], **kwargs: Any) -> Any:
        asked.append(partitions)
        live.clear()  # Faust pauses every partition while aiokafka waits for records
        return {}

    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "_fetch_records", faust_fetch)
    thread = _thread()
    asyncio.run(thread._fetch_records(object(), live, timeout=1.0))
    assert asked == [{TP("access.requests", 0), TP("access.requests", 1)}]
