"""Injectable attacks: who is attacked, when, and the events of each attack.

One module per attack kind, each with a ``plan(context, victim, attack_id, rng)`` that
decides the attack's parameters (cheap) and returns event sources that build the events only
when the stream reaches them. :func:`plan_attacks` picks the victims.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection

from riskseal.generator.attacks import (
    credential_stuffing,
    exfiltration,
    impossible_travel,
    new_device_country,
    privilege_escalation,
)
from riskseal.generator.attacks.base import (
    AttackContext,
    AttackInstance,
    EventSource,
    PlannedAttack,
)
from riskseal.generator.model import AttackKind
from riskseal.generator.population import UserProfile
from riskseal.generator.rng import derive, uuid4_from

Planner = Callable[[AttackContext, UserProfile, str, random.Random], PlannedAttack]

PLANNERS: dict[AttackKind, Planner] = {
    AttackKind.CREDENTIAL_STUFFING: credential_stuffing.plan,
    AttackKind.IMPOSSIBLE_TRAVEL: impossible_travel.plan,
    AttackKind.EXFILTRATION: exfiltration.plan,
    AttackKind.PRIVILEGE_ESCALATION: privilege_escalation.plan,
    AttackKind.NEW_DEVICE_COUNTRY: new_device_country.plan,
}
ELIGIBLE: dict[AttackKind, Callable[[AttackContext, UserProfile], bool]] = {
    AttackKind.PRIVILEGE_ESCALATION: privilege_escalation.eligible,
    AttackKind.NEW_DEVICE_COUNTRY: new_device_country.eligible,
}


def _anyone(_context: AttackContext, _user: UserProfile) -> bool:
    return True


def victim_count(users: int, kinds: int, fraction: float) -> int:
    """How many users are attacked: the fraction, but at least one per kind (and all at most)."""
    if kinds == 0:
        return 0
    return min(users, max(kinds, round(fraction * users)))


def plan_attacks(
    context: AttackContext, kinds: Collection[AttackKind], fraction: float
) -> list[PlannedAttack]:
    """Pick victims and plan one attack per victim, the kinds taking turns.

    Victims are distinct users drawn from the seed; a kind that no remaining user is
    eligible for (privilege escalation needs a non-admin, a new device and country a pause
    long enough for the trip) is skipped for that turn.
    """
    ordered = [kind for kind in AttackKind if kind in kinds]
    population = context.population
    count = victim_count(len(population), len(ordered), fraction)
    rng = derive(context.seed, "victims")
    pool = list(population)
    rng.shuffle(pool)
    taken: set[int] = set()
    planned: list[PlannedAttack] = []
    for number in range(count):
        kind = ordered[number % len(ordered)]
        allowed = ELIGIBLE.get(kind, _anyone)
        victim = next((u for u in pool if u.index not in taken and allowed(context, u)), None)
        if victim is None:
            continue
        taken.add(victim.index)
        attack_rng = derive(context.seed, "attack-plan", number)
        attack_id = uuid4_from(attack_rng)
        planned.append(PLANNERS[kind](context, victim, attack_id, attack_rng))
    return planned


__all__ = [
    "PLANNERS",
    "AttackContext",
    "AttackInstance",
    "EventSource",
    "PlannedAttack",
    "plan_attacks",
    "victim_count",
]
