"""The risk engine: one decision per request, idempotent redelivery, alerts, determinism."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import replace

import pytest

from riskseal import __version__
from riskseal.contract.events import (
    AccessAction,
    AccessRequest,
    Alert,
    AuthContext,
    Decision,
    Resource,
    RiskLevel,
    Sensitivity,
    Verdict,
    Versions,
)
from riskseal.generator import GeneratorConfig, generate_events
from riskseal.generator.model import AttackKind
from riskseal.risk.alerts import SPRAY_ANALYTIC, USER_RISK_ANALYTIC
from riskseal.risk.engine import DECISION_NAMESPACE, RiskEngine, SourceStamper, Step, decision_id
from riskseal.risk.policy import PolicyEngine
from riskseal.risk.rules import RuleSet
from riskseal.risk.state import Counter, IpState, UserState
from tests.unit.risk.builders import (
    BERLIN,
    DAY,
    HOUR,
    MINUTE,
    SECRET,
    T0,
    action,
    login,
    request,
)

RULES = RuleSet.load(None)
ROLE_ADMIN = Resource("role", "admin", "it", Sensitivity.RESTRICTED)


@pytest.fixture(scope="module")
def policies() -> PolicyEngine:
    return PolicyEngine.load(None)


def _engine(policies: PolicyEngine, source: str = "tests", epoch: int = 1) -> RiskEngine:
    return RiskEngine(RULES, policies, stamper=SourceStamper(source, epoch))


def _established(engine: RiskEngine, user: str = "alice") -> UserState:
    state = engine.on_action(None, login(user, at=T0 - DAY)).state
    return engine.on_request(state, request(user, at=T0 - DAY + MINUTE)).state


def _self_grant(at: int = T0) -> AccessRequest:
    return request(
        at=at,
        action="role.grant",
        resource=ROLE_ADMIN,
        roles=("admin",),
        attributes={"grantee": "alice", "role": "admin"},
    )


def _decision(engine: RiskEngine, state: UserState | None, event: AccessRequest) -> Decision:
    decision = engine.on_request(state, event).decision
    assert decision is not None
    return decision


# --- one decision per request ------------------------------------------------------------------


def test_a_request_gets_exactly_one_decision_with_a_derived_id(policies: PolicyEngine) -> None:
    engine = _engine(policies)
    sent = request(at=T0)
    step = engine.on_request(None, sent)
    assert step.decision is not None
    assert step.decision.request_id == sent.event_id
    assert step.decision.event_id == decision_id(sent.event_id)
    assert step.decision.event_id == str(uuid.uuid5(DECISION_NAMESPACE, sent.event_id))
    assert step.decision.user_id == "alice"
    assert step.decision.time == sent.time
    assert step.features is not None and step.features.cold_start == 1
    assert step.state.user_id == "alice"
    assert sent.event_id in step.state.decisions
    # Actions never get a decision.
    assert engine.on_action(step.state, login(at=T0 + MINUTE)).decision is None


def test_decision_ids_differ_per_request_and_not_per_engine(policies: PolicyEngine) -> None:
    sent = request(at=T0)
    first = _decision(_engine(policies, "a"), None, sent)
    second = _decision(_engine(policies, "b", 7), None, sent)
    assert first.event_id == second.event_id
    assert first.source != second.source
    assert decision_id(sent.event_id) != decision_id(request(at=T0).event_id)


def _decided_secret_request(policies: PolicyEngine) -> tuple[RiskEngine, AccessRequest, Step]:
    """An engine, and an established user's request for a secret resource, decided."""
    engine = _engine(policies)
    sent = request(at=T0, resource=SECRET, groups=("engineering",))
    return engine, sent, engine.on_request(_established(engine), sent)


