"""Exfiltration: a burst of sensitive reads and exports far above the user's habits.

After hours (18:00-22:30 local when the window allows), from a usual address and device,
the victim's account logs in and sweeps 60-150 CONFIDENTIAL and RESTRICTED resources (the
victim's own sensitive ones and many customer and contract records) at one every 1-8 s, a
third of them as data.export, with large byte counts. Normal sessions pause at least 45 s
between actions, so the burst runs at well over five times any normal user's peak.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from riskseal.contract.events import Resource
from riskseal.generator.attacks.base import (
    AttackContext,
    AttackInstance,
    PlannedAttack,
    local_time_in_window,
)
from riskseal.generator.catalog import SENSITIVE, bulk_record
from riskseal.generator.model import AttackKind, GeneratedEvent
from riskseal.generator.population import UserProfile
from riskseal.generator.rng import between_ms, derive
from riskseal.generator.writer import SessionWriter

KIND = AttackKind.EXFILTRATION


@dataclass(frozen=True, slots=True)
class Exfiltration:
    """A planned burst of sensitive reads by ``victim``'s account."""

    seed: int
    attack_id: str
    victim: UserProfile
    start_ms: int

    @property
    def label(self) -> str:
        """Unique name of this source."""
        return f"attack/{self.attack_id}"

    def events(self) -> list[GeneratedEvent]:
        """Login, then the sweep."""
        rng = derive(self.seed, "attack", self.attack_id)
        victim = self.victim
        writer = SessionWriter(
            rng,
            actor=victim.actor,
            endpoint=victim.endpoints[-1],
            device_id=victim.devices[0],
            start_ms=self.start_ms,
            truth=KIND.value,
            attack_id=self.attack_id,
        )
        writer.login(victim.auth_protocol)
        if victim.always_mfa or rng.random() < 0.5:
            writer.advance(between_ms(rng, 3_000, 20_000))
            writer.mfa(victim.mfa_method)
        for resource in _targets(rng, victim):
            writer.advance(between_ms(rng, 1_000, 8_000))
            action = "data.export" if rng.random() < 0.35 else "data.read"
            size = int(math.exp(rng.gauss(13.0, 0.8)))
            writer.access(action, resource, checked=True, attributes={"bytes": str(size)})
        return writer.events


def _targets(rng: random.Random, victim: UserProfile) -> list[Resource]:
    own = [resource for resource in victim.resources if resource.sensitivity in SENSITIVE]
    records = [
        bulk_record(victim.department, number, restricted=rng.random() < 0.4)
        for number in rng.sample(range(1, 100_000), rng.randint(60, 150) - len(own))
    ]
    targets = own + records
    rng.shuffle(targets)
    return targets


def plan(
    context: AttackContext, victim: UserProfile, attack_id: str, rng: random.Random
) -> PlannedAttack:
    """Plan an exfiltration by ``victim``'s account."""
    start = local_time_in_window(rng, context, victim, 18 * 60, 22 * 60 + 30)
    attack = Exfiltration(context.seed, attack_id, victim, start)
    return PlannedAttack(AttackInstance(KIND, attack_id, victim.uid, start), (attack,))
