"""Reading only the fields an auditor's event checks need, without decoding whole events.

``riskseal verify`` checks, over every sealed event, that each source's (source id, epoch,
seq) numbers have no gap and that requests and decisions pair up. That needs four or five
fields per event — event id, the source stamp, and a decision's request id — while a full
decode (fastavro dict, then the typed event) builds every sub-record and map.

Every event schema begins with ``event_id`` (string), ``time`` (long) and ``source``
(SourceStamp: ``source_id`` string, ``epoch`` long, ``seq`` long); a Decision continues with
``request_id`` (string). The reading plan of each schema is derived from its field order at
start, not hard-coded: a schema whose needed fields come after a field of another type is
simply read by the full decoder.

Events in Confluent Schema Registry framing (``00`` and a schema id) go to the full decoder:
their schema is found by decoding the body (see ``riskseal.contract.codec``).

What it checks, and what it does not: the single-object header (magic, a known fingerprint)
exactly as ``EventCodec.decode``, and the fields it reads (minimal varints, lengths inside
the data, valid UTF-8). Anything it is not sure about goes to the full decoder, which decodes
or raises MalformedEventError. It does **not** read the rest of the body, so an event whose
body is damaged *after* these fields gives keys here while the full decoder rejects it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from riskseal.contract.codec import (
    CONFLUENT_MAGIC,
    HEADER_SIZE,
    MAGIC,
    EventCodec,
    typed_event,
)
from riskseal.contract.events import Decision
from riskseal.contract.schemas_set import EventType

_SOURCE_FIELDS = ("source_id", "epoch", "seq")


@dataclass(frozen=True, slots=True)
class EventKeys:
    """The fields of one event that the pairing and sequence checks use."""

    event_type: EventType
    event_id: str
    source_id: str
    epoch: int
    seq: int
    request_id: str | None
    """A Decision's request id; None for the other event types."""


class _NotSure(Exception):
    """The plan cannot read this event; the full decoder decides."""


# A plan is the leading fields of a schema, each ("string" | "long" | "skip-long", name) or
# ("source", None) for the SourceStamp record, up to the last field the checks need.
_Plan = tuple[tuple[str, str | None], ...]


class PartialDecoder:
    """Reads :class:`EventKeys` from single-object event bytes."""

    def __init__(self, codec: EventCodec | None = None) -> None:
        self.codec = codec or EventCodec()
        self._plans: dict[bytes, _Plan | None] = {
            schema.fingerprint: _plan(schema.plain, schema.event_type)
            for schema in self.codec.schemas
        }
        self._patterns = {
            fingerprint: _pattern(fingerprint, plan)
            for fingerprint, plan in self._plans.items()
            if plan is not None
        }
        self._types = {schema.fingerprint: schema.event_type for schema in self.codec.schemas}

    def keys(self, data: bytes, expected: EventType | None = None) -> EventKeys:
        """The keys of ``data``; ContractError (as ``EventCodec.decode``) if it is no event.

        ``expected``: the event type of the record's topic, as in ``EventCodec.decode``.
        """
        fingerprint = data[len(MAGIC) : HEADER_SIZE]
        match = self._patterns.get(fingerprint)
        found = match(data) if match is not None else None
        if found is not None:  # the usual event: short strings, one regex call
            try:
                event_id, source_id = found[1][1:].decode(), found[2][1:].decode()
                request = None if found[5] is None else found[5][1:].decode()
            except UnicodeDecodeError:
                pass
            else:
                epoch, seq = _known_long(found[3]), _known_long(found[4])
                return EventKeys(self._types[fingerprint], event_id, source_id, epoch, seq, request)
        if data[:1] == CONFLUENT_MAGIC:  # registry framing: its schema is found by decoding
            return keys_of_decoded(self.codec, data, expected)
        schema = self.codec.schema_of(data)
        plan = self._plans.get(schema.fingerprint)
        if plan is not None:
            try:
                return _read(plan, schema.event_type, data)
            except _NotSure:
                pass
        return keys_of_decoded(self.codec, data)


def keys_of_decoded(codec: EventCodec, data: bytes, expected: EventType | None = None) -> EventKeys:
    """The keys by the full decoder (the reference the partial reader is tested against)."""
    decoded = codec.decode(data, expected)
    event = typed_event(decoded)
    request_id = event.request_id if isinstance(event, Decision) else None
    return EventKeys(
        decoded.event_type,
        event.event_id,
        event.source.source_id,
        event.source.epoch,
        event.source.seq,
        request_id,
    )


