"""Batches of records: states held back until a commit writes each changed key once,
failed steps undone, outputs all sent.

``RiskProcessor.on_requests`` / ``on_actions`` get whole batches here, built by hand, with
dictionaries standing in for the tables, so the batch is known exactly (the agents' own
batches depend on timing). ``write_states()`` is what the worker runs before it commits.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast
from unittest.mock import patch

import pytest
from faust.types import TP, EventT, TableT, TopicT

from riskseal.contract.events import AccessAction, AccessRequest, Decision, Verdict
from riskseal.generator import GeneratorConfig, generate_events
from riskseal.generator.config import resolve_scenarios
from riskseal.risk import agents as agents_module
from riskseal.risk.agents import RiskProcessor
from riskseal.risk.alignment import Lane
from riskseal.risk.deadletter import HEADER_REASON
from riskseal.risk.intake import RecordTime
from riskseal.risk.policy import PolicyDecision, PolicyEngine, PolicyRequest
from riskseal.risk.state import UserState
from riskseal.risk.tables import RiskTables
from riskseal.risk.topics import RiskTopics
from tests.unit.risk.faust_harness import CODEC, T0, RecordingTopic, failed_login, request
from tests.unit.risk.test_agents import FailingFinishEngine, HalfUpdatingEngine, _engine, decoded


class CountingTable(dict[bytes, bytes]):
    """A table that counts its writes (each would be one changelog record)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)


@dataclass
class Message:
    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int
    headers: list[tuple[str, bytes]]
    timestamp: float | None = None
    """Kafka record timestamp, seconds (Faust's unit); None: none."""


@dataclass
class Event:
    message: Message


def _events(topic: str, records: list[tuple[bytes, bytes]]) -> list[EventT[bytes]]:
    return [
        cast(EventT[bytes], Event(Message(key, value, topic, 0, offset, [])))
        for offset, (key, value) in enumerate(records)
    ]


@dataclass
class World:
    processor: RiskProcessor
    users: CountingTable
    ips: CountingTable
    outputs: dict[str, RecordingTopic]


def _world(engine: Any = None) -> World:
    users, ips = CountingTable(), CountingTable()
    outputs = {
        name: RecordingTopic(name)
        for name in ("requests", "actions", "decisions", "alerts", "deadletter", "ip_failures")
    }
    topics = RiskTopics(**{name: cast(TopicT, topic) for name, topic in outputs.items()})
    tables = RiskTables(cast(TableT[bytes, bytes], users), cast(TableT[bytes, bytes], ips))
    processor = RiskProcessor(engine or _engine(), topics, tables, CODEC)
    return World(processor, users, ips, outputs)


def _requests(*users: str) -> list[tuple[bytes, bytes]]:
    return [(user.encode(), CODEC.encode_event(request(user))) for user in users]


def test_a_batch_writes_each_changed_user_once_with_their_last_state() -> None:
    world = _world()
    batch = _events("access.requests", _requests("alice", "bob", "alice", "alice"))
    asyncio.run(world.processor.on_requests(batch))
    # States that keep new decisions are written with them, not held back for the commit.
    assert sorted(world.users.writes) == [b"alice", b"bob"]
    assert world.processor.write_states() == 0
    assert UserState.from_bytes(world.users[b"alice"]).events == 3
    assert UserState.from_bytes(world.users[b"bob"]).events == 1
    decisions = [decoded(sent.value) for sent in world.outputs["decisions"].sent]
    assert all(isinstance(d, Decision) for d in decisions)
    assert [d.user_id for d in decisions] == ["alice", "bob", "alice", "alice"]


