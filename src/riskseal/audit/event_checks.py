"""The checks across sealed events: source sequence gaps and request/decision pairing.

``riskseal verify`` hands over the values of every verified block of the audit topics, block
by block (:meth:`EventChecks.add`), and takes the findings at the end
(:meth:`EventChecks.finish`). Only the event id, the source stamp and a decision's request id
of each event are read (``PartialDecoder.columns``), and they are kept as their Avro
encodings: equal encodings mean equal fields, and text is decoded only for a message.

At-least-once delivery can seal one event twice (same event id under the same source stamp,
e.g. a decision re-sent after a worker restart): that is a note, not a finding. Two
*different* events under one stamp, or two different decisions for one request, are findings.

The usual block is taken in whole-column steps (``dict(zip(...))``, set updates, one
comparison of a block's sequence numbers with the consecutive run they usually are); when
a block holds anything else (a sequence number seen before, a request decided twice, a
mix of sources or event types) its events are taken one by one. Both ways keep the same
state: every event counts once, whatever the order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import cast

from riskseal.blockread import consecutive_codes
from riskseal.contract.partial import KeyColumns, PartialDecoder, decoded_long, decoded_string
from riskseal.contract.schemas_set import EventType

_Source = tuple[bytes, bytes]
"""A source id and epoch, encoded."""

_INT64_END = 2**63


class EventChecks:
    """What the checks across events keep while the verifier walks the audit topics."""

    def __init__(self, audit_topics: tuple[str, str, str], partial: PartialDecoder) -> None:
        self._requests_topic, _, self._decisions_topic = audit_topics
        self._expected = topic_event_types(audit_topics)
        self._partial = partial
        self.stamps: dict[_Source, dict[int, bytes]] = {}
        """The first event id of each sequence number, per source."""
        self.reused: dict[_Source, dict[int, set[bytes]]] = {}
        """Every event id of a sequence number that stamps more than one (rare)."""
        self.requests: set[bytes] = set()
        self.decided: dict[bytes, bytes] = {}
        """The first decision id for each request id."""
        self.decisions: dict[bytes, set[bytes]] = {}
        """Every decision id of a request decided more than once (rare)."""
        self.redelivered = 0

    def add(self, topic: str, values: Sequence[bytes | None]) -> None:
        """The values of one block of ``topic`` (one of the audit topics)."""
        events = self._partial.columns(filter(None, values), self._expected.get(topic))
        if not len(events):
            return
        self._stamps(events)
        if topic == self._requests_topic:
            self._add_requests(events)
        elif topic == self._decisions_topic:
            self._add_decisions(events)

    def finish(self) -> tuple[list[tuple[str, str]], list[str]]:
        """The findings, as (kind, detail), and the notes."""
        notes = []
        if self.redelivered:
            notes.append(
                f"{self.redelivered} events were sealed more than once, identical (at-least-once "
                "redelivery, e.g. after a worker restart); each counts once"
            )
        findings: list[tuple[str, str]] = []
        sources = sorted(
            ((decoded_string(source_id), decoded_long(epoch)), (source_id, epoch))
            for source_id, epoch in self.stamps
        )
        for (source_id, epoch), source in sources:
            by_seq = self.stamps[source]
            low, high = min(0, min(by_seq)), max(by_seq)
            missing = (high - low + 1) - len(by_seq)  # sequences start at 0
            if missing:
                first_missing = next(n for n in range(low, high + 1) if n not in by_seq)
                findings.append((
                    "source_seq_gap",
                    f"source {source_id} epoch {epoch}: {missing} events never reached "
                    f"Kafka (first missing seq {first_missing})",
                ))  # fmt: skip
            reused = self.reused.get(source)
            if reused:
                seq = min(reused)
                findings.append((
                    "source_seq_duplicate",
                    f"source {source_id} epoch {epoch}: seq {seq} stamps "
                    f"{len(reused[seq])} different events",
                ))  # fmt: skip
        unknown = _texts(itertools.filterfalse(self.requests.__contains__, self.decided))
        unanswered: list[str] = []
        if unknown or len(self.requests) != len(self.decided):  # else the two sets are equal
            unanswered = _texts(self.requests.difference(self.decided))
        for request_id in unanswered:
            findings.append(
                ("request_without_decision", f"request {request_id} has no sealed decision")
            )
        for request_id in unknown:
            findings.append(
                ("decision_without_request", f"decision for unknown request {request_id}")
            )
        for request_id, count in sorted(
            (decoded_string(key), len(ids)) for key, ids in self.decisions.items()
        ):
            findings.append(("duplicate_decision", f"request {request_id} has {count} decisions"))
        return findings, notes

    # --- one block -------------------------------------------------------------------------
    def _stamps(self, events: KeyColumns) -> None:
        """Each event id under its source stamp."""
        source_ids, epochs = set(events.source_ids), set(events.epochs)
        if len(source_ids) == 1 and len(epochs) == 1:
            self._stamp_run((source_ids.pop(), epochs.pop()), events.seqs, events.event_ids)
            return
        by_source: dict[_Source, tuple[list[bytes], list[bytes]]] = {}
        for source_id, epoch, seq, event_id in zip(
            events.source_ids, events.epochs, events.seqs, events.event_ids, strict=True
        ):
            seqs, ids = by_source.setdefault((source_id, epoch), ([], []))
            seqs.append(seq)
            ids.append(event_id)
        for source, (seqs, ids) in by_source.items():
            self._stamp_run(source, seqs, ids)

    def _stamp_run(self, source: _Source, seq_codes: Sequence[bytes], ids: Sequence[bytes]) -> None:
        """The events of one source in one block."""
        seqs = _longs(seq_codes)
        by_seq = self.stamps.get(source)
        if isinstance(seqs, range) and (by_seq is None or by_seq.keys().isdisjoint(seqs)):
            if by_seq is None:
                self.stamps[source] = dict(zip(seqs, ids, strict=True))
            else:
                by_seq.update(zip(seqs, ids, strict=True))
            return
        fresh = dict(zip(seqs, ids, strict=True))
        if len(fresh) == len(ids) and (by_seq is None or by_seq.keys().isdisjoint(fresh)):
            if by_seq is None:
                self.stamps[source] = fresh
            else:
                by_seq.update(fresh)
        else:  # a seq seen twice: one by one
            by_seq = self.stamps.setdefault(source, {})
            for seq, event_id in zip(seqs, ids, strict=True):
                first = by_seq.get(seq)
                if first is None:
                    by_seq[seq] = event_id  # the first event under this stamp
                    continue
                if first == event_id:
                    self.redelivered += 1
                    continue
                reused = self.reused.setdefault(source, {}).setdefault(seq, {first})
                self.redelivered += event_id in reused
                reused.add(event_id)

    def _add_requests(self, events: KeyColumns) -> None:
        ids = events.event_ids
        if set(events.event_types) != {EventType.ACCESS_REQUEST}:
            kinds = zip(events.event_types, ids, strict=True)
            ids = [event_id for kind, event_id in kinds if kind is EventType.ACCESS_REQUEST]
        self.requests.update(ids)

    def _add_decisions(self, events: KeyColumns) -> None:
        ids, request_ids = events.event_ids, events.request_ids
        if set(events.event_types) != {EventType.DECISION}:
            rows = zip(events.event_types, ids, request_ids, strict=True)
            pairs = [(event_id, rid) for kind, event_id, rid in rows if kind is EventType.DECISION]
            ids, request_ids = [e for e, _ in pairs], [r for _, r in pairs]
        keys = cast(Sequence[bytes], request_ids)  # the pattern reads one in every decision
        if None in request_ids:  # and so does keys(): this is only a safety net
            keys = [_EMPTY if rid is None else rid for rid in request_ids]
        fresh = dict(zip(keys, ids, strict=True))
        if len(fresh) == len(ids) and self.decided.keys().isdisjoint(fresh):
            self.decided.update(fresh)
            return
        for request_id, event_id in zip(keys, ids, strict=True):  # one by one
            first = self.decided.setdefault(request_id, event_id)
            if first != event_id:
                self.decisions.setdefault(request_id, {first}).add(event_id)


def topic_event_types(audit_topics: Sequence[str]) -> dict[str, EventType]:
    """The event type each audit topic carries: requests, actions, decisions (in that order).

    Decoding with the topic's type settles the one case where a registry-framed body fits two
    schemas (see ``EventCodec.decode``).
    """
    kinds = (EventType.ACCESS_REQUEST, EventType.ACCESS_ACTION, EventType.DECISION)
    return dict(zip(audit_topics, kinds, strict=False))


_EMPTY = b"\x00"
"""The empty string, encoded: the request id of a decision that names none."""


def _longs(codes: Sequence[bytes]) -> Sequence[int]:
    """The values of encoded longs: a ``range`` when they are consecutive (the usual run of a
    source's sequence numbers in one block), checked with one comparison of their
    concatenation (varints are self-delimiting, so equal concatenations mean equal codes)."""
    first, count = decoded_long(codes[0]), len(codes)
    fits = first >= 0 and first + count <= _INT64_END
    if fits and b"".join(codes) == consecutive_codes(first, count):
        return range(first, first + count)
    return [decoded_long(code) for code in codes]


def _texts(codes: Iterable[bytes]) -> list[str]:
    return sorted(decoded_string(code) for code in codes)
