"""Detection quality: recall, precision and false-positive rate as the module defines them."""

from __future__ import annotations

import pytest

from riskseal.contract.events import (
    Alert,
    Analytic,
    Evidence,
    RiskLevel,
    Severity,
    SourceStamp,
)
from riskseal.generator.model import NORMAL, AttackKind, GeneratedEvent
from riskseal.risk.evaluation import KindQuality, Quality, measure
from tests.unit.risk.builders import MINUTE, T0, event_id, login, request

STUFFING = AttackKind.CREDENTIAL_STUFFING.value
TRAVEL = AttackKind.IMPOSSIBLE_TRAVEL.value


def _event(
    user: str, truth: str = NORMAL, attack: str | None = None, at: int = T0
) -> GeneratedEvent:
    return GeneratedEvent(request(user, at=at), truth, attack)


def _alert(user: str, trigger: GeneratedEvent | None) -> Alert:
    evidences = () if trigger is None else (Evidence("rule", "x", trigger.event.event_id),)
    return Alert(
        event_id=event_id(),
        time=T0,
        source=SourceStamp("tests", 0, 0),
        user_id=user,
        title="t",
        analytic=Analytic("rule", "t", "sha256:x"),
        severity=Severity.HIGH,
        risk_score=80,
        risk_level=RiskLevel.HIGH,
        evidences=evidences,
    )


def _kind(quality: Quality, kind: str) -> KindQuality:
    return next(item for item in quality.kinds if item.kind == kind)


def test_recall_precision_and_false_positive_rate() -> None:
    # Two stuffing instances (on bob and carol), one travel instance (on dave); two normal users.
    bob_attack = _event("bob", STUFFING, "s1")
    carol_attack = _event("carol", STUFFING, "s2")
    dave_attack = _event("dave", TRAVEL, "t1")
    events = [
        _event("alice"),
        _event("erin"),
        _event("bob"),
        bob_attack,
        carol_attack,
        GeneratedEvent(login("carol", at=T0 + MINUTE, ok=False), STUFFING, "s2"),
        _event("dave"),
        dave_attack,
    ]
    bob_normal = events[2]
    alerts = [
        _alert("bob", bob_attack),  # hit s1
        _alert("bob", bob_attack),  # a second hit on the same instance
        _alert("bob", bob_normal),  # on a victim, not triggered by the attack: costs precision
        _alert("dave", None),  # no evidence: costs travel precision
        _alert("alice", events[0]),  # a normal user alerted
        _alert("mallory", None),  # a user absent from the events is not a normal user
    ]
    quality = measure(events, alerts)
    stuffing = _kind(quality, STUFFING)
    assert (stuffing.instances, stuffing.detected, stuffing.alerts, stuffing.hits) == (2, 1, 3, 2)
    assert stuffing.recall == 0.5
    assert stuffing.precision == pytest.approx(2 / 3)
    travel = _kind(quality, TRAVEL)
    assert (travel.instances, travel.detected, travel.alerts, travel.hits) == (1, 0, 1, 0)
    assert (travel.recall, travel.precision) == (0.0, 0.0)
    assert (quality.normal_users, quality.alerted_normal_users) == (2, 1)
    assert quality.false_positive_rate == 0.5
    assert quality.alerts == len(alerts)
    assert [item.kind for item in quality.kinds] == [kind.value for kind in AttackKind]


def test_an_alert_explained_by_another_attack_does_not_cost_precision() -> None:
    stuffing = _event("bob", STUFFING, "s1")
    travel = _event("bob", TRAVEL, "t1")
    quality = measure([stuffing, travel], [_alert("bob", travel)])
    assert (_kind(quality, STUFFING).alerts, _kind(quality, STUFFING).precision) == (0, 1.0)
    assert (_kind(quality, TRAVEL).alerts, _kind(quality, TRAVEL).hits) == (1, 1)
    assert _kind(quality, TRAVEL).recall == 1.0


def test_kinds_without_instances_or_alerts_score_one_and_no_users_no_false_positives() -> None:
    quality = measure([], [])
    for item in quality.kinds:
        assert (item.instances, item.recall, item.precision) == (0, 1.0, 1.0)
    assert (quality.normal_users, quality.false_positive_rate, quality.alerts) == (0, 0.0, 0)


def test_an_attack_label_without_an_attack_id_counts_as_normal() -> None:
    quality = measure([_event("bob", STUFFING, None)], [])
    assert _kind(quality, STUFFING).instances == 0
    assert quality.normal_users == 1