def test_records_of_a_batch_see_the_state_earlier_records_left() -> None:
    world = _world()
    asyncio.run(world.processor.on_requests(_events("access.requests", _requests("alice"))))
    world.processor.write_states()
    # Not from the cache: a fresh processor starts from the table's bytes.
    fresh = _world()
    fresh.users.update(world.users)
    actions = [
        (b"alice", CODEC.encode_event(failed_login("alice", f"203.0.113.{n}"))) for n in range(3)
    ]
    asyncio.run(fresh.processor.on_actions(_events("access.actions", actions)))
    fresh.processor.write_states()
    state = UserState.from_bytes(fresh.users[b"alice"])
    assert state.events == 4
    assert fresh.users.writes == [b"alice"]
    assert [sent.key for sent in fresh.outputs["ip_failures"].sent] == [
        f"203.0.113.{n}".encode() for n in range(3)
    ]


def test_a_failed_step_inside_a_batch_leaves_its_user_at_the_last_good_state() -> None:
    poison = str(uuid.uuid4())
    world = _world(HalfUpdatingEngine(_engine(), poison))
    records = [
        (b"alice", CODEC.encode_event(request("alice"))),
        (b"alice", CODEC.encode_event(request("alice", event_id=poison))),
        (b"alice", CODEC.encode_event(request("alice"))),
    ]
    asyncio.run(world.processor.on_requests(_events("access.requests", records)))
    world.processor.write_states()
    state = UserState.from_bytes(world.users[b"alice"])
    assert state.events == 2  # the poison's half update is gone
    assert poison not in state.seen
    assert len(world.outputs["deadletter"].sent) == 1
    assert len(world.outputs["decisions"].sent) == 2
    assert world.users.writes == [b"alice"]


def test_a_redelivered_batch_sends_the_same_decisions_and_writes_nothing() -> None:
    world = _world()
    batch = _events("access.requests", _requests("alice", "bob"))
    asyncio.run(world.processor.on_requests(batch))
    world.processor.write_states()
    first = [sent.value for sent in world.outputs["decisions"].sent]
    asyncio.run(world.processor.on_requests(batch))
    assert world.processor.write_states() == 0
    assert [sent.value for sent in world.outputs["decisions"].sent] == first * 2
    assert sorted(world.users.writes) == [b"alice", b"bob"]


def test_refused_records_of_a_batch_are_dead_lettered_and_the_rest_decided() -> None:
    world = _world()
    records = [*_requests("alice"), (b"alice", b"junk"), *_requests("bob")]
    asyncio.run(world.processor.on_requests(_events("access.requests", records)))
    [dead] = world.outputs["deadletter"].sent
    assert dead.value == b"junk"
    assert len(world.outputs["decisions"].sent) == 2


def _logins(user: str, *ips: str) -> list[EventT[bytes]]:
    records = [(user.encode(), CODEC.encode_event(failed_login(user, ip))) for ip in ips]
    return _events("access.actions", records)


def test_action_states_wait_for_the_commit_and_later_batches_start_from_them() -> None:
    world = _world()
    asyncio.run(world.processor.on_actions(_logins("alice", "203.0.113.1")))
    asyncio.run(world.processor.on_actions(_logins("alice", "203.0.113.2")))
    assert world.users.writes == []  # nothing reaches the table (or changelog) before a commit
    pending = world.processor.user_state("alice")
    assert pending is not None and UserState.from_bytes(pending).events == 2
    assert world.processor.write_states() == 1
    assert world.users.writes == [b"alice"]
    assert world.users[b"alice"] == pending
    assert world.processor.user_state("alice") == pending  # now read from the table
    assert world.processor.write_states() == 0


def test_a_decision_writes_its_users_pending_state_with_it() -> None:
    world = _world()
    asyncio.run(world.processor.on_actions(_logins("alice", "203.0.113.1")))
    asyncio.run(world.processor.on_actions(_logins("bob", "203.0.113.2")))
    asyncio.run(world.processor.on_requests(_events("access.requests", _requests("alice"))))
    assert world.users.writes == [b"alice"]  # bob's state waits for the commit
    state = UserState.from_bytes(world.users[b"alice"])
    assert state.events == 2 and len(state.decisions) == 1
    assert world.processor.write_states() == 1
    assert world.users.writes == [b"alice", b"bob"]


