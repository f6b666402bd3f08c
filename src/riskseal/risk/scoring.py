"""From features to scores: event risk with reasons, decaying user risk, and levels.

Two scores, as Entra ID Protection has: the *event risk* of this request or action (the
sum of the points of the rules that fire, capped at 100) and the *user risk*, which
accumulates risky events (noisy-OR, so two independent 50s make 75) and halves every
``half_life_minutes`` of the user's own event time. A successful MFA right after a step-up
lowers it. A decision's level comes from the larger of the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from riskseal.contract.events import Reason, RiskLevel
from riskseal.risk.features import Features
from riskseal.risk.rules import Levels, RuleSet, UserRiskPolicy
from riskseal.risk.state import MINUTE_MS, UserState


@dataclass(frozen=True, slots=True)
class Score:
    """The event risk and why."""

    risk: int
    reasons: tuple[Reason, ...]
    hard: tuple[str, ...]
    """Codes of the hard rules that fired (each forces a deny)."""

    @property
    def top_code(self) -> str | None:
        """The code of the reason with the most points (first in file order on ties)."""
        if not self.reasons:
            return None
        return max(self.reasons, key=lambda reason: reason.points).code


def score(rules: RuleSet, features: Features, kind: str) -> Score:
    """Apply ``rules`` to ``features`` of an event of ``kind`` (``request`` or ``action``)."""
    values = features.as_mapping()
    reasons: list[Reason] = []
    hard: list[str] = []
    for rule in rules.rules:
        if not rule.fires(values, kind):
            continue
        reasons.append(
            Reason(
                code=rule.code,
                value="; ".join(f"{c.feature}={_show(values[c.feature])}" for c in rule.conditions),
                points=rule.points,
                threshold="; ".join(f"{c.feature} {c.describe()}" for c in rule.conditions),
            )
        )
        if rule.hard:
            hard.append(rule.code)
    return Score(min(100, sum(reason.points for reason in reasons)), tuple(reasons), tuple(hard))


def level(levels: Levels, risk: int) -> RiskLevel:
    """The level of a score: allow < step_up ≤ risk < deny ≤ risk."""
    if risk >= levels.deny:
        return RiskLevel.HIGH
    if risk >= levels.step_up:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def decayed_user_risk(policy: UserRiskPolicy, state: UserState, time_ms: int) -> float:
    """The user's risk at ``time_ms``, decayed since it was last updated."""
    elapsed = max(0, time_ms - state.user_risk_time)
    return float(state.user_risk * 0.5 ** (elapsed / (policy.half_life_minutes * MINUTE_MS)))


def raise_user_risk(policy: UserRiskPolicy, state: UserState, time_ms: int, risk: int) -> float:
    """Fold an event's risk into the user risk (noisy-OR) and return the new value."""
    current = decayed_user_risk(policy, state, time_ms)
    if risk >= policy.min_event_risk:
        current = 100.0 * (1 - (1 - current / 100.0) * (1 - risk / 100.0))
    if time_ms >= state.user_risk_time:
        state.user_risk, state.user_risk_time = current, time_ms
    else:  # a late event: count it, keep the clock where it is
        state.user_risk = max(state.user_risk, current)
    return current


def relieve_after_step_up(policy: UserRiskPolicy, state: UserState, time_ms: int) -> bool:
    """Lower user risk after a successful MFA that answers a recent step-up."""
    challenge = state.last_challenge
    if (
        challenge is None
        or not 0 <= time_ms - challenge <= policy.step_up_window_minutes * MINUTE_MS
    ):
        return False
    state.user_risk = decayed_user_risk(policy, state, time_ms) * policy.step_up_relief
    state.user_risk_time = max(state.user_risk_time, time_ms)
    state.last_challenge = None
    return True


def _show(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
