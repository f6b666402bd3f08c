"""Stream partitions are resumed only once they sit at their committed offsets.

Faust's own recovery resumes them first and seeks afterwards; the records delivered in
between were lost (see :mod:`riskseal.risk.recovery`). These tests drive our recovery's
last steps against a consumer that records what happens, without a broker.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP

from riskseal.risk.app import build_app
from riskseal.risk.recovery import TrueEndRecovery
from riskseal.settings import Settings

STREAM = TP("access.requests", 0)
CHANGELOG = TP("risk-test-users-changelog", 0)


@dataclass
class RecordingConsumer:
    """The consumer calls the recovery makes, in order, with the paused partitions."""

    assigned: set[TP]
    calls: list[str] = field(default_factory=list)
    paused: set[TP] = field(default_factory=set)
    streams_paused_during_seek: bool | None = None

    def assignment(self) -> set[TP]:
        return self.assigned

    async def perform_seek(self) -> None:
        self.calls.append("seek")
        await asyncio.sleep(0)  # the fetcher could run here
        self.streams_paused_during_seek = STREAM in self.paused

    def resume_partitions(self, tps: set[TP]) -> None:
        self.calls.append("resume " + ",".join(sorted(tp.topic for tp in tps)))
        self.paused -= tps

    def resume_flow(self) -> None:
        self.calls.append("resume flow")


class FakeFetcher:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    async def maybe_start(self) -> None:
        self.calls.append("fetcher started")


def _recovery(tmp_path: Path, assigned: set[TP]) -> tuple[TrueEndRecovery, RecordingConsumer]:
    settings = Settings.local(
        kafka_bootstrap="127.0.0.1:1", risk_app_id="risk-test", risk_data_dir=tmp_path
    )
    app: Any = build_app(settings)
    consumer = RecordingConsumer(assigned, paused={STREAM} & assigned)
    app._consumer = consumer
    app._fetcher = FakeFetcher(consumer.calls)
    recovery = app.tables.recovery
    assert isinstance(recovery, TrueEndRecovery)
    app.flow_control.suspend()
    app.tables._changelogs[CHANGELOG.topic] = object()  # marks CHANGELOG as a changelog
    return recovery, consumer


@pytest.mark.parametrize("step", ["on_recovery_completed", "_resume_streams"])
def test_streams_are_sought_to_their_commits_before_they_are_resumed(
    tmp_path: Path, step: str
) -> None:
    async def body() -> None:
        recovery, consumer = _recovery(tmp_path, {STREAM, CHANGELOG})
        app = recovery.app
        await getattr(recovery, step)(generation_id=app.consumer_generation_id)
        assert consumer.calls == [
            "seek",
            "resume access.requests",
            "resume flow",
            "fetcher started",
        ]
        assert consumer.streams_paused_during_seek is True
        assert app.flow_control.is_active()
        assert recovery.completed.is_set()

    asyncio.run(body())


def test_an_empty_assignment_resumes_the_flow_without_seeking(tmp_path: Path) -> None:
    async def body() -> None:
        recovery, consumer = _recovery(tmp_path, set())
        await recovery.on_recovery_completed(generation_id=recovery.app.consumer_generation_id)
        assert consumer.calls == ["resume flow", "fetcher started"]
        assert recovery.app.flow_control.is_active()

    asyncio.run(body())


def test_a_newer_rebalance_leaves_the_streams_paused(tmp_path: Path) -> None:
    async def body() -> None:
        recovery, consumer = _recovery(tmp_path, {STREAM})
        await recovery.on_recovery_completed(generation_id=recovery.app.consumer_generation_id - 1)
        assert consumer.calls == []
        assert consumer.paused == {STREAM}

    asyncio.run(body())
