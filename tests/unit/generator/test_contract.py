"""Generated events fit the contract, and their JSON lines are what `riskseal emit` reads."""

from __future__ import annotations

import json
from dataclasses import replace

from riskseal.contract import EventCodec, EventType
from riskseal.generator import ATTACK_ID_HEADER, TRUTH_HEADER, TRUTH_LABELS, to_json_line
from riskseal.generator.jsonl import to_document
from riskseal.sdk.jsonlines import parse_event_line
from tests.unit.generator import checks
from tests.unit.generator.conftest import Run


def test_every_event_validates_against_its_schema(mixed_run: Run) -> None:
    checks.check_valid_events(mixed_run)
    codec = EventCodec()
    for generated in mixed_run.events[:200]:
        event_type = (
            EventType.ACCESS_REQUEST if generated.kind == "request" else EventType.ACCESS_ACTION
        )
        codec.validate(event_type, generated.event.to_record())


def test_json_lines_parse_back_to_the_same_event_and_headers(mixed_run: Run) -> None:
    codec = EventCodec()
    for generated in mixed_run.events:
        parsed = parse_event_line(to_json_line(generated).encode(), codec)
        assert replace(parsed.event, source=generated.event.source) == generated.event
        assert parsed.headers == generated.headers()


def test_truth_stays_outside_the_event(mixed_run: Run) -> None:
    attack = next(e for e in mixed_run.events if e.attack_id is not None)
    document = to_document(attack)
    assert document["_truth"] == attack.truth
    assert document["_headers"] == {ATTACK_ID_HEADER: attack.attack_id}
    assert "source" not in document
    event_text = json.dumps({k: v for k, v in document.items() if not k.startswith("_")})
    assert attack.truth not in event_text
    assert attack.headers() == {TRUTH_HEADER: attack.truth, ATTACK_ID_HEADER: attack.attack_id}
    normal = next(e for e in mixed_run.events if e.attack_id is None)
    assert "_headers" not in to_document(normal)
    assert normal.headers() == {TRUTH_HEADER: "normal"}


def test_kinds_and_truth_labels(mixed_run: Run) -> None:
    assert {e.kind for e in mixed_run.events} == {"request", "action"}
    assert {e.truth for e in mixed_run.events} == set(TRUTH_LABELS)
    for generated in mixed_run.events[:100]:
        assert generated.user_id == generated.event.actor.uid
        assert generated.time_ms == generated.event.time
        assert generated.is_attack == (generated.truth != "normal")
