"""Normal office behaviour: when each user works, and what a working session contains.

Planning and expansion are separate. :func:`plan_sessions` decides, day by day in the user's
own time zone, when sessions start and end (cheap: a few numbers per session);
:meth:`SessionPlan.events` builds a session's events only when the stream reaches it.

A day's plan depends only on (seed, user, local date), so the sessions of a date are the
same whatever ``--start`` and ``--sim-days`` are. On a working day (Monday to Friday, 93 %)
the user's working hours are split into one to four non-overlapping sessions; on a weekend
day there is sometimes one short session from home. A session starts with auth.login
(4 % with one mistyped password first), often auth.mfa, then things done with pauses of at
least 45 s, and usually auth.logout.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from riskseal.contract.events import Outcome, Resource
from riskseal.generator.catalog import CONFIG_RESOURCES, MANAGER_ROLE, SENSITIVE, role_resource
from riskseal.generator.model import GeneratedEvent
from riskseal.generator.population import UserProfile
from riskseal.generator.rng import between_ms, derive, exponential_ms, hex_from
from riskseal.generator.writer import SessionWriter

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
MIN_PAUSE_MS = 45_000
"""Shortest pause between two things a user does in a normal session."""
TYPO_RATE = 0.04
WORKDAY_RATE = 0.93
WEEKEND_RATE = 0.12

# (action, weight) for documents and records; apps and repos are read and written only.
DATA_ACTIONS = (
    ("data.read", 70),
    ("data.write", 17),
    ("data.share", 5),
    ("data.export", 4),
    ("data.delete", 4),
)
SIMPLE_ACTIONS = (("data.read", 80), ("data.write", 20))
SIMPLE_TYPES = frozenset({"app", "repo", "dashboard", "wiki", "ticket"})
ADMIN_WORK_RATE = 0.08
GRANTABLE_ROLES = ("sales", "engineering", "support", "finance", "hr", MANAGER_ROLE)


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """A planned normal session of ``user``: when it starts and when its activity stops."""

    seed: int
    user: UserProfile
    day: int
    """Local date of the session, as days since 1970-01-01."""
    slot: int
    """Number of the session within its day."""
    start_ms: int
    end_ms: int
    endpoint_index: int
    device_index: int

    @property
    def label(self) -> str:
        """A unique, stable name: the tie-breaker of the merged stream."""
        return f"session/{self.user.index:07d}/{self.day}/{self.slot}"

    def events(self) -> list[GeneratedEvent]:
        """The session's events in time order, all labelled normal."""
        return normal_session(self)


def local_day(time_ms: int, user: UserProfile) -> int:
    """The user's local date at ``time_ms``, as days since 1970-01-01."""
    return (time_ms + user.utc_offset_ms) // DAY_MS


def local_midnight_ms(day: int, user: UserProfile) -> int:
    """UTC ms of the start of local date ``day`` in the user's time zone."""
    return day * DAY_MS - user.utc_offset_ms


def is_weekday(day: int) -> bool:
    """Monday to Friday (1970-01-01, day 0, was a Thursday)."""
    return (day + 3) % 7 < 5


def plan_sessions(seed: int, user: UserProfile, start_ms: int, end_ms: int) -> list[SessionPlan]:
    """The user's normal sessions that start in ``[start_ms, end_ms)``, in time order."""
    plans: list[SessionPlan] = []
    for day in range(local_day(start_ms, user), local_day(end_ms - 1, user) + 1):
        plans.extend(
            plan for plan in _plan_day(seed, user, day) if start_ms <= plan.start_ms < end_ms
        )
    return plans