def test_a_dropped_cache_reads_the_pending_state_not_the_older_table_one() -> None:
    world = _world()
    asyncio.run(world.processor.on_actions(_logins("alice", "203.0.113.1")))
    world.processor.write_states()
    asyncio.run(world.processor.on_actions(_logins("alice", "203.0.113.2")))
    world.processor.user_states.drop(b"alice")
    asyncio.run(world.processor.on_actions(_logins("alice", "203.0.113.3")))
    world.processor.write_states()
    assert UserState.from_bytes(world.users[b"alice"]).events == 3


def test_failed_sign_ins_by_ip_are_held_back_like_user_states() -> None:
    world = _world()
    action = CODEC.encode_event(failed_login("alice", "203.0.113.7"))
    asyncio.run(
        world.processor.on_ip_failures(_events("auth-failures-by-ip", [(b"203.0.113.7", action)]))
    )
    assert world.ips.writes == []
    assert world.processor.write_states() == 1
    assert world.ips.writes == [b"203.0.113.7"]


def test_decisions_are_dropped_at_the_users_next_step_once_their_offsets_are_committed() -> None:
    world = _world()
    batch = _events("access.requests", _requests("alice", "alice", "bob"))
    asyncio.run(world.processor.on_requests(batch))
    written = {key: UserState.from_bytes(world.users[key]) for key in (b"alice", b"bob")}
    assert (len(written[b"alice"].decisions), len(written[b"bob"].decisions)) == (2, 1)
    # Offsets 0 and 1 (alice's) are committed; bob's request at offset 2 may still come again.
    assert world.processor.forget_committed({TP("access.requests", 0): 2}) == 2
    assert world.processor.forget_committed({TP("access.requests", 0): 2}) == 0
    assert world.processor.write_states() == 0  # nothing re-encoded just for that
    asyncio.run(world.processor.on_actions(_logins("alice", "203.0.113.1")))
    asyncio.run(world.processor.on_actions(_logins("bob", "203.0.113.2")))
    world.processor.write_states()
    alice = UserState.from_bytes(world.users[b"alice"])
    assert alice.decisions == {}
    assert alice.events == 3 and set(written[b"alice"].seen) < set(alice.seen)
    assert len(UserState.from_bytes(world.users[b"bob"]).decisions) == 1
    assert world.processor.forget_committed({TP("access.requests", 0): 3}) == 1
    assert world.processor.forget_committed({TP("access.requests", 1): 99}) == 0


def test_a_request_that_comes_again_after_its_decision_was_dropped_is_counted_once() -> None:
    world = _world()
    batch = _events("access.requests", _requests("alice"))
    asyncio.run(world.processor.on_requests(batch))
    world.processor.forget_committed({TP("access.requests", 0): 1})
    asyncio.run(world.processor.on_actions(_logins("alice", "203.0.113.1")))
    world.processor.write_states()
    before = world.users[b"alice"]
    assert UserState.from_bytes(before).decisions == {}
    asyncio.run(world.processor.on_requests(batch))  # the same record, published again
    first, second = (decoded(sent.value) for sent in world.outputs["decisions"].sent)
    assert second.event_id == first.event_id
    world.processor.write_states()
    assert world.users[b"alice"] == before


def test_a_revoked_partitions_decisions_are_no_longer_tracked() -> None:
    world = _world()
    asyncio.run(world.processor.on_requests(_events("access.requests", _requests("alice"))))
    world.processor.forget_partitions({TP("access.requests", 0)})
    assert world.processor.forget_committed({TP("access.requests", 0): 1}) == 0
    asyncio.run(world.processor.on_actions(_logins("alice", "203.0.113.1")))
    world.processor.write_states()
    assert len(UserState.from_bytes(world.users[b"alice"]).decisions) == 1


