"""Impossible travel: a successful login from far away minutes after the victim's own.

The attacker replays the victim's stolen session token, so the device id is the victim's
main device; the address is abroad, at least 3,000 km from the victim's home, and the login
comes 2-20 minutes after one of the victim's normal logins (a speed of 9,000 km/h or more).
The attacker then reads and exports a few of the victim's resources. If the victim has no
session in the attack window, a normal one is added for the attack to follow; that session
stays labelled normal.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from riskseal.contract.events import Endpoint
from riskseal.generator.attacks.base import (
    AttackContext,
    AttackInstance,
    EventSource,
    PlannedAttack,
    local_time_in_window,
)
from riskseal.generator.geo import City, foreign_cities
from riskseal.generator.model import AttackKind, GeneratedEvent
from riskseal.generator.population import UserProfile, public_ip
from riskseal.generator.rng import between_ms, derive
from riskseal.generator.sessions import MINUTE_MS, SessionPlan, extra_session, usual_access
from riskseal.generator.writer import SessionWriter

KIND = AttackKind.IMPOSSIBLE_TRAVEL
MIN_DISTANCE_KM = 3_000


@dataclass(frozen=True, slots=True)
class ImpossibleTravel:
    """A planned login from ``origin`` right after the victim's own login."""

    seed: int
    attack_id: str
    victim: UserProfile
    origin: City
    ip: str
    start_ms: int

    @property
    def label(self) -> str:
        """Unique name of this source."""
        return f"attack/{self.attack_id}"

    def events(self) -> list[GeneratedEvent]:
        """The attacker's login and what they do next."""
        rng = derive(self.seed, "attack", self.attack_id)
        writer = SessionWriter(
            rng,
            actor=self.victim.actor,
            endpoint=Endpoint(self.ip, self.origin.location),
            device_id=self.victim.devices[0],
            start_ms=self.start_ms,
            truth=KIND.value,
            attack_id=self.attack_id,
        )
        writer.login(self.victim.auth_protocol)
        for _ in range(rng.randint(3, 10)):
            writer.advance(between_ms(rng, 10_000, 90_000))
            resource = rng.choices(self.victim.resources, self.victim.resource_weights)[0]
            usual_access(writer, rng, rng.choice(("data.read", "data.export")), resource)
        return writer.events


def plan(
    context: AttackContext, victim: UserProfile, attack_id: str, rng: random.Random
) -> PlannedAttack:
    """Plan an impossible-travel login of ``victim``."""
    sources: list[EventSource] = []
    own = [
        session
        for session in context.sessions.get(victim.index, ())
        if context.window_start_ms <= session.start_ms < context.window_end_ms
    ]
    if own:
        anchor = rng.choice(own)
    else:
        anchor = _added_session(context, victim, rng)
        sources.append(anchor)
    far = [city for distance, city in foreign_cities(victim.home) if distance >= MIN_DISTANCE_KM]
    start = anchor.start_ms + between_ms(rng, 2 * MINUTE_MS, 20 * MINUTE_MS)
    attack = ImpossibleTravel(
        context.seed, attack_id, victim, rng.choice(far), public_ip(rng), start
    )
    sources.append(attack)
    return PlannedAttack(AttackInstance(KIND, attack_id, victim.uid, start), tuple(sources))


def _added_session(context: AttackContext, victim: UserProfile, rng: random.Random) -> SessionPlan:
    start = local_time_in_window(rng, context, victim, 9 * 60, 16 * 60)
    length = rng.randint(30, 90) * MINUTE_MS
    margin = 2 * MINUTE_MS
    # Never overlap another session of the victim (sessions are in time order).
    for session in context.sessions.get(victim.index, ()):
        if session.start_ms - margin < start + length and start < session.end_ms + margin:
            start = session.end_ms + margin
    return extra_session(context.seed, victim, start, length // MINUTE_MS, 0)
