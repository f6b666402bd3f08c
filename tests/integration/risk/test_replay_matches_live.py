"""Replay reproduces a live worker's decisions exactly.

Generated traffic with every attack kind is published in time order, and ``Replayer`` runs
the same events in that order, in process: every decision must match the live one in every
field but the source stamp (which names the emitting process).

* As live traffic: before a user's events switch topic, the test waits until the worker's
  state page shows the user's previous event processed, so the order is the publishing one
  whatever the worker does.
* As a backlog, published before the worker starts: its agents take each topic in batches
  of hundreds, and only the worker's merge of the two topics by event time
  (``riskseal.risk.alignment``) puts each request after the actions that precede it.
"""

from __future__ import annotations

import time

import pytest

from riskseal.contract import AccessRequest
from riskseal.generator import GeneratorConfig, generate_events
from riskseal.generator.config import resolve_scenarios
from riskseal.risk.engine import RiskEngine
from riskseal.risk.replay import Replayer, diff_decisions
from riskseal.sdk import AuditClient
from tests.integration.risk.conftest import Decided, RiskWorld, WorkerProcess

pytestmark = pytest.mark.integration

CONFIG = GeneratorConfig(seed=4, users=6, sim_days=0.3, attacks=resolve_scenarios(["mixed"]))
BACKLOG = GeneratorConfig(seed=7, users=50, sim_days=1.0, attacks=resolve_scenarios(["mixed"]))
PROCESSED_TIMEOUT_S = 20.0


def _processed(worker: WorkerProcess, user: str, event_id: str) -> None:
    """Wait until the worker's state of ``user`` records ``event_id``."""
    deadline = time.monotonic() + PROCESSED_TIMEOUT_S
    while True:
        state = worker.user_state(user)
        if state is not None and event_id in state.seen:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"worker never processed {event_id}:\n{worker.log_tail()}")
        time.sleep(0.005)


def test_replay_of_the_same_events_reproduces_every_live_decision(risk_world: RiskWorld) -> None:
    worker = risk_world.worker("live")
    worker.wait_ready()
    generated = list(generate_events(CONFIG))
    published = []
    last: dict[str, tuple[str, str]] = {}  # user -> (kind, event id) of their latest event
    with AuditClient(risk_world.settings) as client:
        for item in generated:
            user = item.user_id
            previous = last.get(user)
            if previous is not None and previous[0] != item.kind:
                assert client.flush() == []
                _processed(worker, user, previous[1])
            sent = client.publish(item.event)
            last[user] = (item.kind, sent.event_id)
            published.append(sent)
        assert client.flush() == []
    requests = {event.event_id for event in published if isinstance(event, AccessRequest)}
    live = risk_world.decisions(Decided(requests), timeout_s=30)

    engine = RiskEngine.load(risk_world.settings, source_id="replay")
    replayed = [
        output.decision for output in Replayer(engine).run(published) if output.decision is not None
    ]

    assert len(replayed) == len(requests) > 50
    assert {d.verdict for d in replayed} >= {"ALLOW", "DENY"}
    assert diff_decisions(live, replayed) == []
    assert worker.terminate() == 0, worker.log_tail()


def test_a_backlog_is_decided_as_a_replay_of_it_in_time_order(risk_world: RiskWorld) -> None:
    with AuditClient(risk_world.settings) as client:
        published = [client.publish(item.event) for item in generate_events(BACKLOG)]
        assert client.flush() == []
    requests = {event.event_id for event in published if isinstance(event, AccessRequest)}
    worker = risk_world.worker("backlog")
    live = risk_world.decisions(Decided(requests), timeout_s=120)

    engine = RiskEngine.load(risk_world.settings, source_id="replay")
    replayed = [
        output.decision for output in Replayer(engine).run(published) if output.decision is not None
    ]

    assert len(replayed) == len(requests) > 500
    assert {d.verdict for d in replayed} >= {"ALLOW", "STEP_UP", "DENY"}
    assert diff_decisions(live, replayed) == []
    assert worker.terminate() == 0, worker.log_tail()
