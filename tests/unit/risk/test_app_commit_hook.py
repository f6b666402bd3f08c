"""Hooks around offset commits: pending states are written before Faust flushes its producer
and commits; kept decisions are forgotten once their offsets are committed."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any, cast

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, EventT, TableT, TopicT

from riskseal.risk.app import RiskConsumer, RiskFaustApp, build_app
from riskseal.risk.pending import PendingWrites
from riskseal.risk.state import UserState
from riskseal.risk.worker import create_risk_app
from riskseal.settings import Settings
from tests.unit.risk.faust_harness import CODEC, RecordingTopic, request

OFFSETS = {TP("access.requests", 0): 42}
REVOKED = TP("access.requests", 1)


@dataclass
class _Event:
    message: SimpleNamespace


def _settings() -> Settings:
    return Settings.local(risk_store="memory", risk_app_id=f"t-{uuid.uuid4().hex[:8]}")


def _consumer(app: object) -> Any:
    # The override uses nothing of the consumer but its app and assignment: no broker needed.
    consumer: Any = object.__new__(RiskConsumer)
    consumer.app = app
    consumer.assignment = lambda: set(OFFSETS)
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
        app.after_commit(lambda offsets: order.append(f"after {dict(offsets)}"))
        committed: bool = await _consumer(app)._commit_offsets({**OFFSETS, REVOKED: 7})
        return committed

    assert asyncio.run(body()) is True
    assert order == [
        "first hook",
        "second hook",
        f"flush producer, commit { ({**OFFSETS, REVOKED: 7}) }",
        f"after {OFFSETS}",  # the revoked partition's offset was not committed
    ]


def test_nothing_runs_after_a_commit_that_did_not_happen(monkeypatch: pytest.MonkeyPatch) -> None:
    async def faust_commit(self: Any, offsets: Any, start_new_transaction: bool = True) -> bool:
        return False

    monkeypatch.setattr(faust_aiokafka.Consumer, "_commit_offsets", faust_commit)
    after: list[object] = []

    async def body() -> bool:
        app = build_app(_settings())
        app.after_commit(after.append)
        committed: bool = await _consumer(app)._commit_offsets(OFFSETS)
        return committed

    assert asyncio.run(body()) is False
    assert after == []


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


def test_a_worker_forgets_decisions_after_a_commit_and_stops_tracking_revoked_partitions() -> None:
    async def body() -> None:
        risk = create_risk_app(_settings())
        app = cast(RiskFaustApp, risk.app)
        outputs = RecordingTopic("decisions")
        risk.processor.topics = replace(risk.topics, decisions=cast(TopicT, outputs))
        table: dict[bytes, bytes] = {}
        risk.processor.pending_users = PendingWrites(cast(TableT[bytes, bytes], table))
        tp = TP(risk.topics.requests.get_topic_name(), 0)

        async def decide(offset: int) -> None:
            message = SimpleNamespace(
                key=b"alice", value=CODEC.encode_event(request("alice")), topic=tp.topic,
                partition=0, offset=offset, headers=[], timestamp=time.time(),
            )  # fmt: skip
            await risk.processor.on_requests([cast(EventT[bytes], _Event(message))])

        await decide(0)
        await decide(1)
        assert len(UserState.from_bytes(table[b"alice"]).decisions) == 2
        app.run_after_commit({tp: 1})  # the first request's offset is committed
        await decide(2)
        assert len(UserState.from_bytes(table[b"alice"]).decisions) == 2  # 1 and 2
        await app.on_partitions_revoked.send({tp})
        app.run_after_commit({tp: 3})
        await decide(3)
        assert len(UserState.from_bytes(table[b"alice"]).decisions) == 3

    asyncio.run(body())
