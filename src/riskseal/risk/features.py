"""Behaviour features of one event, computed from the event and the user's state before it.

Every feature is a number (booleans are 0 or 1) with a stable name, so rules in
``rules/*.toml`` can refer to it. :func:`extract` never mutates the state; the engine folds
the event into the state afterwards with :func:`observe`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from riskseal.contract.events import AccessAction, AccessRequest, Outcome, Sensitivity
from riskseal.risk.addresses import canonical_ip
from riskseal.risk.policy import MFA_CLOCK_SKEW_MS
from riskseal.risk.state import (
    BASELINE_ROLE_TIME,
    DAY_MS,
    HOUR_MS,
    MAX_ROLES,
    MINUTE_MS,
    Counter,
    GeoFix,
    SignIn,
    UserState,
    hour_of_week,
)

Event = AccessRequest | AccessAction

EARTH_RADIUS_KM = 6_371.0088
LOGIN = "auth.login"
MFA = "auth.mfa"
ROLE_GRANT = "role.grant"
PRIVILEGED_ROLES = frozenset({"admin"})
SENSITIVE = frozenset({Sensitivity.CONFIDENTIAL, Sensitivity.RESTRICTED})
SENSITIVE_ACTIONS = frozenset({"data.read", "data.export"})
COLD_START_SIGN_INS = 1
"""Below this many remembered sign-ins, novelty features are not trusted."""
PROFILE_MIN_EVENTS = 40
"""Below this many events in the hour-of-week profile, off-hours is not judged."""
OFF_HOURS_SHARE = 0.02
"""An hour (with its neighbours) under this share of the user's activity is off-hours."""
MIN_TRAVEL_INTERVAL_MS = MINUTE_MS
SENSITIVE_PEAK_HALF_LIFE_MS = 7 * DAY_MS
NEW_ROLE_WINDOW_MS = DAY_MS
MIN_SENSITIVE_PEAK = 4.0
"""The smallest 5-minute sensitive-access peak assumed, however quiet the user has been."""
PEAK_GROWTH = 3.0
"""A completed window above this many times the peak is a burst, not a new normal."""


@dataclass(frozen=True, slots=True)
class Features:
    """The features of one event. Names are what rules use."""

    is_request: int
    cold_start: int
    failed_auth_5m: int
    failed_auth_1h: int
    failures_before_success: int
    distinct_ips_1h: int
    distinct_countries_1h: int
    distinct_devices_1h: int
    travel_speed_kmh: float
    travel_distance_km: float
    new_device: int
    new_ip: int
    new_country: int
    off_hours: int
    hour_share_pct: float
    sensitive_5m: int
    sensitive_ratio: float
    new_sensitive_resource: int
    role_added: int
    privileged_role_added: int
    self_grant: int
    privileged_action_new_role: int
    denied_5m: int

    def as_mapping(self) -> dict[str, float]:
        """Feature name → value."""
        return {name: float(getattr(self, name)) for name in _FIELD_ORDER}


_FIELD_ORDER: tuple[str, ...] = tuple(item.name for item in fields(Features))
FEATURE_NAMES: frozenset[str] = frozenset(_FIELD_ORDER)


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def is_failed_login(event: Event) -> bool:
    """Whether ``event`` is a refused sign-in."""
    return (
        isinstance(event, AccessAction)
        and event.action == LOGIN
        and event.outcome is not Outcome.SUCCESS
    )


def is_sign_in(event: Event) -> bool:
    """Whether ``event`` is a successful sign-in."""
    return (
        isinstance(event, AccessAction)
        and event.action == LOGIN
        and event.outcome is Outcome.SUCCESS
    )


def is_sensitive_access(event: Event) -> bool:
    """A read or export of a confidential or restricted resource (requested or done)."""
    if event.action not in SENSITIVE_ACTIONS or event.resource.sensitivity not in SENSITIVE:
        return False
    return isinstance(event, AccessRequest) or event.outcome is Outcome.SUCCESS


def _country(event: Event) -> str | None:
    location = event.src_endpoint.location
    return None if location is None else location.country


