"""Scores: event risk from rules, levels, decaying noisy-OR user risk, relief after step-up."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskseal.contract.events import Reason, RiskLevel
from riskseal.risk.features import Features
from riskseal.risk.rules import (
    AlertPolicy,
    Condition,
    Levels,
    Rule,
    RuleSet,
    UserRiskPolicy,
)
from riskseal.risk.scoring import (
    decayed_user_risk,
    level,
    raise_user_risk,
    relieve_after_step_up,
    score,
)
from riskseal.risk.state import UserState
from tests.unit.risk.builders import HOUR, MINUTE, T0

QUIET = Features(**{item.name: 0 for item in fields(Features)})
POLICY = UserRiskPolicy()  # half-life 240 min, min event risk 30, relief 0.5 within 15 min


def _rule(code: str, points: int, feature: str = "new_ip", *, hard: bool = False) -> Rule:
    return Rule(code, points, (Condition(feature, ">=", 1.0),), hard=hard)


def _rules(*rules: Rule) -> RuleSet:
    return RuleSet(rules, Levels(), UserRiskPolicy(), AlertPolicy(), "sha256:test")


def test_the_score_is_the_sum_of_the_rules_that_fire() -> None:
    rules = _rules(_rule("a", 20), _rule("b", 15, "new_device"), _rule("c", 40, "new_country"))
    scored = score(rules, replace(QUIET, new_ip=1, new_device=1), "request")
    assert scored.risk == 35
    assert [reason.code for reason in scored.reasons] == ["a", "b"]
    assert scored.hard == ()
    assert score(rules, QUIET, "request").risk == 0
    assert score(rules, QUIET, "request").top_code is None


def test_the_score_is_capped_at_100() -> None:
    rules = _rules(_rule("a", 80), _rule("b", 80, "new_device"))
    assert score(rules, replace(QUIET, new_ip=1, new_device=1), "action").risk == 100


def test_reasons_carry_values_thresholds_and_points() -> None:
    rule = Rule(
        "travel",
        80,
        (Condition("travel_speed_kmh", ">", 1000.0), Condition("travel_distance_km", ">", 500.5)),
    )
    scored = score(
        _rules(rule), replace(QUIET, travel_speed_kmh=35_023.4, travel_distance_km=5_837), "request"
    )
    assert scored.reasons == (
        Reason(
            code="travel",
            value="travel_speed_kmh=35023.4; travel_distance_km=5837",
            points=80,
            threshold="travel_speed_kmh > 1000; travel_distance_km > 500.5",
        ),
    )


def test_hard_rules_are_reported_and_the_top_code_is_the_biggest() -> None:
    rules = _rules(
        _rule("small", 10),
        _rule("grant", 50, "self_grant", hard=True),
        _rule("tie", 50, "new_device"),
    )
    scored = score(rules, replace(QUIET, new_ip=1, self_grant=1, new_device=1), "request")
    assert scored.hard == ("grant",)
    assert scored.top_code == "grant"  # first in file order among equals


def test_a_rule_fires_only_on_its_event_kinds() -> None:
    rule = Rule("r", 10, (Condition("new_ip", "==", 1.0),), on=frozenset({"request"}))
    features = replace(QUIET, new_ip=1)
    assert score(_rules(rule), features, "request").risk == 10
    assert score(_rules(rule), features, "action").risk == 0


@pytest.mark.parametrize(
    ("risk", "expected"),
    [
        (0, RiskLevel.LOW),
        (29, RiskLevel.LOW),
        (30, RiskLevel.MEDIUM),
        (69, RiskLevel.MEDIUM),
        (70, RiskLevel.HIGH),
        (100, RiskLevel.HIGH),
    ],
)
def test_level_boundaries(risk: int, expected: RiskLevel) -> None:
    assert level(Levels(), risk) is expected


def test_levels_are_configurable() -> None:
    levels = Levels(step_up=50, deny=50)
    assert level(levels, 49) is RiskLevel.LOW
    assert level(levels, 50) is RiskLevel.HIGH


def _user(risk: float, at: int = T0) -> UserState:
    return UserState("alice", user_risk=risk, user_risk_time=at)


def test_user_risk_halves_every_half_life_of_event_time() -> None:
    state = _user(80.0)
    half_life = int(POLICY.half_life_minutes * MINUTE)
    assert decayed_user_risk(POLICY, state, T0) == 80.0
    assert decayed_user_risk(POLICY, state, T0 + half_life) == pytest.approx(40.0)
    assert decayed_user_risk(POLICY, state, T0 + 2 * half_life) == pytest.approx(20.0)
    assert decayed_user_risk(POLICY, state, T0 - HOUR) == 80.0  # a late event: no growth
    assert state.user_risk == 80.0  # reading it does not change it


def test_noisy_or_combines_risky_events() -> None:
    state = _user(0.0)
    assert raise_user_risk(POLICY, state, T0, 50) == pytest.approx(50.0)
    assert raise_user_risk(POLICY, state, T0, 50) == pytest.approx(75.0)
    assert raise_user_risk(POLICY, state, T0, 100) == pytest.approx(100.0)
    assert state.user_risk == pytest.approx(100.0)
    assert state.user_risk_time == T0


def test_events_below_min_event_risk_only_decay_it() -> None:
    state = _user(60.0)
    half_life = int(POLICY.half_life_minutes * MINUTE)
    assert raise_user_risk(POLICY, state, T0, POLICY.min_event_risk - 1) == 60.0
    assert raise_user_risk(POLICY, state, T0 + half_life, 29) == pytest.approx(30.0)
    assert state.user_risk_time == T0 + half_life
    assert raise_user_risk(POLICY, _user(0.0), T0, 30) == pytest.approx(30.0)


def test_a_late_event_counts_but_keeps_the_clock() -> None:
    state = _user(40.0, at=T0)
    raised = raise_user_risk(POLICY, state, T0 - HOUR, 50)
    assert raised == pytest.approx(70.0)
    assert state.user_risk == pytest.approx(70.0)
    assert state.user_risk_time == T0


@given(
    start=st.floats(min_value=0, max_value=100),
    events=st.lists(
        st.tuples(st.integers(min_value=-HOUR, max_value=48 * HOUR), st.integers(0, 100)),
        max_size=30,
    ),
)
def test_user_risk_stays_between_0_and_100(start: float, events: list[tuple[int, int]]) -> None:
    state = _user(start)
    for offset, risk in events:
        before = decayed_user_risk(POLICY, state, T0 + offset)
        after = raise_user_risk(POLICY, state, T0 + offset, risk)
        assert before - 1e-9 <= after <= 100.0 + 1e-9
        assert 0.0 <= state.user_risk <= 100.0 + 1e-9


@given(risk=st.floats(min_value=0, max_value=100), a=st.integers(0, 10**9), b=st.integers(0, 10**9))
def test_decay_never_increases_with_time(risk: float, a: int, b: int) -> None:
    state = _user(risk)
    early, late = sorted((a, b))
    assert decayed_user_risk(POLICY, state, T0 + late) <= decayed_user_risk(
        POLICY, state, T0 + early
    )


def test_a_successful_mfa_soon_after_a_step_up_relieves_user_risk() -> None:
    state = _user(80.0)
    state.last_challenge = T0
    at = T0 + 10 * MINUTE
    expected = decayed_user_risk(POLICY, state, at) * POLICY.step_up_relief
    assert relieve_after_step_up(POLICY, state, at)
    assert state.user_risk == pytest.approx(expected)
    assert state.user_risk_time == at
    assert state.last_challenge is None
    assert not relieve_after_step_up(POLICY, state, at + MINUTE)  # one relief per challenge


@pytest.mark.parametrize(
    ("challenge", "mfa_at"),
    [
        (None, T0),
        (T0, T0 + 15 * MINUTE + 1),
        (T0, T0 - 1),
    ],
    ids=["no-challenge", "after-the-window", "before-the-challenge"],
)
def test_no_relief_outside_the_window(challenge: int | None, mfa_at: int) -> None:
    state = _user(80.0)
    state.last_challenge = challenge
    assert not relieve_after_step_up(POLICY, state, mfa_at)
    assert (state.user_risk, state.user_risk_time, state.last_challenge) == (80.0, T0, challenge)


def test_relief_at_the_window_edge() -> None:
    state = _user(80.0)
    state.last_challenge = T0
    assert relieve_after_step_up(POLICY, state, T0 + 15 * MINUTE)
