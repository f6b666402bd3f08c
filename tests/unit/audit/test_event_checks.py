"""The checks across events against a reference: the event-by-event algorithm they replace.

``EventChecks`` takes a block's events in whole-column steps when it can; the reference below
(the verifier's earlier code, kept here) reads every event with ``PartialDecoder.keys`` and
keeps plain strings. Both must give the same findings and notes for any trail, valid or not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.audit.event_checks import EventChecks, _longs
from riskseal.avrobin import zigzag
from riskseal.contract import (
    AccessAction,
    AccessRequest,
    Actor,
    Decision,
    EventCodec,
    Resource,
    RiskLevel,
    SourceStamp,
    Verdict,
    Versions,
)
from riskseal.contract.codec import event_type_of
from riskseal.contract.events import Event, Outcome
from riskseal.contract.partial import PartialDecoder
from riskseal.contract.schemas_set import EventType
from riskseal.errors import ContractError

TOPICS = ("access.requests", "access.actions", "risk.decisions")
CODEC = EventCodec()
PARTIAL = PartialDecoder(CODEC)

Blocks = list[tuple[str, list[bytes | None]]]


def reference(blocks: Blocks) -> tuple[list[tuple[str, str]], list[str]]:
    """The findings and notes of the event-by-event algorithm."""
    requests_topic, _, decisions_topic = TOPICS
    expected = dict(zip(TOPICS, (EventType.ACCESS_REQUEST, EventType.ACCESS_ACTION,
                                 EventType.DECISION), strict=True))  # fmt: skip
    stamps: dict[tuple[str, int], dict[int, str]] = defaultdict(dict)
    reused: dict[tuple[str, int], dict[int, set[str]]] = defaultdict(dict)
    requests: set[str] = set()
    decided: dict[str, set[str]] = defaultdict(set)
    redelivered = 0
    for topic, values in blocks:
        for value in values:
            if not value:
                continue
            try:
                keys = PARTIAL.keys(value, expected.get(topic))
            except ContractError:
                continue
            source = (keys.source_id, keys.epoch)
            by_seq = stamps[source]
            first = by_seq.get(keys.seq)
            if first is None:
                by_seq[keys.seq] = keys.event_id
            elif first == keys.event_id:
                redelivered += 1
            else:
                ids = reused[source].setdefault(keys.seq, {first})
                redelivered += keys.event_id in ids
                ids.add(keys.event_id)
            if topic == requests_topic and keys.event_type is EventType.ACCESS_REQUEST:
                requests.add(keys.event_id)
            elif topic == decisions_topic and keys.event_type is EventType.DECISION:
                decided[keys.request_id or ""].add(keys.event_id)
    notes = []
    if redelivered:
        notes.append(
            f"{redelivered} events were sealed more than once, identical (at-least-once "
            "redelivery, e.g. after a worker restart); each counts once"
        )
    findings = []
    for source, by_seq in sorted(stamps.items()):
        source_id, epoch = source
        low, high = min(0, min(by_seq)), max(by_seq)
        missing = (high - low + 1) - len(by_seq)
        if missing:
            first_missing = next(n for n in range(low, high + 1) if n not in by_seq)
            findings.append((
                "source_seq_gap",
                f"source {source_id} epoch {epoch}: {missing} events never reached "
                f"Kafka (first missing seq {first_missing})",
            ))  # fmt: skip
        if reused[source]:
            seq = min(reused[source])
            findings.append((
                "source_seq_duplicate",
                f"source {source_id} epoch {epoch}: seq {seq} stamps "
                f"{len(reused[source][seq])} different events",
            ))  # fmt: skip
    for request_id in sorted(requests - decided.keys()):
        findings.append(
            ("request_without_decision", f"request {request_id} has no sealed decision")
        )
    for request_id in sorted(decided.keys() - requests):
        findings.append(("decision_without_request", f"decision for unknown request {request_id}"))
    for request_id, decisions in sorted(decided.items()):
        if len(decisions) > 1:
            findings.append(
                ("duplicate_decision", f"request {request_id} has {len(decisions)} decisions")
            )
    return findings, notes


def checked(blocks: Blocks) -> tuple[list[tuple[str, str]], list[str]]:
    checks = EventChecks(TOPICS, PARTIAL)
    for topic, values in blocks:
        checks.add(topic, values)
    return checks.finish()


# --- a trail's events, from few ids, sources and seqs, so that they collide -------------------
IDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(5)] + ["short-id", "é", "x" * 70, ""]
SOURCES = ["app-1", "risk-1", "ü-source", "s" * 64]
VERSIONS = Versions("t", "t", "t", "t")


def _event(kind: str, event_id: str, source: SourceStamp, request_id: str) -> Event:
    if kind == "request":
        return AccessRequest(event_id, 1, source, Actor("u"), "data.read", Resource("doc", "d"))
    if kind == "action":
        return AccessAction(event_id, 1, source, Actor("u"), "data.read", Resource("doc", "d"),
                            Outcome.SUCCESS)  # fmt: skip
    return Decision(
        event_id=event_id, time=1, source=source, request_id=request_id, user_id="u",
        verdict=Verdict.ALLOW, request_risk=0, user_risk=0, risk_level=RiskLevel.LOW,
        versions=VERSIONS,
    )  # fmt: skip


def _encoded(event: Event) -> bytes:
    """The event's bytes, valid or not (non-UUID ids, negative seqs): what a trail may hold."""
    return CODEC.encode_valid(event_type_of(event), event.to_record())


