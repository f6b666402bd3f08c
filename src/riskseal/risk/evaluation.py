"""Detection quality of the engine on labelled traffic (``riskseal generate``'s ground truth).

An alert *hits* an attack when the event that triggered it belongs to that attack (same
attack id). Per attack kind:

- **recall**: attack instances with at least one hit ÷ instances;
- **precision**: alerts on users attacked by that kind that hit an attack of that kind ÷
  all alerts on those users not explained by an attack of another kind, so a detector that
  shouts at victims all day loses precision.

Normal users are those with no attack-labelled event at all (victims of a password spray
count as attacked); the **false-positive rate** is the share of them with any alert.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from riskseal.contract.events import Alert
from riskseal.generator.model import NORMAL, AttackKind, GeneratedEvent


@dataclass(frozen=True, slots=True)
class KindQuality:
    """Detection of one attack kind."""

    kind: str
    instances: int
    detected: int
    alerts: int
    """Alerts on users attacked by this kind."""
    hits: int
    """Of those, alerts triggered by an event of an attack of this kind."""

    @property
    def recall(self) -> float:
        """Detected instances ÷ instances (1.0 when there are none)."""
        return self.detected / self.instances if self.instances else 1.0

    @property
    def precision(self) -> float:
        """Hits ÷ alerts on this kind's victims (1.0 when there are none)."""
        return self.hits / self.alerts if self.alerts else 1.0


@dataclass(frozen=True, slots=True)
class Quality:
    """Detection quality over a whole labelled run."""

    kinds: tuple[KindQuality, ...]
    normal_users: int
    alerted_normal_users: int
    alerts: int

    @property
    def false_positive_rate(self) -> float:
        """Share of normal users with at least one alert."""
        return self.alerted_normal_users / self.normal_users if self.normal_users else 0.0


def measure(events: Iterable[GeneratedEvent], alerts: Iterable[Alert]) -> Quality:
    """Compare ``alerts`` against the ground truth of ``events``."""
    attack_of_event: dict[str, tuple[str, str]] = {}
    instances: dict[str, set[str]] = defaultdict(set)
    attacked_users: dict[str, set[str]] = defaultdict(set)
    users: set[str] = set()
    for generated in events:
        users.add(generated.user_id)
        if generated.truth == NORMAL or generated.attack_id is None:
            continue
        attack_of_event[generated.event.event_id] = (generated.truth, generated.attack_id)
        instances[generated.truth].add(generated.attack_id)
        attacked_users[generated.truth].add(generated.user_id)
    all_attacked = set().union(*attacked_users.values()) if attacked_users else set()

    detected: dict[str, set[str]] = defaultdict(set)
    alerts_on: dict[str, int] = defaultdict(int)
    hits: dict[str, int] = defaultdict(int)
    alerted_normal: set[str] = set()
    total = 0
    for alert in alerts:
        total += 1
        trigger = next((e.event_id for e in alert.evidences if e.event_id), None)
        attack = attack_of_event.get(trigger or "")
        if attack is not None:
            detected[attack[0]].add(attack[1])
        for kind, victims in attacked_users.items():
            if attack is not None and attack[0] != kind:
                continue  # another attack on the same user explains this alert
            if alert.user_id in victims:
                alerts_on[kind] += 1
                if attack is not None and attack[0] == kind:
                    hits[kind] += 1
        if alert.user_id in users and alert.user_id not in all_attacked:
            alerted_normal.add(alert.user_id)

    kinds = tuple(
        KindQuality(
            kind=kind.value,
            instances=len(instances[kind.value]),
            detected=len(detected[kind.value]),
            alerts=alerts_on[kind.value],
            hits=hits[kind.value],
        )
        for kind in AttackKind
    )
    normal = users - all_attacked
    return Quality(kinds, len(normal), len(alerted_normal), total)
