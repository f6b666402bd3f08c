"""`riskseal generate` against the real stack: every event arrives once, keyed, labelled."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from riskseal.cli import main
from riskseal.contract import AccessRequest, EventCodec, typed_event
from riskseal.contract.events import AccessAction
from riskseal.generator import (
    ATTACK_ID_HEADER,
    TRUTH_HEADER,
    AttackKind,
    GeneratedEvent,
    GeneratorConfig,
    generate_events,
)
from riskseal.settings import Settings
from tests.integration.conftest import RealStack


@dataclass(frozen=True)
class Received:
    """One record read back: where it was, its key and headers, and the decoded event."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: dict[str, bytes]
    event: AccessRequest | AccessAction


def _headers(raw: Any) -> dict[str, bytes]:
    """Record headers as a dict; consumed records carry a list of (name, bytes)."""
    pairs = raw.items() if isinstance(raw, dict) else raw or []
    return {name: value.encode() if isinstance(value, str) else value for name, value in pairs}


def _read_back(settings: Settings, wanted: set[str], timeout_s: float = 60) -> list[Received]:
    """Every record of the access topics whose event id is in ``wanted``.

    Reads from offset 0 until every wanted id was seen, then on until the topics are drained,
    so duplicates would show. Completeness is what was read, never the end offsets.
    """
    codec = EventCodec()
    consumer = Consumer(settings.kafka_consumer_config(f"read-{uuid.uuid4()}"))
    topics = (settings.topic_requests, settings.topic_actions)
    consumer.assign(
        [TopicPartition(t, p, 0) for t in topics for p in range(settings.partitions_access)]
    )
    found: list[Received] = []
    seen: set[str] = set()
    idle = 0
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and (seen != wanted or idle < 4):
            batch = consumer.consume(1000, 0.5)
            idle = 0 if batch else idle + 1
            for message in batch:
                value = message.value()
                if message.error() is not None or value is None:
                    continue
                event = typed_event(codec.decode(value))
                if not isinstance(event, AccessRequest | AccessAction):
                    continue
                if event.event_id in wanted:
                    seen.add(event.event_id)
                    topic, partition = message.topic(), message.partition()
                    offset = message.offset()
                    assert topic is not None and partition is not None and offset is not None
                    found.append(
                        Received(
                            topic,
                            partition,
                            offset,
                            message.key(),
                            _headers(message.headers()),
                            event,
                        )
                    )
    finally:
        consumer.close()
    return found


def test_mixed_run_arrives_exactly_once_keyed_by_user_with_its_truth(
    cli_env: RealStack, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = uuid.uuid4().int % 2**32  # fresh events even on a reused external cluster
    args = ["--users", "20", "--seed", str(seed), "--scenario", "mixed", "--attack-users", "0.25"]
    assert main(["generate", *args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["not_delivered"] == 0

    config = GeneratorConfig(
        seed=seed, users=20, attacks=frozenset(AttackKind), attack_fraction=0.25
    )
    expected = {generated.event.event_id: generated for generated in generate_events(config)}
    assert summary["events"] == len(expected)
    assert set(summary["attacks"]) == {kind.value for kind in AttackKind}

    settings = cli_env.settings
    received = _read_back(settings, set(expected))
    by_id: dict[str, list[Received]] = defaultdict(list)
    for record in received:
        by_id[record.event.event_id].append(record)
    missing = set(expected) - set(by_id)
    assert not missing, f"{len(missing)} of {len(expected)} events never arrived"
    duplicated = [event_id for event_id, records in by_id.items() if len(records) > 1]
    assert not duplicated, f"{len(duplicated)} events arrived more than once"

    sources = set()
    partitions: dict[tuple[str, str], set[int]] = defaultdict(set)
    for event_id, (record,) in by_id.items():
        generated: GeneratedEvent = expected[event_id]
        topic = settings.topic_requests if generated.kind == "request" else settings.topic_actions
        assert record.topic == topic
        assert record.key == generated.user_id.encode()
        assert record.headers[TRUTH_HEADER] == generated.truth.encode()
        if generated.attack_id is None:
            assert ATTACK_ID_HEADER not in record.headers
        else:
            assert record.headers[ATTACK_ID_HEADER] == generated.attack_id.encode()
        # The payload is the generated event; only the SDK's source stamp is its own.
        assert replace(record.event, source=generated.event.source) == generated.event
        sources.add((record.event.source.source_id, record.event.source.epoch))
        partitions[(record.topic, generated.user_id)].add(record.partition)
    assert len(sources) == 1
    # Keyed by user: all of a user's events share a partition, in generation order.
    assert all(len(found) == 1 for found in partitions.values())
    times: dict[tuple[str, str], list[int]] = defaultdict(list)
    for record in sorted(received, key=lambda r: (r.topic, r.partition, r.offset)):
        times[(record.topic, record.event.actor.uid)].append(record.event.time)
    assert all(series == sorted(series) for series in times.values())


def test_paced_run_sends_rate_times_duration_events(
    cli_env: RealStack, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = uuid.uuid4().int % 2**32
    started = time.monotonic()
    args = ["--users", "10", "--seed", str(seed), "--rate", "200", "--duration", "1.5"]
    assert main(["generate", *args]) == 0
    elapsed = time.monotonic() - started
    assert "delivered: 300, not delivered: 0" in capsys.readouterr().out
    assert elapsed >= 299 / 200

    config = GeneratorConfig(seed=seed, users=10)
    expected = {e.event.event_id for e in itertools.islice(generate_events(config), 300)}
    received = _read_back(cli_env.settings, expected)
    assert sorted(r.event.event_id for r in received) == sorted(expected)