def _fix(event: Event) -> GeoFix | None:
    location = event.src_endpoint.location
    if location is None or location.lat is None or location.lon is None:
        return None
    return GeoFix(event.time, location.lat, location.lon, location.country)


def sensitive_peak(state: UserState, time_ms: int) -> float:
    """The user's sensitive-access peak, decayed to ``time_ms``."""
    elapsed = max(0, time_ms - state.sensitive_peak_time)
    return float(state.sensitive_peak * 0.5 ** (elapsed / SENSITIVE_PEAK_HALF_LIFE_MS))


def extract(state: UserState, event: Event) -> Features:
    """The features of ``event`` against ``state`` (as it was before the event)."""
    now = event.time
    minutes = state.minutes
    failed_now = 1 if is_failed_login(event) else 0
    sensitive_now = 1 if is_sensitive_access(event) else 0
    country = _country(event)
    ip = canonical_ip(event.src_endpoint.ip)
    device = event.device_id
    sign_in = is_sign_in(event)

    cold = len(state.sign_ins) < COLD_START_SIGN_INS
    known_devices = {item.device for item in state.sign_ins if item.device is not None}
    known_ips = {item.ip for item in state.sign_ins if item.ip is not None}
    known_countries = {item.country for item in state.sign_ins if item.country is not None}
    novelty = sign_in and not cold

    failed = bool(failed_now)
    speed, distance = (0.0, 0.0) if failed else _travel(state.last_fix, _fix(event))

    profile_total = sum(state.hour_of_week)
    hour = hour_of_week(now)
    hour_of_day = hour % 24
    profile = state.hour_of_week
    share = sum(
        profile[day * 24 + (hour_of_day + delta) % 24] for day in range(7) for delta in (-1, 0, 1)
    )
    share_pct = 100.0 * share / profile_total if profile_total else 100.0
    judged = profile_total >= PROFILE_MIN_EVENTS

    sensitive_5m = minutes.total(Counter.SENSITIVE, now, 5) + sensitive_now
    peak = sensitive_peak(state, now)

    roles = set(event.actor.roles)
    added = _added_roles(state, roles)
    recently_added = added | {
        role
        for role, since in state.roles.items()
        if since != BASELINE_ROLE_TIME and now - since <= NEW_ROLE_WINDOW_MS
    }
    privileged_new = bool(recently_added & PRIVILEGED_ROLES & roles)

    return Features(
        is_request=1 if isinstance(event, AccessRequest) else 0,
        cold_start=1 if cold else 0,
        failed_auth_5m=minutes.total(Counter.FAILED_AUTH, now, 5) + failed_now,
        failed_auth_1h=minutes.total(Counter.FAILED_AUTH, now, 60) + failed_now,
        failures_before_success=minutes.total(Counter.FAILED_AUTH, now, 60) if sign_in else 0,
        distinct_ips_1h=_distinct(state, "ip", ip, now),
        distinct_countries_1h=_distinct(state, "country", country, now),
        distinct_devices_1h=_distinct(state, "device", device, now),
        travel_speed_kmh=speed,
        travel_distance_km=distance,
        new_device=1 if novelty and device is not None and device not in known_devices else 0,
        new_ip=1 if novelty and ip is not None and ip not in known_ips else 0,
        new_country=1 if novelty and country is not None and country not in known_countries else 0,
        off_hours=1 if judged and share_pct < OFF_HOURS_SHARE * 100 else 0,
        hour_share_pct=round(share_pct, 2),
        sensitive_5m=sensitive_5m,
        sensitive_ratio=round(sensitive_5m / max(peak, MIN_SENSITIVE_PEAK), 2),
        new_sensitive_resource=1
        if (
            sensitive_now
            and not cold
            and event.resource.sensitivity is Sensitivity.RESTRICTED
            and event.resource.uid not in state.resources
        )
        else 0,
        role_added=1 if added else 0,
        privileged_role_added=1 if added & PRIVILEGED_ROLES else 0,
        self_grant=1 if _is_self_grant(event) else 0,
        privileged_action_new_role=1
        if privileged_new and event.action.startswith(("admin.", "role."))
        else 0,
        denied_5m=minutes.total(Counter.DENIED, now, 5),
    )


