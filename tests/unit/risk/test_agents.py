"""The agents in Faust's test mode: decisions, dead letters, the per-IP stream, the tables."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any, cast
from unittest.mock import patch

import pytest
from faust.types import TopicT

from riskseal.contract.codec import MAGIC
from riskseal.contract.events import AccessRequest, Decision
from riskseal.contract.schemas_set import EventType
from riskseal.risk import agents as agents_module
from riskseal.risk.deadletter import (
    HEADER_DETAIL,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_REASON,
    HEADER_TOPIC,
    DeadLetterReason,
    read_deadletter_headers,
)
from riskseal.risk.engine import RiskEngine, Scored, Step
from riskseal.risk.policy import PolicyDecision
from riskseal.risk.state import IpState, UserState
from riskseal.settings import Settings
from tests.unit.risk.faust_harness import (
    CODEC,
    T0,
    Harness,
    RecordingTopic,
    failed_login,
    make_harness,
    request,
    running,
)


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run an async test body on a fresh event loop."""
    asyncio.run(test())


def decoded(value: bytes | None) -> Any:
    assert value is not None
    from riskseal.contract.codec import typed_event

    return typed_event(CODEC.decode(value))


def test_a_request_gets_one_decision_keyed_by_user_and_its_state_is_stored() -> None:
    async def body() -> None:
        harness = make_harness()
        sent = request("alice")
        async with running(harness.agents["requests"]) as agent:
            await agent.put(CODEC.encode_event(sent), key=b"alice", partition=2)
            [record] = await harness.decisions.wait_for(1)
        decision = decoded(record.value)
        assert isinstance(decision, Decision)
        assert record.key == b"alice"
        assert decision.request_id == sent.event_id
        assert decision.user_id == "alice"
        assert harness.deadletter.sent == []
        state = UserState.from_bytes(harness.written().users[b"alice"])
        assert state.user_id == "alice"
        # Published as the engine encoded and kept it: a redelivery repeats these bytes.
        assert state.decisions[sent.event_id] == record.value

    run(body)


def test_a_redelivered_request_gets_the_identical_decision_and_leaves_state_alone() -> None:
    async def body() -> None:
        harness = make_harness()
        value = CODEC.encode_event(request("alice"))
        async with running(harness.agents["requests"]) as agent:
            await agent.put(value, key=b"alice")
            await harness.decisions.wait_for(1)
            state_after_first = harness.written().users[b"alice"]
            await agent.put(value, key=b"alice")
            first, second = await harness.decisions.wait_for(2)
        assert first.value == second.value
        assert decoded(first.value).event_id == decoded(second.value).event_id
        assert harness.written().users[b"alice"] == state_after_first

    run(body)


def _unknown_schema_bytes() -> bytes:
    return MAGIC + b"\x00" * 8 + b"\x02"


def _invalid_request_bytes() -> bytes:
    # Encoded without validation: the Avro body is fine, the event id is not a UUID.
    record = replace(request("alice"), event_id="not-a-uuid").to_record()
    return CODEC.encode_valid(EventType.ACCESS_REQUEST, record)


def _engine() -> RiskEngine:
    return RiskEngine.load(Settings.local(), source_id="tests")


def _decision_bytes() -> bytes:
    step = _engine().on_request(None, request("alice"))
    assert step.decision is not None
    return CODEC.encode_event(step.decision)


