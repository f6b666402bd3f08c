"""What a generated stream depends on: seed, population, simulated period and attacks.

The stream is a pure function of :class:`GeneratorConfig`: the same config gives the same
events, ids and times, byte for byte (with the same riskseal and Python versions).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from riskseal.contract.validation import MAX_TIMESTAMP_MS
from riskseal.errors import ConfigError
from riskseal.generator.model import NORMAL, AttackKind
from riskseal.timestamps import iso_ms

DAY_MS = 86_400_000
MAX_SIM_DAYS = 3_660
DEFAULT_START = datetime(2025, 1, 6, tzinfo=UTC)
"""Monday 2025-01-06 00:00 UTC: the default start of simulated time."""
DEFAULT_START_MS = int(DEFAULT_START.timestamp() * 1000)
MIXED = "mixed"


class Scenario(enum.StrEnum):
    """What ``--scenario`` accepts: normal (no attacks), mixed (all kinds), or one kind."""

    NORMAL = NORMAL
    MIXED = MIXED
    CREDENTIAL_STUFFING = AttackKind.CREDENTIAL_STUFFING.value
    IMPOSSIBLE_TRAVEL = AttackKind.IMPOSSIBLE_TRAVEL.value
    EXFILTRATION = AttackKind.EXFILTRATION.value
    PRIVILEGE_ESCALATION = AttackKind.PRIVILEGE_ESCALATION.value
    NEW_DEVICE_COUNTRY = AttackKind.NEW_DEVICE_COUNTRY.value


SCENARIOS: tuple[str, ...] = tuple(scenario.value for scenario in Scenario)
"""Names ``--scenario`` accepts."""


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """Everything a generated stream depends on.

    ``attacks`` are the kinds to inject; ``attack_fraction`` of the users are attacked, but
    at least one per kind. Sessions start in ``[start_ms, start_ms + sim_days days)``; the
    last ones may run a few minutes past it. Attacks start in the last three quarters of
    the period, so that every victim has some normal history before.
    """

    seed: int = 0
    users: int = 50
    start_ms: int = DEFAULT_START_MS
    sim_days: float = 1.0
    attacks: frozenset[AttackKind] = field(default_factory=frozenset)
    attack_fraction: float = 0.05

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ConfigError(f"generator: users must be at least 1, got {self.users}")
        if not (math.isfinite(self.sim_days) and self.sim_days > 0):
            raise ConfigError(f"generator: sim_days must be positive, got {self.sim_days}")
        if self.span_ms < 60_000:
            raise ConfigError("generator: sim_days must cover at least one minute")
        if self.sim_days > MAX_SIM_DAYS:
            raise ConfigError(
                f"generator: sim_days is at most {MAX_SIM_DAYS:,} (ten years), got "
                f"{self.sim_days:g}: every simulated day is planned up front"
            )
        if self.start_ms < 0 or self.end_ms + DAY_MS > MAX_TIMESTAMP_MS:
            raise ConfigError(
                "generator: the simulated period must lie between 1970-01-01 and 9999-12-30 "
                "(event times an event may carry, docs/events.md); give another --start or "
                "fewer --sim-days"
            )
        if not 0.0 <= self.attack_fraction <= 1.0:
            raise ConfigError(
                f"generator: attack_fraction must be in 0..1, got {self.attack_fraction}"
            )
        if AttackKind.CREDENTIAL_STUFFING in self.attacks and self.users < 2:
            raise ConfigError("generator: credential_stuffing needs at least 2 users")

    @property
    def span_ms(self) -> int:
        """Length of the simulated period in ms."""
        return round(self.sim_days * DAY_MS)

    @property
    def end_ms(self) -> int:
        """End of the simulated period (exclusive), ms since the epoch."""
        return self.start_ms + self.span_ms

    @property
    def attack_window(self) -> tuple[int, int]:
        """``[start, end)`` in which attacks start: the last three quarters of the period."""
        return self.start_ms + self.span_ms // 4, self.end_ms


def resolve_scenarios(names: Iterable[str]) -> frozenset[AttackKind]:
    """The attack kinds of ``--scenario`` values: ``normal`` adds none, ``mixed`` all."""
    kinds: set[AttackKind] = set()
    for name in names:
        if name == MIXED:
            kinds.update(AttackKind)
        elif name != NORMAL:
            try:
                kinds.add(AttackKind(name))
            except ValueError:
                raise ConfigError(
                    f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}"
                ) from None
    return frozenset(kinds)


def parse_start(text: str) -> int:
    """ms since the epoch of an ISO date or date-time; naive means UTC."""
    try:
        return iso_ms(text)
    except ValueError:
        raise ConfigError(
            f"--start {text!r} is not an ISO date or date-time (e.g. 2025-01-06 or "
            "2025-01-06T08:00:00Z)"
        ) from None
