"""A risk app in Faust's test mode: agents fed through ``test_context``, outputs recorded.

The input topics and the tables are the real ones declared by :mod:`riskseal.risk`; the
output topics are replaced by recorders, so a test sees exactly what a worker would send
(key, value bytes, headers) without a broker.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from faust.types import AgentT, TopicT

from riskseal.contract.codec import EventCodec
from riskseal.contract.events import (
    AccessAction,
    AccessRequest,
    Actor,
    Endpoint,
    Outcome,
    Resource,
    SourceStamp,
)
from riskseal.risk.agents import RiskProcessor, register_agents
from riskseal.risk.alignment import EverythingFetched, Merger
from riskseal.risk.app import build_app
from riskseal.risk.engine import RiskEngine
from riskseal.risk.tables import RiskTables, build_tables
from riskseal.risk.topics import RiskTopics, build_topics
from riskseal.settings import Settings

T0 = 1_780_000_000_000  # a fixed event time (ms): the engine runs on event time only
SOURCE = SourceStamp("tests", 1, 0)
CODEC = EventCodec()


@dataclass(frozen=True)
class Sent:
    """One record an agent sent."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    def header(self, name: str) -> bytes:
        """The value of header ``name`` (the last one of that name)."""
        return [value for key, value in self.headers if key == name][-1]


@dataclass
class RecordingTopic:
    """Stands in for an output topic; remembers every send."""

    name: str
    sent: list[Sent] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(
        self,
        *,
        key: bytes | None = None,
        value: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
        **_: Any,
    ) -> None:
        self.sent.append(Sent(key, value, list(headers or [])))
        self._changed.set()

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Sent]:
        """Wait until ``count`` records were sent; return them."""
        async with asyncio.timeout(timeout_s):
            while len(self.sent) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.sent


@dataclass
class Harness:
    """The app, its processor, the real tables and the recorded outputs."""

    settings: Settings
    processor: RiskProcessor
    tables: RiskTables
    topics: RiskTopics
    """The declared topics (the inputs of the agents)."""
    decisions: RecordingTopic
    alerts: RecordingTopic
    deadletter: RecordingTopic
    ip_failures: RecordingTopic
    agents: dict[str, AgentT[Any]]

    def written(self) -> RiskTables:
        """The tables after the pending states are written, as a worker does before it
        commits offsets."""
        self.processor.write_states()
        return self.tables


_MERGERS: weakref.WeakKeyDictionary[Any, Merger[Any]] = weakref.WeakKeyDictionary()
"""The merger of each harness app."""


def make_harness(engine: Any = None) -> Harness:
    """A fresh app (memory store) with the real engine unless ``engine`` is given."""
    settings = Settings.local(risk_store="memory", risk_app_id=f"test-{uuid.uuid4().hex[:8]}")
    app = build_app(settings)
    declared = build_topics(app, settings)
    outputs = {
        name: RecordingTopic(name) for name in ("decisions", "alerts", "deadletter", "ip_failures")
    }
    topics = RiskTopics(
        requests=declared.requests,
        actions=declared.actions,
        decisions=cast(TopicT, outputs["decisions"]),
        alerts=cast(TopicT, outputs["alerts"]),
        deadletter=cast(TopicT, outputs["deadletter"]),
        ip_failures=cast(TopicT, outputs["ip_failures"]),
    )
    tables = build_tables(app, settings)
    if engine is None:
        engine = RiskEngine.load(settings, source_id="tests")
    # The agents subscribe to the declared topics; then the processor sends to the recorders.
    processor = RiskProcessor(engine, declared, tables, CODEC)
    merger: Merger[Any] = Merger(EverythingFetched())
    register_agents(app, processor, merger, settings.risk_reload_interval_s)
    _MERGERS[app] = merger  # the worker starts its merge task; in test mode, running() does
    processor.topics = topics
    agents = {name.rsplit(".", 1)[-1]: agent for name, agent in app.agents.items()}
    return Harness(
        settings,
        processor,
        tables,
        declared,
        outputs["decisions"],
        outputs["alerts"],
        outputs["deadletter"],
        outputs["ip_failures"],
        agents,
    )


@asynccontextmanager
async def running(agent: AgentT[Any]) -> AsyncIterator[Any]:
    """The agent's test wrapper, started with the app's merge task; the app's idle consumer
    is closed afterwards."""
    merge = asyncio.create_task(_MERGERS[agent.app].run(tick_s=0.01))
    try:
        async with agent.test_context() as wrapper:
            yield wrapper
    finally:
        merge.cancel()
        # Iterating a stream makes Faust build its Kafka consumer, whose thread owns an event
        # loop; in test mode the consumer never starts, so nothing would close that loop.
        consumer = cast(Any, agent.app)._consumer
        if consumer is not None:
            consumer._thread.thread_loop.close()


def request(
    user: str = "alice",
    *,
    event_id: str | None = None,
    time_ms: int = T0,
    resource: str = "doc-1",
    ip: str | None = "10.0.0.1",
) -> AccessRequest:
    """An access request of ``user``."""
    return AccessRequest(
        event_id=event_id or str(uuid.uuid4()),
        time=time_ms,
        source=SOURCE,
        actor=Actor(user),
        action="data.read",
        resource=Resource("doc", resource),
        src_endpoint=Endpoint(ip),
    )


def failed_login(user: str, ip: str, time_ms: int = T0) -> AccessAction:
    """A refused sign-in of ``user`` from ``ip``."""
    return AccessAction(
        event_id=str(uuid.uuid4()),
        time=time_ms,
        source=SOURCE,
        actor=Actor(user),
        action="auth.login",
        resource=Resource("app", "portal"),
        outcome=Outcome.FAILURE,
        src_endpoint=Endpoint(ip),
    )