def _added_roles(state: UserState, roles: set[str]) -> set[str]:
    """Roles on the event the user did not have before (none on the user's first event:
    those are the baseline). An event with more roles than a state remembers can only be
    judged on its privileged roles, which the state keeps first."""
    if not state.events:
        return set()
    added = {role for role in roles if role not in state.roles}
    if len(roles) > MAX_ROLES:
        return added & PRIVILEGED_ROLES
    return added


def observe(state: UserState, event: Event, features: Features) -> None:
    """Fold ``event`` into ``state`` (after its features were taken)."""
    now = event.time
    first_event = state.events == 0
    state.events += 1
    state.first_time = now if state.first_time is None else min(state.first_time, now)
    state.last_time = max(state.last_time, now)
    state.minutes.add(now, Counter.EVENTS)
    if is_failed_login(event):
        state.minutes.add(now, Counter.FAILED_AUTH)
    sensitive = is_sensitive_access(event)
    if sensitive:
        state.minutes.add(now, Counter.SENSITIVE)
        _learn_sensitive_peak(state, now)
    country = _country(event)
    ip = canonical_ip(event.src_endpoint.ip)
    state.remember_value("ip", ip, now)
    state.remember_value("country", country, now)
    state.remember_value("device", event.device_id, now)
    if is_sign_in(event):
        state.add_sign_in(SignIn(now, ip, country, event.device_id))
    fix = None if is_failed_login(event) else _fix(event)
    if fix is not None and (state.last_fix is None or fix.time >= state.last_fix.time):
        state.last_fix = fix
    if not is_failed_login(event):
        state.count_activity(now)
        state.use_resource(event.resource.uid, now)
    state.note_roles(event.actor.roles, now, baseline=first_event, protected=PRIVILEGED_ROLES)
    if event.action == MFA and isinstance(event, AccessAction) and event.outcome is Outcome.SUCCESS:
        state.last_mfa = now
    elif event.auth.mfa_time is not None and event.auth.mfa_time <= now + MFA_CLOCK_SKEW_MS:
        # (an MFA dated later than that is not believed, as in the policy context)
        state.last_mfa = max(state.last_mfa or 0, min(event.auth.mfa_time, now))


def _learn_sensitive_peak(state: UserState, now: int) -> None:
    """Raise the peak from the last *completed* 5-minute window, unless it was a burst.

    Learning from the window that ends where the current one starts keeps a burst in
    progress from becoming its own baseline; refusing windows over PEAK_GROWTH times the
    current peak keeps a past burst from becoming the user's new normal.
    """
    completed = state.minutes.total(Counter.SENSITIVE, now - 5 * MINUTE_MS, 5)
    peak = sensitive_peak(state, now)
    if peak < completed <= PEAK_GROWTH * max(peak, MIN_SENSITIVE_PEAK):
        state.sensitive_peak = float(completed)
        state.sensitive_peak_time = now


def _distinct(state: UserState, kind: str, value: str | None, now: int) -> int:
    count = state.distinct_since(kind, now - HOUR_MS)
    if value is not None:
        seen = state.recent_values.get(f"{kind}:{value}")
        if seen is None or seen < now - HOUR_MS:
            count += 1
    return count


def _travel(previous: GeoFix | None, current: GeoFix | None) -> tuple[float, float]:
    """(speed km/h, distance km) from the previous fix to this one; zeros when unknown."""
    if previous is None or current is None or current.time < previous.time:
        return 0.0, 0.0
    distance = great_circle_km(previous.lat, previous.lon, current.lat, current.lon)
    hours = max(current.time - previous.time, MIN_TRAVEL_INTERVAL_MS) / HOUR_MS
    return round(distance / hours, 1), round(distance, 1)


def _is_self_grant(event: Event) -> bool:
    if event.action != ROLE_GRANT:
        return False
    grantee = event.attributes.get("grantee")
    return grantee is not None and grantee == event.actor.uid
