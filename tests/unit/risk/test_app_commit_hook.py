"""Pending states are written before every offset commit, before Faust flushes its producer."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, EventT, TableT

from riskseal.risk.app import RiskConsumer, RiskFaustApp, build_app
from riskseal.risk.pending import PendingWrites
from riskseal.risk.worker import create_risk_app
from riskseal.settings import Settings

OFFSETS = {TP("access.requests", 0): 42}


@dataclass
class _Event:
    message: SimpleNamespace


def _settings() -> Settings:
    return Settings.local(risk_store="memory", risk_app_id=f"t-{uuid.uuid4().hex[:8]}")


def _consumer(app: object) -> Any:
    # The override uses nothing of the consumer but its app: no broker or loop needed.
    consumer: Any = object.__new__(RiskConsumer)
    consumer.app = app
    return consumer


def test_the_hooks_run_before_faust_flushes_and_commits(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []

    async def faust_commit(self: Any, offsets: Any, start_new_transaction: bool = True) -> bool:
        order.append(f"flush producer, commit {dict(offsets)}")
        return True

    monkeypatch.setattr(faust_aiokafka.Consumer, "_commit_offsets", faust_commit)

    async def body() -> bool:
        app = build_app(_settings())
        app.before_commit(lambda: order.append("first hook"))
        app.before_commit(lambda: order.append("second hook"))
        committed: bool = await _consumer(app)._commit_offsets(OFFSETS)
        return committed

    assert asyncio.run(body()) is True
    assert order == ["first hook", "second hook", f"flush producer, commit {OFFSETS}"]


def test_a_failing_hook_stops_the_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    committed: list[object] = []

    async def faust_commit(self: Any, offsets: Any, start_new_transaction: bool = True) -> bool:
        committed.append(offsets)
        return True

    monkeypatch.setattr(faust_aiokafka.Consumer, "_commit_offsets", faust_commit)

    def broken() -> None:
        raise RuntimeError("table write failed")

    async def body() -> None:
        app = build_app(_settings())
        app.before_commit(broken)
        await _consumer(app)._commit_offsets(OFFSETS)

    with pytest.raises(RuntimeError, match="table write failed"):
        asyncio.run(body())
    assert committed == []  # offsets whose states were not written stay uncommitted


def test_a_worker_writes_its_pending_states_before_each_commit() -> None:
    async def body() -> None:
        risk = create_risk_app(_settings())
        table: dict[bytes, bytes] = {}
        risk.processor.pending_users = PendingWrites(cast(TableT[bytes, bytes], table))
        event = cast(EventT[bytes], _Event(SimpleNamespace(partition=0)))
        risk.processor.pending_users.put(b"alice", b"state", event)
        assert table == {}
        cast(RiskFaustApp, risk.app).run_before_commit()
        assert table == {b"alice": b"state"}

    asyncio.run(body())
