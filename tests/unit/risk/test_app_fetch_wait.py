"""The worker's stream consumer fetches with a short wait, not Faust's fixed 1,500 ms."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from riskseal.risk.app import FETCH_MAX_WAIT_MS, build_app
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