@pytest.mark.parametrize(
    ("value", "key", "reason"),
    [
        (b"not an event at all", b"alice", DeadLetterReason.MALFORMED),
        (MAGIC + b"\x01", b"alice", DeadLetterReason.MALFORMED),
        (None, b"alice", DeadLetterReason.MALFORMED),
        (_unknown_schema_bytes(), b"alice", DeadLetterReason.UNKNOWN_SCHEMA),
        (_invalid_request_bytes(), b"alice", DeadLetterReason.INVALID),
        (_decision_bytes(), b"alice", DeadLetterReason.WRONG_TYPE),
        (CODEC.encode_event(request("alice")), b"mallory", DeadLetterReason.KEY_MISMATCH),
        (CODEC.encode_event(request("alice")), None, DeadLetterReason.KEY_MISMATCH),
    ],
    ids=[
        "garbage",
        "truncated",
        "no-value",
        "unknown-schema",
        "invalid",
        "decision",
        "key",
        "nokey",
    ],
)
def test_bad_records_are_dead_lettered_unchanged_and_the_stream_continues(
    value: bytes | None, key: bytes | None, reason: DeadLetterReason
) -> None:
    async def body() -> None:
        harness = make_harness()
        good = request("bob")
        async with running(harness.agents["requests"]) as agent:
            await agent.put(value, key=key, partition=3, headers=[("trace", b"t-1")])
            await agent.put(CODEC.encode_event(good), key=b"bob", partition=3)
            [dead] = await harness.deadletter.wait_for(1)
            [decision] = await harness.decisions.wait_for(1)
        assert dead.value == value
        assert dead.key == key
        assert dead.headers[0] == ("trace", b"t-1")  # the original headers come first
        rejection, source = read_deadletter_headers(dead.headers)
        assert rejection.reason is reason
        assert rejection.detail
        assert (source.topic, source.partition, source.offset) == (
            harness.settings.topic_requests,
            3,
            0,
        )
        assert dead.header(HEADER_REASON) == reason.value.encode()
        assert {HEADER_DETAIL, HEADER_TOPIC, HEADER_PARTITION, HEADER_OFFSET} <= {
            name for name, _ in dead.headers
        }
        assert decoded(decision.value).request_id == good.event_id
        assert b"alice" not in harness.written().users

    run(body)


def test_a_request_on_the_actions_topic_is_dead_lettered_as_wrong_type() -> None:
    async def body() -> None:
        harness = make_harness()
        value = CODEC.encode_event(request("alice"))
        async with running(harness.agents["actions"]) as agent:
            await agent.put(value, key=b"alice")
            [dead] = await harness.deadletter.wait_for(1)
        assert dead.header(HEADER_REASON) == b"wrong_type"
        assert dead.header(HEADER_TOPIC) == harness.settings.topic_actions.encode()

    run(body)


def test_a_failed_sign_in_is_forwarded_by_source_ip_with_its_original_bytes() -> None:
    async def body() -> None:
        harness = make_harness()
        action = failed_login("alice", "203.0.113.7")
        value = CODEC.encode_event(action)
        async with running(harness.agents["actions"]) as agent:
            await agent.put(value, key=b"alice")
            [forwarded] = await harness.ip_failures.wait_for(1)
        assert forwarded.key == b"203.0.113.7"
        assert forwarded.value == value
        assert harness.decisions.sent == []
        assert action.event_id in UserState.from_bytes(harness.written().users[b"alice"]).seen

    run(body)


def test_failures_of_many_users_from_one_ip_raise_one_spray_alert() -> None:
    async def body() -> None:
        harness = make_harness()
        spray_users = harness.processor.engine.rules.alerts.spray_users_10m
        async with running(harness.agents["ip_failures"]) as agent:
            for i in range(spray_users + 5):
                action = failed_login(f"user-{i}", "198.51.100.9", T0 + i * 1_000)
                await agent.put(CODEC.encode_event(action), key=b"198.51.100.9")
            [alert] = await harness.alerts.wait_for(1)
        assert "Password spray" in decoded(alert.value).title
        ip_state = IpState.from_bytes(harness.written().ips[b"198.51.100.9"])
        assert len(ip_state.failures) == spray_users + 5
        assert len(harness.alerts.sent) == 1  # deduplicated within the window

    run(body)


def test_an_ip_failure_without_a_key_is_dead_lettered() -> None:
    async def body() -> None:
        harness = make_harness()
        async with running(harness.agents["ip_failures"]) as agent:
            await agent.put(CODEC.encode_event(failed_login("alice", "192.0.2.1")), key=None)
            [dead] = await harness.deadletter.wait_for(1)
        assert dead.header(HEADER_REASON) == b"malformed"

    run(body)


class ExplodingEngine:
    """An engine that fails on one request id: a stand-in for an engine bug."""

    def __init__(self, real: RiskEngine, poison: str) -> None:
        self.real = real
        self.policies = real.policies
        self.poison = poison
        self.reloads = 0

    def begin_request(self, state: UserState | None, request: AccessRequest) -> Step | Scored:
        if request.event_id == self.poison:
            raise ZeroDivisionError("boom")
        return self.real.begin_request(state, request)

    def finish_request(self, begun: Scored, policy: PolicyDecision | None) -> Step:
        return self.real.finish_request(begun, policy)

    def reload(self) -> bool:
        self.reloads += 1
        return True

    @property
    def versions(self) -> object:
        return self.real.versions


