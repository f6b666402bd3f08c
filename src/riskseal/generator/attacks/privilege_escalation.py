"""Privilege escalation: a user grants themself the admin role, then acts as an admin.

During working hours, from the usual office address and device, the victim (never an
admin) logs in, does a little ordinary work, asks for and performs role.grant of ``admin``
to themself (attributes ``grantee`` = own uid, ``role`` = admin), and from then on carries
the admin role: 2-5 admin.config changes and 3-8 reads of RESTRICTED resources of other
departments. Every event of the session carries the attack label.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from riskseal.contract.events import Resource
from riskseal.generator.attacks.base import (
    AttackContext,
    AttackInstance,
    PlannedAttack,
    local_time_in_window,
)
from riskseal.generator.catalog import (
    ADMIN_ROLE,
    CONFIG_RESOURCES,
    DEPARTMENTS,
    RESTRICTED,
    role_resource,
)
from riskseal.generator.model import AttackKind, GeneratedEvent
from riskseal.generator.population import UserProfile
from riskseal.generator.rng import between_ms, derive
from riskseal.generator.sessions import habitual_activity
from riskseal.generator.writer import SessionWriter

KIND = AttackKind.PRIVILEGE_ESCALATION


@dataclass(frozen=True, slots=True)
class PrivilegeEscalation:
    """A planned self-grant of the admin role and its abuse."""

    seed: int
    attack_id: str
    victim: UserProfile
    start_ms: int

    @property
    def label(self) -> str:
        """Unique name of this source."""
        return f"attack/{self.attack_id}"

    def events(self) -> list[GeneratedEvent]:
        """Login, a little normal work, the grant, then admin work."""
        rng = derive(self.seed, "attack", self.attack_id)
        victim = self.victim
        writer = SessionWriter(
            rng,
            actor=victim.actor,
            endpoint=victim.endpoints[0],
            device_id=victim.devices[0],
            start_ms=self.start_ms,
            truth=KIND.value,
            attack_id=self.attack_id,
        )
        writer.login(victim.auth_protocol)
        if victim.always_mfa or rng.random() < 0.5:
            writer.advance(between_ms(rng, 3_000, 20_000))
            writer.mfa(victim.mfa_method)
        for _ in range(rng.randint(1, 3)):
            writer.advance(between_ms(rng, 30_000, 180_000))
            habitual_activity(writer, victim, rng)
        writer.advance(between_ms(rng, 30_000, 120_000))
        writer.access(
            "role.grant",
            role_resource(ADMIN_ROLE),
            checked=True,
            attributes={"grantee": victim.uid, "role": ADMIN_ROLE},
        )
        writer.actor = replace(victim.actor, roles=(*victim.actor.roles, ADMIN_ROLE))
        work: list[tuple[str, Resource]] = [
            ("admin.config", rng.choice(CONFIG_RESOURCES)) for _ in range(rng.randint(2, 5))
        ]
        work += [
            ("data.read", rng.choice(_restricted_elsewhere(victim)))
            for _ in range(rng.randint(3, 8))
        ]
        rng.shuffle(work)
        for action, resource in work:
            writer.advance(between_ms(rng, 20_000, 120_000))
            writer.access(action, resource, checked=True)
        return writer.events


def _restricted_elsewhere(victim: UserProfile) -> list[Resource]:
    region = victim.home.region
    return [
        resource
        for department in DEPARTMENTS
        if department.name != victim.department
        for resource in department.resources(region)
        if resource.sensitivity is RESTRICTED
    ]


def eligible(_context: AttackContext, user: UserProfile) -> bool:
    """Only a user who is not an admin can escalate to admin."""
    return not user.is_admin


def plan(
    context: AttackContext, victim: UserProfile, attack_id: str, rng: random.Random
) -> PlannedAttack:
    """Plan a privilege escalation by ``victim``."""
    start = local_time_in_window(rng, context, victim, 10 * 60, 16 * 60)
    attack = PrivilegeEscalation(context.seed, attack_id, victim, start)
    return PlannedAttack(AttackInstance(KIND, attack_id, victim.uid, start), (attack,))