def test_a_redelivered_request_gets_the_identical_decision_and_state(
    policies: PolicyEngine,
) -> None:
    engine, sent, first = _decided_secret_request(policies)
    encoded = first.state.to_bytes()
    again = engine.on_request(first.state, sent)
    assert again.decision == first.decision  # source stamp included: the stored one
    assert again.alerts == ()
    assert again.features is None
    assert again.state.to_bytes() == encoded
    # Also after a restart, from the encoded state.
    restored = engine.on_request(UserState.from_bytes(encoded), sent)
    assert restored.decision == first.decision
    assert restored.state.to_bytes() == encoded


def test_a_seen_request_whose_decision_was_forgotten_is_decided_again_and_counted_once(
    policies: PolicyEngine,
) -> None:
    engine, sent, first = _decided_secret_request(policies)
    assert first.state.forget_decisions([sent.event_id])
    encoded = first.state.to_bytes()
    again = engine.on_request(first.state, sent)
    assert again.decision is not None and first.decision is not None
    # Decided on the state that already counts it: the same decision id, maybe other scores.
    assert again.decision.event_id == first.decision.event_id
    assert again.decision.request_id == sent.event_id
    assert again.decision.source.seq == first.decision.source.seq + 1  # a new emission
    assert again.alerts == ()
    assert again.state.to_bytes() == encoded  # not counted again, decision not kept again
    assert again.encoded_decision is not None
    assert again.encoded_decision not in again.state.decisions.values()


def test_a_redelivered_action_changes_nothing_and_raises_no_alert(policies: PolicyEngine) -> None:
    engine = _engine(policies)
    state = _established(engine)
    grant = action(at=T0, action="role.grant", resource=ROLE_ADMIN, attributes={"grantee": "alice"})
    first = engine.on_action(state, grant)
    assert [alert.analytic.uid for alert in first.alerts] == ["self_grant"]
    encoded = first.state.to_bytes()
    again = engine.on_action(first.state, grant)
    assert (again.alerts, again.decision, again.features) == ((), None, None)
    assert again.state.to_bytes() == encoded


# --- decisions -----------------------------------------------------------------------------------


def test_a_hard_rule_denies_without_asking_cedar(policies: PolicyEngine) -> None:
    engine = _engine(policies)
    state = _established(engine)
    decision = _decision(engine, state, _self_grant())
    assert decision.verdict is Verdict.DENY
    assert decision.policy_ids == ("rule:self_grant",)
    assert decision.request_risk == 100
    assert decision.risk_level is RiskLevel.HIGH
    assert "self_grant" in {reason.code for reason in decision.reasons}


def test_a_quiet_request_is_allowed_by_a_permit(policies: PolicyEngine) -> None:
    engine = _engine(policies)
    decision = _decision(engine, _established(engine), request(at=T0))
    assert decision.verdict is Verdict.ALLOW
    assert decision.request_risk == 0
    assert decision.reasons == ()
    assert decision.policy_ids == ("internal-collaboration",)


def test_decisions_carry_the_versions_they_used(policies: PolicyEngine) -> None:
    engine = _engine(policies)
    decision = _decision(engine, None, request(at=T0))
    assert decision.versions == Versions(
        engine=__version__,
        rules=RULES.version,
        policies=policies.version,
        entities=policies.entities_version,
    )
    assert engine.versions == decision.versions
    for version in (decision.versions.rules, decision.versions.policies):
        assert version.startswith("sha256:")