def test_an_engine_failure_dead_letters_that_record_only() -> None:
    async def body() -> None:
        poison = str(uuid.uuid4())
        harness = make_harness(ExplodingEngine(_engine(), poison))
        good = request("alice")
        async with running(harness.agents["requests"]) as agent:
            await agent.put(CODEC.encode_event(request("alice", event_id=poison)), key=b"alice")
            await agent.put(CODEC.encode_event(good), key=b"alice")
            [dead] = await harness.deadletter.wait_for(1)
            [decision] = await harness.decisions.wait_for(1)
        assert dead.header(HEADER_REASON) == b"engine_error"
        assert b"ZeroDivisionError: boom" in dead.header(HEADER_DETAIL)
        assert decoded(decision.value).request_id == good.event_id
        assert poison not in UserState.from_bytes(harness.written().users[b"alice"]).seen

    run(body)


class HalfUpdatingEngine(ExplodingEngine):
    """Fails on the poison request after changing the state it was given."""

    def begin_request(self, state: UserState | None, request: AccessRequest) -> Step | Scored:
        if request.event_id == self.poison and state is not None:
            state.events += 100
        return super().begin_request(state, request)


class FailingFinishEngine(ExplodingEngine):
    """Scores the poison request (changing its state), then fails to decide it."""

    def begin_request(self, state: UserState | None, request: AccessRequest) -> Step | Scored:
        return self.real.begin_request(state, request)

    def finish_request(self, begun: Scored, policy: PolicyDecision | None) -> Step:
        if begun.request.event_id == self.poison:
            raise ZeroDivisionError("boom")
        return self.real.finish_request(begun, policy)


def test_a_state_left_half_updated_by_a_failed_step_is_not_reused() -> None:
    async def body() -> None:
        poison = str(uuid.uuid4())
        harness = make_harness(HalfUpdatingEngine(_engine(), poison))
        async with running(harness.agents["requests"]) as agent:
            await agent.put(CODEC.encode_event(request("alice")), key=b"alice")
            await harness.decisions.wait_for(1)
            await agent.put(CODEC.encode_event(request("alice", event_id=poison)), key=b"alice")
            await harness.deadletter.wait_for(1)
            await agent.put(CODEC.encode_event(request("alice")), key=b"alice")
            await harness.decisions.wait_for(2)
        assert UserState.from_bytes(harness.written().users[b"alice"]).events == 2

    run(body)


def test_reload_asks_the_engine(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        engine = ExplodingEngine(_engine(), "-")
        harness = make_harness(engine)
        caplog.set_level("INFO", logger="riskseal.risk.agents")
        assert harness.processor.reload() is True
        assert engine.reloads == 1
        assert "risk engine reloaded" in caplog.text

    run(body)


def test_the_app_declares_three_agents_and_the_reload_timer() -> None:
    async def body() -> None:
        harness: Harness = make_harness()
        assert set(harness.agents) == {"requests", "actions", "ip_failures"}
        assert harness.agents["requests"].channel is harness.topics.requests
        assert harness.agents["actions"].channel is harness.topics.actions
        app: Any = harness.processor.tables.users.app
        [timer] = [task for task in app._app_tasks if "reload" in repr(task)] or [None]
        assert timer is not None

    run(body)


def test_a_failed_send_of_the_ip_lane_is_sent_again_and_the_agent_goes_on() -> None:
    class FailingTwice(RecordingTopic):
        failures = 2

        async def send(self, **kwargs: Any) -> None:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("send failed")
            await super().send(**kwargs)

    async def body() -> None:
        harness = make_harness()
        failing = FailingTwice("alerts")
        harness.processor.topics = replace(harness.processor.topics, alerts=cast(TopicT, failing))
        spray_users = harness.processor.engine.rules.alerts.spray_users_10m
        with patch.multiple(agents_module, RESEND_FIRST_DELAY_S=0.01):
            async with running(harness.agents["ip_failures"]) as agent:
                for i in range(spray_users + 1):
                    action = failed_login(f"user-{i}", "198.51.100.9", T0 + i * 1_000)
                    await agent.put(CODEC.encode_event(action), key=b"198.51.100.9")
                [alert] = await failing.wait_for(1)
                later = failed_login("other", "192.0.2.44", T0)
                await agent.put(CODEC.encode_event(later), key=b"192.0.2.44")
                async with asyncio.timeout(5):
                    while b"192.0.2.44" not in harness.written().ips:
                        await asyncio.sleep(0.01)
        assert failing.failures == 0
        assert "Password spray" in decoded(alert.value).title

    run(body)
