"""The sealed trail as replay input: requests, actions and decisions from verified blocks only.

Built on :func:`riskseal.audit.export.export_rows`, so every block is verified exactly as
``riskseal verify`` does before any of its events is used, and a block that fails stops the
replay with its finding. Requests and actions come back in event-time order, which is the
order a worker consuming both topics sees when each user's events reach Kafka in time
order. Events of the same millisecond keep the order their producer gave them: its source
stamp's sequence number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from riskseal.audit.export import ExportFilter, export_rows
from riskseal.audit.verify import Verifier
from riskseal.contract.events import AccessAction, AccessRequest, Decision
from riskseal.contract.schemas_set import EventType

Event = AccessRequest | AccessAction


@dataclass(frozen=True, slots=True)
class SealedStream:
    """What the trail holds for a replay."""

    events: list[Event]
    """Requests and actions, in event-time order."""
    decisions: list[Decision]
    """Sealed decisions, in sealed order."""
    undecodable: int
    """Sealed records of these topics that do not decode (reported, not replayed)."""


def read_sealed_stream(verifier: Verifier) -> SealedStream:
    """Every request, action and decision of the verified blocks ``verifier`` walks."""
    activity: list[tuple[tuple[int, str, int, int], Event]] = []
    decisions: list[Decision] = []
    undecodable = 0
    for row in export_rows(verifier, ExportFilter()):
        if row.event is None:
            undecodable += 1
            continue
        record: Mapping[str, Any] = row.event
        if row.event_type == EventType.ACCESS_REQUEST.value:
            activity.append(_ordered(AccessRequest.from_record(record)))
        elif row.event_type == EventType.ACCESS_ACTION.value:
            activity.append(_ordered(AccessAction.from_record(record)))
        elif row.event_type == EventType.DECISION.value:
            decisions.append(Decision.from_record(record))
    activity.sort(key=lambda item: item[0])
    return SealedStream([event for _, event in activity], decisions, undecodable)


def _ordered(event: Event) -> tuple[tuple[int, str, int, int], Event]:
    source = event.source
    return (event.time, source.source_id, source.epoch, source.seq), event
