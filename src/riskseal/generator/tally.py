"""Counting what a run sent: events by kind, action and truth label, attacks, time span."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from riskseal.generator.model import GeneratedEvent


@dataclass(slots=True)
class Tally:
    """Running counts of the events of a run (an accumulator, updated per event)."""

    events: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_action: Counter[str] = field(default_factory=Counter)
    by_truth: Counter[str] = field(default_factory=Counter)
    attacks: dict[str, str] = field(default_factory=dict)
    """Attack id → kind, for the attacks that had at least one event sent."""
    users: set[str] = field(default_factory=set)
    first_ms: int | None = None
    last_ms: int | None = None

    def add(self, generated: GeneratedEvent) -> None:
        """Count one event."""
        self.events += 1
        self.by_kind[generated.kind] += 1
        self.by_action[generated.event.action] += 1
        self.by_truth[generated.truth] += 1
        if generated.attack_id is not None:
            self.attacks[generated.attack_id] = generated.truth
        self.users.add(generated.user_id)
        if self.first_ms is None:
            self.first_ms = generated.time_ms
        self.last_ms = generated.time_ms

    def attacks_by_kind(self) -> Counter[str]:
        """How many attack instances of each kind had events sent."""
        return Counter(self.attacks.values())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (sorted keys, so it is stable)."""
        return {
            "events": self.events,
            "users": len(self.users),
            "first_time_ms": self.first_ms,
            "last_time_ms": self.last_ms,
            "by_kind": dict(sorted(self.by_kind.items())),
            "by_action": dict(sorted(self.by_action.items())),
            "by_truth": dict(sorted(self.by_truth.items())),
            "attacks": dict(sorted(self.attacks_by_kind().items())),
        }
