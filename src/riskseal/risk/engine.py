"""The risk engine: one event and the user's state in, the new state, a decision and alerts out.

The engine is pure and deterministic: event time drives every window and decay, and
nothing reads the wall clock or does I/O, so the Faust workers and ``riskseal replay``
compute the same decisions from the same events, rules and policies. Each request gets
exactly one decision, whose id is derived from the request id; a redelivered request gets
the same decision again (the state keeps it while the request may come again) and leaves
the state as it was, and a redelivered action changes nothing, so at-least-once delivery
never double counts. A request seen before whose decision is no longer kept is decided
again, on a copy of the state: it is still counted once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from riskseal import __version__
from riskseal.contract.codec import EventCodec, typed_event
from riskseal.contract.events import (
    AccessAction,
    AccessRequest,
    Alert,
    Decision,
    Outcome,
    Reason,
    RiskLevel,
    SourceStamp,
    Verdict,
    Versions,
)
from riskseal.errors import RiskError, StateDecodeError
from riskseal.risk.addresses import canonical_ip
from riskseal.risk.alerts import (
    SPRAY_ANALYTIC,
    USER_RISK_ANALYTIC,
    build_alert,
    should_alert,
)
from riskseal.risk.features import (
    MFA,
    Event,
    Features,
    extract,
    is_failed_login,
    observe,
)
from riskseal.risk.policy import PolicyDecision, PolicyEngine, PolicyRequest
from riskseal.risk.rules import RuleSet
from riskseal.risk.scoring import (
    Score,
    decayed_user_risk,
    level,
    raise_user_risk,
    relieve_after_step_up,
    score,
)
from riskseal.risk.state import MINUTE_MS, Counter, IpState, UserState
from riskseal.settings import Settings

LOG = logging.getLogger("riskseal.risk")
DECISION_NAMESPACE = uuid.UUID("5d0c8e3a-8f7b-4a1d-b1e6-2f9a4c7d3e10")
CEDAR_LEVELS = {RiskLevel.LOW: "allow", RiskLevel.MEDIUM: "step_up", RiskLevel.HIGH: "deny"}
"""The risk level as Cedar policies see it in ``context.risk_level``."""
SPRAY_WINDOW_MINUTES = 10


def decision_id(request_id: str) -> str:
    """The event id of the decision on ``request_id`` (the same on every worker and replay)."""
    return str(uuid.uuid5(DECISION_NAMESPACE, request_id))


@dataclass(frozen=True, slots=True)
class Step:
    """What one event did: the user's new state, the request's decision, alerts to raise."""

    state: UserState
    decision: Decision | None
    alerts: tuple[Alert, ...]
    ip_failure: str | None = None
    """For a refused sign-in with a source address: the address, to count across users."""
    features: Features | None = None
    """The event's features (``None`` for a redelivered event that was skipped)."""
    encoded_decision: bytes | None = None
    """``decision`` as the engine encoded it (and keeps it in the state): publish these bytes."""


@dataclass(frozen=True, slots=True)
class Scored:
    """A request scored, its decision waiting for the policies' answer
    (:meth:`RiskEngine.begin_request`)."""

    state: UserState
    request: AccessRequest
    features: Features
    scored: Score
    before: float
    """The user's risk before this request (decayed to its time)."""
    user_risk: float
    risk_level: RiskLevel
    policy_request: PolicyRequest | None
    """What to ask the policies; None when a hard rule denies without asking."""


@dataclass(frozen=True, slots=True)
class IpStep:
    """What one refused sign-in did to its source address's state."""

    state: IpState
    alerts: tuple[Alert, ...]


@dataclass(slots=True)
class SourceStamper:
    """Stamps the engine's own events (decisions, alerts) with a gap-free sequence."""

    source_id: str
    epoch: int
    seq: int = field(default=0)

    def next(self) -> SourceStamp:
        """The stamp of the next emitted event."""
        stamp = SourceStamp(self.source_id, self.epoch, self.seq)
        self.seq += 1
        return stamp