def _plan_day(seed: int, user: UserProfile, day: int) -> list[SessionPlan]:
    rng = derive(seed, "day", user.index, day)
    midnight = local_midnight_ms(day, user)
    home = len(user.endpoints) - 1
    if not is_weekday(day):
        if rng.random() >= WEEKEND_RATE:
            return []
        start = midnight + between_ms(rng, 10 * HOUR_MS, 18 * HOUR_MS)
        length = between_ms(rng, 10 * MINUTE_MS, 60 * MINUTE_MS)
        return [SessionPlan(seed, user, day, 0, start, start + length, home, _device(rng, user))]
    if rng.random() >= WORKDAY_RATE:
        return []
    count = max(1, min(4, round(rng.gauss(user.sessions_per_day, 0.6))))
    day_start = (
        midnight
        + user.workday_start_min * MINUTE_MS
        + between_ms(rng, -20 * MINUTE_MS, 20 * MINUTE_MS)
    )
    part = user.workday_minutes * MINUTE_MS // count
    endpoint = home if rng.random() < 0.2 else 0
    plans = []
    for slot in range(count):
        part_start = day_start + slot * part
        start = part_start + between_ms(rng, 0, min(20 * MINUTE_MS, part // 4))
        end = start + int(part * rng.uniform(0.5, 0.72))
        plans.append(SessionPlan(seed, user, day, slot, start, end, endpoint, _device(rng, user)))
    return plans


def _device(rng: random.Random, user: UserProfile) -> int:
    return 1 if len(user.devices) > 1 and rng.random() < 0.15 else 0


def extra_session(
    seed: int, user: UserProfile, start_ms: int, minutes: int, label: int
) -> SessionPlan:
    """An additional normal session (used when an attack needs one to follow)."""
    return SessionPlan(
        seed,
        user,
        local_day(start_ms, user),
        100 + label,
        start_ms,
        start_ms + minutes * MINUTE_MS,
        0,
        0,
    )


def normal_session(plan: SessionPlan) -> list[GeneratedEvent]:
    """Build the events of a planned normal session."""
    user = plan.user
    rng = derive(plan.seed, "session", user.index, plan.day, plan.slot)
    writer = SessionWriter(
        rng,
        actor=user.actor,
        endpoint=user.endpoints[plan.endpoint_index],
        device_id=user.devices[plan.device_index],
        start_ms=plan.start_ms,
    )
    if rng.random() < TYPO_RATE:
        writer.login(user.auth_protocol, Outcome.FAILURE, "bad_password")
        writer.advance(between_ms(rng, 4_000, 25_000))
    writer.login(user.auth_protocol)
    if user.always_mfa or rng.random() < 0.35:
        writer.advance(between_ms(rng, 3_000, 20_000))
        writer.mfa(user.mfa_method)
    while True:
        pause = MIN_PAUSE_MS + exponential_ms(rng, user.mean_gap_s * 1000)
        if writer.now + pause >= plan.end_ms:
            break
        writer.advance(pause)
        habitual_activity(writer, user, rng)
    if rng.random() < 0.7:
        writer.advance(between_ms(rng, 5_000, 60_000))
        writer.logout()
    return writer.events


def habitual_activity(writer: SessionWriter, user: UserProfile, rng: random.Random) -> None:
    """One thing a user does out of habit: mostly their usual resources, admins administer."""
    if user.is_admin and rng.random() < ADMIN_WORK_RATE:
        _admin_work(writer, rng)
        return
    resource = rng.choices(user.resources, user.resource_weights)[0]
    table = SIMPLE_ACTIONS if resource.type in SIMPLE_TYPES else DATA_ACTIONS
    action = rng.choices([a for a, _ in table], [w for _, w in table])[0]
    usual_access(writer, rng, action, resource)


def usual_access(
    writer: SessionWriter, rng: random.Random, action: str, resource: Resource
) -> None:
    """Do ``action`` on ``resource`` as applications do: checked unless a plain read."""
    failed = rng.random() < 0.02
    attributes: dict[str, str] = {}
    if action in ("data.read", "data.export") and not failed:
        attributes["bytes"] = str(int(math.exp(rng.gauss(10.5, 1.2))))
    writer.access(
        action,
        resource,
        checked=action != "data.read" or resource.sensitivity in SENSITIVE,
        outcome=Outcome.FAILURE if failed else Outcome.SUCCESS,
        status_detail=rng.choice(("not_found", "conflict", "timeout")) if failed else None,
        attributes=attributes,
    )


def _admin_work(writer: SessionWriter, rng: random.Random) -> None:
    if rng.random() < 0.5:
        writer.access("admin.config", rng.choice(CONFIG_RESOURCES), checked=True)
        return
    role = rng.choice(GRANTABLE_ROLES)
    writer.access(
        rng.choice(("role.grant", "role.revoke")),
        role_resource(role),
        checked=True,
        attributes={"grantee": f"new.hire{int(hex_from(rng, 4), 16) % 1000:03d}", "role": role},
    )
