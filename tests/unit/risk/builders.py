"""Hand-built contract events at fixed event times, for the risk engine's unit tests.

Every builder takes the event time explicitly (default :data:`T0`, a Monday 09:00 UTC) and
derives the event id from a counter, so a test's events are the same on every run.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping

from riskseal.contract.events import (
    NO_AUTH,
    AccessAction,
    AccessRequest,
    Actor,
    AuthContext,
    Endpoint,
    Location,
    Outcome,
    Resource,
    Sensitivity,
    SourceStamp,
)
from riskseal.risk.features import Event, Features, extract, observe
from riskseal.risk.state import UserState

MONDAY = 1_736_121_600_000
"""2025-01-06 00:00 UTC, a Monday (hour of week 0)."""
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
T0 = MONDAY + 9 * HOUR
"""Monday 09:00 UTC."""
SOURCE = SourceStamp("tests", 1, 0)

PARIS = Location("FR", "Paris", 48.8566, 2.3522)
PARIS_EAST = Location("FR", "Paris", 48.8530, 2.3499)
NEW_YORK = Location("US", "New York", 40.7128, -74.0060)
BERLIN = Location("DE", "Berlin", 52.5200, 13.4050)
LYON = Location("FR", "Lyon", 45.7640, 4.8357)

DOC = Resource("document", "handbook", "all-staff", Sensitivity.INTERNAL)
SECRET = Resource("secret", "prod-db-credentials", "engineering", Sensitivity.RESTRICTED)
REPORT = Resource("report", "q3-forecast", "alice", Sensitivity.CONFIDENTIAL)
PORTAL = Resource("app", "portal")

_NAMESPACE = uuid.UUID("9a3c1a8e-52f4-4b0e-8f5e-0c6a7d1f2b34")
_counter = itertools.count()


def event_id() -> str:
    """A fresh event id (a UUID derived from a process-wide counter)."""
    return str(uuid.uuid5(_NAMESPACE, str(next(_counter))))


def request(
    user: str = "alice",
    *,
    at: int = T0,
    action: str = "data.read",
    resource: Resource = DOC,
    ip: str | None = "10.0.0.1",
    location: Location | None = PARIS,
    device: str | None = "laptop-1",
    roles: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
    auth: AuthContext = NO_AUTH,
    attributes: Mapping[str, str] | None = None,
    eid: str | None = None,
) -> AccessRequest:
    """An access request of ``user`` at ``at``."""
    return AccessRequest(
        event_id=eid or event_id(),
        time=at,
        source=SOURCE,
        actor=Actor(user, roles=roles, groups=groups),
        action=action,
        resource=resource,
        src_endpoint=Endpoint(ip, location),
        auth=auth,
        device_id=device,
        attributes=dict(attributes or {}),
    )


def action(
    user: str = "alice",
    *,
    at: int = T0,
    action: str = "data.read",
    resource: Resource = DOC,
    outcome: Outcome = Outcome.SUCCESS,
    ip: str | None = "10.0.0.1",
    location: Location | None = PARIS,
    device: str | None = "laptop-1",
    roles: tuple[str, ...] = (),
    auth: AuthContext = NO_AUTH,
    attributes: Mapping[str, str] | None = None,
    request_id: str | None = None,
    eid: str | None = None,
) -> AccessAction:
    """An action of ``user`` at ``at`` with ``outcome``."""
    return AccessAction(
        event_id=eid or event_id(),
        time=at,
        source=SOURCE,
        actor=Actor(user, roles=roles),
        action=action,
        resource=resource,
        outcome=outcome,
        src_endpoint=Endpoint(ip, location),
        auth=auth,
        device_id=device,
        attributes=dict(attributes or {}),
        request_id=request_id,
    )


def login(
    user: str = "alice",
    *,
    at: int = T0,
    ok: bool = True,
    ip: str | None = "10.0.0.1",
    location: Location | None = PARIS,
    device: str | None = "laptop-1",
    roles: tuple[str, ...] = (),
) -> AccessAction:
    """A sign-in of ``user``: successful when ``ok``, refused otherwise."""
    return action(
        user,
        at=at,
        action="auth.login",
        resource=PORTAL,
        outcome=Outcome.SUCCESS if ok else Outcome.FAILURE,
        ip=ip,
        location=location,
        device=device,
        roles=roles,
    )


def fold(events: Iterable[Event], state: UserState | None = None) -> UserState:
    """``state`` (default: a fresh one for the first event's user) after ``events``."""
    for event in events:
        if state is None:
            state = UserState(event.actor.uid)
        observe(state, event, extract(state, event))
    assert state is not None, "fold needs at least one event or a state"
    return state


def features_after(history: Iterable[Event], event: Event) -> Features:
    """The features of ``event`` after ``history`` was folded into a fresh state."""
    state = fold(history, UserState(event.actor.uid))
    return extract(state, event)