def test_a_step_up_then_mfa_halves_user_risk_and_counts_as_refused(
    policies: PolicyEngine,
) -> None:
    engine = _engine(policies)
    state = _established(engine)
    # New role (15) + first access to a restricted resource (20): the step-up band.
    risky = request(at=T0, resource=SECRET, roles=("manager",), groups=("engineering",))
    step = engine.on_request(state, risky)
    assert step.decision is not None
    assert step.decision.request_risk == 35
    assert step.decision.verdict is Verdict.STEP_UP
    assert step.decision.policy_ids == ("step_up:risk-mfa",)
    assert step.state.last_challenge == T0
    assert step.state.minutes.total(Counter.DENIED, T0, 5) == 1
    before = step.state.user_risk
    mfa = action(at=T0 + 2 * MINUTE, action="auth.mfa", resource=SECRET, roles=("manager",))
    after = engine.on_action(step.state, mfa).state
    assert after.user_risk == pytest.approx(before * 0.5, rel=0.01)
    assert after.last_challenge is None
    # With a fresh MFA the same request now goes through.
    fresh = replace(
        risky,
        event_id=str(uuid.uuid4()),
        time=T0 + 3 * MINUTE,
        auth=AuthContext(is_mfa=True, mfa_time=T0 + 2 * MINUTE),
    )
    assert _decision(engine, after, fresh).verdict is Verdict.ALLOW


# --- alerts --------------------------------------------------------------------------------------


def _alerts(engine: RiskEngine, state: UserState, events: Iterable[AccessRequest]) -> list[Alert]:
    raised: list[Alert] = []
    for event in events:
        step = engine.on_request(state, event)
        state = step.state
        raised.extend(step.alerts)
    return raised


def test_alerts_are_deduplicated_within_the_window_in_event_time(policies: PolicyEngine) -> None:
    engine = _engine(policies)
    state = _established(engine)
    grants = [_self_grant(T0), _self_grant(T0 + 30 * MINUTE), _self_grant(T0 + 59 * MINUTE)]
    grants.append(_self_grant(T0 + 60 * MINUTE))
    raised = _alerts(engine, state, grants)
    assert [alert.time for alert in raised] == [T0, T0 + 60 * MINUTE]
    first = raised[0]
    assert first.analytic.uid == "self_grant"
    assert first.user_id == "alice"
    assert first.request_ids == (grants[0].event_id,)
    assert first.analytic.version == RULES.version
    assert {evidence.kind for evidence in first.evidences} >= {"self_grant"}
    assert all(evidence.event_id == grants[0].event_id for evidence in first.evidences)


def test_a_different_analytic_alerts_inside_the_window(policies: PolicyEngine) -> None:
    engine = _engine(policies)
    state = engine.on_request(_established(engine), _self_grant(T0)).state
    # 10 refused sign-ins: failed_auth_burst + brute_force = 75, its own analytic.
    raised: list[Alert] = []
    for n in range(10):
        step = engine.on_action(state, login(at=T0 + MINUTE + n * 1_000, ok=False))
        state = step.state
        raised.extend(step.alerts)
    assert [alert.analytic.uid for alert in raised] == ["failed_auth_burst"]


def test_user_risk_crossing_the_alert_level_alerts(policies: PolicyEngine) -> None:
    engine = _engine(policies)
    state = _established(engine)
    raised: list[Alert] = []
    risks: list[float] = []
    for n in range(6):  # each from the 5th on is 40 points: under the alert level alone
        step = engine.on_action(state, login(at=T0 + n * 1_000, ok=False))
        state = step.state
        raised.extend(step.alerts)
        risks.append(state.user_risk)
    assert risks[4] == pytest.approx(40.0, abs=0.01)
    assert risks[5] == pytest.approx(64.0, abs=0.01)
    assert [alert.analytic.uid for alert in raised] == [USER_RISK_ANALYTIC]
    assert raised[0].risk_score == 64
    assert raised[0].title == "User risk crossed the alert level"


def test_a_late_alert_does_not_reopen_the_window_for_the_events_after_it(
    policies: PolicyEngine,
) -> None:
    engine = _engine(policies)
    state = _established(engine)
    # On time at 120 min, late at 0 min (outside the window: it alerts), on time at 121 min.
    grants = [_self_grant(T0 + 120 * MINUTE), _self_grant(T0), _self_grant(T0 + 121 * MINUTE)]
    grants.append(_self_grant(T0 + MINUTE))  # late again, inside the late alert's window
    raised = _alerts(engine, state, grants)
    assert [alert.time for alert in raised] == [T0 + 120 * MINUTE, T0]


