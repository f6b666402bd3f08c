"""SOC alerts: OCSF Detection Finding-shaped, deduplicated per subject and analytic.

An event raises an alert when it is risky enough on its own (its risk reaches the alert
level, or a hard rule fired) or when it pushes the user's risk across the alert level. One
subject (user, or source address for password spray) gets at most one alert per analytic
within the deduplication window, measured in event time, so a burst of bad events is one
alert, not a storm.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, MutableMapping

from riskseal.contract.events import (
    Alert,
    Analytic,
    Evidence,
    Reason,
    RiskLevel,
    Severity,
    SourceStamp,
)
from riskseal.risk.state import MINUTE_MS

ALERT_NAMESPACE = uuid.UUID("0b1f4a52-3c1e-4f0e-9a57-7d1c2f0e4b61")
USER_RISK_ANALYTIC = "user_risk"
SPRAY_ANALYTIC = "password_spray"


ALERTS_KEPT_PER_ANALYTIC = 4
"""Alert times kept per analytic: the newest in event time, and the last ones raised."""


def should_alert(
    alerted: MutableMapping[str, list[int]], analytic: str, time_ms: int, dedup_minutes: float
) -> bool:
    """Whether ``analytic`` may alert at ``time_ms``; records the alert when it may.

    An alert is suppressed when one of the analytic's kept alerts lies within the window of
    ``time_ms``, on either side. The newest alert in event time is always kept, so late
    alerts about the past never reopen the window of on-time events; so are the last ones
    raised, so a late backlog alerts once per window, not for every late event.
    """
    times = alerted.get(analytic, [])
    window = dedup_minutes * MINUTE_MS
    if any(abs(time_ms - last) < window for last in times):
        return False
    raised = [*times, time_ms]
    kept = raised[-(ALERTS_KEPT_PER_ANALYTIC - 1) :]
    newest = max(raised)
    alerted[analytic] = kept if newest in kept else [newest, *kept]
    return True


def severity(risk: int) -> Severity:
    """Severity of a finding with risk ``risk``."""
    if risk >= 90:
        return Severity.CRITICAL
    if risk >= 70:
        return Severity.HIGH
    if risk >= 40:
        return Severity.MEDIUM
    return Severity.LOW


def build_alert(
    *,
    subject: str,
    analytic: str,
    title: str,
    rules_version: str,
    trigger_event_id: str,
    time_ms: int,
    source: SourceStamp,
    risk: int,
    risk_level: RiskLevel,
    reasons: Iterable[Reason],
    request_ids: Iterable[str] = (),
) -> Alert:
    """The alert raised by ``trigger_event_id``; its id is derived, so a redelivery matches."""
    return Alert(
        event_id=str(uuid.uuid5(ALERT_NAMESPACE, f"{subject}\0{analytic}\0{trigger_event_id}")),
        time=time_ms,
        source=source,
        user_id=subject,
        title=title,
        analytic=Analytic(uid=analytic, name=title, version=rules_version),
        severity=severity(risk),
        risk_score=risk,
        risk_level=risk_level,
        evidences=tuple(
            Evidence(kind=reason.code, value=reason.value, event_id=trigger_event_id)
            for reason in reasons
        ),
        request_ids=tuple(request_ids),
    )
