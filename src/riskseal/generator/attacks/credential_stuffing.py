"""Credential stuffing: a password spray across many users, then brute force on one.

From one to three addresses abroad, the attacker tries one password against 20-60 users
(everyone, in a smaller company; 0.5-4 s apart, rotating addresses), then 15-40 passwords
against the victim from the first address (0.3-2.5 s apart). Half the time the last attempt
succeeds and the attacker reads a few of the victim's resources from a new device. Every
event, including the spray's failed logins of other users, carries the label
``credential_stuffing`` and the attack id; the whole attack takes under eight minutes.

The successful login comes from the attacker's location, so it can also look like impossible
travel next to one of the victim's own logins.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from riskseal.contract.events import Endpoint, Outcome
from riskseal.generator.attacks.base import AttackContext, AttackInstance, PlannedAttack
from riskseal.generator.geo import City, foreign_cities
from riskseal.generator.model import AttackKind, GeneratedEvent
from riskseal.generator.population import UserProfile, public_ip
from riskseal.generator.rng import between_ms, derive, hex_from
from riskseal.generator.sessions import usual_access
from riskseal.generator.writer import SessionWriter

KIND = AttackKind.CREDENTIAL_STUFFING


@dataclass(frozen=True, slots=True)
class CredentialStuffing:
    """A planned spray-then-brute-force attack."""

    seed: int
    attack_id: str
    victim: UserProfile
    sprayed: tuple[UserProfile, ...]
    origin: City
    ips: tuple[str, ...]
    start_ms: int

    @property
    def label(self) -> str:
        """Unique name of this source."""
        return f"attack/{self.attack_id}"

    def events(self) -> list[GeneratedEvent]:
        """Spray, brute force and (maybe) the attacker's session, in time order."""
        rng = derive(self.seed, "attack", self.attack_id)
        location = self.origin.location
        events: list[GeneratedEvent] = []
        now = self.start_ms
        for number, target in enumerate(self.sprayed):
            ip = self.ips[number % len(self.ips)]
            writer = self._writer(rng, target, Endpoint(ip, location), None, now)
            writer.login(target.auth_protocol, Outcome.FAILURE, "bad_password")
            events.extend(writer.events)
            now += between_ms(rng, 500, 4_000)
        now += between_ms(rng, 5_000, 60_000)
        device = f"{rng.choice(('laptop', 'phone'))}-{hex_from(rng, 8)}"
        victim = self._writer(rng, self.victim, Endpoint(self.ips[0], location), device, now)
        for _ in range(rng.randint(15, 40)):
            victim.login(self.victim.auth_protocol, Outcome.FAILURE, "bad_password")
            victim.advance(between_ms(rng, 300, 2_500))
        if rng.random() < 0.5:
            victim.login(self.victim.auth_protocol)
            for _ in range(rng.randint(2, 6)):
                victim.advance(between_ms(rng, 5_000, 40_000))
                resource = rng.choices(self.victim.resources, self.victim.resource_weights)[0]
                usual_access(victim, rng, "data.read", resource)
        events.extend(victim.events)
        return events

    def _writer(
        self,
        rng: random.Random,
        user: UserProfile,
        endpoint: Endpoint,
        device: str | None,
        now: int,
    ) -> SessionWriter:
        return SessionWriter(
            rng,
            actor=user.actor,
            endpoint=endpoint,
            device_id=device,
            start_ms=now,
            truth=KIND.value,
            attack_id=self.attack_id,
        )


def plan(
    context: AttackContext, victim: UserProfile, attack_id: str, rng: random.Random
) -> PlannedAttack:
    """Plan a credential-stuffing attack whose brute-force victim is ``victim``."""
    others = [user for user in context.population if user.index != victim.index]
    sprayed = tuple(rng.sample(others, min(len(others), rng.randint(20, 60))))
    far = [city for distance, city in foreign_cities(victim.home) if distance >= 2_000]
    origin = rng.choice(far)
    ips = tuple(sorted({public_ip(rng) for _ in range(rng.randint(1, 3))}))
    start = rng.randrange(context.window_start_ms, context.window_end_ms)
    attack = CredentialStuffing(context.seed, attack_id, victim, sprayed, origin, ips, start)
    return PlannedAttack(AttackInstance(KIND, attack_id, victim.uid, start), (attack,))
