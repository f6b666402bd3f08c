"""New device and country: a successful login from a device and a country never seen before.

At night in the victim's time zone (00:30-05:00, at least four hours from the victim's own
sessions when the window allows; else the time farthest from them), from a device id the
victim never used and a foreign city among the three nearest to home, the account logs in
and reads a few of the victim's resources. The city is chosen so that the trip from the
victim's nearest own activity would be possible (under 600 km/h), keeping this attack apart
from impossible travel. A user whose sessions leave no pause long enough to reach even the
nearest foreign city is not a victim of this kind (:func:`eligible`).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from riskseal.contract.events import Endpoint
from riskseal.generator.attacks.base import (
    AttackContext,
    AttackInstance,
    PlannedAttack,
    busy_intervals,
    gap_ms,
    local_time_in_window,
)
from riskseal.generator.geo import City, foreign_cities
from riskseal.generator.model import AttackKind, GeneratedEvent
from riskseal.generator.population import UserProfile, public_ip
from riskseal.generator.rng import between_ms, derive, hex_from
from riskseal.generator.sessions import HOUR_MS, usual_access
from riskseal.generator.writer import SessionWriter

KIND = AttackKind.NEW_DEVICE_COUNTRY
PLAUSIBLE_KMH = 600.0
QUIET_MS = 4 * HOUR_MS


@dataclass(frozen=True, slots=True)
class NewDeviceCountry:
    """A planned login of ``victim`` from ``device`` in ``origin``."""

    seed: int
    attack_id: str
    victim: UserProfile
    origin: City
    ip: str
    device: str
    start_ms: int

    @property
    def label(self) -> str:
        """Unique name of this source."""
        return f"attack/{self.attack_id}"

    def events(self) -> list[GeneratedEvent]:
        """The login from the new device and country, and a few reads."""
        rng = derive(self.seed, "attack", self.attack_id)
        writer = SessionWriter(
            rng,
            actor=self.victim.actor,
            endpoint=Endpoint(self.ip, self.origin.location),
            device_id=self.device,
            start_ms=self.start_ms,
            truth=KIND.value,
            attack_id=self.attack_id,
        )
        writer.login(self.victim.auth_protocol)
        for _ in range(rng.randint(3, 10)):
            writer.advance(between_ms(rng, 20_000, 180_000))
            resource = rng.choices(self.victim.resources, self.victim.resource_weights)[0]
            usual_access(writer, rng, "data.read", resource)
        return writer.events


def _quiet_time(
    rng: random.Random,
    context: AttackContext,
    victim: UserProfile,
    busy: list[tuple[int, int]],
) -> int:
    """A local night time far from the victim's sessions, else the farthest time found."""
    candidates = [local_time_in_window(rng, context, victim, 30, 5 * 60) for _ in range(6)]
    if max(gap_ms(time, busy) for time in candidates) < QUIET_MS:
        low, high = context.window_start_ms, context.window_end_ms
        candidates += [rng.randrange(low, high) for _ in range(24)]
    return max(candidates, key=lambda time: (gap_ms(time, busy), -time))


def _farthest_time(context: AttackContext, busy: list[tuple[int, int]]) -> int:
    """The time of the window farthest from the victim's sessions (the earliest of equals):
    an edge of the window, or the middle of a pause between two sessions."""
    low, high = context.window_start_ms, context.window_end_ms - 1
    ordered = sorted(busy)
    pauses = [(end, begin) for (_, end), (begin, _) in itertools.pairwise(ordered)]
    candidates = [low, high, *(min(high, max(low, (a + b) // 2)) for a, b in pauses)]
    return max(candidates, key=lambda time: (gap_ms(time, busy), -time))


def _reachable(distance_km: float, time_ms: int, busy: list[tuple[int, int]]) -> bool:
    return distance_km <= PLAUSIBLE_KMH * gap_ms(time_ms, busy) / HOUR_MS


def eligible(context: AttackContext, user: UserProfile) -> bool:
    """A user whose nearest foreign city can be reached at some time of the window."""
    busy = busy_intervals(context.sessions.get(user.index, ()))
    distance, _ = foreign_cities(user.home)[0]
    return _reachable(distance, _farthest_time(context, busy), busy)


def plan(
    context: AttackContext, victim: UserProfile, attack_id: str, rng: random.Random
) -> PlannedAttack:
    """Plan a login of ``victim`` (an :func:`eligible` user) from a new device in a new
    country, at a time from which the trip there is possible."""
    busy = busy_intervals(context.sessions.get(victim.index, ()))
    start = _quiet_time(rng, context, victim, busy)
    nearest = foreign_cities(victim.home)[:3]
    if not _reachable(nearest[0][0], start, busy):
        start = _farthest_time(context, busy)
    candidates = [city for distance, city in nearest if _reachable(distance, start, busy)]
    origin = rng.choice(candidates) if candidates else nearest[0][1]
    device = f"{rng.choice(('laptop', 'phone'))}-{hex_from(rng, 8)}"
    attack = NewDeviceCountry(
        context.seed, attack_id, victim, origin, public_ip(rng), device, start
    )
    return PlannedAttack(AttackInstance(KIND, attack_id, victim.uid, start), (attack,))