def test_a_failed_step_keeps_the_decisions_it_was_to_drop() -> None:
    poison = str(uuid.uuid4())
    world = _world(HalfUpdatingEngine(_engine(), poison))
    asyncio.run(world.processor.on_requests(_events("access.requests", _requests("alice"))))
    world.processor.forget_committed({TP("access.requests", 0): 1})
    records = [(b"alice", CODEC.encode_event(request("alice", event_id=poison)))]
    asyncio.run(world.processor.on_requests(_events("access.requests", records)))
    world.processor.write_states()
    assert len(UserState.from_bytes(world.users[b"alice"]).decisions) == 1


@dataclass
class FailingOnce(RecordingTopic):
    """An output topic whose first send fails, as a producer with a full buffer would."""

    failed: bool = False

    async def send(self, **kwargs: Any) -> None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("send failed")
        await super().send(**kwargs)


def _refused_sign_ins(count: int) -> list[EventT[bytes]]:
    records = [
        (b"alice", CODEC.encode_event(failed_login("alice", f"203.0.113.{n}", T0 + n * 1_000)))
        for n in range(count)
    ]
    return _events("access.actions", records)


def test_a_batch_handled_again_after_a_failed_send_loses_none_of_its_outputs() -> None:
    batch = _refused_sign_ins(10)
    expected = _world()
    asyncio.run(expected.processor.on_actions(batch))
    assert expected.outputs["alerts"].sent  # the burst alerts
    world = _world()
    world.outputs["alerts"] = FailingOnce("alerts")
    world.processor.topics = replace(
        world.processor.topics, alerts=cast(TopicT, world.outputs["alerts"])
    )
    with pytest.raises(RuntimeError, match="send failed"):
        asyncio.run(world.processor.on_actions(batch))
    # Handled again, as the merge does with a run whose send failed: its events are in the
    # states already, so their outputs come from what the failed attempt left unsent.
    asyncio.run(world.processor.on_actions(batch))
    for name in ("alerts", "ip_failures"):
        assert world.outputs[name].sent == expected.outputs[name].sent, name
    assert len(world.outputs["ip_failures"].sent) == 10


def test_an_event_stamped_ahead_of_its_record_is_dead_lettered_and_moves_no_state() -> None:
    world = _world()
    world.processor = RiskProcessor(
        world.processor.engine, world.processor.topics, world.processor.tables, CODEC,
        max_event_ahead_s=300,
    )  # fmt: skip
    on_time = failed_login("alice", "203.0.113.1", T0)
    ahead = failed_login("alice", "203.0.113.2", T0 + 3_600_000)  # an hour past its record
    records = [(b"alice", CODEC.encode_event(on_time)), (b"alice", CODEC.encode_event(ahead))]
    events = _events("access.actions", records)
    for event in events:
        cast(Event, event).message.timestamp = T0 / 1000
    asyncio.run(world.processor.on_actions(events))
    [dead] = world.outputs["deadletter"].sent
    assert dead.value == records[1][1] and dead.header(HEADER_REASON) == b"future_time"
    world.processor.write_states()
    state = UserState.from_bytes(world.users[b"alice"])
    assert (state.events, state.last_time) == (1, T0)  # the hour-ahead event moved nothing


