"""Risk workers on the real stack: authorize() round trips, dead letters, a SIGKILLed worker."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid

import pytest
from confluent_kafka import KafkaError, Message, Producer

from riskseal import __version__
from riskseal.contract.codec import EventCodec
from riskseal.contract.events import (
    AccessRequest,
    Actor,
    Decision,
    Resource,
    Sensitivity,
    SourceStamp,
)
from riskseal.risk.deadletter import DeadLetterReason, read_deadletter_headers
from riskseal.sdk import AuditClient
from tests.integration.raw_headers import produce_with_raw_header_name
from tests.integration.risk.conftest import (
    Decided,
    RiskWorld,
    describe_offsets,
    locate_requests,
    wait_for,
)

pytestmark = pytest.mark.integration


def test_a_worker_answers_authorize_with_real_decisions(risk_world: RiskWorld) -> None:
    worker = risk_world.worker("w1")
    ready = worker.wait_ready()
    assert ready["partitions"][risk_world.settings.topic_requests] == [0, 1, 2, 3]
    assert ready["outputs"] == {"waiting": 0, "failing_for_s": None}
    with AuditClient(risk_world.settings) as client:
        first = client.authorize(Actor("alice"), "data.read", Resource("doc", "d1"), timeout=20)
        second = client.authorize(
            Actor("bob", roles=("sales",)),
            "data.export",
            Resource("report", "q3", sensitivity=Sensitivity.RESTRICTED),
            timeout=20,
        )
    for decision, user in ((first, "alice"), (second, "bob")):
        assert decision.fallback is False
        assert decision.user_id == user
        assert decision.versions.engine == __version__
        assert decision.versions.rules.startswith("sha256:")
        assert decision.versions.policies.startswith("sha256:")
        assert decision.source.source_id.startswith(risk_world.settings.risk_app_id)
    state = worker.user_state("alice")
    assert state is not None
    assert first.request_id in state.decisions
    assert worker.terminate() == 0, worker.log_tail()


def test_undecodable_bytes_are_dead_lettered_with_coordinates_and_the_stream_continues(
    risk_world: RiskWorld,
) -> None:
    settings = risk_world.settings
    worker = risk_world.worker("w1")
    worker.wait_ready()
    garbage = b"\xff\x01 definitely not an event"  # no known framing: C3 01 nor 00
    delivered: list[Message] = []

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        assert error is None, error
        delivered.append(message)

    producer = Producer(settings.kafka_config())
    producer.produce(
        settings.topic_requests,
        garbage,
        key=b"alice",
        headers=[("origin", b"fuzzer")],
        on_delivery=on_delivery,
    )
    assert producer.flush(10) == 0
    [sent] = delivered
    # The same key lands on the same partition, after the garbage: it must still be decided.
    with AuditClient(settings) as client:
        decision = client.authorize(Actor("alice"), "data.read", Resource("doc", "d"), timeout=20)
    assert decision.fallback is False
    dead, headers = risk_world.dead_letter()
    assert dead.value() == garbage
    assert dead.key() == b"alice"
    assert headers[0] == ("origin", b"fuzzer")
    rejection, source = read_deadletter_headers(headers)
    assert rejection.reason is DeadLetterReason.MALFORMED
    assert (source.topic, source.partition, source.offset) == (
        settings.topic_requests,
        sent.partition(),
        sent.offset(),
    )


def test_a_header_name_that_is_not_utf8_is_decided_and_does_not_stop_the_worker(
    risk_world: RiskWorld,
) -> None:
    settings = risk_world.settings
    worker = risk_world.worker("w1")
    worker.wait_ready()
    codec = EventCodec()
    raw_ids = set()
    for partition in range(settings.partitions_access):
        request = AccessRequest(
            event_id=str(uuid.uuid4()), time=int(time.time() * 1000),
            source=SourceStamp("raw-producer", 1, partition),
            actor=Actor(f"user-{partition}"), action="data.read", resource=Resource("doc", "d"),
        )  # fmt: skip
        raw_ids.add(request.event_id)
        produce_with_raw_header_name(
            settings, settings.topic_requests, partition=partition,
            key=request.actor.uid.encode(), value=codec.encode_event(request),
            name=b"bad\xffname",
        )  # fmt: skip
    garbage = produce_with_raw_header_name(
        settings, settings.topic_requests,
        partition=0, key=b"user-0", value=b"\xff not an event", name=b"bad\xffname",
    )  # fmt: skip
    risk_world.decisions(Decided(raw_ids), 60)
    dead, headers = risk_world.dead_letter()
    assert dead.value() == b"\xff not an event"
    assert headers[:2] == [("bad\\xffname", b"v"), ("good", b"g")]
    _, source = read_deadletter_headers(headers)
    assert (source.partition, source.offset) == (0, garbage)
    with AuditClient(settings) as client:
        decision = client.authorize(Actor("alice"), "data.read", Resource("doc", "e"), timeout=20)
    assert decision.fallback is False, worker.log_tail(80)
    assert worker.terminate() == 0, worker.log_tail()


def test_an_event_stamped_a_day_ahead_of_kafka_is_dead_lettered_not_decided(
    risk_world: RiskWorld,
) -> None:
    settings = risk_world.settings
    worker = risk_world.worker("w1")
    worker.wait_ready()
    tomorrow = int(time.time() * 1000) + 86_400_000
    ahead = AccessRequest(
        event_id=str(uuid.uuid4()), time=tomorrow, source=SourceStamp("raw-producer", 1, 0),
        actor=Actor("carol"), action="data.read", resource=Resource("doc", "d"),
    )  # fmt: skip
    producer = Producer(settings.kafka_config())
    producer.produce(settings.topic_requests, EventCodec().encode_event(ahead), key=b"carol")
    assert producer.flush(10) == 0  # the record's timestamp: now, from the producer
    _, headers = risk_world.dead_letter()
    rejection, _ = read_deadletter_headers(headers)
    assert rejection.reason is DeadLetterReason.FUTURE_TIME
    with AuditClient(settings) as client:
        decision = client.authorize(Actor("carol"), "data.read", Resource("doc", "e"), timeout=20)
    assert decision.fallback is False
    state = worker.user_state("carol")
    assert state is not None and ahead.event_id not in state.decisions
    assert state.last_time < tomorrow
    assert worker.terminate() == 0, worker.log_tail()


def test_two_workers_share_partitions_and_a_sigkill_loses_no_decision(
    risk_world: RiskWorld,
) -> None:
    settings = risk_world.settings
    # Members of a group start together: the local broker holds each join for a while.
    victim, survivor = risk_world.worker("victim"), risk_world.worker("survivor")
    victim.wait_ready()
    survivor.wait_ready()
    wait_for(
        lambda: (
            victim.partitions() | survivor.partitions() == {0, 1, 2, 3}
            and bool(victim.partitions())
            and bool(survivor.partitions())
        ),
        30,
        "both workers to own partitions",
    )
    sent: set[str] = set()
    total = 1_200
    half_sent = threading.Event()

    def produce() -> None:
        with AuditClient(settings) as client:
            for i in range(total):
                request = client.request_access(
                    Actor(f"user-{i % 40}"), "data.read", Resource("doc", f"doc-{i % 7}")
                )
                sent.add(request.event_id)
                if i == total // 2:
                    client.flush()
                    half_sent.set()
                time.sleep(0.004)  # ~250 requests/s: the kill lands mid-stream
            assert client.flush() == []

    producer = threading.Thread(target=produce)
    producer.start()
    assert half_sent.wait(30)
    before_kill = len({d.request_id for d in risk_world.decisions(lambda d: len(d) > 0, 20)})
    victim.kill()
    producer.join(60)
    assert len(sent) == total
    assert before_kill < total, "the kill did not land mid-stream"
    all_decided = Decided(sent)
    try:
        decisions = risk_world.decisions(all_decided, 120)
    except AssertionError as timeout:
        where = describe_offsets(locate_requests(risk_world, all_decided.undecided))
        raise AssertionError(
            f"{timeout}\nundecided requests:\n{where}\nsurvivor log:\n{survivor.log_tail(80)}"
        ) from None
    by_request: dict[str, Decision] = {}
    duplicates = 0
    for decision in decisions:
        earlier = by_request.setdefault(decision.request_id, decision)
        if earlier is not decision:
            duplicates += 1
            # A repeated decision is the same decision; only the emitting worker's stamp differs.
            assert dataclasses.replace(decision, source=earlier.source) == earlier
    assert set(by_request) == sent
    assert survivor.partitions() == {0, 1, 2, 3}
    print(f"{total} requests, {len(decisions)} decisions, {duplicates} repeated after the kill")