def _plan(schema: Mapping[str, Any], event_type: EventType) -> _Plan | None:
    needed = {"event_id", "source"} | (
        {"request_id"} if event_type is EventType.DECISION else set()
    )
    steps: list[tuple[str, str | None]] = []
    for field in schema["fields"]:
        if not needed:
            break
        name, kind = field["name"], _primitive(field["type"])
        if name == "source" and _is_source_stamp(field["type"]):
            steps.append(("source", None))
        elif kind == "string":
            steps.append(("string", name))
        elif kind in ("long", "int"):
            steps.append(("long", name))
        else:
            return None  # a needed field comes after one this plan cannot step over
        needed.discard(name)
    return None if needed else tuple(steps)


# A minimal long; a string of 0..63 bytes (its length is one byte, 2n), captured whole.
_LONG = rb"(?:[\x00-\x7f]|[\x80-\xff]{1,8}[\x01-\x7f]|[\x80-\xff]{9}\x01)"
_SHORT_STRING = (
    b"((?:" + b"|".join(re.escape(bytes([2 * n])) + b".{%d}" % n for n in range(64)) + b"))"
)


def _pattern(fingerprint: bytes, plan: _Plan) -> Callable[[bytes], re.Match[bytes] | None] | None:
    """One regular expression for the usual shape of ``plan`` (strings under 64 bytes), with
    groups event_id, source_id, epoch, seq, request_id (each string with its length byte);
    None when the plan has another shape."""
    shape = [kind for kind, _ in plan]
    names = [name for _, name in plan]
    decision = shape == ["string", "long", "source", "string"] and names[3] == "request_id"
    if shape != ["string", "long", "source"] and not decision:
        return None
    pattern = (
        re.escape(MAGIC + fingerprint)
        + _SHORT_STRING  # event_id
        + _LONG  # time
        + _SHORT_STRING  # source_id
        + b"(" + _LONG + b")(" + _LONG + b")"  # epoch, seq
        + (_SHORT_STRING if decision else b"(){0}")  # request_id (group 5 always exists)
    )  # fmt: skip
    return re.compile(pattern, re.DOTALL).match


def _known_long(code: bytes) -> int:
    """The value of a varint the pattern has already proved minimal and complete."""
    number = shift = 0
    for byte in code:
        number |= (byte & 0x7F) << shift
        shift += 7
    return (number >> 1) ^ -(number & 1)


def _primitive(schema: Any) -> str | None:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, dict) and isinstance(schema.get("type"), str):
        kind: str = schema["type"]
        return kind if kind in ("string", "long", "int") else None
    return None


def _is_source_stamp(schema: Any) -> bool:
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return False
    fields = [(f["name"], _primitive(f["type"])) for f in schema["fields"]]
    return fields == [("source_id", "string"), ("epoch", "long"), ("seq", "long")]


def _read(plan: _Plan, event_type: EventType, data: bytes) -> EventKeys:
    pos, end = HEADER_SIZE, len(data)
    strings: dict[str, str] = {}
    source: tuple[str, int, int] | None = None
    for kind, name in plan:
        if kind == "source":
            source_id, pos = _string(data, pos, end)
            epoch, pos = _long(data, pos, end)
            seq, pos = _long(data, pos, end)
            source = (source_id, epoch, seq)
        elif kind == "string":
            strings[str(name)], pos = _string(data, pos, end)
        else:
            _, pos = _long(data, pos, end)
    if source is None:  # pragma: no cover - every plan has a source step
        raise _NotSure
    return EventKeys(event_type, strings["event_id"], *source, strings.get("request_id"))


def _long(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """A minimal zig-zag varint of at most 64 bits."""
    number = shift = 0
    start = pos
    while True:
        if pos >= end or shift > 63:
            raise _NotSure
        byte = data[pos]
        pos += 1
        number |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
    if (byte == 0 and pos - start > 1) or (pos - start == 10 and byte != 1):
        raise _NotSure
    return (number >> 1) ^ -(number & 1), pos


def _string(data: bytes, pos: int, end: int) -> tuple[str, int]:
    length, pos = _long(data, pos, end)
    if length < 0 or pos + length > end:
        raise _NotSure
    try:
        return data[pos : pos + length].decode("utf-8"), pos + length
    except UnicodeDecodeError:
        raise _NotSure from None
