"""The simulated users and their habits, derived from the seed user by user.

A user keeps, for the whole run: a home office city, one or two usual source IPs (an office
address in 10.0.0.0/8, unique per user, and for about half of them a home address in the
documentation ranges), one or two devices, working hours in the home time zone, a department
with its role and groups, and a weighted set of usual resources. Attackers draw their
addresses from the same public ranges as home addresses, so the address range says nothing
about the truth label (an address may even be one user's home and an attacker's proxy).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from riskseal.contract.events import Actor, Endpoint, Resource
from riskseal.generator.catalog import (
    ADMIN_ROLE,
    DEPARTMENTS,
    MANAGER_ROLE,
    SHARED,
    Department,
    team_document,
)
from riskseal.generator.geo import OFFICES, City, city
from riskseal.generator.rng import derive, hex_from

FIRST_NAMES = (
    "Ada", "Amara", "Ana", "Arjun", "Ben", "Carla", "Chen", "Dana", "David", "Elena", "Emil",
    "Fatima", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jonas", "Julia", "Kai", "Kenji",
    "Lara", "Leo", "Lina", "Lucas", "Maya", "Mei", "Nadia", "Noah", "Olga", "Omar", "Priya",
    "Rafael", "Rosa", "Sam", "Sofia", "Tariq", "Theo", "Yara", "Yuki", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Alvarez", "Andersson", "Bauer", "Chen", "Costa", "Dubois", "Fischer", "Garcia", "Gupta",
    "Haddad", "Ito", "Jansen", "Kim", "Kowalski", "Lopez", "Martin", "Meyer", "Mueller", "Nakamura",
    "Nguyen", "Novak", "Okafor", "Patel", "Rossi", "Santos", "Schmidt", "Silva", "Singh", "Smith",
    "Tanaka", "Weber", "Williams", "Wong", "Yilmaz",
)  # fmt: skip
PUBLIC_NETS = ("192.0.2.", "198.51.100.", "203.0.113.")
"""The RFC 5737 documentation ranges: home and attacker addresses."""


@dataclass(frozen=True, slots=True)
class UserProfile:
    """One simulated user and the habits they keep for the whole run."""

    index: int
    actor: Actor
    department: str
    home: City
    endpoints: tuple[Endpoint, ...]
    """Usual source endpoints: ``[0]`` the office, ``[1]`` (if any) home."""
    devices: tuple[str, ...]
    """Usual device ids: ``[0]`` is the main one."""
    workday_start_min: int
    """Local start of the working day, minutes after midnight."""
    workday_minutes: int
    sessions_per_day: float
    """Mean number of sessions on a working day."""
    mean_gap_s: float
    """Mean pause between two things done in a session (45 s are always added)."""
    resources: tuple[Resource, ...]
    resource_weights: tuple[float, ...]
    auth_protocol: str
    mfa_method: str
    always_mfa: bool

    @property
    def uid(self) -> str:
        """The user id: actor uid and Kafka key."""
        return self.actor.uid

    @property
    def is_admin(self) -> bool:
        """Whether the user holds the admin role."""
        return ADMIN_ROLE in self.actor.roles

    @property
    def utc_offset_ms(self) -> int:
        """The home time zone's offset from UTC in ms."""
        return self.home.utc_offset_min * 60_000

    @property
    def countries(self) -> frozenset[str]:
        """Countries the user's usual endpoints are in."""
        return frozenset(
            endpoint.location.country
            for endpoint in self.endpoints
            if endpoint.location is not None and endpoint.location.country is not None
        )


def build_population(seed: int, users: int) -> tuple[UserProfile, ...]:
    """``users`` users derived from ``seed``.

    User ``i`` depends only on (seed, i), except that a uid already taken by an earlier user
    gets a number appended; so the first ``n`` users are the same for any larger population.
    """
    profiles: list[UserProfile] = []
    taken: set[str] = set()
    for index in range(users):
        profile = _user(seed, index)
        uid = profile.uid
        suffix = 2
        while uid in taken:
            uid, suffix = f"{profile.uid}{suffix}", suffix + 1
        taken.add(uid)
        if uid != profile.uid:
            actor = profile.actor
            profile = replace(profile, actor=Actor(uid, actor.name, actor.roles, actor.groups))
        profiles.append(profile)
    return tuple(profiles)


def public_ip(rng: random.Random) -> str:
    """A random address of the documentation ranges (a home connection or a proxy)."""
    return f"{rng.choice(PUBLIC_NETS)}{rng.randint(1, 254)}"


def _user(seed: int, index: int) -> UserProfile:
    rng = derive(seed, "user", index)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    home = city(rng.choices([name for name, _ in OFFICES], [w for _, w in OFFICES])[0])
    department = rng.choices(DEPARTMENTS, [d.weight for d in DEPARTMENTS])[0]
    roles = (department.role, MANAGER_ROLE) if rng.random() < 0.15 else (department.role,)
    actor = Actor(
        uid=f"{first}.{last}".lower(),
        name=f"{first} {last}",
        roles=roles,
        groups=(department.name, home.region),
    )
    # 10.<index, 16 bits>.<host>: unique per user.
    office_ip = f"10.{(index >> 8) & 0xFF}.{index & 0xFF}.{rng.randint(2, 254)}"
    office = Endpoint(office_ip, home.location)
    endpoints = [office]
    if rng.random() < 0.5:
        endpoints.append(Endpoint(public_ip(rng), home.location))
    devices = [f"laptop-{hex_from(rng, 8)}"]
    if rng.random() < 0.5:
        devices.append(f"phone-{hex_from(rng, 8)}")
    resources, weights = _usual_resources(rng, department, home.region)
    return UserProfile(
        index=index,
        actor=actor,
        department=department.name,
        home=home,
        endpoints=tuple(endpoints),
        devices=tuple(devices),
        workday_start_min=rng.randint(7 * 60, 10 * 60),
        workday_minutes=rng.randint(int(7.5 * 60), int(9.5 * 60)),
        sessions_per_day=rng.uniform(1.2, 2.6),
        mean_gap_s=rng.uniform(240.0, 720.0),
        resources=resources,
        resource_weights=weights,
        auth_protocol=rng.choice(("password", "sso", "sso")),
        mfa_method=rng.choice(("totp", "webauthn", "push")),
        always_mfa=department.always_mfa or ADMIN_ROLE in roles,
    )


def _usual_resources(
    rng: random.Random, department: Department, region: str
) -> tuple[tuple[Resource, ...], tuple[float, ...]]:
    own = department.resources(region)
    chosen = [resource for resource in own if rng.random() < 0.75] or [own[0]]
    team = [
        team_document(department.name, region, number, sensitive=rng.random() < 0.3)
        for number in sorted(rng.sample(range(1, 60), rng.randint(3, 8)))
    ]
    resources = [*SHARED, *chosen, *team]
    # Zipf-like habits: a few resources take most of the day.
    order = list(range(len(resources)))
    rng.shuffle(order)
    weights = [0.0] * len(resources)
    for rank, position in enumerate(order, start=1):
        weights[position] = round(1.0 / rank, 6)
    return tuple(resources), tuple(weights)