kinds = st.sampled_from(["request", "action", "decision"])
stamps = st.builds(
    SourceStamp,
    st.sampled_from(SOURCES),
    st.sampled_from([0, 1, 2**40]),
    st.integers(-2, 12) | st.sampled_from([2**33, 2**62]),
)
events = st.builds(_event, kinds, st.sampled_from(IDS), stamps, st.sampled_from(IDS))
junk = st.sampled_from([None, b"", b"junk", b"\xc3\x01" + bytes(8)])


@st.composite
def trails(draw: st.DrawFn) -> Blocks:
    """Blocks of the audit topics: each event mostly on its own topic, sometimes on another;
    some values damaged, some no event at all."""
    blocks: Blocks = []
    for _ in range(draw(st.integers(0, 6))):
        topic = draw(st.sampled_from(TOPICS))
        values: list[bytes | None] = []
        for _ in range(draw(st.integers(0, 8))):
            if draw(st.integers(0, 9)) == 0:
                values.append(draw(junk))
                continue
            data = _encoded(draw(events))
            if draw(st.integers(0, 9)) == 0:
                at = draw(st.integers(0, len(data) - 1))
                data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
            values.append(data)
        blocks.append((topic, values))
    return blocks


@settings(max_examples=500, deadline=None)
@given(trails())
def test_the_same_findings_and_notes_as_event_by_event(blocks: Blocks) -> None:
    assert checked(blocks) == reference(blocks)


@settings(max_examples=50, deadline=None)
@given(st.lists(stamps, min_size=1, max_size=40), kinds)
def test_many_events_of_one_kind(sources: list[SourceStamp], kind: str) -> None:
    """Blocks of one source and type, where the whole-column steps apply."""
    topic = {"request": TOPICS[0], "action": TOPICS[1], "decision": TOPICS[2]}[kind]
    values: list[bytes | None] = [
        _encoded(_event(kind, f"00000000-0000-4000-8000-{n:012d}", stamp, IDS[n % 3]))
        for n, stamp in enumerate(sources)
    ]
    blocks: Blocks = [(topic, values[: len(values) // 2]), (topic, values[len(values) // 2 :])]
    assert checked(blocks) == reference(blocks)


def _requests(seqs: Sequence[int], first_id: int = 0) -> Blocks:
    values: list[bytes | None] = [
        _encoded(_event("request", f"{n}", SourceStamp("app-1", 1, seq), ""))
        for n, seq in enumerate(seqs, first_id)
    ]
    return [(TOPICS[0], values)]


def test_a_gap_in_one_block() -> None:
    findings, _ = checked(_requests([0, 1, 2, 4, 5]))
    assert ("source_seq_gap", "source app-1 epoch 1: 1 events never reached Kafka "
            "(first missing seq 3)") in findings  # fmt: skip


def test_a_seq_stamping_two_events_in_one_block() -> None:
    findings, _ = checked(_requests([0, 1, 1, 2]))
    assert ("source_seq_duplicate", "source app-1 epoch 1: seq 1 stamps 2 different events") in (
        findings
    )


def test_a_seq_stamping_two_events_in_two_blocks() -> None:
    first, second = _requests([0, 1])[0][1], _requests([1], first_id=10)[0][1]
    findings, _ = checked([(TOPICS[0], first), (TOPICS[0], second)])
    assert ("source_seq_duplicate", "source app-1 epoch 1: seq 1 stamps 2 different events") in (
        findings
    )


def test_an_event_redelivered_in_a_later_block() -> None:
    [(topic, values)] = _requests([0, 1, 2])
    findings, notes = checked([(topic, values), (topic, values[1:2])])
    assert not [f for f in findings if f[0].startswith("source_seq")]
    assert notes and notes[0].startswith("1 events were sealed more than once")


def test_consecutive_seqs_are_a_range() -> None:
    assert _longs([zigzag(n) for n in range(60, 200)]) == range(60, 200)
    assert _longs([zigzag(n) for n in (3, 5, 4)]) == [3, 5, 4]
    assert _longs([zigzag(n) for n in (-1, 0, 1)]) == [-1, 0, 1]
    assert _longs([zigzag(2**63 - 1)]) == range(2**63 - 1, 2**63)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 70), st.integers(1, 70), st.booleans()), max_size=5))
def test_runs_of_consecutive_seqs(runs: list[tuple[int, int, bool]]) -> None:
    """Blocks holding a run of consecutive seqs (taken as a ``range``): overlapping runs
    repeat seqs, with the same events (redelivery) or other ones (reused stamps)."""
    blocks: Blocks = []
    for start, length, same_ids in runs:
        first_id = 0 if same_ids else 1000 * (len(blocks) + 1)
        ids = range(first_id + start, first_id + start + length)
        values: list[bytes | None] = [
            _encoded(_event("request", f"{n}", SourceStamp("app-1", 1, seq), ""))
            for n, seq in zip(ids, range(start, start + length), strict=True)
        ]
        blocks.append((TOPICS[0], values))
    assert checked(blocks) == reference(blocks)


def test_an_empty_event_id_redelivered() -> None:
    """One-byte encodings (the empty string's) are shared objects: equality counts, not identity."""
    values: list[bytes | None] = [
        _encoded(_event("request", "", SourceStamp("app-1", 1, 0), "")) for _ in range(2)
    ]
    blocks: Blocks = [(TOPICS[0], values)]
    assert checked(blocks) == reference(blocks)
    assert checked(blocks)[1][0].startswith("1 events were sealed more than once")