class RiskEngine:
    """Scores events with :class:`RuleSet`, decides requests with Cedar :class:`PolicyEngine`."""

    def __init__(
        self,
        rules: RuleSet,
        policies: PolicyEngine,
        *,
        stamper: SourceStamper,
        rules_dir: Path | None = None,
    ) -> None:
        self.rules = rules
        self.policies = policies
        self.stamper = stamper
        # Alerts are not sealed, decisions are: their own sequence keeps the decisions'
        # sequence gap-free, so a sealed gap always means a decision that never reached Kafka.
        self.alert_stamper = SourceStamper(f"{stamper.source_id}/alerts", stamper.epoch)
        self._rules_dir = rules_dir
        self._codec = EventCodec()

    @classmethod
    def load(cls, settings: Settings, *, source_id: str, epoch: int = 0) -> RiskEngine:
        """Rules and policies from ``settings`` (unset directories: the shipped ones).

        ``epoch`` should change with every process start (e.g. the start time in ms) so the
        decisions' source stamps of two runs never collide.
        """
        return cls(
            RuleSet.load(settings.risk_rules_dir),
            PolicyEngine.load(settings.risk_policies_dir),
            stamper=SourceStamper(source_id, epoch),
            rules_dir=settings.risk_rules_dir,
        )

    @property
    def versions(self) -> Versions:
        """Engine, rules, policies and entities versions, recorded in every decision."""
        return Versions(
            engine=__version__,
            rules=self.rules.version,
            policies=self.policies.version,
            entities=self.policies.entities_version,
        )

    def reload(self) -> bool:
        """Re-read rules and policies; keep the last good set when a new one is invalid."""
        changed = False
        try:
            rules = RuleSet.load(self._rules_dir)
        except RiskError as exc:
            LOG.error("risk rules not reloaded, keeping %s: %s", self.rules.version, exc)
        else:
            if rules.version != self.rules.version:
                LOG.info("risk rules %s active (was %s)", rules.version, self.rules.version)
                self.rules, changed = rules, True
        try:
            changed = self.policies.reload() or changed
        except RiskError as exc:
            LOG.error("policies not reloaded, keeping %s: %s", self.policies.version, exc)
        return changed

    # --- per-user events ---------------------------------------------------------------------
    def on_request(self, state: UserState | None, request: AccessRequest) -> Step:
        """Score and decide ``request``; exactly one decision per request id."""
        begun = self.begin_request(state, request)
        if isinstance(begun, Step):
            return begun
        ask = begun.policy_request
        return self.finish_request(begun, None if ask is None else self.policies.evaluate(ask))

    def begin_request(self, state: UserState | None, request: AccessRequest) -> Step | Scored:
        """:meth:`on_request` up to the policy decision: the request scored, and what to ask
        the policies (:meth:`finish_request` takes their answer), or the whole step when the
        request needs no new decision (a redelivery).

        Requests of different users can be begun together and their policy questions asked
        in one :meth:`PolicyEngine.evaluate_batch`: Cedar's code and data then stay in the
        processor's caches, where a question asked alone between two Python steps costs two
        to three times as much (measured). A user's next event must wait for the finish.
        """
        state = state if state is not None else UserState(request.actor.uid)
        stored = state.decisions.get(request.event_id)
        if stored is not None:
            decision = typed_event(self._codec.decode(stored))
            if not isinstance(decision, Decision):
                raise StateDecodeError(f"user {state.user_id}: a stored decision is not one")
            return Step(state, decision, (), encoded_decision=stored)
        if request.event_id in state.seen:
            # Counted already, its decision no longer kept (older than the kept ones, or
            # forgotten once its offset was committed): decide it again, count it once.
            probe = UserState.from_bytes(state.to_bytes())
            del probe.seen[request.event_id]
            again = self.on_request(probe, request)
            return Step(state, again.decision, (), encoded_decision=again.encoded_decision)
        features = extract(state, request)
        scored = score(self.rules, features, "request")
        before = decayed_user_risk(self.rules.user_risk, state, request.time)
        user_risk = raise_user_risk(self.rules.user_risk, state, request.time, scored.risk)
        combined = max(scored.risk, round(user_risk))
        risk_level = level(self.rules.levels, combined)
        ask = None
        if not scored.hard:
            device = request.device_id
            ask = PolicyRequest.from_request(
                request,
                risk_score=combined,
                risk_level=CEDAR_LEVELS[risk_level],
                reasons=[reason.code for reason in scored.reasons],
                device_known=device is not None
                and any(item.device == device for item in state.sign_ins),
            )
        return Scored(state, request, features, scored, before, user_risk, risk_level, ask)

    def finish_request(self, begun: Scored, policy: PolicyDecision | None) -> Step:
        """The decision on a request :meth:`begin_request` scored, given the policies' answer
        to its ``policy_request`` (None when it has none: a hard rule decided)."""
        state, request, scored = begun.state, begun.request, begun.scored
        if policy is None:
            verdict, policy_ids = Verdict.DENY, tuple(f"rule:{code}" for code in scored.hard)
        else:
            verdict, policy_ids = policy.verdict, policy.policy_ids
        decision = Decision(
            event_id=decision_id(request.event_id),
            time=request.time,
            source=self.stamper.next(),
            request_id=request.event_id,
            user_id=request.actor.uid,
            verdict=verdict,
            request_risk=scored.risk,
            user_risk=round(begun.user_risk),
            risk_level=begun.risk_level,
            versions=self.versions,
            reasons=scored.reasons,
            policy_ids=policy_ids,
        )
        observe(state, request, begun.features)
        if verdict is not Verdict.ALLOW:
            state.minutes.add(request.time, Counter.DENIED)
        if verdict is Verdict.STEP_UP:
            state.last_challenge = request.time
        state.mark_seen(request.event_id)
        encoded = self._codec.encode_event(decision)
        state.keep_decision(request.event_id, encoded)
        alerts = self._alerts(
            state, request, scored, begun.before, begun.user_risk, (request.event_id,)
        )
        return Step(state, decision, alerts, features=begun.features, encoded_decision=encoded)

    def on_action(self, state: UserState | None, action: AccessAction) -> Step:
        """Fold ``action`` into the user's behaviour; alert when it is risky."""
        state = state if state is not None else UserState(action.actor.uid)
        if action.event_id in state.seen:
            return Step(state, None, ())
        features = extract(state, action)
        scored = score(self.rules, features, "action")
        if action.action == MFA and action.outcome is Outcome.SUCCESS:
            relieve_after_step_up(self.rules.user_risk, state, action.time)
        before = decayed_user_risk(self.rules.user_risk, state, action.time)
        user_risk = raise_user_risk(self.rules.user_risk, state, action.time, scored.risk)
        observe(state, action, features)
        state.mark_seen(action.event_id)
        request_ids = (action.request_id,) if action.request_id else ()
        alerts = self._alerts(state, action, scored, before, user_risk, request_ids)
        failed_from = canonical_ip(action.src_endpoint.ip) if is_failed_login(action) else None
        return Step(state, None, alerts, ip_failure=failed_from, features=features)

    # --- per-address events ------------------------------------------------------------------
    def on_ip_failure(self, state: IpState | None, action: AccessAction) -> IpStep:
        """Count a refused sign-in against its source address; alert on a password spray."""
        ip = canonical_ip(action.src_endpoint.ip) or ""
        state = state if state is not None else IpState(ip)
        if action.event_id in state.seen:
            return IpStep(state, ())
        state.mark_seen(action.event_id)
        state.add_failure(action.actor.uid, action.time)
        users = state.users_since(action.time - SPRAY_WINDOW_MINUTES * MINUTE_MS)
        policy = self.rules.alerts
        if users < policy.spray_users_10m:
            return IpStep(state, ())
        alerted = {SPRAY_ANALYTIC: state.alerted}
        if not should_alert(alerted, SPRAY_ANALYTIC, action.time, policy.dedup_minutes):
            return IpStep(state, ())
        state.alerted = alerted[SPRAY_ANALYTIC]
        risk = min(100, 50 + 2 * users)
        alert = build_alert(
            subject=f"ip:{ip}",
            analytic=SPRAY_ANALYTIC,
            title=f"Password spray: {users} users refused from {ip} within "
            f"{SPRAY_WINDOW_MINUTES} minutes",
            rules_version=self.rules.version,
            trigger_event_id=action.event_id,
            time_ms=action.time,
            source=self.alert_stamper.next(),
            risk=risk,
            risk_level=level(self.rules.levels, risk),
            reasons=(
                Reason(
                    code=SPRAY_ANALYTIC,
                    value=f"users_10m={users}",
                    points=risk,
                    threshold=f"users_10m >= {policy.spray_users_10m}",
                ),
            ),
        )
        return IpStep(state, (alert,))

    # --- internals ---------------------------------------------------------------------------
    def _alerts(
        self,
        state: UserState,
        event: Event,
        scored: Score,
        user_risk_before: float,
        user_risk: float,
        request_ids: tuple[str, ...],
    ) -> tuple[Alert, ...]:
        threshold = self.rules.levels.alert
        if scored.hard:
            analytic = scored.hard[0]
        elif scored.risk >= threshold:
            analytic = scored.top_code or USER_RISK_ANALYTIC
        elif user_risk_before < threshold <= user_risk:
            analytic = USER_RISK_ANALYTIC
        else:
            return ()
        if not should_alert(state.alerted, analytic, event.time, self.rules.alerts.dedup_minutes):
            return ()
        risk = max(scored.risk, round(user_risk))
        rule = next((r for r in self.rules.rules if r.code == analytic), None)
        title = rule.description if rule is not None else "User risk crossed the alert level"
        return (
            build_alert(
                subject=event.actor.uid,
                analytic=analytic,
                title=title,
                rules_version=self.rules.version,
                trigger_event_id=event.event_id,
                time_ms=event.time,
                source=self.alert_stamper.next(),
                risk=risk,
                risk_level=level(self.rules.levels, risk),
                reasons=scored.reasons,
                request_ids=request_ids,
            ),
        )