@dataclass
class FailingTimes(RecordingTopic):
    """An output topic whose first ``failures`` sends fail."""

    failures: int = 0

    async def send(self, **kwargs: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("send failed")
        await super().send(**kwargs)


def test_a_batch_retried_while_sends_fail_does_not_queue_its_outputs_again() -> None:
    world = _world()
    failing = FailingTimes("deadletter", failures=5)
    world.processor.topics = replace(world.processor.topics, deadletter=cast(TopicT, failing))
    garbage = _events("access.actions", [(b"alice", b"\xff not an event")])
    for _ in range(5):  # the merge retries the run while the broker is away
        with pytest.raises(RuntimeError, match="send failed"):
            asyncio.run(world.processor.on_actions(garbage))
    asyncio.run(world.processor.on_actions(garbage))
    # the first attempt's dead letter, then the retry's own: never one per failed attempt
    assert len(failing.sent) == 2


def test_the_output_status_says_how_long_sending_has_been_failing() -> None:
    world = _world()
    failing = FailingTimes("deadletter", failures=2)
    world.processor.topics = replace(world.processor.topics, deadletter=cast(TopicT, failing))
    garbage = _events("access.actions", [(b"alice", b"\xff not an event")])
    assert world.processor.output_status() == {"waiting": 0, "failing_for_s": None}
    with pytest.raises(RuntimeError, match="send failed"):
        asyncio.run(world.processor.on_actions(garbage))
    status = world.processor.output_status()
    assert status["waiting"] == 1 and status["failing_for_s"] is not None
    assert status["failing_for_s"] >= 0
    with pytest.raises(RuntimeError, match="send failed"):
        asyncio.run(world.processor.on_actions(garbage))  # still failing: the clock goes on
    asyncio.run(world.processor.on_actions(garbage))
    assert world.processor.output_status() == {"waiting": 0, "failing_for_s": None}


def test_a_kafka_timestamp_of_zero_is_checked_as_the_sealed_record_is() -> None:
    world = _world()
    processor = RiskProcessor(
        world.processor.engine, world.processor.topics, world.processor.tables, CODEC,
        max_event_ahead_s=300,
    )  # fmt: skip
    [at_zero, without] = _events("access.actions", [(b"a", b"x"), (b"a", b"x")])
    cast(Event, at_zero).message.timestamp = 0.0
    assert processor._arrival(at_zero) == RecordTime(0, 300_000)
    assert processor._arrival(without) == RecordTime(-1, 300_000)


def test_a_batch_of_the_ip_lane_is_accounted_even_when_left_over_outputs_fail() -> None:
    world = _world()
    failing = FailingTimes("deadletter", failures=2)
    world.processor.topics = replace(world.processor.topics, deadletter=cast(TopicT, failing))
    garbage = _events("access.actions", [(b"alice", b"\xff not an event")])
    with pytest.raises(RuntimeError, match="send failed"):  # a run leaves its dead letter
        asyncio.run(world.processor.on_actions(garbage))
    sign_in = failed_login("bob", "198.51.100.7", T0)
    batch = _events("ip.failures", [(b"198.51.100.7", CODEC.encode_event(sign_in))])
    with pytest.raises(RuntimeError, match="send failed"):  # the left-over send fails again
        asyncio.run(world.processor.on_ip_failures(batch))
    with patch.multiple(agents_module, RESEND_FIRST_DELAY_S=0.0):
        asyncio.run(world.processor.send_outbox_until_sent())  # what the agent does then
    world.processor.write_states()
    assert b"198.51.100.7" in world.ips and len(failing.sent) == 1


# --- requests of different users decided together ------------------------------------------


def _merged(generated: Sequence[AccessRequest | AccessAction], first_offset: int) -> list[Any]:
    """``generated`` as the merger hands them to the processor, read as the agents read."""
    run: list[Any] = []
    reader = _world().processor
    for offset, event in enumerate(generated, start=first_offset):
        key, value = event.actor.uid.encode(), CODEC.encode_event(event)
        if isinstance(event, AccessRequest):
            [(record, request_read)] = reader.read_requests(
                _events("access.requests", [(key, value)])
            )
            run.append((Lane.REQUESTS, (_at(record, offset), request_read)))
        else:
            [(record, action_read)] = reader.read_actions(_events("access.actions", [(key, value)]))
            run.append((Lane.ACTIONS, (_at(record, offset), action_read)))
    return run


def _at(event: EventT[bytes], offset: int) -> EventT[bytes]:
    cast(Event, event).message.offset = offset
    return event


def test_a_batch_decides_every_request_as_the_engine_does_one_by_one() -> None:
    config = GeneratorConfig(
        seed=7, users=12, sim_days=1.0, attacks=resolve_scenarios(["mixed"]), attack_fraction=0.5
    )
    generated = [g.event for g in generate_events(config)][:900]
    alone, states = _engine(), dict[str, UserState | None]()
    decisions, alerts = [], []
    for event in generated:
        user = event.actor.uid
        if isinstance(event, AccessRequest):
            step = alone.on_request(states.get(user), event)
            assert step.decision is not None
            decisions.append(CODEC.encode_event(step.decision))
        else:
            step = alone.on_action(states.get(user), event)
        states[user] = step.state
        alerts += [CODEC.encode_event(alert) for alert in step.alerts]

    world = _world()
    for start in range(0, len(generated), 60):
        run = _merged(generated[start : start + 60], start)
        asyncio.run(world.processor.handle_merged(run))
    world.processor.write_states()

    assert [sent.value for sent in world.outputs["decisions"].sent] == decisions
    assert [sent.value for sent in world.outputs["alerts"].sent] == alerts
    verdicts = {decoded(value).verdict for value in decisions}
    assert verdicts == {Verdict.ALLOW, Verdict.STEP_UP, Verdict.DENY}
    for user, state in states.items():
        assert state is not None
        assert UserState.from_bytes(world.users[user.encode()]).to_bytes() == state.to_bytes()


class CountingPolicies:
    """The engine's policies, counting how many requests each call decides."""

    def __init__(
        self, real: PolicyEngine, fail_batches: bool = False, short_batches: bool = False
    ) -> None:
        self.real = real
        self.calls: list[int] = []
        self.fail_batches = fail_batches
        self.short_batches = short_batches

    def __getattr__(self, name: str) -> Any:  # versions and the rest: the real ones
        return getattr(self.real, name)

    def evaluate(self, request: PolicyRequest) -> PolicyDecision:
        self.calls.append(1)
        return self.real.evaluate(request)

    def evaluate_batch(self, requests: list[PolicyRequest]) -> list[PolicyDecision]:
        self.calls.append(len(requests))
        if self.fail_batches:
            raise RuntimeError("cedar fell over")
        answers = self.real.evaluate_batch(requests)
        return answers[1:] if self.short_batches else answers


def _counting_world(
    fail_batches: bool = False, short_batches: bool = False
) -> tuple[World, CountingPolicies]:
    engine = _engine()
    policies = CountingPolicies(engine.policies, fail_batches, short_batches)
    engine.policies = cast(PolicyEngine, policies)
    return _world(engine), policies


def test_requests_of_different_users_are_decided_in_one_policy_call() -> None:
    world, policies = _counting_world()
    records = _requests("alice", "bob", "carol", "alice", "dave")
    asyncio.run(world.processor.on_requests(_events("access.requests", records)))
    # alice's second request must see her state after the first: it starts a new call.
    assert policies.calls == [3, 2]
    decided = [decoded(sent.value).user_id for sent in world.outputs["decisions"].sent]
    assert decided == ["alice", "bob", "carol", "alice", "dave"]


def test_an_action_of_a_user_waiting_for_a_decision_comes_after_it() -> None:
    world, policies = _counting_world()
    run = _merged([request("alice"), request("bob"), failed_login("alice", "203.0.113.9")], 0)
    asyncio.run(world.processor.handle_merged(run))
    world.processor.write_states()
    assert policies.calls == [2]
    assert UserState.from_bytes(world.users[b"alice"]).events == 2


@pytest.mark.parametrize("failure", ["raises", "answers short"])
def test_when_deciding_requests_together_fails_each_is_decided_alone(failure: str) -> None:
    # An answer missing would give each later request its neighbour's verdict.
    world, policies = _counting_world(
        fail_batches=failure == "raises", short_batches=failure == "answers short"
    )
    reference = _world()
    records = _requests("alice", "bob", "carol")
    asyncio.run(world.processor.on_requests(_events("access.requests", records)))
    asyncio.run(reference.processor.on_requests(_events("access.requests", records)))
    assert policies.calls == [3, 1, 1, 1]
    sent = [decoded(s.value) for s in world.outputs["decisions"].sent]
    expected = [decoded(s.value) for s in reference.outputs["decisions"].sent]
    assert [(d.request_id, d.verdict, d.policy_ids) for d in sent] == [
        (d.request_id, d.verdict, d.policy_ids) for d in expected
    ]


def test_a_request_failing_after_its_policy_call_leaves_the_others_decided() -> None:
    poison = str(uuid.uuid4())
    world = _world(FailingFinishEngine(_engine(), poison))
    records = [
        (b"alice", CODEC.encode_event(request("alice", event_id=poison))),
        *_requests("bob"),
        *_requests("alice"),
    ]
    asyncio.run(world.processor.on_requests(_events("access.requests", records)))
    world.processor.write_states()
    state = UserState.from_bytes(world.users[b"alice"])
    assert state.events == 1  # the failed request's scoring is gone with it
    assert poison not in state.seen
    assert len(world.outputs["deadletter"].sent) == 1
    decided = [decoded(sent.value).user_id for sent in world.outputs["decisions"].sent]
    assert sorted(decided) == ["alice", "bob"]


class FlakyTable(CountingTable):
    """A table whose first read of some keys fails (a store not ready in a rebalance)."""

    def __init__(self, failing: set[bytes]) -> None:
        super().__init__()
        self.failing = failing

    def get(self, key: bytes, default: Any = None) -> Any:
        if key in self.failing:
            self.failing.discard(key)
            raise RuntimeError("store not ready")
        return super().get(key, default)


def test_a_run_given_up_halfway_is_decided_again_as_if_the_first_try_never_happened() -> None:
    history = [failed_login("alice", f"203.0.113.{n}", T0 + n) for n in range(6)]
    retried = [request("alice", time_ms=T0 + 60_000, ip="198.51.100.1"), request("bob")]

    def decide(table: CountingTable) -> tuple[list[bytes | None], bytes]:
        world = _world()
        world.processor.pending_users.table = cast(TableT[bytes, bytes], table)
        asyncio.run(world.processor.handle_merged(_merged(history, 0)))
        run = _merged(retried, 10)
        try:
            asyncio.run(world.processor.handle_merged(run))
        except RuntimeError:  # the merger hands the run over again
            asyncio.run(world.processor.handle_merged(run))
        world.processor.write_states()
        return [sent.value for sent in world.outputs["decisions"].sent], table[b"alice"]

    clean = decide(CountingTable())
    # bob's read fails once, after alice's request was scored in the same wave
    flaky = decide(FlakyTable({b"bob"}))
    assert [decoded(value).user_risk for value in flaky[0]] == [
        decoded(value).user_risk for value in clean[0]
    ]
    assert UserState.from_bytes(flaky[1]).user_risk == UserState.from_bytes(clean[1]).user_risk


def test_a_batchs_records_are_finished_in_their_order_redeliveries_too() -> None:
    world = _world()
    bob = request("bob")
    asyncio.run(world.processor.handle_merged(_merged([bob], 0)))
    asyncio.run(world.processor.handle_merged(_merged([request("alice"), bob], 5)))  # bob again
    tp = TP("access.requests", 0)
    assert [decided.offset for decided in world.processor._uncommitted[tp]] == [0, 5, 6]
    assert [decoded(sent.value).user_id for sent in world.outputs["decisions"].sent] == [
        "bob", "alice", "bob"
    ]  # fmt: skip
    assert world.processor.forget_committed({tp: 6}) == 2


def test_alerts_of_a_batch_are_stamped_in_the_order_of_their_records() -> None:
    engine = _engine()
    engine.rules = replace(engine.rules, levels=replace(engine.rules.levels, alert=0))
    world = _world(engine)
    run = _merged([request("alice"), failed_login("bob", "203.0.113.9")], 0)
    asyncio.run(world.processor.handle_merged(run))
    alerts = [decoded(sent.value) for sent in world.outputs["alerts"].sent]
    assert [(alert.user_id, alert.source.seq) for alert in alerts] == [("alice", 0), ("bob", 1)]
