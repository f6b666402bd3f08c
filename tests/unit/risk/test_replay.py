"""Replay: the same events, rules and policies give the same decisions; diffs are precise."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.contract.events import AccessRequest, Decision, SourceStamp
from riskseal.generator import GeneratorConfig, generate_events, to_json_line
from riskseal.generator.model import AttackKind
from riskseal.risk.alignment import order_key
from riskseal.risk.engine import RiskEngine, SourceStamper
from riskseal.risk.policy import PolicyEngine
from riskseal.risk.replay import (
    DecisionDiff,
    Event,
    Replayer,
    decision_document,
    diff_decisions,
    in_event_time_order,
    in_merge_order,
    read_event_lines,
)
from riskseal.risk.rules import RuleSet
from riskseal.sdk.jsonlines import EventLineError
from tests.unit.risk.builders import MINUTE, T0, action, request

SHIPPED_RULES = Path(__file__).parents[3] / "rules"
CONFIG = GeneratorConfig(
    seed=5, users=10, sim_days=1.0, attacks=frozenset(AttackKind), attack_fraction=0.2
)
EVENTS = [generated.event for generated in generate_events(CONFIG)]


@pytest.fixture(scope="module")
def policies() -> PolicyEngine:
    return PolicyEngine.load(None)


def _replay(
    policies: PolicyEngine, rules_dir: Path | None = None, source: str = "r"
) -> list[Decision]:
    engine = RiskEngine(RuleSet.load(rules_dir), policies, stamper=SourceStamper(source, 0))
    return [out.decision for out in Replayer(engine).run(EVENTS) if out.decision is not None]


def test_replaying_twice_gives_no_differences(policies: PolicyEngine) -> None:
    first = _replay(policies, source="first")
    second = _replay(policies, source="second")
    assert len(first) == sum(isinstance(event, AccessRequest) for event in EVENTS) > 0
    assert first[0].source != second[0].source  # the only field left out
    assert diff_decisions(first, second) == []


def test_changed_rules_give_precise_differences(policies: PolicyEngine, tmp_path: Path) -> None:
    before = _replay(policies)
    fired = Counter(reason.code for decision in before for reason in decision.reasons)
    code = "new_restricted_resource"
    assert fired[code] > 0, f"the stream should fire {code}; it fired {dict(fired)}"
    changed = tmp_path / "rules"
    shutil.copytree(SHIPPED_RULES, changed)
    path = changed / "default.toml"
    text, count = re.subn(
        rf'(code = "{code}"\npoints = )(\d+)',
        lambda match: f"{match[1]}{int(match[2]) + 1}",
        path.read_text(),
    )
    assert count == 1
    path.write_text(text)
    after = _replay(policies, changed)
    diffs = diff_decisions(before, after)
    assert len(diffs) == len(before)  # every decision records the new rules version
    by_fields = {diff.request_id: {name for name, _, _ in diff.fields} for diff in diffs}
    hit = [d for d in before if any(reason.code == code for reason in d.reasons)]
    for decision in hit:
        assert {"versions", "reasons"} <= by_fields[decision.request_id]
        assert by_fields[decision.request_id] <= {
            "versions", "reasons", "request_risk", "user_risk", "risk_level", "verdict",
            "policy_ids",
        }  # fmt: skip
    quiet = [d for d in before if not d.reasons and d.user_risk == 0]
    assert quiet
    assert all(by_fields[d.request_id] == {"versions"} for d in quiet)
    uncapped = next(d for d in hit if d.request_risk < 100)
    diff = next(diff for diff in diffs if diff.request_id == uncapped.request_id)
    (_, old, new) = next(item for item in diff.fields if item[0] == "request_risk")
    assert new == old + 1
    (_, old_reasons, new_reasons) = next(item for item in diff.fields if item[0] == "reasons")
    assert [r.points for r in new_reasons if r.code == code] == [
        r.points + 1 for r in old_reasons if r.code == code
    ]
    assert "request_risk: " in diff.describe()
    assert diff.describe().startswith(f"request {uncapped.request_id}: ")
    (_, old_versions, new_versions) = next(item for item in diff.fields if item[0] == "versions")
    assert old_versions.rules != new_versions.rules
    assert old_versions.policies == new_versions.policies


def test_missing_and_extra_decisions_are_reported(policies: PolicyEngine) -> None:
    decisions = _replay(policies)
    missing, extra = decisions[0], decisions[1]
    expected = [d for d in decisions if d is not extra]
    actual = [d for d in decisions if d is not missing]
    diffs = diff_decisions(expected, actual)
    assert diffs == [
        DecisionDiff(missing.request_id, missing, None),
        DecisionDiff(extra.request_id, None, extra),
    ]
    assert (
        diffs[0].describe()
        == f"request {missing.request_id}: expected a decision, replay made none"
    )
    assert "no decision was expected" in diffs[1].describe()


def test_the_first_decision_per_request_is_compared() -> None:
    decision = Decision.from_record(decision_document_sample())
    other = replace(decision, request_risk=decision.request_risk + 1)
    assert diff_decisions([decision], [decision, other]) == []


def decision_document_sample() -> dict[str, object]:
    engine = RiskEngine(RuleSet.load(None), PolicyEngine.load(None), stamper=SourceStamper("s", 0))
    decision = engine.on_request(None, request(at=T0)).decision
    assert decision is not None
    document = decision_document(decision)
    assert json.loads(json.dumps(document)) == document
    assert document["verdict"] == str(decision.verdict)
    return decision.to_record()


def test_events_are_put_in_the_order_a_worker_merges_them() -> None:
    def stamped(at: int, source: str, seq: int) -> AccessRequest:
        return replace(request(at=at), source=SourceStamp(source, 1, seq))

    late_source = stamped(T0 + MINUTE, "app-b", 0)
    early = stamped(T0, "app-a", 5)
    tie_later_seq = stamped(T0 + MINUTE, "app-a", 7)
    tie_first = stamped(T0 + MINUTE, "app-a", 6)
    ordered = in_event_time_order([late_source, early, tie_later_seq, tie_first])
    assert ordered == [early, tie_first, tie_later_seq, late_source]
    assert [order_key(event) for event in ordered] == sorted(map(order_key, ordered))


_clock_times = st.lists(st.integers(0, 20), max_size=12)


def _merge_of_two_lanes(requests: list[Event], actions: list[Event]) -> list[Event]:
    """The merge rule a worker follows once both topics are fetched, written out: each topic
    in offset order, the front with the smaller order key first, an action on equal keys."""
    merged: list[Event] = []
    r = a = 0
    while r < len(requests) and a < len(actions):
        if order_key(actions[a]) <= order_key(requests[r]):
            merged.append(actions[a])
            a += 1
        else:
            merged.append(requests[r])
            r += 1
    return merged + requests[r:] + actions[a:]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.integers(0, 3), st.tuples(_clock_times, _clock_times), max_size=3))
def test_the_merge_order_merges_topics_in_offset_order_per_partition(
    partitions: dict[int, tuple[list[int], list[int]]],
) -> None:
    # Times in a topic's offset order need not rise: producers' clocks may disagree. The
    # sequence number is the position in its topic, so equal times can give equal keys.
    lanes: dict[int, tuple[list[Event], list[Event]]] = {}
    for partition, (request_times, action_times) in partitions.items():
        source = f"app-{partition}"
        lanes[partition] = (
            [
                replace(request(at=T0 + t), source=SourceStamp(source, 1, i))
                for i, t in enumerate(request_times)
            ],
            [
                replace(action(at=T0 + t), source=SourceStamp(source, 1, i))
                for i, t in enumerate(action_times)
            ],
        )
    merged = in_merge_order(lanes)
    for requests, actions in lanes.values():
        own = {id(e) for e in requests + actions}
        assert [e for e in merged if id(e) in own] == _merge_of_two_lanes(requests, actions)
    assert len(merged) == sum(len(r) + len(a) for r, a in lanes.values())


def test_read_event_lines_reads_what_the_generator_writes(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    generated = list(generate_events(CONFIG))[:20]
    path.write_text("\n".join(to_json_line(item) for item in generated) + "\n\n")
    read = list(read_event_lines(path))
    assert [number for number, _ in read] == list(range(1, 21))
    assert [event.event_id for _, event in read] == [item.event.event_id for item in generated]


@pytest.mark.parametrize(
    ("bad_line", "fragment"),
    [
        ("{not json", "not JSON"),
        ('{"kind": "decision"}', '"kind" must be'),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_read_event_lines_names_the_bad_line(tmp_path: Path, bad_line: str, fragment: str) -> None:
    good = to_json_line(next(iter(generate_events(CONFIG))))
    path = tmp_path / "events.jsonl"
    path.write_text(f"{good}\n\n{bad_line}\n{good}\n")
    lines = read_event_lines(path)
    assert next(lines)[0] == 1
    with pytest.raises(EventLineError) as caught:
        next(lines)
    assert str(caught.value).startswith(f"{path}:3: ")
    assert fragment in str(caught.value)