def test_many_late_alerts_do_not_push_out_the_newest_on_time_one(policies: PolicyEngine) -> None:
    engine = _engine(policies)
    state = _established(engine)
    late = [_self_grant(T0 + 120 * MINUTE - hours * HOUR) for hours in (5, 4, 3, 2)]
    grants = [_self_grant(T0 + 120 * MINUTE), *late, _self_grant(T0 + 121 * MINUTE)]
    raised = _alerts(engine, state, grants)
    assert [alert.time for alert in raised] == [grant.time for grant in grants[:5]]


def test_user_risk_crossing_the_alert_level_after_decaying_alerts_again(
    policies: PolicyEngine,
) -> None:
    engine = _engine(policies)
    state = _established(engine)
    for n in range(6):  # user risk 64: one crossing, alerted
        state = engine.on_action(state, login(at=T0 + n * 1_000, ok=False)).state
    assert state.user_risk == pytest.approx(64.0, abs=0.01)
    # Three hours (three half-lives) later the risk has decayed to ~38, under the level;
    # a sign-in from a new country and address (40 points) takes it back across.
    step = engine.on_action(state, login(at=T0 + 3 * HOUR, ip="192.0.2.77", location=BERLIN))
    assert step.state.user_risk > RULES.levels.alert
    assert [alert.analytic.uid for alert in step.alerts] == [USER_RISK_ANALYTIC]


def _spray(
    engine: RiskEngine, users: Iterable[str], start: int, state: IpState | None = None
) -> tuple[IpState | None, list[Alert]]:
    raised: list[Alert] = []
    for n, user in enumerate(users):
        step = engine.on_ip_failure(
            state, login(user, at=start + n * 30_000, ok=False, ip="203.0.113.9")
        )
        state = step.state
        raised.extend(step.alerts)
    return state, raised


def test_a_password_spray_alerts_once_per_window(policies: PolicyEngine) -> None:
    engine = _engine(policies)
    state, raised = _spray(engine, [f"user{n}" for n in range(15)], T0)
    assert len(raised) == 1
    alert = raised[0]
    assert alert.analytic.uid == SPRAY_ANALYTIC
    assert alert.user_id == "ip:203.0.113.9"
    assert alert.time == T0 + 9 * 30_000  # the tenth distinct user
    assert alert.risk_score == 70
    # An hour later, a new spray from the same address alerts again.
    state, again = _spray(engine, [f"other{n}" for n in range(10)], T0 + 61 * MINUTE, state)
    assert len(again) == 1


def test_a_late_spray_alert_does_not_reopen_the_window(policies: PolicyEngine) -> None:
    engine = _engine(policies)
    state, on_time = _spray(engine, [f"user{n}" for n in range(10)], T0 + 120 * MINUTE)
    state, late = _spray(engine, [f"late{n}" for n in range(10)], T0, state)
    state, after = _spray(engine, ["one_more"], T0 + 121 * MINUTE, state)
    assert (len(on_time), len(late), after) == (1, 1, [])


def test_no_spray_below_the_threshold_or_spread_over_more_than_ten_minutes(
    policies: PolicyEngine,
) -> None:
    engine = _engine(policies)
    _, nine = _spray(engine, [f"user{n}" for n in range(9)], T0)
    assert nine == []
    _, same_user = _spray(engine, ["alice"] * 20, T0)
    assert same_user == []
    state: IpState | None = None
    for n in range(12):  # one user every 2 minutes: never 10 within 10 minutes
        state, raised = _spray(engine, [f"slow{n}"], T0 + n * 2 * MINUTE, state)
        assert raised == []


