"""A real worker writes states behind and keeps a decision only until its offset is committed."""

from __future__ import annotations

import pytest
from confluent_kafka import Message

from riskseal.contract.events import Actor, Outcome, Resource
from riskseal.risk.state import UserState
from riskseal.risk.tables import USERS_TABLE, changelog_topic
from riskseal.sdk import AuditClient
from tests.integration.risk.conftest import RiskWorld, locate_requests, wait_for

pytestmark = pytest.mark.integration


def test_a_committed_requests_decision_leaves_the_state_and_the_change_reaches_the_changelog(
    risk_world: RiskWorld,
) -> None:
    settings = risk_world.settings
    worker = risk_world.worker("w1")
    worker.wait_ready()
    with AuditClient(settings) as client:
        decision = client.authorize(Actor("alice"), "data.read", Resource("doc", "d1"), timeout=20)
    assert decision.fallback is False
    state = worker.user_state("alice")
    assert state is not None and decision.request_id in state.decisions

    [(partition, offset)] = locate_requests(risk_world, {decision.request_id}).values()

    def request_committed() -> bool:
        committed = risk_world.committed(settings.topic_requests, settings.partitions_access)
        end = committed[partition]
        return end is not None and end > offset

    wait_for(request_committed, 30, "the request's offset to be committed")
    with AuditClient(settings) as client:
        action = client.emit_action(
            Actor("alice"), "auth.login", Resource("app", "portal"), Outcome.SUCCESS
        )
        assert client.flush() == []

    def action_applied() -> bool:
        current = worker.user_state("alice")
        return current is not None and action.event_id in current.seen

    wait_for(action_applied, 30, "the action in alice's state")
    after = worker.user_state("alice")
    assert after is not None
    assert after.decisions == {}  # dropped at alice's next event: the request cannot come again
    assert decision.request_id in after.seen  # still counted, still recognised

    def alice_written(messages: list[Message]) -> bool:
        for message in messages:
            value = message.value()
            if message.key() == b"alice" and value is not None:
                written = UserState.from_bytes(value)
                if action.event_id in written.seen:
                    assert written.decisions == {}
                    return True
        return False

    # An action-only change is written behind, with the worker's next commit (~3 s).
    risk_world.read(
        changelog_topic(settings, USERS_TABLE), settings.partitions_access, alice_written, 30
    )
