"""What the generator yields: contract events with their ground-truth label.

The label never enters the event payload. On Kafka it travels in two record headers,
``riskseal-truth`` (``normal`` or the attack kind) and ``riskseal-attack-id`` (the same id on
every event of one attack instance; absent on normal events), so a detector under test sees
exactly what it would see in production while its precision and recall can still be measured.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from riskseal.contract.events import AccessAction, AccessRequest, SourceStamp

TRUTH_HEADER = "riskseal-truth"
ATTACK_ID_HEADER = "riskseal-attack-id"
NORMAL = "normal"
"""The truth label of ordinary behaviour."""

GENERATOR_SOURCE = SourceStamp("riskseal-generate", 0, 0)
"""Placeholder source stamp of generated events; the SDK stamps its own when publishing."""


class AttackKind(enum.StrEnum):
    """The attacks the generator can inject; the value is the truth label."""

    CREDENTIAL_STUFFING = "credential_stuffing"
    IMPOSSIBLE_TRAVEL = "impossible_travel"
    EXFILTRATION = "exfiltration"
    PRIVILEGE_ESCALATION = "privilege_escalation"
    NEW_DEVICE_COUNTRY = "new_device_country"


TRUTH_LABELS: tuple[str, ...] = (NORMAL, *(kind.value for kind in AttackKind))
"""Every value the ``riskseal-truth`` header can take."""


@dataclass(frozen=True, slots=True)
class GeneratedEvent:
    """One generated access request or action, with its ground truth.

    ``event`` is the contract event as an application would send it (its ``source`` is the
    placeholder :data:`GENERATOR_SOURCE`); ``truth`` is ``"normal"`` or an
    :class:`AttackKind` value; ``attack_id`` groups the events of one attack instance.
    """

    event: AccessRequest | AccessAction
    truth: str = NORMAL
    attack_id: str | None = None

    @property
    def kind(self) -> Literal["request", "action"]:
        """``"request"`` (topic access.requests) or ``"action"`` (topic access.actions)."""
        return "request" if isinstance(self.event, AccessRequest) else "action"

    @property
    def time_ms(self) -> int:
        """Simulated event time, ms since the epoch."""
        return self.event.time

    @property
    def user_id(self) -> str:
        """The actor's uid: the Kafka key."""
        return self.event.actor.uid

    @property
    def is_attack(self) -> bool:
        """Whether the event belongs to an injected attack."""
        return self.truth != NORMAL

    def headers(self) -> dict[str, str]:
        """The Kafka headers that carry the ground truth."""
        if self.attack_id is None:
            return {TRUTH_HEADER: self.truth}
        return {TRUTH_HEADER: self.truth, ATTACK_ID_HEADER: self.attack_id}