def test_a_redelivered_ip_failure_is_not_counted_twice(policies: PolicyEngine) -> None:
    engine = _engine(policies)
    failure = login("bob", at=T0, ok=False, ip="203.0.113.9")
    state = engine.on_ip_failure(None, failure).state
    encoded = state.to_bytes()
    assert engine.on_ip_failure(state, failure).state.to_bytes() == encoded


def test_a_refused_sign_in_reports_its_address(policies: PolicyEngine) -> None:
    engine = _engine(policies)
    assert engine.on_action(None, login(ok=False, ip="203.0.113.9")).ip_failure == "203.0.113.9"
    assert engine.on_action(None, login(ok=True, ip="203.0.113.9")).ip_failure is None


# --- determinism ---------------------------------------------------------------------------------


def _stream() -> list[AccessRequest | AccessAction]:
    config = GeneratorConfig(
        seed=11, users=10, sim_days=1.0, attacks=frozenset(AttackKind), attack_fraction=0.2
    )
    return [generated.event for generated in generate_events(config)]


def _run(
    engine: RiskEngine, events: Iterable[AccessRequest | AccessAction]
) -> tuple[list[Decision], list[Alert]]:
    users: dict[str, UserState] = {}
    ips: dict[str, IpState] = {}
    decisions: list[Decision] = []
    alerts: list[Alert] = []
    for event in events:
        if isinstance(event, AccessRequest):
            step = engine.on_request(users.get(event.actor.uid), event)
        else:
            step = engine.on_action(users.get(event.actor.uid), event)
        users[event.actor.uid] = step.state
        alerts.extend(step.alerts)
        if step.decision is not None:
            decisions.append(step.decision)
        if step.ip_failure is not None and isinstance(event, AccessAction):
            ip_step = engine.on_ip_failure(ips.get(step.ip_failure), event)
            ips[step.ip_failure] = ip_step.state
            alerts.extend(ip_step.alerts)
    return decisions, alerts


def test_two_engines_decide_the_same_stream_identically(policies: PolicyEngine) -> None:
    events = _stream()
    first_decisions, first_alerts = _run(_engine(policies, "one", 1), events)
    second_decisions, second_alerts = _run(_engine(policies, "two", 2), events)
    assert len(first_decisions) == sum(isinstance(e, AccessRequest) for e in events)
    assert first_alerts, "the attacks in the stream should raise some alert"
    assert {d.verdict for d in first_decisions} >= {Verdict.ALLOW}
    unstamped = [replace(d, source=second_decisions[0].source) for d in first_decisions]
    assert unstamped == [replace(d, source=second_decisions[0].source) for d in second_decisions]
    assert [replace(a, source=second_alerts[0].source) for a in first_alerts] == [
        replace(a, source=second_alerts[0].source) for a in second_alerts
    ]


def test_decisions_and_alerts_each_have_a_gap_free_sequence(policies: PolicyEngine) -> None:
    engine = _engine(policies, "gapless", 5)
    decisions, alerts = _run(engine, _stream())
    assert alerts, "the stream must raise alerts for this test to mean anything"
    # Decisions are sealed, alerts are not: an alert must never leave a gap in the decisions.
    assert [d.source.seq for d in decisions] == list(range(len(decisions)))
    assert {d.source.source_id for d in decisions} == {"gapless"}
    assert sorted(a.source.seq for a in alerts) == list(range(len(alerts)))
    assert {a.source.source_id for a in alerts} == {"gapless/alerts"}
    emitted: list[Decision | Alert] = [*decisions, *alerts]
    assert {item.source.epoch for item in emitted} == {5}


def test_the_engine_never_reads_the_wall_clock(
    policies: PolicyEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _stream()
    expected = _run(_engine(policies), events)

    def no_clock(*_: object) -> float:
        raise AssertionError("the engine read the wall clock")

    for name in ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "localtime"):
        monkeypatch.setattr(time, name, no_clock)
    monkeypatch.setattr("riskseal.contract.events.now_ms", no_clock)
    assert _run(_engine(policies), events) == expected
