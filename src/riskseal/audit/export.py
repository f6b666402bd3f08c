"""``riskseal export``: the decoded events of verified blocks, for an investigation.

The export does not verify anything itself: it drives :meth:`Verifier.walk`, which checks
each block exactly as ``riskseal verify`` does and hands it over once checked, and turns the
records of each verified block into rows as it goes, so memory does not grow with the trail.

* A finding in scope (on a block of an exported chain, its link, its chain's checkpoints, or
  the key manifest) stops the export with :class:`ExportStoppedError`, unless unverified
  blocks are asked for: then their rows carry ``verified=False`` and the finding.
* Rows are filtered by user (``actor.uid`` of requests and actions, ``user_id`` of decisions
  and alerts) and by event time. A record that does not decode is never dropped: it becomes
  a row with ``decode_error`` and its raw value, matched on what can still be read of it
  (the Kafka key as the user, the Kafka timestamp as the time).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from riskseal.audit.event_checks import topic_event_types
from riskseal.audit.report import CheckedBlock, Finding
from riskseal.audit.verify import Verifier
from riskseal.block import SealedRecord
from riskseal.contract.codec import EventCodec
from riskseal.contract.schemas_set import EventType
from riskseal.errors import ContractError, ExportStoppedError

OUT_OF_SCOPE = frozenset({"unreferenced_object"})
"""Findings that do not concern what an export hands over (``riskseal verify`` reports them)."""


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which rows to keep. Empty fields keep everything; time bounds are inclusive (ms, UTC)."""

    user: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None

    def keeps(self, user: str | None, when: int | None) -> bool:
        """Whether a row of ``user`` at ``when`` passes; an unknown user or time passes."""
        if self.user is not None and user is not None and user != self.user:
            return False
        if when is None:
            return True
        if self.from_ms is not None and when < self.from_ms:
            return False
        return self.to_ms is None or when <= self.to_ms


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One sealed record, where it is sealed, and its event (or why it does not decode)."""

    chain: str
    block_seq: int
    topic: str
    partition: int
    offset: int
    kafka_timestamp: int
    """Kafka record timestamp, ms since the epoch (-1: none)."""
    kafka_key: str | None
    """The Kafka key as text (``base64:…`` when it is not UTF-8)."""
    event_type: str | None
    event: Mapping[str, Any] | None
    """The decoded event record, Avro field names, nested as in the schema."""
    decode_error: str | None = None
    raw_value: bytes | None = None
    """The value as sealed, only when it does not decode."""
    seal_flag: str | None = None
    """Why the sealer flagged the record as not a valid riskseal event (None: it did not)."""
    verified: bool = True
    finding: str | None = None
    """The findings on the block, when it failed verification and was exported anyway."""


def export_rows(
    verifier: Verifier,
    wanted: ExportFilter,
    include_unverified: bool = False,
    codec: EventCodec | None = None,
) -> Iterator[ExportRow]:
    """The rows of the verified blocks ``verifier`` walks, in sealed order, chain by chain.

    Raises ExportStoppedError at the first finding in scope, before any row of the block
    concerned (or after the last row, for a finding on the trail as a whole: a truncated
    tail, a stale or forked checkpoint, no chain at all), unless ``include_unverified``;
    then the rows of a block that failed carry its findings, and findings that are not on a
    block stay in ``verifier.report``.
    """
    codec = codec or EventCodec()
    expected = topic_event_types(verifier.options.audit_topics)
    findings = verifier.report.findings
    seen = 0
    for item in verifier.walk():
        if not include_unverified:
            _stop_at_new_findings(findings, seen)
        seen = len(findings)
        if isinstance(item, CheckedBlock) and item.block is not None:
            yield from block_rows(item, codec, wanted, expected)
    if not include_unverified:  # findings of the walk's end: tail, checkpoints, no chain
        _stop_at_new_findings(findings, seen)


def _stop_at_new_findings(findings: list[Finding], seen: int) -> None:
    new = [f for f in findings[seen:] if f.kind not in OUT_OF_SCOPE]
    if new:
        raise ExportStoppedError(
            f"export stopped: {describe(new[0])}"
            + (f" (and {len(new) - 1} more finding(s))" if len(new) > 1 else "")
        )


def block_rows(
    checked: CheckedBlock,
    codec: EventCodec,
    wanted: ExportFilter,
    expected: Mapping[str, EventType] | None = None,
) -> Iterator[ExportRow]:
    """The rows of one checked block that pass ``wanted``.

    ``expected``: the event type of each topic, which settles a registry-framed body that
    fits two schemas.
    """
    if checked.block is None:
        return
    finding = "; ".join(describe(f) for f in checked.findings) or None
    for record in checked.block.records():
        kind = None if expected is None else expected.get(record.topic)
        row = record_row(record, str(checked.chain), checked.seq, codec, kind)
        if wanted.keeps(*_who_and_when(row)):
            if not checked.verified:
                row = dataclasses.replace(row, verified=False, finding=finding)
            yield row


def record_row(
    record: SealedRecord,
    chain: str,
    seq: int,
    codec: EventCodec,
    expected: EventType | None = None,
) -> ExportRow:
    """One sealed record as a row: decoded, or with its decode error and raw value."""
    row = ExportRow(
        chain=chain,
        block_seq=seq,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        kafka_timestamp=record.timestamp,
        kafka_key=_key_text(record.key),
        event_type=None,
        event=None,
        seal_flag=record.flag,
    )
    if record.value is None:
        return dataclasses.replace(row, decode_error="record has no value")
    try:
        decoded = codec.decode(record.value, expected)
    except ContractError as exc:
        return dataclasses.replace(row, decode_error=str(exc), raw_value=record.value)
    return dataclasses.replace(row, event_type=decoded.event_type.value, event=decoded.record)


def event_user(event: Mapping[str, Any]) -> str | None:
    """The user an event is about: ``actor.uid`` (requests, actions) or ``user_id``."""
    actor = event.get("actor")
    if isinstance(actor, Mapping) and isinstance(actor.get("uid"), str):
        return str(actor["uid"])
    user = event.get("user_id")
    return user if isinstance(user, str) else None


def describe(finding: Finding) -> str:
    """A finding on one line: kind, where, detail."""
    where = finding.key or finding.chain or ""
    return f"{finding.kind}: {where} {finding.detail}".replace("  ", " ").strip()


def _who_and_when(row: ExportRow) -> tuple[str | None, int | None]:
    if row.event is not None:
        when = row.event.get("time")
        return event_user(row.event), when if isinstance(when, int) else None
    return row.kafka_key, row.kafka_timestamp if row.kafka_timestamp >= 0 else None


def _key_text(key: bytes | None) -> str | None:
    if key is None:
        return None
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(key).decode("ascii")
